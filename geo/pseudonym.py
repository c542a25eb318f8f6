"""Keyed pseudonyms for person ids (pure).

A person id is replaced by the first 8 bytes (16 hex characters) of
``blake2b(id, key=pseudonym_key)``: the same person gets the same pseudonym in every feed
of a workspace (so contacts, cases and check-ins still link), while the raw id cannot be
recovered or recomputed without the workspace's secret key.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.errors import WorkspaceError

DIGEST_BYTES = 8
"""Pseudonym length in bytes (16 hex characters)."""


def key_to_bytes(pseudonym_key: str) -> bytes:
    """Turn the workspace's hex ``pseudonym_key`` into the blake2b key bytes.

    Parameters
    ----------
    pseudonym_key : str
        Hex string from ``safemap.toml`` (at least 16 bytes, at most 64 bytes).

    Returns
    -------
    bytes
        The key.

    Raises
    ------
    WorkspaceError
        When the key is empty, not hex, or of the wrong length.
    """
    try:
        key = bytes.fromhex(pseudonym_key)
    except ValueError:
        raise WorkspaceError(
            f"pseudonym_key in safemap.toml is not a hex string (got {len(pseudonym_key)} "
            "characters); expected 32-128 hex digits; generate one with "
            "'python -c \"import secrets; print(secrets.token_hex(32))\"'"
        ) from None
    if not 16 <= len(key) <= 64:
        raise WorkspaceError(
            f"pseudonym_key in safemap.toml has {len(key)} bytes; expected 16-64 bytes "
            "(32-128 hex digits); generate one with "
            "'python -c \"import secrets; print(secrets.token_hex(32))\"'"
        )
    return key


def pseudonymize_ids(ids: pd.Series, pseudonym_key: str) -> pd.Series:
    """Replace person ids by keyed hashes, hashing each distinct id once.

    Parameters
    ----------
    ids : pandas.Series
        Person ids as strings; missing values stay missing.
    pseudonym_key : str
        The workspace's hex key (``open_workspace(...).config.pseudonym_key``).

    Returns
    -------
    pandas.Series
        16-hex-character pseudonyms (``str`` dtype), same index as ``ids``.

    Examples
    --------
    >>> s = pd.Series(["027190001234", "027190001234", None])
    >>> p = pseudonymize_ids(s, "00" * 32)
    >>> bool(p.iloc[0] == p.iloc[1]), len(p.iloc[0]), bool(p.isna().iloc[2])
    (True, 16, True)
    """
    hashed, indices, _ = pseudonymize_dictionary(ids, pseudonym_key)
    out = pc.take(hashed, indices)  # null ids stay null
    return pd.Series(out, index=ids.index, dtype="str", name=ids.name)


def pseudonymize_dictionary(
    ids: pd.Series, pseudonym_key: str
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Dictionary-encode ``ids`` and hash each distinct id once.

    Parameters
    ----------
    ids : pandas.Series
        Person ids as strings; missing values stay missing.
    pseudonym_key : str
        The workspace's hex key.

    Returns
    -------
    hashed : pyarrow.Array
        Pseudonym of each distinct id (16 hex characters).
    indices : pyarrow.Array
        Per row, the position of its pseudonym in ``hashed`` (null for missing ids);
        ``pyarrow.compute.take(hashed, indices)`` gives the pseudonymised column.
    values : numpy.ndarray
        The same pseudonyms as unsigned 64-bit integers (big-endian digests).
    """
    key = key_to_bytes(pseudonym_key)
    values = ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.astype("str").array
    encoded = pc.dictionary_encode(pa.array(values))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    # copying a pre-keyed state skips compressing the key block again for every id
    fresh = hashlib.blake2b(key=key, digest_size=DIGEST_BYTES).copy
    digests: list[bytes] = []
    append = digests.append
    for raw in encoded.dictionary.cast(pa.binary()).to_pylist():
        h = fresh()
        h.update(raw)
        append(h.digest())
    joined = b"".join(digests)
    digest_bytes = np.frombuffer(joined, dtype=np.uint8).reshape(-1, DIGEST_BYTES)
    return (
        _digests_to_hex(digest_bytes),
        encoded.indices,
        np.frombuffer(joined, ">u8").astype(np.uint64),
    )


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _digests_to_hex(digests: np.ndarray) -> pa.Array:
    """Hex strings of an (n, k) uint8 digest array, vectorised."""
    n, k = digests.shape
    chars = np.empty((n, 2 * k), dtype=np.uint8)
    chars[:, 0::2] = _HEX[digests >> 4]
    chars[:, 1::2] = _HEX[digests & 15]
    as_bytes = pa.array(chars.reshape(-1).view(f"S{2 * k}") if n else [], type=pa.binary())
    return as_bytes.cast(pa.string())
