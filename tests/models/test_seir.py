"""Tests of the SEIR metapopulation simulator and its interventions."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import ModelInputError
from models.interventions import (
    VENUE_CONTACT_SHARE,
    Closure,
    Lockdown,
    Tracing,
    Vaccination,
    interventions_to_arrays,
)
from models.seir import (
    COMPARTMENTS,
    SEIRParams,
    growth_rate_per_day,
    initial_state,
    next_generation_matrix,
    simulate,
    spectral_radius,
)

CODES = ["09001", "09002", "09003"]
START = "2021-05-01"


def coupling_of(matrix: np.ndarray, codes: list[str] = CODES) -> xr.DataArray:
    return xr.DataArray(
        matrix,
        dims=("commune", "commune_dest"),
        coords={"commune": codes, "commune_dest": codes},
    )


@pytest.fixture
def coupling() -> xr.DataArray:
    return coupling_of(np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.05, 0.05, 0.9]]))


@pytest.fixture
def population() -> pd.Series:
    return pd.Series([10_000.0, 5_000.0, 20_000.0], index=CODES)


@pytest.fixture
def seeded(population: pd.Series) -> xr.Dataset:
    return initial_state(population, START, infectious=pd.Series({"09001": 20.0}))


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("latent_period_days", 0.0, r"latent_period_days: got 0.0; expected a finite number > 0"),
        ("infectious_period_days", float("nan"), r"infectious_period_days: got nan"),
        ("basic_reproduction_number", -1.0, r"basic_reproduction_number: got -1.0"),
        ("asymptomatic_fraction", 35.0, r"asymptomatic_fraction: got 35.0; expected a share"),
        ("vaccine_efficacy_dose2", 1.2, r"vaccine_efficacy_dose2: got 1.2"),
        ("detection_rate_symptomatic_per_day", -0.1, r"detection_rate_symptomatic_per_day"),
    ],
)
def test_params_reject_invalid_values(field: str, value: float, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        SEIRParams(**{field: value})


def test_params_defaults_give_requested_r0_without_detection() -> None:
    params = SEIRParams(detection_rate_symptomatic_per_day=0, detection_rate_asymptomatic_per_day=0)
    r0 = params.transmission_rate_per_day * params.infectious_days_per_infection()
    assert r0 == pytest.approx(params.basic_reproduction_number)


def test_discrete_stays_are_longer_than_continuous() -> None:
    params = SEIRParams()
    assert params.infectious_days_per_infection(steps_per_day=1) > (
        params.infectious_days_per_infection()
    )
    fine = params.infectious_days_per_infection(steps_per_day=1000)
    assert fine == pytest.approx(params.infectious_days_per_infection(), rel=1e-3)


# ----------------------------------------------------------------------------- initial state


def test_initial_state_splits_infectious_and_fills_susceptibles(population: pd.Series) -> None:
    init = initial_state(
        population,
        START,
        infectious=pd.Series({"09001": 100.0}),
        vaccinated_dose1=pd.Series({"09002": 1000.0}),
    )
    state = init["state"].to_pandas()
    assert state.loc["09001", "Ia"] == pytest.approx(35.0)
    assert state.loc["09001", "Is"] == pytest.approx(65.0)
    assert state.loc["09002", "V1"] == 1000.0
    np.testing.assert_allclose(state.sum(axis=1), population.to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exposed": pd.Series({"09999": 1.0})}, r"exposed: commune '09999' is not in the"),
        ({"infectious": pd.Series({"09001": -1.0})}, r"infectious: commune 09001 has -1.0"),
        ({"recovered": pd.Series({"09002": 6000.0})}, r"commune 09002 has seeds.*> population"),
    ],
)
def test_initial_state_rejects_bad_counts(population: pd.Series, kwargs: dict, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        initial_state(population, START, **kwargs)


def test_initial_state_rejects_integer_codes() -> None:
    with pytest.raises(ModelInputError, match=r"commune id '9163' is not a 5-digit"):
        initial_state(pd.Series([100.0], index=["9163"]), START)


# ----------------------------------------------------------------------------- simulate: shape


def test_output_dims_dates_and_selected_compartments(
    seeded: xr.Dataset, coupling: xr.DataArray
) -> None:
    out = simulate(
        SEIRParams(), seeded, coupling, 5, members=2, rng=np.random.default_rng(0),
        store_compartments=("S", "R"),
    )  # fmt: skip
    assert out["state"].dims == ("member", "date", "commune", "compartment")
    assert out["state"].shape == (2, 5, 3, 2)
    assert out["new_infections"].dims == ("member", "date", "commune")
    assert pd.Timestamp(out["date"].values[0]) == pd.Timestamp("2021-05-02")
    assert list(out["compartment"].values) == ["S", "R"]
    assert out["state"].dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"days": 0}, r"days: got 0; expected an integer >= 1"),
        ({"members": 0}, r"members: got 0"),
        ({"rng": None}, r"rng: a stochastic run needs rng"),
        ({"steps_per_day": 0}, r"steps_per_day: got 0"),
        ({"store_compartments": ("X",)}, r"store_compartments: unknown compartment 'X'"),
        ({"beta": -1.0}, r"beta: got -1.0; expected a finite value >= 0"),
        ({"sampler": "fast"}, r"sampler: got 'fast'; expected 'numpy', 'exact' or 'normal'"),
    ],
)
def test_simulate_rejects_bad_arguments(
    seeded: xr.Dataset, coupling: xr.DataArray, kwargs: dict, match: str
) -> None:
    args = {"days": 5, "rng": np.random.default_rng(0)} | kwargs
    days = args.pop("days")
    with pytest.raises(ModelInputError, match=match):
        simulate(SEIRParams(), seeded, coupling, days, **args)


def test_simulate_rejects_non_stochastic_coupling(seeded: xr.Dataset) -> None:
    bad = coupling_of(np.full((3, 3), 0.5))
    with pytest.raises(ModelInputError, match=r"coupling: row of commune 09001 sums to 1.5"):
        simulate(SEIRParams(), seeded, bad, 5, stochastic=False)


def test_simulate_rejects_coupling_missing_a_commune(seeded: xr.Dataset) -> None:
    small = coupling_of(np.eye(2), CODES[:2])
    with pytest.raises(ModelInputError, match=r"commune '09003' of the initial state has no row"):
        simulate(SEIRParams(), seeded, small, 5, stochastic=False)


def test_beta_must_cover_the_horizon(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    beta = xr.DataArray(
        np.full(3, 0.5), dims="date", coords={"date": pd.date_range("2021-05-02", periods=3)}
    )
    with pytest.raises(ModelInputError, match=r"beta: date 2021-05-05 of the horizon is missing"):
        simulate(SEIRParams(), seeded, coupling, 5, beta=beta, stochastic=False)


def test_beta_names_the_bad_cell(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    beta = xr.DataArray(
        np.full((5, 3), 0.5),
        dims=("date", "commune"),
        coords={"date": pd.date_range("2021-05-02", periods=5), "commune": CODES},
    )
    beta[2, 1] = np.nan
    with pytest.raises(ModelInputError, match=r"beta: got nan at date 2021-05-04, commune 09002"):
        simulate(SEIRParams(), seeded, coupling, 5, beta=beta, stochastic=False)


# ----------------------------------------------------------------------------- invariants


def random_coupling(seed: int, n: int) -> np.ndarray:
    gen = np.random.default_rng(seed)
    raw = gen.random((n, n)) * (gen.random((n, n)) < 0.5)
    np.fill_diagonal(raw, 0.0)
    raw = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12) * gen.uniform(0, 0.6, (n, 1))
    np.fill_diagonal(raw, 1.0 - raw.sum(axis=1))
    return raw


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    stochastic=st.booleans(),
    steps=st.integers(1, 3),
    doses=st.floats(0, 500),
    sampler=st.sampled_from(["numpy", "exact", "normal"]),
)
def test_population_is_conserved_and_nothing_negative(
    n: int, seed: int, stochastic: bool, steps: int, doses: float, sampler: str
) -> None:
    gen = np.random.default_rng(seed)
    codes = [f"27{i:03d}" for i in range(n)]
    pop = pd.Series(gen.integers(100, 5000, n).astype(float), index=codes)
    init = initial_state(
        pop,
        START,
        infectious=pd.Series(np.floor(pop.to_numpy() * 0.01), index=codes),
        vaccinated_dose1=pd.Series(np.floor(pop.to_numpy() * 0.1), index=codes),
    )
    interventions = [
        Vaccination(tuple(codes), date(2021, 5, 3), date(2021, 5, 20), doses, dose=1),
        Vaccination(tuple(codes), date(2021, 5, 3), date(2021, 5, 20), doses / 2, dose=2),
        Lockdown((codes[0],), date(2021, 5, 5), date(2021, 5, 15)),
        Tracing(tuple(codes), date(2021, 5, 2), date(2021, 5, 31), 0.5),
    ]
    out = simulate(
        SEIRParams(), init, coupling_of(random_coupling(seed, n), codes), 30,
        interventions=interventions, members=3, stochastic=stochastic,
        rng=np.random.default_rng(seed), steps_per_day=steps, sampler=sampler,
    )  # fmt: skip
    totals = out["state"].sum("compartment").astype(float)
    np.testing.assert_allclose(
        totals.values, np.broadcast_to(pop.to_numpy(), totals.shape), rtol=1e-5
    )
    assert float(out["state"].min()) >= -1e-3
    assert float(out["new_infections"].min()) >= 0
    assert float(out["new_detected"].min()) >= 0


@pytest.mark.parametrize("sampler", ["numpy", "exact", "normal"])
def test_fractional_seeds_are_rounded_without_losing_people(sampler: str) -> None:
    pop = pd.Series([30.0, 31.0], index=CODES[:2])
    # rounding each compartment of 09001 (S 28.5, E 0.5, Ia 0.35, Is 0.65) would give 29
    init = initial_state(
        pop, START, exposed=pd.Series([0.5, 1.5], index=pop.index),
        infectious=pd.Series([1.0, 5.0], index=pop.index),
    )  # fmt: skip
    out = simulate(
        SEIRParams(), init, coupling_of(np.eye(2), CODES[:2]), 10, members=3,
        rng=np.random.default_rng(0), sampler=sampler,
    )  # fmt: skip
    totals = out["state"].sum("compartment").values
    np.testing.assert_array_equal(totals, np.broadcast_to(pop.to_numpy(), totals.shape))


@pytest.mark.parametrize("stochastic", [True, False])
def test_no_epidemic_without_infectious_seed(
    population: pd.Series, coupling: xr.DataArray, stochastic: bool
) -> None:
    init = initial_state(population, START, recovered=pd.Series({"09001": 50.0}))
    out = simulate(
        SEIRParams(), init, coupling, 60, members=4, stochastic=stochastic,
        rng=np.random.default_rng(1),
    )  # fmt: skip
    assert float(out["new_infections"].sum()) == 0.0
    xr.testing.assert_equal(
        out["state"].isel(date=-1, member=0).drop_vars(["date", "member"]),
        init["state"].astype(np.float32).drop_vars("date"),
    )


@pytest.mark.parametrize("sampler", ["numpy", "exact", "normal"])
def test_same_seed_identical_output_and_independent_of_workers(
    seeded: xr.Dataset, coupling: xr.DataArray, sampler: str
) -> None:
    kwargs = {"members": 120, "stochastic": True, "sampler": sampler}
    a = simulate(SEIRParams(), seeded, coupling, 40, rng=np.random.default_rng(7), **kwargs)
    b = simulate(
        SEIRParams(), seeded, coupling, 40, rng=np.random.default_rng(7), workers=2, **kwargs
    )
    c = simulate(SEIRParams(), seeded, coupling, 40, rng=np.random.default_rng(8), **kwargs)
    xr.testing.assert_identical(a, b)
    assert not a["new_infections"].equals(c["new_infections"])
    # members differ from each other (independent streams and draws)
    totals = a["new_infections"].sum(["date", "commune"]).values
    assert len(np.unique(totals)) > 10


@pytest.mark.parametrize("sampler", ["numpy", "exact", "normal"])
def test_stochastic_mean_tracks_deterministic(
    seeded: xr.Dataset, coupling: xr.DataArray, sampler: str
) -> None:
    params = SEIRParams()
    det = simulate(params, seeded, coupling, 30, stochastic=False)
    sto = simulate(
        params, seeded, coupling, 30, members=400, rng=np.random.default_rng(3), sampler=sampler
    )
    det_total = float(det["new_infections"].sum())
    sto_total = sto["new_infections"].sum(["date", "commune"])
    # some stochastic runs die out early, so the mean sits below; within 15% of the
    # deterministic total, and the standard error of the mean is far smaller than that
    assert float(sto_total.mean()) == pytest.approx(det_total, rel=0.15)


def test_sparse_coupling_matches_dense(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    dense = simulate(SEIRParams(), seeded, coupling, 30, stochastic=False)
    sparse = simulate(SEIRParams(), seeded, sp.csr_array(coupling.values), 30, stochastic=False)
    xr.testing.assert_allclose(dense, sparse, rtol=1e-5)


@pytest.mark.parametrize("same_population", [True, False])
def test_force_of_infection_sparse_dense_and_reference_agree(same_population: bool) -> None:
    from models.seir import _Coupling, _Mixer, _prepare_coupling

    gen = np.random.default_rng(5)
    n, members = 6, 4
    codes = [f"09{i:03d}" for i in range(n)]
    matrix = random_coupling(5, n)
    pop = gen.integers(1_000, 9_000, n).astype(float)
    pop_members = np.repeat(pop[:, None], members, axis=1)
    if not same_population:
        pop_members = pop_members * gen.uniform(0.5, 1.5, (1, members))
    i_eff = gen.random((n, members)) * 50
    i_eff[2] = 0.0  # a commune with nobody infectious in any member
    mobility = np.where(np.arange(n) == 1, 0.1, 1.0)  # commune 1 locked down
    off = matrix - np.diag(np.diag(matrix))
    c_eff = mobility[:, None] * off * mobility[None, :] + np.diag(1 - mobility * (off @ mobility))
    expected = c_eff @ ((c_eff.T @ i_eff) / (c_eff.T @ pop_members))
    dense: _Coupling = _prepare_coupling(coupling_of(matrix, codes), np.array(codes, dtype=object))
    sparse = _prepare_coupling(sp.csr_array(matrix), np.array(codes, dtype=object))
    for cpl in (dense, sparse):
        got = _Mixer(cpl, pop_members[:, 0], pop_members).force(mobility, i_eff, 0, members)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    zero = _Mixer(sparse, pop, pop_members).force(mobility, np.zeros((n, members)), 0, members)
    assert not zero.any()


@pytest.mark.parametrize("sampler", ["exact", "normal"])
def test_compiled_sampler_with_per_member_initial_state(
    population: pd.Series, coupling: xr.DataArray, sampler: str
) -> None:
    init = initial_state(population, START, infectious=pd.Series({"09001": 20.0}))
    bigger = initial_state(population * 2, START, infectious=pd.Series({"09002": 50.0}))
    stacked = xr.concat([init["state"], bigger["state"]], dim="member")
    out = simulate(
        SEIRParams(), init.assign(state=stacked), sp.csr_array(coupling.values), 40, members=2,
        rng=np.random.default_rng(0), sampler=sampler,
    )  # fmt: skip
    totals = out["state"].sum("compartment").isel(date=-1).values
    np.testing.assert_array_equal(totals, [population.to_numpy(), 2 * population.to_numpy()])
    assert (out["new_infections"].sum(["date", "commune"]).values > 100).all()


def test_per_member_initial_and_beta(population: pd.Series, coupling: xr.DataArray) -> None:
    init = initial_state(population, START, infectious=pd.Series({"09001": 20.0}))
    stacked = xr.concat([init["state"], init["state"]], dim="member")
    init2 = init.assign(state=stacked)
    beta = xr.DataArray([0.0, 0.6], dims="member")
    out = simulate(SEIRParams(), init2, coupling, 20, members=2, beta=beta, stochastic=False)
    totals = out["new_infections"].sum(["date", "commune"]).values
    assert totals[0] == 0.0
    assert totals[1] > 100.0


# (n, p) grid crossing every branch of the compiled sampler: inversion (n p' < 10), BTRS
# (n p' >= 10, squeeze and exact acceptance), p > 1/2 mirrored, rare events, huge n
BINOMIAL_GRID = [
    (1, 0.5),
    (5, 0.3),
    (40, 0.24),  # n p = 9.6: inversion, next to the switch
    (42, 0.24),  # n p = 10.1: BTRS, next to the switch
    (10_000, 2e-4),
    (400, 0.9),
    (60, 0.75),  # mirrored, BTRS (n (1 - p) = 15)
    (200, 0.1),
    (2_000, 0.4),
    (1_000_000, 0.37),  # sd 483: the exact test mostly by Stirling's series (|k - mode| > 40)
    (3, 0.999),
    (100, 0.5),  # BTRS at p = 1/2, exact test by the pmf-ratio product
    (3_000, 0.5),  # sd 27: both exact tests (ratio product within 40 of the mode, Stirling)
    (5_000, 0.98),  # mirrored BTRS, mean 100
    (2_000, 0.03),  # BTRS with a small p
]


def draw_binomial(n: int, p: float, draws: int, seed: int, min_variance: float) -> np.ndarray:
    from models import _seir_kernel

    st = _seir_kernel.member_streams(np.random.default_rng(seed), draws)
    return _seir_kernel.binomial_draws(st, np.full(draws, n), np.full(draws, p), min_variance)


@pytest.mark.parametrize(("n", "p"), BINOMIAL_GRID)
def test_compiled_binomial_matches_exact_distribution(n: int, p: float) -> None:
    draws = 200_000
    got = draw_binomial(n, p, draws, seed=n, min_variance=np.inf)
    mean, var = n * p, n * p * (1 - p)
    assert got.min() >= 0
    assert got.max() <= n
    # 5 standard errors of the sample mean and of the sample variance
    assert abs(got.mean() - mean) < 5 * np.sqrt(var / draws)
    assert abs(got.var() - var) < 5 * var * np.sqrt(2 / draws)
    # and the whole pmf: chi-square over the cells with >= 20 expected draws
    from scipy import stats

    k = (
        np.arange(n + 1)
        if n <= 5_000
        else np.arange(int(mean - 8 * var**0.5), int(mean + 8 * var**0.5))
    )
    expected = stats.binom.pmf(k, n, p) * draws
    keep = expected >= 20
    observed = np.bincount(got - k[0], minlength=len(k))[: len(k)][keep]
    chi2 = float((((observed - expected[keep]) ** 2) / expected[keep]).sum())
    assert stats.chi2.sf(chi2, max(int(keep.sum()) - 1, 1)) > 1e-4


@pytest.mark.parametrize(
    ("n", "p", "exact"),
    [
        (2_000, 0.4, False),  # variance 480: normal approximation
        (30, 0.5, True),  # variance 7.5: exact even with the approximation on
        (60, 0.75, True),  # variance 11.25: exact
    ],
)
def test_normal_sampler_moments_and_small_counts_exact(n: int, p: float, exact: bool) -> None:
    draws = 60_000
    got = draw_binomial(n, p, draws, seed=1, min_variance=25.0)
    mean, var = n * p, n * p * (1 - p)
    assert abs(got.mean() - mean) < 5 * np.sqrt(var / draws)
    assert abs(got.var() - var) < 5 * var * np.sqrt(2 / draws) + 1 / 12  # + rounding
    assert 0 <= got.min() and got.max() <= n
    # below the variance threshold the draws are the exact sampler's, draw for draw
    same = np.array_equal(got, draw_binomial(n, p, draws, seed=1, min_variance=np.inf))
    assert same == exact


def run_kernel_step(
    x: np.ndarray,
    lam_dt: np.ndarray,
    consts: np.ndarray,
    leave: np.ndarray,
    inf: np.ndarray,
    det: np.ndarray,
    seed: int,
    table_max_count: int = 64,
) -> None:
    """One compiled step for ``x.shape[0]`` communes and ``x.shape[1]`` members, no vaccination."""
    from models import _seir_kernel

    members = x.shape[1]
    doses = np.zeros((1, 1), dtype=np.int64)
    # alias tables as simulate builds them (sites in the kernel's order)
    probs = np.full(10, np.nan)
    probs[[3, 4, 9]] = consts[[2, 4, 6]]
    if leave.shape[1:] == (1, 1):
        probs[5:9] = leave[:, 0, 0]
    tables = _seir_kernel.alias_tables(probs, table_max_count)
    _seir_kernel.stochastic_step(
        _seir_kernel.member_streams(np.random.default_rng(seed), members), x, lam_dt, consts,
        leave, np.log(np.maximum(leave, 1 - leave)), doses, doses, inf, det,
        np.zeros((members, x.shape[0], 0), dtype=np.float32), np.zeros(0, dtype=np.int64),
        np.zeros((x.shape[0], members)), np.inf, *tables,
    )  # fmt: skip


def assert_binomial_pmf(got: np.ndarray, n: int, p: float) -> None:
    """Chi-square test of draws against Binomial(n, p) over cells with >= 20 expected."""
    from scipy import stats

    k = np.arange(n + 1)
    expected = stats.binom.pmf(k, n, p) * len(got)
    keep = expected >= 20
    observed = np.bincount(got, minlength=n + 1)[keep]
    chi2 = float((((observed - expected[keep]) ** 2) / expected[keep]).sum())
    assert stats.chi2.sf(chi2, max(int(keep.sum()) - 1, 1)) > 1e-4


@pytest.mark.parametrize(
    ("n", "lam"),
    [
        (1_000, 1e-4),  # almost always 0: the one-uniform shortcut
        (50, 0.05),  # mean 2.4: inversion continued from the shortcut's uniform
        (200, 0.04),  # mean 7.8
        (300, 0.05),  # mean 14.6: BTRS
        (12, 0.9),  # P(infected) 0.59 > 1/2: mirrored
    ],
)
def test_kernel_infections_are_binomial(n: int, lam: float) -> None:
    """The kernel's S -> E draw (its own fast path) against Binomial(S, 1 - exp(-lambda))."""
    members = 60_000
    x = np.zeros((1, members, 8), dtype=np.int64)
    x[0, :, 0] = n
    x[0, :, 1] = n  # V1 with efficacy 0: the same distribution through the general path
    consts = np.array([1.0, 0.5, 0.2, np.log(0.8), 0.35, np.log(0.65), 0.15, np.log(0.85), 0.75])
    leave = np.full((4, 1, 1), 0.2)
    inf = np.zeros((members, 1), dtype=np.float32)
    det = np.zeros((members, 1), dtype=np.float32)
    run_kernel_step(x, np.full((1, members), lam), consts, leave, inf, det, seed=n)
    for got in (n - x[0, :, 0], n - x[0, :, 1]):
        assert_binomial_pmf(got, n, -np.expm1(-lam))
    np.testing.assert_array_equal(inf[:, 0], 2 * n - x[0, :, 0] - x[0, :, 1])


