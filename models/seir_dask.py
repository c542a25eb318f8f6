"""SEIR ensembles split by member over a Dask cluster (the national-scale path).

:func:`simulate_distributed` cuts ``members`` into chunks of ``chunk_members``, runs
:func:`models.seir.simulate` on each chunk on a worker with its own random stream
(``numpy.random.SeedSequence(seed).spawn(n_chunks)``) and concatenates the chunks along
``member``. :func:`simulate_chunked` is the same computation in this process: the two give
identical output for the same ``seed`` and ``chunk_members``, whatever the cluster.

The result is *not* bit-identical to one unchunked ``simulate(members=members, rng=...)``:
the chunks draw from different streams (the ensemble has the same distribution). It does not
depend on the number of workers, only on ``seed`` and ``chunk_members``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from models.errors import ModelInputError
from models.seir import SEIRParams, simulate

__all__ = ["member_chunks", "simulate_chunked", "simulate_distributed"]


def member_chunks(members: int, chunk_members: int) -> list[tuple[int, int]]:
    """Split ``range(members)`` into ``[lo, hi)`` chunks of ``chunk_members`` (last shorter).

    Parameters
    ----------
    members : int
        Ensemble members (>= 1).
    chunk_members : int
        Members per chunk (>= 1).

    Returns
    -------
    list of (int, int)
        Half-open member ranges, in order.

    Raises
    ------
    ModelInputError
        When either count is not a positive integer.
    """
    for name, value in (("members", members), ("chunk_members", chunk_members)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ModelInputError(f"{name}: got {value!r}; expected an integer >= 1 (e.g. 100)")
    return [
        (lo, min(lo + int(chunk_members), int(members))) for lo in range(0, members, chunk_members)
    ]


def _chunk_inputs(initial: xr.Dataset, beta: Any, lo: int, hi: int) -> tuple[xr.Dataset, Any]:
    """The chunk's members of a per-member initial state and beta (others pass through)."""
    if "member" in initial["state"].dims:
        initial = initial.isel(member=slice(lo, hi))
    if isinstance(beta, xr.DataArray) and "member" in beta.dims:
        beta = beta.isel(member=slice(lo, hi))
    return initial, beta


def _concat(parts: list[xr.Dataset]) -> xr.Dataset:
    # coordinates without a member dim (population) come from the first chunk, i.e. from
    # member 0, as in one simulate() call
    return xr.concat(parts, dim="member", data_vars="all", coords="minimal", compat="override")


def _run_chunk(
    params: SEIRParams,
    initial: xr.Dataset,
    coupling: Any,
    days: int,
    lo: int,
    hi: int,
    seed_seq: np.random.SeedSequence,
    kwargs: dict[str, Any],
) -> xr.Dataset:
    initial, beta = _chunk_inputs(initial, kwargs.get("beta"), lo, hi)
    out = simulate(
        params,
        initial,
        coupling,
        days,
        **{**kwargs, "beta": beta},
        members=hi - lo,
        rng=np.random.default_rng(seed_seq),
    )
    return out.assign_coords(member=np.arange(lo, hi))


def _check(members: int, seed: int, kwargs: dict[str, Any]) -> None:
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ModelInputError(f"seed: got {seed!r}; expected an integer >= 0 (e.g. 0)")
    for name in ("rng", "members"):
        if name in kwargs:
            raise ModelInputError(
                f"{name}: not accepted here; the members and their random streams come from "
                "members, seed and chunk_members"
            )
    iv = kwargs.get("interventions")
    if isinstance(iv, xr.Dataset) and "member" in iv.dims:
        raise ModelInputError(
            "interventions: per-member interventions are not split by chunk; pass them "
            "without a member dimension or run models.seir.simulate directly"
        )


def _plan(
    members: int, seed: int, chunk_members: int
) -> list[tuple[int, int, np.random.SeedSequence]]:
    chunks = member_chunks(members, chunk_members)
    seqs = np.random.SeedSequence(int(seed)).spawn(len(chunks))
    return [(lo, hi, s) for (lo, hi), s in zip(chunks, seqs, strict=True)]


def simulate_chunked(
    params: SEIRParams,
    initial: xr.Dataset,
    coupling: Any,
    days: int,
    *,
    members: int,
    seed: int,
    chunk_members: int,
    **kwargs: Any,
) -> xr.Dataset:
    """Run the chunked ensemble of :func:`simulate_distributed` in this process.

    Parameters
    ----------
    params, initial, coupling, days
        As :func:`models.seir.simulate`.
    members : int
        Ensemble members.
    seed : int
        Root seed; chunk ``k`` draws from ``SeedSequence(seed).spawn(n_chunks)[k]``.
    chunk_members : int
        Members per chunk.
    **kwargs
        Other keywords of :func:`models.seir.simulate` (``interventions``, ``beta``,
        ``stochastic``, ``steps_per_day``, ``store_compartments``, ``sampler``...), not
        ``rng`` or ``members``. ``initial`` and ``beta`` may have a ``member`` dimension.

    Returns
    -------
    xarray.Dataset
        As :func:`models.seir.simulate`, members ``0 .. members - 1``.

    Raises
    ------
    ModelInputError
        On invalid counts, seed or keywords (and whatever ``simulate`` raises).
    """
    _check(members, seed, kwargs)
    parts = [
        _run_chunk(params, initial, coupling, days, lo, hi, s, kwargs)
        for lo, hi, s in _plan(members, seed, chunk_members)
    ]
    return _concat(parts)


def simulate_distributed(
    client: Any,
    params: SEIRParams,
    initial: xr.Dataset,
    coupling: Any,
    days: int,
    *,
    members: int,
    seed: int,
    chunk_members: int,
    **kwargs: Any,
) -> xr.Dataset:
    """Run an SEIR ensemble split by member over a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
        Connected client (see :func:`geo.distributed.dask_client`).
    params, initial, coupling, days
        As :func:`models.seir.simulate` (sent to every worker once).
    members : int
        Ensemble members.
    seed : int
        Root seed; chunk ``k`` draws from ``SeedSequence(seed).spawn(n_chunks)[k]``.
    chunk_members : int
        Members per task (memory of a task: about ``chunk_members x days x communes x
        (stored compartments + 2) x 4`` bytes).
    **kwargs
        Other keywords of :func:`models.seir.simulate`, not ``rng`` or ``members``.

    Returns
    -------
    xarray.Dataset
        Identical to :func:`simulate_chunked` with the same arguments.

    Raises
    ------
    ModelInputError
        On invalid counts, seed or keywords (and whatever ``simulate`` raises on a worker).
    """
    _check(members, seed, kwargs)
    shared = client.scatter([params, initial, coupling, kwargs], broadcast=True)
    task: Callable[..., xr.Dataset] = _run_chunk
    futures = [
        client.submit(task, *shared[:3], days, lo, hi, s, shared[3], pure=False)
        for lo, hi, s in _plan(members, seed, chunk_members)
    ]
    return _concat(client.gather(futures))
