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
    >>> p.iloc[0] == p.iloc[1], len(p.iloc[0]), p.isna().iloc[2]
    (True, 16, True)
    """
    hashed, indices = pseudonymize_dictionary(ids, pseudonym_key)
    out = pc.take(hashed, indices)  # null ids stay null
    return pd.Series(out, index=ids.index, dtype="str", name=ids.name)


def pseudonymize_dictionary(ids: pd.Series, pseudonym_key: str) -> tuple[pa.Array, pa.Array]:
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
        Pseudonym of each distinct id (strings).
    indices : pyarrow.Array
        Per row, the position of its pseudonym in ``hashed`` (null for missing ids);
        ``pyarrow.compute.take(hashed, indices)`` gives the pseudonymised column.
    """
    key = key_to_bytes(pseudonym_key)
    values = ids.array if isinstance(ids.dtype, pd.StringDtype) else ids.astype("str").array
    encoded = pc.dictionary_encode(pa.array(values))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    digests = [
        hashlib.blake2b(u.encode("utf-8"), key=key, digest_size=DIGEST_BYTES).digest()
        for u in encoded.dictionary.to_pylist()
    ]
    hashed = pa.array([d.hex() for d in digests], type=pa.string())
    return hashed, encoded.indices


def pseudonyms_to_uint64(hashed: pa.Array) -> np.ndarray:
    """Read 16-hex-digit pseudonyms as unsigned 64-bit integers (big-endian digests).

    Parameters
    ----------
    hashed : pyarrow.Array
        Pseudonyms from :func:`pseudonymize_dictionary`.

    Returns
    -------
    numpy.ndarray
        uint64 values, one per pseudonym.
    """
    raw = b"".join(bytes.fromhex(h) for h in hashed.to_pylist())
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)