# alias tables: small and large counts of a table, p small, near 1/2, above 1/2, near 1
@pytest.mark.parametrize(
    ("n", "p"),
    [(1, 0.3), (7, 0.02), (20, 0.9), (33, 0.2212), (64, 0.5), (64, 0.107), (40, 0.999)],
)
def test_alias_table_draws_are_binomial(n: int, p: float) -> None:
    from models import _seir_kernel

    draws = 1_000_000
    st = _seir_kernel.member_streams(np.random.default_rng(n), draws)
    got = _seir_kernel.table_draws(st, np.full(draws, n), p, 64)
    assert_binomial_pmf(got, n, p)


@pytest.mark.parametrize("p", [0.3, 0.545, 1e-3])
def test_alias_tables_hold_the_binomial_pmf(p: float) -> None:
    """Each table, read back (kept share plus what the aliases receive), is the pmf."""
    from scipy import stats

    from models import _seir_kernel

    table_n, table = _seir_kernel.alias_tables(np.array([np.nan, 0.0, 1.0, p]), 16)
    assert table_n.tolist() == [0, 0, 0, 16]  # no table outside 0 < p < 1
    assert table.shape == (4, 17 * 18 // 2, 2)
    for n in range(1, 17):
        cells = table[3, n * (n + 1) // 2 : (n + 1) * (n + 2) // 2]
        assert ((cells[:, 0] >= 0) & (cells[:, 0] <= 1)).all()
        mass = cells[:, 0].copy()
        np.add.at(mass, cells[:, 1].astype(int), 1.0 - cells[:, 0])
        expected = stats.binom.pmf(np.arange(n + 1), n, p)
        np.testing.assert_allclose(mass / (n + 1), expected, rtol=1e-12, atol=1e-17)


FIXED_SITE_LEAVE = np.array([0.17, 0.107, 0.31, 0.545]).reshape(4, 1, 1)


@pytest.mark.parametrize(
    "n",
    [
        64,  # one table draw
        65,  # a sum of two
        200,
        384,  # the largest sum of table draws (6 x 64)
        385,  # BTRS
        1_000,
    ],
)
@pytest.mark.parametrize("site", ["E", "Is", "Q"])
def test_kernel_fixed_probability_draws_are_binomial(site: str, n: int) -> None:
    """Exits and their splits at sites with one probability per step (alias tables)."""
    members = 60_000
    x = np.zeros((1, members, 8), dtype=np.int64)
    x[0, :, COMPARTMENTS.index(site)] = n
    consts = np.array([1.0, 0.5, 0.2, np.log(0.8), 0.35, np.log(0.65), 0.15, np.log(0.85), 0.75])
    inf = np.zeros((members, 1), dtype=np.float32)
    det = np.zeros((members, 1), dtype=np.float32)
    run_kernel_step(x, np.zeros((1, members)), consts, FIXED_SITE_LEAVE, inf, det, seed=n)
    after = {c: x[0, :, i] for i, c in enumerate(COMPARTMENTS)}
    if site == "E":  # leave E with 0.2, a share 0.35 of them to Ia: Ia ~ Bin(n, 0.07)
        assert_binomial_pmf(n - after["E"], n, 0.2)
        assert_binomial_pmf(after["Ia"], n, 0.2 * 0.35)
    elif site == "Is":  # leave Is with 0.31, a share 0.545 of them to Q
        assert_binomial_pmf(n - after["Is"], n, 0.31)
        assert_binomial_pmf(after["Q"], n, 0.31 * 0.545)
    else:
        assert_binomial_pmf(n - after["Q"], n, 0.15)
    assert (x[0].sum(axis=1) == n).all()


def test_kernel_leave_probabilities_per_commune_are_binomial() -> None:
    """Tracing that differs by commune: Ia/Is exits without tables, each commune its own p."""
    members, n = 60_000, 300
    x = np.zeros((2, members, 8), dtype=np.int64)
    x[:, :, COMPARTMENTS.index("Is")] = n
    consts = np.array([1.0, 0.5, 0.2, np.log(0.8), 0.35, np.log(0.65), 0.15, np.log(0.85), 0.75])
    leave = np.array([[0.17, 0.25], [0.107, 0.3], [0.31, 0.05], [0.545, 0.8]])[:, :, None]
    inf = np.zeros((members, 2), dtype=np.float32)
    det = np.zeros((members, 2), dtype=np.float32)
    run_kernel_step(x, np.zeros((2, members)), consts, leave, inf, det, seed=5)
    for i in range(2):
        s_out = n - x[i, :, COMPARTMENTS.index("Is")]
        assert_binomial_pmf(s_out, n, leave[2, i, 0])
        assert_binomial_pmf(x[i, :, COMPARTMENTS.index("Q")], n, leave[2, i, 0] * leave[3, i, 0])
        np.testing.assert_array_equal(det[:, i], x[i, :, COMPARTMENTS.index("Q")])


def test_member_streams_differ_and_follow_the_seed() -> None:
    from models import _seir_kernel

    a = _seir_kernel.member_streams(np.random.default_rng(3), 1000)
    b = _seir_kernel.member_streams(np.random.default_rng(3), 1000)
    assert a.dtype == np.uint64 and a.shape == (1000, 4)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a[:, 0])) == 1000


