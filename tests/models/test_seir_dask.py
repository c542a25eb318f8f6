"""SEIR ensembles split by member: on a Dask cluster and the same chunks in process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models.errors import ModelInputError
from models.seir import SEIRParams, initial_state, simulate
from models.seir_dask import member_chunks, simulate_chunked, simulate_distributed

CODES = ["09001", "09002", "09003"]
START = "2021-05-01"


@pytest.fixture
def coupling() -> xr.DataArray:
    return xr.DataArray(
        np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.05, 0.05, 0.9]]),
        dims=("commune", "commune_dest"),
        coords={"commune": CODES, "commune_dest": CODES},
    )


@pytest.fixture
def seeded() -> xr.Dataset:
    population = pd.Series([10_000.0, 5_000.0, 20_000.0], index=CODES)
    return initial_state(population, START, infectious=pd.Series({"09001": 20.0}))


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from geo.distributed import dask_client

    with dask_client("local", n_workers=2, processes=False) as c:
        yield c


@pytest.mark.parametrize(
    ("members", "chunk", "expected"),
    [
        (1, 1, [(0, 1)]),
        (5, 2, [(0, 2), (2, 4), (4, 5)]),
        (6, 3, [(0, 3), (3, 6)]),
        (3, 10, [(0, 3)]),
    ],
)
def test_member_chunks_cover_the_ensemble(
    members: int, chunk: int, expected: list[tuple[int, int]]
) -> None:
    assert member_chunks(members, chunk) == expected


@pytest.mark.parametrize(
    ("members", "chunk", "match"),
    [
        (0, 2, r"members: got 0; expected an integer >= 1"),
        (4, 0, r"chunk_members: got 0; expected an integer >= 1"),
        (2.5, 1, r"members: got 2.5; expected an integer >= 1"),
    ],
)
def test_member_chunks_reject_bad_counts(members: Any, chunk: Any, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        member_chunks(members, chunk)


# the compiled samplers ("exact", "normal") go through the same code path; they are left out
# because their first call compiles numba kernels (tens of seconds on a busy machine)
@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_distributed_equals_chunked_in_process(
    client: Any, seeded: xr.Dataset, coupling: xr.DataArray, chunk: int
) -> None:
    params = SEIRParams()
    kwargs = {"store_compartments": ["S", "Is"]}
    remote = simulate_distributed(
        client, params, seeded, coupling, 12, members=7, seed=3, chunk_members=chunk, **kwargs
    )
    local = simulate_chunked(
        params, seeded, coupling, 12, members=7, seed=3, chunk_members=chunk, **kwargs
    )
    xr.testing.assert_identical(remote, local)
    assert remote.sizes["member"] == 7
    np.testing.assert_array_equal(remote["member"].to_numpy(), np.arange(7))
    assert float(remote["new_infections"].sum()) > 0  # the epidemic ran


def test_chunked_is_not_one_unchunked_run_but_same_shape(
    seeded: xr.Dataset, coupling: xr.DataArray
) -> None:
    params = SEIRParams()
    chunked = simulate_chunked(params, seeded, coupling, 20, members=4, seed=0, chunk_members=2)
    whole = simulate(params, seeded, coupling, 20, members=4, rng=np.random.default_rng(0))
    assert chunked["state"].shape == whole["state"].shape
    # different random streams: documented, not bit-identical to one run
    assert not np.array_equal(chunked["new_infections"], whole["new_infections"])
    # people are conserved in every member either way
    totals = chunked["state"].sum(["commune", "compartment"])
    np.testing.assert_allclose(totals, 35_000.0, rtol=1e-5)


def test_deterministic_chunks_equal_one_run(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    params = SEIRParams()
    chunked = simulate_chunked(
        params, seeded, coupling, 10, members=3, seed=0, chunk_members=2, stochastic=False
    )
    whole = simulate(params, seeded, coupling, 10, members=3, stochastic=False)
    xr.testing.assert_identical(chunked, whole)


def test_per_member_initial_state_is_split_by_chunk(
    seeded: xr.Dataset, coupling: xr.DataArray
) -> None:
    per_member = seeded.expand_dims(member=4).copy(deep=True)
    per_member["state"][3] = per_member["state"][3] * 0 + seeded["state"] * 2
    out = simulate_chunked(
        SEIRParams(), per_member, coupling, 3, members=4, seed=1, chunk_members=3, stochastic=False
    )
    totals = out["state"].isel(date=0).sum(["commune", "compartment"]).to_numpy()
    np.testing.assert_allclose(totals, [35_000, 35_000, 35_000, 70_000], rtol=1e-5)
    whole = simulate(SEIRParams(), per_member, coupling, 3, members=4, stochastic=False)
    xr.testing.assert_identical(out, whole)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, r"seed: got -1; expected an integer >= 0"),
        ({"rng": np.random.default_rng(0)}, r"rng: not accepted here"),
    ],
)
def test_invalid_arguments_are_rejected(
    seeded: xr.Dataset, coupling: xr.DataArray, kwargs: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {"members": 2, "seed": 0, "chunk_members": 1, **kwargs}
    with pytest.raises(ModelInputError, match=match):
        simulate_chunked(SEIRParams(), seeded, coupling, 3, **args)


def test_per_member_interventions_are_rejected(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    iv = xr.Dataset({"contact_reduction": xr.DataArray(np.zeros((2, 3)), dims=("member", "x"))})
    with pytest.raises(ModelInputError, match=r"interventions: per-member interventions"):
        simulate_chunked(
            SEIRParams(), seeded, coupling, 3, members=2, seed=0, chunk_members=1, interventions=iv
        )