# ----------------------------------------------------------------------------- R0 and growth


def test_single_commune_r0_is_beta_times_infectious_days() -> None:
    params = SEIRParams()
    pop = xr.DataArray([1000.0], dims="commune", coords={"commune": ["09001"]})
    ngm = next_generation_matrix(params, coupling_of(np.eye(1), ["09001"]), pop)
    expected = params.transmission_rate_per_day * params.infectious_days_per_infection()
    assert spectral_radius(ngm) == pytest.approx(expected)


@pytest.mark.parametrize("r0", [0.8, 1.5, 3.0])
def test_growth_sign_agrees_with_ngm_r0(coupling: xr.DataArray, r0: float) -> None:
    params = SEIRParams(basic_reproduction_number=r0)
    pop = xr.DataArray([1e5, 5e4, 2e5], dims="commune", coords={"commune": CODES})
    big_r0 = spectral_radius(next_generation_matrix(params, coupling, pop))
    assert (big_r0 > 1) == (growth_rate_per_day(params, coupling, pop) > 0)


@pytest.mark.parametrize(
    ("steps_per_day", "theory_steps", "tolerance"),
    [
        (1, 1, 0.01),  # discrete daily model vs its own linearised one-step map: 1%
        (24, None, 0.03),  # fine steps vs the continuous-time Jacobian: 3%
    ],
)
def test_early_growth_matches_linearised_theory(
    coupling: xr.DataArray, steps_per_day: int, theory_steps: int | None, tolerance: float
) -> None:
    params = SEIRParams(basic_reproduction_number=2.5)
    pop = pd.Series([1e9, 5e8, 2e9], index=CODES)
    init = initial_state(pop, START, exposed=pd.Series({"09001": 100.0}))
    out = simulate(params, init, coupling, 80, stochastic=False, steps_per_day=steps_per_day)
    daily = out["new_infections"].isel(member=0).sum("commune").values.astype(float)
    simulated = np.polyfit(np.arange(40, 80), np.log(daily[40:80]), 1)[0]
    theory = growth_rate_per_day(params, coupling, init["population"], steps_per_day=theory_steps)
    assert theory > 0
    assert simulated == pytest.approx(theory, rel=tolerance)


# ----------------------------------------------------------------------------- interventions


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Lockdown((), date(2021, 5, 2), date(2021, 5, 3)), r"Lockdown: no communes"),
        (lambda: Lockdown(("9163",), date(2021, 5, 2), date(2021, 5, 3)), r"'9163' is not a"),
        (
            lambda: Lockdown(("09001",), date(2021, 5, 9), date(2021, 5, 3)),
            r"Lockdown: end 2021-05-03 is before start 2021-05-09",
        ),
        (
            lambda: Lockdown(("09001",), date(2021, 5, 2), date(2021, 5, 3), 1.5),
            r"Lockdown.contact_reduction: strength 1.5 is outside \[0, 1\]",
        ),
        (
            lambda: Closure(("09001",), date(2021, 5, 2), date(2021, 5, 3), "casino"),
            r"Closure.venue_type: got 'casino'",
        ),
        (
            lambda: Tracing(("09001",), date(2021, 5, 2), date(2021, 5, 3), -1.0),
            r"Tracing.isolation_rate_per_day: got -1.0",
        ),
        (
            lambda: Vaccination(("09001",), date(2021, 5, 2), date(2021, 5, 3), 10.0, dose=3),
            r"Vaccination.dose: got 3; expected 1 or 2",
        ),
    ],
)
def test_interventions_validate(make, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        make()


@pytest.mark.parametrize(
    ("item", "match"),
    [
        (
            Lockdown(("09999",), date(2021, 5, 2), date(2021, 5, 3)),
            r"intervention 1 \(Lockdown\): unknown commune '09999'",
        ),
        (
            Tracing(("09001",), date(2021, 4, 20), date(2021, 5, 3)),
            r"dates 2021-04-20..2021-05-03 fall outside the horizon 2021-05-02..2021-05-11",
        ),
    ],
)
def test_interventions_to_arrays_rejects(item, match: str) -> None:
    with pytest.raises(ModelInputError, match=match):
        interventions_to_arrays([item], CODES, START, 10)


def test_interventions_combine() -> None:
    items = [
        Lockdown(("09001",), date(2021, 5, 2), date(2021, 5, 5), 0.5, 0.8),
        Closure(("09001", "09002"), date(2021, 5, 4), date(2021, 5, 6), "school"),
        Tracing(("09003",), date(2021, 5, 2), date(2021, 5, 3), 0.3),
        Tracing(("09003",), date(2021, 5, 3), date(2021, 5, 3), 0.2),
        Vaccination(("09002",), date(2021, 5, 2), date(2021, 5, 11), 100.0, dose=2),
    ]
    arr = interventions_to_arrays(items, CODES, START, 10)
    school = VENUE_CONTACT_SHARE["school"]
    contact = arr["contact_reduction"].sel(commune="09001").values
    assert contact[0] == pytest.approx(0.5)
    assert contact[2] == pytest.approx(1 - 0.5 * (1 - school))
    assert contact[4] == pytest.approx(school)
    assert contact[5] == 0.0
    assert arr["mobility_reduction"].sel(commune="09001").values[:4] == pytest.approx([0.8] * 4)
    assert arr["isolation_rate_per_day"].sel(commune="09003").values[:3] == pytest.approx(
        [0.3, 0.5, 0.0]
    )
    assert float(arr["doses_dose2"].sum()) == 1000.0
    assert float(arr["doses_dose1"].sum()) == 0.0


def test_full_mobility_cut_keeps_epidemic_out(population: pd.Series) -> None:
    linked = coupling_of(np.array([[0.7, 0.3, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]]))
    init = initial_state(population, START, infectious=pd.Series({"09001": 50.0}))
    lockdown = [Lockdown(("09002",), date(2021, 5, 2), date(2021, 7, 30), 0.0, 1.0)]
    out = simulate(SEIRParams(), init, linked, 90, interventions=lockdown, stochastic=False)
    open_ = simulate(SEIRParams(), init, linked, 90, stochastic=False)
    assert float(out["new_infections"].sel(commune="09002").sum()) == 0.0
    assert float(open_["new_infections"].sel(commune="09002").sum()) > 1000.0
    assert float(out["new_infections"].sel(commune="09003").sum()) == 0.0


@pytest.mark.parametrize(
    "item",
    [
        Lockdown(tuple(CODES), date(2021, 5, 2), date(2021, 7, 30), 0.6, 0.5),
        Closure(tuple(CODES), date(2021, 5, 2), date(2021, 7, 30), "school"),
        Tracing(tuple(CODES), date(2021, 5, 2), date(2021, 7, 30), 0.5),
        Vaccination(tuple(CODES), date(2021, 5, 2), date(2021, 7, 30), 200.0),
    ],
)
def test_each_intervention_reduces_infections(
    seeded: xr.Dataset, coupling: xr.DataArray, item
) -> None:
    base = simulate(SEIRParams(), seeded, coupling, 90, stochastic=False)
    cut = simulate(SEIRParams(), seeded, coupling, 90, interventions=[item], stochastic=False)
    assert float(cut["new_infections"].sum()) < 0.97 * float(base["new_infections"].sum())


def test_tracing_raises_detected_share(seeded: xr.Dataset, coupling: xr.DataArray) -> None:
    tracing = [Tracing(tuple(CODES), date(2021, 5, 2), date(2021, 7, 30), 1.0)]
    base = simulate(SEIRParams(), seeded, coupling, 90, stochastic=False)
    traced = simulate(SEIRParams(), seeded, coupling, 90, interventions=tracing, stochastic=False)

    def share(out: xr.Dataset) -> float:
        return float(out["new_detected"].sum() / out["new_infections"].sum())

    assert share(traced) > share(base) + 0.2


def test_vaccination_moves_susceptibles_to_dose_compartments(
    population: pd.Series, coupling: xr.DataArray
) -> None:
    init = initial_state(population, START)
    doses = [
        Vaccination(("09001",), date(2021, 5, 2), date(2021, 5, 11), 100.0, dose=1),
        Vaccination(("09001",), date(2021, 5, 7), date(2021, 5, 11), 50.0, dose=2),
    ]
    out = simulate(SEIRParams(), init, coupling, 10, interventions=doses, members=2,
                   rng=np.random.default_rng(0))  # fmt: skip
    last = out["state"].sel(commune="09001").isel(date=-1, member=0).to_series()
    assert last["V1"] == 1000.0 - 250.0
    assert last["V2"] == 250.0
    assert last["S"] == 10_000.0 - 1000.0


# ----------------------------------------------------------------------------- seeded baseline

# Refresh with:
#   .venv/bin/python -c "from tests.models.test_seir import baseline_totals as b; print(b())"
# Stored: total new infections and detections per commune for seed 2021, 3 members, 60 days.
BASELINE_INFECTIONS = [28091.0, 14087.0, 56185.0]
BASELINE_DETECTED = [10190.0, 5118.0, 19750.0]


def baseline_totals() -> tuple[list[float], list[float]]:
    pop = pd.Series([10_000.0, 5_000.0, 20_000.0], index=CODES)
    init = initial_state(pop, START, infectious=pd.Series({"09001": 20.0}))
    coupling = coupling_of(np.array([[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.05, 0.05, 0.9]]))
    out = simulate(SEIRParams(), init, coupling, 60, members=3, rng=np.random.default_rng(2021))
    totals = out[["new_infections", "new_detected"]].sum(["member", "date"])
    return (
        totals["new_infections"].values.round().tolist(),
        totals["new_detected"].values.round().tolist(),
    )


def test_seeded_baseline_is_reproduced() -> None:
    infections, detected = baseline_totals()
    # exact for the same numpy version; 1% allows a change of numpy's binomial sampler
    np.testing.assert_allclose(infections, BASELINE_INFECTIONS, rtol=0.01)
    np.testing.assert_allclose(detected, BASELINE_DETECTED, rtol=0.01)


def test_compartment_order_is_public() -> None:
    assert COMPARTMENTS == ("S", "V1", "V2", "E", "Ia", "Is", "Q", "R")
