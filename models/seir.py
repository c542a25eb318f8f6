"""SEIR metapopulation simulator: deterministic and stochastic, one commune per patch.

Compartments (per commune, in this order, see :data:`COMPARTMENTS`):

``S``  susceptible, unvaccinated; ``V1``/``V2`` susceptible with one/two vaccine doses
(susceptibility reduced by the dose's efficacy); ``E`` exposed (latent, not infectious);
``Ia``/``Is`` infectious asymptomatic/symptomatic; ``Q`` detected and isolated (does not
transmit); ``R`` removed (recovered or dead).

Force of infection on residents of commune ``i`` (``C`` the coupling matrix, rows sum to 1:
share of time residents of ``i`` spend in ``j``)::

    I_eff_k  = Is_k + a * Ia_k                          (a: relative infectiousness, asympt.)
    N_eff_j  = sum_k C_kj N_k                            (people present in j)
    P_j      = sum_k C_kj I_eff_k / N_eff_j              (infectious share of people in j)
    lambda_i = beta_i(t) * (1 - c_i(t)) * sum_j C_ij P_j  (c: contact reduction, interventions)

``C`` is the lockdown-adjusted matrix of the day (see :func:`effective_coupling_matvec`):
off-diagonal entries are scaled by ``m_i m_j`` with ``m = 1 - mobility_reduction`` and the
removed time goes to the diagonal (staying home), so rows still sum to 1.

Transitions over a step ``dt`` (``1 / steps_per_day`` days), each drawn from the state at the
start of the step, so no compartment can go negative:

* ``S -> E`` with probability ``1 - exp(-lambda dt)``; ``V1 -> E`` and ``V2 -> E`` with
  ``1 - exp(-(1 - ve_d) lambda dt)``;
* ``E -> Ia | Is`` with ``1 - exp(-sigma dt)``, a share ``p_a`` to ``Ia``;
* ``Ia -> R | Q`` with ``1 - exp(-(gamma + delta_a + tau) dt)``, the share
  ``(delta_a + tau) / (gamma + delta_a + tau)`` to ``Q`` (``tau``: tracing/isolation rate);
  ``Is`` likewise with ``delta_s``;
* ``Q -> R`` with ``1 - exp(-gamma dt)``;
* vaccination: ``S -> V1`` (dose 1) and ``V1 -> V2`` (dose 2), the doses of the day capped by
  the susceptibles left after infection (doses are assumed to reach susceptibles: an upper
  bound on their effect).

The stochastic model draws every transition from a binomial with that probability
(competing exits: a binomial for leaving, then a binomial split); the deterministic model
moves the expected value (exact-exponential steps). The only Python loops are over steps and
over blocks of members: the default sampler and the deterministic model are vectorised with
numpy over fixed blocks of members (one random stream per block); the compiled samplers
(``sampler="exact"`` or ``"normal"``, :mod:`models._seir_kernel`) loop over communes and
members in numba with one random stream per member. Either way the output does not depend on
``workers``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr
from threadpoolctl import threadpool_limits

from models import _seir_kernel as _kernel
from models.errors import ModelInputError
from models.interventions import Intervention, interventions_to_arrays

COMPARTMENTS: tuple[str, ...] = ("S", "V1", "V2", "E", "Ia", "Is", "Q", "R")
_S, _V1, _V2, _E, _IA, _IS, _Q, _R = range(len(COMPARTMENTS))
MEMBER_BLOCK_SIZE = 50  # members per random stream; fixed so output is independent of workers
NORMAL_MIN_VARIANCE = 25.0  # sampler="normal": draws with n p (1 - p) >= this use the normal
ALIAS_TABLE_MAX_COUNT = 64  # compiled samplers: counts up to this draw from alias tables


@dataclass(frozen=True)
class SEIRParams:
    """Epidemiological parameters of the SEIR model (defaults: Delta variant, 2021).

    Attributes
    ----------
    latent_period_days : float
        Mean time from infection to infectiousness (days). Default 4.0: Li B. et al. (2022),
        "Viral infection and transmission in a large, well-traced outbreak caused by the
        SARS-CoV-2 Delta variant", Nat. Commun. 13:460 (about 4 days to first positive PCR).
    infectious_period_days : float
        Mean infectious period without isolation (days). Default 6.0: Byrne A.W. et al.
        (2020), "Inferred duration of infectious period of SARS-CoV-2", BMJ Open 10:e039856.
    asymptomatic_fraction : float
        Share of infections that never show symptoms (unitless). Default 0.35: Sah P. et al.
        (2021), PNAS 118:e2109229118 (meta-analysis, 35.1%).
    relative_infectiousness_asymptomatic : float
        Infectiousness of ``Ia`` relative to ``Is`` (unitless). Default 0.75: US CDC,
        "COVID-19 Pandemic Planning Scenarios" (March 2021, best estimate).
    basic_reproduction_number : float
        R0 of a closed, fully susceptible commune without testing or isolation (unitless).
        Default 5.08: Liu Y. and Rocklöv J. (2021), J. Travel Med. 28:taab124 (Delta mean).
        It sets :attr:`transmission_rate_per_day`.
    vaccine_efficacy_dose1 : float
        Reduction of susceptibility after one dose (unitless). Default 0.307: Lopez Bernal J.
        et al. (2021), NEJM 385:585 (Delta, symptomatic disease, one dose).
    vaccine_efficacy_dose2 : float
        Reduction of susceptibility after two doses (unitless). Default 0.67: same source,
        two doses of ChAdOx1 (the main vaccine in Vietnam in 2021).
    detection_rate_symptomatic_per_day : float
        Rate at which symptomatic cases are tested and isolated without tracing (1/day).
        Default 0.2 (safemap assumption: about 5 days from onset to isolation; calibrate).
    detection_rate_asymptomatic_per_day : float
        Same for asymptomatic infections (1/day). Default 0.02 (safemap assumption: found
        only by screening; calibrate).
    """

    latent_period_days: float = 4.0
    infectious_period_days: float = 6.0
    asymptomatic_fraction: float = 0.35
    relative_infectiousness_asymptomatic: float = 0.75
    basic_reproduction_number: float = 5.08
    vaccine_efficacy_dose1: float = 0.307
    vaccine_efficacy_dose2: float = 0.67
    detection_rate_symptomatic_per_day: float = 0.2
    detection_rate_asymptomatic_per_day: float = 0.02

    def __post_init__(self) -> None:
        positive = ("latent_period_days", "infectious_period_days", "basic_reproduction_number")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ModelInputError(
                    f"SEIRParams.{name}: got {value!r}; expected a finite number > 0; "
                    f"fix: pass a positive value (see the field's docstring for the default)"
                )
        unit = (
            "asymptomatic_fraction",
            "relative_infectiousness_asymptomatic",
            "vaccine_efficacy_dose1",
            "vaccine_efficacy_dose2",
        )
        for name in unit:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ModelInputError(
                    f"SEIRParams.{name}: got {value!r}; expected a share in [0, 1]; "
                    f"fix: pass a fraction, e.g. 0.35 rather than 35"
                )
        for name in ("detection_rate_symptomatic_per_day", "detection_rate_asymptomatic_per_day"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ModelInputError(
                    f"SEIRParams.{name}: got {value!r}; expected a finite rate >= 0 per day; "
                    f"fix: pass e.g. 0.2 (isolation about 5 days after onset)"
                )

    @property
    def progression_rate_per_day(self) -> float:
        """``sigma``: rate of leaving ``E`` (1/day)."""
        return 1.0 / self.latent_period_days

    @property
    def recovery_rate_per_day(self) -> float:
        """``gamma``: rate of leaving ``Ia``, ``Is`` and ``Q`` to ``R`` (1/day)."""
        return 1.0 / self.infectious_period_days

    @property
    def transmission_rate_per_day(self) -> float:
        """``beta`` giving :attr:`basic_reproduction_number` without detection (1/day)."""
        pa = self.asymptomatic_fraction
        weight = pa * self.relative_infectiousness_asymptomatic + (1.0 - pa)
        return self.basic_reproduction_number / (weight * self.infectious_period_days)

    def infectious_days_per_infection(
        self, isolation_rate_per_day: float = 0.0, *, steps_per_day: int | None = None
    ) -> float:
        """Return the infectiousness-weighted days one infection spends transmitting (days).

        Parameters
        ----------
        isolation_rate_per_day : float
            Extra isolation rate from tracing (1/day), added to both detection rates.
        steps_per_day : int, optional
            None for the continuous-time model; an integer for the discrete model that
            :func:`simulate` runs with that many steps a day, where a stay with exit rate
            ``r`` lasts on average ``dt / (1 - exp(-r dt))`` days (longer than ``1 / r``).

        Returns
        -------
        float
            Continuous: ``p_a a / (gamma + delta_a + tau) + (1 - p_a) / (gamma + delta_s +
            tau)``; a single commune's reproduction number is ``beta * s *`` this value.
        """
        pa = self.asymptomatic_fraction
        g = self.recovery_rate_per_day
        rate_a = g + self.detection_rate_asymptomatic_per_day + isolation_rate_per_day
        rate_s = g + self.detection_rate_symptomatic_per_day + isolation_rate_per_day
        if steps_per_day is None:
            stay_a, stay_s = 1.0 / rate_a, 1.0 / rate_s
        else:
            dt = 1.0 / steps_per_day
            stay_a = dt / -math.expm1(-rate_a * dt)
            stay_s = dt / -math.expm1(-rate_s * dt)
        return pa * self.relative_infectiousness_asymptomatic * stay_a + (1.0 - pa) * stay_s


# ----------------------------------------------------------------------------- initial state


def initial_state(
    population: pd.Series | xr.DataArray,
    start_date: str | pd.Timestamp,
    *,
    params: SEIRParams | None = None,
    exposed: pd.Series | None = None,
    infectious: pd.Series | None = None,
    recovered: pd.Series | None = None,
    vaccinated_dose1: pd.Series | None = None,
    vaccinated_dose2: pd.Series | None = None,
) -> xr.Dataset:
    """Build the initial state of :func:`simulate` from populations and seeds.

    Parameters
    ----------
    population : pandas.Series or xarray.DataArray
        Residents per commune, indexed by 5-character commune code.
    start_date : str or pandas.Timestamp
        Date of the initial state; the simulation's first day is the next day.
    params : SEIRParams, optional
        Used to split ``infectious`` into ``Ia``/``Is`` by the asymptomatic fraction.
    exposed, infectious, recovered, vaccinated_dose1, vaccinated_dose2 : pandas.Series, optional
        Counts per commune (missing communes count 0). ``vaccinated_dose2`` are people with
        two doses, ``vaccinated_dose1`` those with exactly one; both are susceptible.

    Returns
    -------
    xarray.Dataset
        Variable ``state`` with dims ``(commune, compartment)`` (people), coordinate
        ``date`` (scalar) and ``population``.

    Raises
    ------
    ModelInputError
        If a count names an unknown commune, is negative, or the counts exceed a commune's
        population.
    """
    params = params or SEIRParams()
    pop = population.to_series() if isinstance(population, xr.DataArray) else population
    pop = pd.Series(np.asarray(pop, dtype=float), index=pd.Index(pop.index.astype(str)))
    _check_codes(pop.index, "population")
    if (pop < 0).any() or not np.isfinite(pop.to_numpy()).all():
        bad = pop[(pop < 0) | ~np.isfinite(pop)].index[0]
        raise ModelInputError(
            f"population: commune {bad} has {float(pop[bad])}; expected a finite count >= 0; "
            f"fix the population table"
        )
    state = pd.DataFrame(0.0, index=pop.index, columns=list(COMPARTMENTS))

    def counts(name: str, series: pd.Series | None) -> pd.Series:
        if series is None:
            return pd.Series(0.0, index=pop.index)
        s = pd.Series(np.asarray(series, dtype=float), index=series.index.astype(str))
        unknown = s.index.difference(pop.index)
        if len(unknown):
            raise ModelInputError(
                f"{name}: commune {unknown[0]!r} is not in the population index "
                f"({len(pop)} communes); fix: use 5-character GSO codes of the boundary set"
            )
        if (s < 0).any():
            bad = s[s < 0].index[0]
            raise ModelInputError(
                f"{name}: commune {bad} has {float(s[bad])}; expected a count >= 0; fix the seeds"
            )
        return s.reindex(pop.index, fill_value=0.0)

    infectious_s = counts("infectious", infectious)
    state["E"] = counts("exposed", exposed)
    state["Ia"] = infectious_s * params.asymptomatic_fraction
    state["Is"] = infectious_s - state["Ia"]
    state["R"] = counts("recovered", recovered)
    state["V1"] = counts("vaccinated_dose1", vaccinated_dose1)
    state["V2"] = counts("vaccinated_dose2", vaccinated_dose2)
    state["S"] = pop - state.drop(columns="S").sum(axis=1)
    if (state["S"] < 0).any():
        bad = state.index[(state["S"] < 0).to_numpy()][0]
        raise ModelInputError(
            f"initial state: commune {bad} has seeds, recovered and vaccinated summing to "
            f"{pop[bad] - state.loc[bad, 'S']:.0f} > population {pop[bad]:.0f}; fix the counts"
        )
    data = xr.DataArray(
        state.to_numpy(),
        dims=("commune", "compartment"),
        coords={"commune": pop.index.to_numpy(dtype=object), "compartment": list(COMPARTMENTS)},
    )
    return xr.Dataset(
        {"state": data},
        coords={
            "date": pd.Timestamp(start_date),
            "population": ("commune", pop.to_numpy()),
        },
    )


def _check_codes(index: pd.Index, what: str) -> None:
    bad = [c for c in index if not (isinstance(c, str) and len(c) == 5 and c.isdigit())]
    if bad:
        raise ModelInputError(
            f"{what}: commune id {bad[0]!r} is not a 5-digit GSO code string; "
            f"fix: keep the leading zero, e.g. '09163'"
        )


# ----------------------------------------------------------------------------- coupling


@dataclass(frozen=True)
class _Coupling:
    off: Any  # off-diagonal part, dense ndarray or CSR
    off_t: Any  # its transpose


def _prepare_coupling(coupling: xr.DataArray | sp.sparray, communes: np.ndarray) -> _Coupling:
    n = len(communes)
    if isinstance(coupling, xr.DataArray):
        if set(coupling.dims) != {"commune", "commune_dest"}:
            raise ModelInputError(
                f"coupling: dims {coupling.dims}; expected ('commune', 'commune_dest'); "
                f"fix: build it with models.coupling.combine_coupling"
            )
        missing = pd.Index(communes).difference(pd.Index(coupling["commune"].values.astype(str)))
        if len(missing):
            raise ModelInputError(
                f"coupling: commune {missing[0]!r} of the initial state has no row; "
                f"fix: build the coupling over the same commune list"
            )
        mat = (
            coupling.sel(commune=communes, commune_dest=communes)
            .transpose("commune", "commune_dest")
            .to_numpy()
            .astype(float)
        )
    elif sp.issparse(coupling):
        mat = sp.csr_array(coupling, dtype=float)
        if mat.shape != (n, n):
            raise ModelInputError(
                f"coupling: sparse shape {mat.shape}; expected ({n}, {n}) in the initial "
                f"state's commune order; fix the matrix"
            )
    else:
        raise ModelInputError(
            f"coupling: got {type(coupling).__name__}; expected an xarray.DataArray "
            f"(commune, commune_dest) or a scipy.sparse array"
        )
    rows = np.asarray(mat.sum(axis=1)).ravel()
    entries = np.asarray(mat.data if sp.issparse(mat) else mat)
    negative = bool((entries < 0).any())
    if negative or not np.allclose(rows, 1.0, atol=1e-6):
        i = int(np.argmax(np.abs(rows - 1.0)))
        raise ModelInputError(
            f"coupling: row of commune {communes[i]} sums to {rows[i]:.6f} (or has negative "
            f"entries); expected non-negative rows summing to 1; fix: normalise the rows "
            f"(models.coupling.combine_coupling does)"
        )
    if sp.issparse(mat):
        off = sp.csr_array(mat - sp.diags_array(mat.diagonal()))
        off.eliminate_zeros()
        return _Coupling(off, sp.csr_array(off.T))
    off = mat - np.diag(np.diag(mat))
    return _Coupling(off, np.ascontiguousarray(off.T))


def stay_home_share(off: Any, mobility: np.ndarray) -> np.ndarray:
    """Diagonal of the lockdown-adjusted coupling matrix.

    Parameters
    ----------
    off : numpy.ndarray or scipy.sparse array
        Off-diagonal part ``C_off`` of the coupling matrix (rows: residence).
    mobility : numpy.ndarray
        ``m = 1 - mobility_reduction`` per commune, shape ``(n,)``.

    Returns
    -------
    numpy.ndarray
        ``1 - m_i * sum_j C_off_ij m_j``: share of time residents of ``i`` spend at home.
    """
    return 1.0 - mobility * np.asarray(off @ mobility).ravel()


def effective_coupling_matvec(
    off: Any, mobility: np.ndarray, diag: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Multiply by the lockdown-adjusted coupling matrix (or its transpose) without forming it.

    Parameters
    ----------
    off : numpy.ndarray or scipy.sparse array
        ``C_off`` for ``C_eff @ x``, or ``C_off.T`` for ``C_eff.T @ x``.
    mobility : numpy.ndarray
        ``m = 1 - mobility_reduction`` per commune, shape ``(n,)``.
    diag : numpy.ndarray
        :func:`stay_home_share` of ``C_off`` (not of its transpose).
    x : numpy.ndarray
        Shape ``(n,)`` or ``(n, members)``.

    Returns
    -------
    numpy.ndarray
        ``C_eff @ x`` where ``C_eff = diag(m) C_off diag(m) + diag(stay_home_share)``.
    """
    if x.ndim == 2:
        mobility, diag = mobility[:, None], diag[:, None]
    return mobility * np.asarray(off @ (mobility * x)) + diag * x


# ----------------------------------------------------------------------------- simulation


def _as_member_array(
    values: xr.DataArray | float | None,
    default: float,
    communes: np.ndarray,
    dates: pd.DatetimeIndex,
    members: int,
    name: str,
) -> np.ndarray:
    """Return shape ``(days|1, n|1, members|1)`` float64 for a per-day value."""
    if values is None:
        return np.full((1, 1, 1), default)
    if not isinstance(values, xr.DataArray):
        v = float(values)
        if not math.isfinite(v) or v < 0:
            raise ModelInputError(f"{name}: got {v!r}; expected a finite value >= 0")
        return np.full((1, 1, 1), v)
    extra = set(values.dims) - {"member", "date", "commune"}
    if extra:
        raise ModelInputError(
            f"{name}: unexpected dims {sorted(map(str, extra))}; expected a subset of "
            f"('member', 'date', 'commune')"
        )
    da = values
    if "commune" in da.dims:
        missing = pd.Index(communes).difference(pd.Index(da["commune"].values.astype(str)))
        if len(missing):
            raise ModelInputError(
                f"{name}: commune {missing[0]!r} is missing; fix: give a value for every "
                f"commune of the initial state"
            )
        da = da.sel(commune=communes)
    if "date" in da.dims:
        have = pd.DatetimeIndex(da["date"].values)
        missing_d = dates.difference(have)
        if len(missing_d):
            raise ModelInputError(
                f"{name}: date {missing_d[0].date()} of the horizon is missing; fix: cover "
                f"{dates[0].date()}..{dates[-1].date()}"
            )
        da = da.sel(date=dates)
    if "member" in da.dims and da.sizes["member"] != members:
        raise ModelInputError(
            f"{name}: {da.sizes['member']} members; expected {members} (the members argument)"
        )
    order = [d for d in ("date", "commune", "member") if d in da.dims]
    arr = da.transpose(*order).to_numpy().astype(float)
    shape = tuple(
        arr.shape[order.index(d)] if d in order else 1 for d in ("date", "commune", "member")
    )
    arr = arr.reshape(shape)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        d, c, m = np.argwhere(bad)[0]
        where = [
            f"commune {communes[c]}" if shape[1] > 1 else "",
            f"member {m}" if shape[2] > 1 else "",
        ]
        if shape[0] > 1:
            where.insert(0, f"date {dates[d].date()}")
        place = ", ".join(w for w in where if w) or "every cell"
        raise ModelInputError(
            f"{name}: got {float(arr[d, c, m])} at {place}; "
            f"expected a finite value >= 0; fix the input array"
        )
    return arr


def _day_slice(arr: np.ndarray, day: int, lo: int, hi: int) -> np.ndarray:
    """Slice a ``(days|1, n|1, members|1)`` array to ``(n|1, block|1)`` for ``day``."""
    a = arr[day if arr.shape[0] > 1 else 0]
    return a[:, lo:hi] if a.shape[1] > 1 else a


def simulate(
    params: SEIRParams,
    initial: xr.Dataset,
    coupling: xr.DataArray | sp.sparray,
    days: int,
    *,
    interventions: Sequence[Intervention] | xr.Dataset | None = None,
    beta: xr.DataArray | float | None = None,
    members: int = 1,
    stochastic: bool = True,
    rng: np.random.Generator | None = None,
    steps_per_day: int = 1,
    store_compartments: Sequence[str] | None = None,
    workers: int = 1,
    sampler: str = "numpy",
) -> xr.Dataset:
    """Run the SEIR metapopulation model forward (see the module docstring for equations).

    Parameters
    ----------
    params : SEIRParams
        Epidemiological parameters.
    initial : xarray.Dataset
        From :func:`initial_state`: ``state`` with dims ``(commune, compartment)`` or
        ``(member, commune, compartment)`` (people) and a scalar ``date`` coordinate.
        Stochastic runs round it to whole people.
    coupling : xarray.DataArray or scipy.sparse array
        Row-stochastic matrix, dims ``(commune, commune_dest)``; a sparse array must be in the
        initial state's commune order.
    days : int
        Number of days to simulate (>= 1).
    interventions : sequence of Intervention or xarray.Dataset, optional
        Time-varying inputs (see :mod:`models.interventions`).
    beta : xarray.DataArray or float, optional
        Transmission rate (1/day), dims a subset of ``(member, date, commune)``; default
        ``params.transmission_rate_per_day``.
    members : int
        Ensemble members.
    stochastic : bool
        Binomial chain if true, expected values if false.
    rng : numpy.random.Generator, optional
        Required when ``stochastic``; the same seed gives identical output.
    steps_per_day : int
        Sub-steps per day (``dt = 1 / steps_per_day``).
    store_compartments : sequence of str, optional
        Compartments kept in ``state`` (default all; ``()`` keeps none, to save memory).
    workers : int
        Threads over blocks of members (output does not depend on it).
    sampler : {"numpy", "exact", "normal"}
        Binomial draws of the stochastic model: ``"numpy"`` vectorised
        ``Generator.binomial`` over blocks of :data:`MEMBER_BLOCK_SIZE` members (the
        reference); ``"exact"`` the same distribution from a compiled loop
        (``models._seir_kernel``: one random stream per member, alias-table, inversion and
        BTRS samplers, no GIL, about 4x less CPU than ``"numpy"`` and ``workers`` threads run
        in parallel);
        ``"normal"`` the compiled loop with the normal approximation for draws of variance
        >= :data:`NORMAL_MIN_VARIANCE` (small counts stay exact). The three give different
        draws for the same seed. Ignored by the deterministic model.

    Returns
    -------
    xarray.Dataset
        ``state`` (member, date, commune, compartment): people at the end of each day;
        ``new_infections`` and ``new_detected`` (member, date, commune): people infected /
        isolated during each day. ``date`` runs from the day after ``initial.date`` for
        ``days`` days. float32.

    Raises
    ------
    ModelInputError
        On inconsistent inputs (message names the field, the value and the fix).
    """
    if not isinstance(params, SEIRParams):
        raise ModelInputError(f"params: got {type(params).__name__}; expected SEIRParams")
    if not isinstance(days, int | np.integer) or days < 1:
        raise ModelInputError(f"days: got {days!r}; expected an integer >= 1")
    if not isinstance(members, int | np.integer) or members < 1:
        raise ModelInputError(f"members: got {members!r}; expected an integer >= 1")
    if not isinstance(steps_per_day, int | np.integer) or steps_per_day < 1:
        raise ModelInputError(f"steps_per_day: got {steps_per_day!r}; expected an integer >= 1")
    if sampler not in ("numpy", "exact", "normal"):
        raise ModelInputError(f"sampler: got {sampler!r}; expected 'numpy', 'exact' or 'normal'")
    if stochastic and not isinstance(rng, np.random.Generator):
        raise ModelInputError(
            "rng: a stochastic run needs rng=numpy.random.default_rng(seed); got "
            f"{type(rng).__name__}; fix: pass a Generator or stochastic=False"
        )
    if "state" not in initial or "date" not in initial.coords:
        raise ModelInputError(
            "initial: expected a Dataset with variable 'state' (commune, compartment) and a "
            "scalar 'date' coordinate; fix: build it with models.seir.initial_state"
        )
    store = list(COMPARTMENTS) if store_compartments is None else list(store_compartments)
    unknown = [c for c in store if c not in COMPARTMENTS]
    if unknown:
        raise ModelInputError(
            f"store_compartments: unknown compartment {unknown[0]!r}; expected some of "
            f"{COMPARTMENTS}"
        )
    state0 = initial["state"]
    communes = state0["commune"].values.astype(str).astype(object)
    _check_codes(pd.Index(communes), "initial")
    if "member" in state0.dims and state0.sizes["member"] != members:
        raise ModelInputError(
            f"initial: {state0.sizes['member']} members; expected {members} (members argument)"
        )
    s0 = state0.sel(compartment=list(COMPARTMENTS))
    if "member" not in s0.dims:
        s0 = s0.expand_dims(member=members)
    x0 = s0.transpose("compartment", "commune", "member").to_numpy().astype(float)
    if not np.isfinite(x0).all() or (x0 < 0).any():
        raise ModelInputError("initial: state must be finite and >= 0 in every compartment")
    start = pd.Timestamp(initial["date"].values)
    dates = pd.date_range(start + pd.Timedelta(days=1), periods=int(days), freq="D")
    cpl = _prepare_coupling(coupling, communes)

    if interventions is None:
        iv = None
    elif isinstance(interventions, xr.Dataset):
        iv = interventions
    else:
        iv = interventions_to_arrays(interventions, list(communes), start, int(days))
    n = len(communes)
    zero = xr.DataArray(
        np.zeros((int(days), n)),
        dims=("date", "commune"),
        coords={"date": dates, "commune": communes},
    )

    def iv_var(name: str) -> np.ndarray:
        da = zero if iv is None or name not in iv else iv[name]
        return _as_member_array(da, 0.0, communes, dates, members, f"interventions.{name}")

    contact = iv_var("contact_reduction")
    mobility_red = iv_var("mobility_reduction")
    if (contact > 1).any() or (mobility_red > 1).any():
        raise ModelInputError("interventions: reductions must be in [0, 1]")
    isolation = iv_var("isolation_rate_per_day")
    dose1 = iv_var("doses_dose1")
    dose2 = iv_var("doses_dose2")
    beta_arr = _as_member_array(
        beta, params.transmission_rate_per_day, communes, dates, members, "beta"
    )
    inputs = _Inputs(
        beta=beta_arr,
        contact=contact,
        mobility=1.0 - mobility_red[:, :, 0],
        isolation=isolation,
        dose1=dose1,
        dose2=dose2,
    )
    store_idx = [COMPARTMENTS.index(c) for c in store]
    out_state = np.zeros((members, int(days), n, len(store_idx)), dtype=np.float32)
    out_inf = np.zeros((members, int(days), n), dtype=np.float32)
    out_det = np.zeros((members, int(days), n), dtype=np.float32)

    compiled = stochastic and sampler != "numpy"
    blocks: list[tuple[int, int, Any]]
    if compiled:
        # one xoshiro256** stream per member: blocks only share out the work
        assert rng is not None
        states = _kernel.member_streams(rng, members)
        bounds = np.linspace(0, members, max(1, min(int(workers), members)) + 1).astype(int)
        blocks = [
            (int(a), int(b), states[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    elif stochastic:
        assert rng is not None
        n_blocks = -(-members // MEMBER_BLOCK_SIZE)
        streams = rng.spawn(n_blocks)
        blocks = [
            (b * MEMBER_BLOCK_SIZE, min(members, (b + 1) * MEMBER_BLOCK_SIZE), streams[b])
            for b in range(n_blocks)
        ]
    else:
        blocks = [(0, members, None)]
    mixer = _Mixer(cpl, x0[:, :, 0].sum(axis=0), x0.sum(axis=0)) if compiled else None

    def run(block: tuple[int, int, Any]) -> None:
        lo, hi, stream = block
        if mixer is not None:
            _run_block_compiled(
                params,
                x0[:, :, lo:hi],
                mixer,
                inputs,
                int(days),
                steps_per_day,
                stream,
                lo,
                hi,
                store_idx,
                out_state,
                out_inf,
                out_det,
                NORMAL_MIN_VARIANCE if sampler == "normal" else math.inf,
            )
            return
        _run_block(
            params,
            x0[:, :, lo:hi],
            cpl,
            inputs,
            int(days),
            steps_per_day,
            stream,
            lo,
            hi,
            store_idx,
            out_state,
            out_inf,
            out_det,
        )

    # the compiled path parallelises over members itself: BLAS threads on top of it would
    # only spin (its products are small: n x n by n x block)
    with threadpool_limits(limits=1, user_api="blas") if compiled else nullcontext():
        if workers > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(max_workers=int(workers)) as pool:
                list(pool.map(run, blocks))
        else:
            for block in blocks:
                run(block)

    coords = {
        "member": np.arange(members),
        "date": dates,
        "commune": communes,
        "compartment": store,
        "population": ("commune", x0[:, :, 0].sum(axis=0)),
    }
    return xr.Dataset(
        {
            "state": (("member", "date", "commune", "compartment"), out_state),
            "new_infections": (("member", "date", "commune"), out_inf),
            "new_detected": (("member", "date", "commune"), out_det),
        },
        coords=coords,
        attrs={
            "model": "safemap SEIR metapopulation",
            "stochastic": int(stochastic),
            "steps_per_day": int(steps_per_day),
            "initial_date": str(start.date()),
        },
    )


@dataclass(frozen=True)
class _Inputs:
    beta: np.ndarray
    contact: np.ndarray
    mobility: np.ndarray  # (days|1, n)
    isolation: np.ndarray
    dose1: np.ndarray
    dose2: np.ndarray


def _run_block(
    params: SEIRParams,
    x0: np.ndarray,
    cpl: _Coupling,
    inp: _Inputs,
    days: int,
    steps_per_day: int,
    rng: np.random.Generator | None,
    lo: int,
    hi: int,
    store_idx: list[int],
    out_state: np.ndarray,
    out_inf: np.ndarray,
    out_det: np.ndarray,
) -> None:
    """Advance one block of members through every day, writing into the outputs."""
    stochastic = rng is not None
    pop = x0.sum(axis=0)  # (n, block): constant, nobody moves between communes
    if stochastic:
        # whole people; S absorbs the rounding so each commune keeps round(N) people
        x = np.rint(x0).astype(np.int64)
        x[_S] = np.maximum(np.rint(pop).astype(np.int64) - x[1:].sum(axis=0), 0)
    else:
        x = x0.copy()
    dt = 1.0 / steps_per_day
    sigma = params.progression_rate_per_day
    gamma = params.recovery_rate_per_day
    pa = params.asymptomatic_fraction
    rel_a = params.relative_infectiousness_asymptomatic
    ve1, ve2 = params.vaccine_efficacy_dose1, params.vaccine_efficacy_dose2
    p_e = 1.0 - math.exp(-sigma * dt)
    p_q = 1.0 - math.exp(-gamma * dt)

    if stochastic:
        assert rng is not None

        def draw(count: np.ndarray, prob: np.ndarray | float) -> np.ndarray:
            return rng.binomial(count, prob)
    else:

        def draw(count: np.ndarray, prob: np.ndarray | float) -> np.ndarray:
            return count * prob

    for day in range(days):
        m = inp.mobility[day if inp.mobility.shape[0] > 1 else 0]
        home = stay_home_share(cpl.off, m)
        n_eff = effective_coupling_matvec(cpl.off_t, m, home, pop)
        n_eff = np.where(n_eff > 0, n_eff, 1.0)
        b = _day_slice(inp.beta, day, lo, hi) * (1.0 - _day_slice(inp.contact, day, lo, hi))
        tau = _day_slice(inp.isolation, day, lo, hi)
        rate_a = gamma + params.detection_rate_asymptomatic_per_day + tau
        rate_s = gamma + params.detection_rate_symptomatic_per_day + tau
        p_a_leave = 1.0 - np.exp(-rate_a * dt)
        p_s_leave = 1.0 - np.exp(-rate_s * dt)
        q_a = 1.0 - gamma / rate_a
        q_s = 1.0 - gamma / rate_s
        d1 = _day_slice(inp.dose1, day, lo, hi) * dt
        d2 = _day_slice(inp.dose2, day, lo, hi) * dt
        if stochastic:
            d1, d2 = np.rint(d1).astype(np.int64), np.rint(d2).astype(np.int64)
        inf_day = np.zeros(x.shape[1:], dtype=float)
        det_day = np.zeros(x.shape[1:], dtype=float)
        for _ in range(steps_per_day):
            i_eff = x[_IS] + rel_a * x[_IA]
            prevalence = effective_coupling_matvec(cpl.off_t, m, home, i_eff) / n_eff
            lam = b * effective_coupling_matvec(cpl.off, m, home, prevalence)
            inf_s = draw(x[_S], -np.expm1(-lam * dt))
            inf_1 = draw(x[_V1], -np.expm1(-(1.0 - ve1) * lam * dt))
            inf_2 = draw(x[_V2], -np.expm1(-(1.0 - ve2) * lam * dt))
            e_out = draw(x[_E], p_e)
            e_to_a = draw(e_out, pa)
            a_out = draw(x[_IA], p_a_leave)
            a_to_q = draw(a_out, q_a)
            s_out = draw(x[_IS], p_s_leave)
            s_to_q = draw(s_out, q_s)
            q_out = draw(x[_Q], p_q)
            new_inf = inf_s + inf_1 + inf_2
            x[_S] -= inf_s
            x[_V1] -= inf_1
            x[_V2] -= inf_2
            v1 = np.minimum(d1, x[_S])
            v2 = np.minimum(d2, x[_V1])
            x[_S] -= v1
            x[_V1] += v1 - v2
            x[_V2] += v2
            x[_E] += new_inf - e_out
            x[_IA] += e_to_a - a_out
            x[_IS] += (e_out - e_to_a) - s_out
            x[_Q] += a_to_q + s_to_q - q_out
            x[_R] += (a_out - a_to_q) + (s_out - s_to_q) + q_out
            inf_day += new_inf
            det_day += a_to_q + s_to_q
        out_inf[lo:hi, day] = inf_day.T
        out_det[lo:hi, day] = det_day.T
        if store_idx:
            out_state[lo:hi, day] = x[store_idx].transpose(2, 1, 0)


class _Mixer:
    """Force of infection per unit ``beta`` for blocks of members, layout ``(commune, member)``.

    ``foi = C_eff @ ((C_eff.T @ i_eff) / N_eff)``. Dense coupling with the same population in
    every member: one precomputed ``n x n`` matrix ``C_eff diag(1 / N_eff) C_eff.T`` and one
    BLAS product a step; sparse coupling: two compiled CSR products. The matrices of a day are
    rebuilt only when the mobility vector changes (lockdowns), and shared by all blocks.
    """

    def __init__(self, cpl: _Coupling, pop: np.ndarray, pop_members: np.ndarray) -> None:
        self.cpl = cpl
        self.pop = pop  # (n,) people per commune, member 0
        self.pop_members = pop_members  # (n, members)
        self.same_pop = bool(
            np.array_equal(pop_members, np.broadcast_to(pop[:, None], pop_members.shape))
        )
        self.sparse = sp.issparse(cpl.off)
        self._key: bytes | None = None
        self._mats: tuple[Any, ...] = ()
        self._lock = threading.Lock()

    def matrices(self, mobility: np.ndarray) -> tuple[Any, ...]:
        """Return the day's ``(C_eff, C_eff.T)`` (and, dense, the mixing matrix)."""
        key = mobility.tobytes()
        with self._lock:
            if key != self._key:
                self._mats = self._build(mobility)
                self._key = key
            return self._mats

    def _build(self, m: np.ndarray) -> tuple[Any, ...]:
        home = stay_home_share(self.cpl.off, m)
        if self.sparse:
            c = sp.csr_array(sp.diags_array(m) @ self.cpl.off @ sp.diags_array(m))
            c = sp.csr_array(c + sp.diags_array(home))
            c.sort_indices()
            n_eff = np.asarray(c.T @ self.pop).ravel()
            n_eff = np.where(n_eff > 0, n_eff, 1.0)
            c_t = sp.csr_array(c.T)
            c_t.sort_indices()
            return (c, c_t, None, n_eff)
        c = m[:, None] * self.cpl.off * m[None, :] + np.diag(home)
        n_eff = c.T @ self.pop
        n_eff = np.where(n_eff > 0, n_eff, 1.0)
        mix = (c / n_eff) @ c.T if self.same_pop else None
        return (c, np.ascontiguousarray(c.T), mix, n_eff)

    def force(self, mobility: np.ndarray, i_eff: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Return ``C_eff @ ((C_eff.T @ i_eff) / N_eff)`` for members ``lo:hi`` (n, block)."""
        if not i_eff.any():  # no infectious people left (or yet) in this block
            return np.zeros_like(i_eff)
        c, c_t, mix, n_eff = self.matrices(mobility)
        if mix is not None:
            return np.asarray(mix @ i_eff)
        if self.same_pop:
            n_eff_b = n_eff[:, None]
        else:
            n_eff_b = self._product(c_t, np.ascontiguousarray(self.pop_members[:, lo:hi]))
            n_eff_b = np.where(n_eff_b > 0, n_eff_b, 1.0)
        return self._product(c, self._product(c_t, i_eff) / n_eff_b)

    def _product(self, a: Any, v: np.ndarray) -> np.ndarray:
        if self.sparse:
            return np.asarray(_kernel.csr_matmul(a.indptr, a.indices, a.data, v))
        return np.asarray(a @ v)


def _run_block_compiled(
    params: SEIRParams,
    x0: np.ndarray,
    mixer: _Mixer,
    inp: _Inputs,
    days: int,
    steps_per_day: int,
    states: np.ndarray,
    lo: int,
    hi: int,
    store_idx: list[int],
    out_state: np.ndarray,
    out_inf: np.ndarray,
    out_det: np.ndarray,
    normal_min_variance: float,
) -> None:
    """Stochastic samplers ``"exact"``/``"normal"``: members ``lo:hi``, compiled draws."""
    st = states.copy()  # the caller's array stays as drawn
    pop = x0.sum(axis=0)  # (n, block)
    # whole people; S absorbs the rounding so each commune keeps round(N) people
    x = np.rint(x0).astype(np.int64)
    x[_S] = np.maximum(np.rint(pop).astype(np.int64) - x[1:].sum(axis=0), 0)
    x = np.ascontiguousarray(x.transpose(1, 2, 0))  # (commune, member, compartment)
    dt = 1.0 / steps_per_day
    gamma = params.recovery_rate_per_day
    p_e = -math.expm1(-params.progression_rate_per_day * dt)
    pa = params.asymptomatic_fraction
    p_q = -math.expm1(-gamma * dt)
    rel_a = params.relative_infectiousness_asymptomatic

    def log_max(p: np.ndarray | float) -> np.ndarray:
        return np.log(np.maximum(p, 1.0 - np.asarray(p, dtype=float)))

    consts = np.array(
        [
            1.0 - params.vaccine_efficacy_dose1,
            1.0 - params.vaccine_efficacy_dose2,
            p_e,
            log_max(p_e),
            pa,
            log_max(pa),
            p_q,
            log_max(p_q),
            rel_a,
        ]
    )
    i_eff = x[:, :, _IS] + rel_a * x[:, :, _IA]
    store = np.asarray(store_idx, dtype=np.int64)
    no_store = np.zeros(0, dtype=np.int64)
    tables: tuple[np.ndarray, np.ndarray] | None = None
    inf_day = np.zeros((hi - lo, x.shape[0]), dtype=np.float32)
    det_day = np.zeros_like(inf_day)
    state_day = np.zeros((hi - lo, x.shape[0], store.size), dtype=np.float32)
    tables_key = np.zeros(0)
    for day in range(days):
        m = inp.mobility[day if inp.mobility.shape[0] > 1 else 0]
        b_dt = _day_slice(inp.beta, day, lo, hi) * (1.0 - _day_slice(inp.contact, day, lo, hi))
        b_dt = b_dt * dt
        tau = _day_slice(inp.isolation, day, lo, hi)
        rate_a = gamma + params.detection_rate_asymptomatic_per_day + tau
        rate_s = gamma + params.detection_rate_symptomatic_per_day + tau
        leave = np.ascontiguousarray(
            np.stack(
                np.broadcast_arrays(
                    -np.expm1(-rate_a * dt),
                    1.0 - gamma / rate_a,
                    -np.expm1(-rate_s * dt),
                    1.0 - gamma / rate_s,
                )  # fmt: skip
            ),
            dtype=np.float64,
        )
        if (leave == leave[:, :1, :1]).all():
            # the same in every commune and member (no tracing, or uniform tracing): one
            # value per draw site, which lets the kernel use its alias tables there
            leave = np.ascontiguousarray(leave[:, :1, :1])
        log_leave = log_max(leave)
        d1 = np.ascontiguousarray(np.rint(_day_slice(inp.dose1, day, lo, hi) * dt), dtype=np.int64)
        d2 = np.ascontiguousarray(np.rint(_day_slice(inp.dose2, day, lo, hi) * dt), dtype=np.int64)
        # alias tables for the draw sites whose probability is the same in every cell (the
        # kernel's order: S, V1, V2, E out, to Ia, Ia out, to Q, Is out, to Q, Q out), rebuilt
        # only when a probability changes
        site_probs = np.full(10, np.nan)
        site_probs[[3, 4, 9]] = p_e, pa, p_q
        if leave.shape[1:] == (1, 1):
            site_probs[5:9] = leave[:, 0, 0]
        if tables is None or not np.array_equal(site_probs, tables_key, equal_nan=True):
            tables = _kernel.alias_tables(site_probs, ALIAS_TABLE_MAX_COUNT)
            tables_key = site_probs
        # the kernel adds the flows into contiguous day arrays (its writes stay in a few
        # pages) and writes the state after the day's last step; one copy a day each
        inf_day.fill(0.0)
        det_day.fill(0.0)
        for step in range(steps_per_day):
            lam_dt = np.ascontiguousarray(b_dt * mixer.force(m, i_eff, lo, hi))
            _kernel.stochastic_step(
                st, x, lam_dt, consts, leave, log_leave, d1, d2, inf_day, det_day, state_day,
                store if step == steps_per_day - 1 else no_store, i_eff, normal_min_variance,
                *tables,
            )  # fmt: skip
        out_inf[lo:hi, day] = inf_day
        out_det[lo:hi, day] = det_day
        if store.size:
            out_state[lo:hi, day] = state_day


# ----------------------------------------------------------------------------- theory


def _mixing_matrix(
    coupling: xr.DataArray | sp.sparray, population: np.ndarray, communes: np.ndarray
) -> np.ndarray:
    cpl = _prepare_coupling(coupling, communes)
    off = cpl.off.toarray() if sp.issparse(cpl.off) else cpl.off
    c = off + np.diag(1.0 - off.sum(axis=1))
    n_eff = c.T @ population
    n_eff = np.where(n_eff > 0, n_eff, 1.0)
    # M[i, k] = sum_j C_ij C_kj / N_eff_j: infection pressure on one resident of i per
    # infectious resident of k
    return (c / n_eff) @ c.T


def next_generation_matrix(
    params: SEIRParams,
    coupling: xr.DataArray,
    population: xr.DataArray,
    *,
    beta: xr.DataArray | float | None = None,
    susceptible: xr.DataArray | None = None,
    steps_per_day: int | None = None,
) -> xr.DataArray:
    """Next-generation matrix of the linearised model (dense; for small systems).

    Parameters
    ----------
    params : SEIRParams
        Parameters (detection rates shorten infectious periods).
    coupling : xarray.DataArray
        Row-stochastic matrix (commune, commune_dest).
    population : xarray.DataArray
        Residents per commune (dim ``commune``).
    beta : xarray.DataArray or float, optional
        Transmission rate per commune (1/day); default ``params.transmission_rate_per_day``.
    susceptible : xarray.DataArray, optional
        Effective susceptibles per commune (default: the population).
    steps_per_day : int, optional
        None for the continuous-time model, else the discrete model of :func:`simulate`
        (see :meth:`SEIRParams.infectious_days_per_infection`).

    Returns
    -------
    xarray.DataArray
        ``K[i, k]``: expected infections among residents of ``i`` caused by one new infection
        among residents of ``k``; dims ``(commune, commune_source)``.
    """
    communes = population["commune"].values.astype(str).astype(object)
    pop = population.to_numpy().astype(float)
    mix = _mixing_matrix(coupling, pop, communes)
    b = _vector(beta, params.transmission_rate_per_day, communes)
    s = pop if susceptible is None else susceptible.sel(commune=communes).to_numpy()
    days = params.infectious_days_per_infection(steps_per_day=steps_per_day)
    k = (b * s)[:, None] * mix * days
    return xr.DataArray(
        k,
        dims=("commune", "commune_source"),
        coords={"commune": communes, "commune_source": communes},
    )


def _vector(
    values: xr.DataArray | float | None, default: float, communes: np.ndarray
) -> np.ndarray:
    if values is None:
        return np.full(len(communes), default)
    if isinstance(values, xr.DataArray):
        return values.sel(commune=communes).to_numpy().astype(float)
    return np.full(len(communes), float(values))


def spectral_radius(matrix: xr.DataArray | np.ndarray) -> float:
    """Largest absolute eigenvalue (R0 when applied to the next-generation matrix).

    Parameters
    ----------
    matrix : xarray.DataArray or numpy.ndarray
        Square matrix.

    Returns
    -------
    float
        ``max |eig(matrix)|``.
    """
    return float(np.max(np.abs(np.linalg.eigvals(np.asarray(matrix)))))


def growth_rate_per_day(
    params: SEIRParams,
    coupling: xr.DataArray,
    population: xr.DataArray,
    *,
    beta: xr.DataArray | float | None = None,
    steps_per_day: int | None = None,
) -> float:
    """Early exponential growth rate of the linearised model (1/day).

    Parameters
    ----------
    params : SEIRParams
        Parameters.
    coupling : xarray.DataArray
        Row-stochastic matrix (commune, commune_dest).
    population : xarray.DataArray
        Residents per commune, all susceptible.
    beta : xarray.DataArray or float, optional
        Transmission rate per commune (1/day).
    steps_per_day : int, optional
        None: the continuous-time model, the largest real part of the eigenvalues of the
        Jacobian of ``(E, Ia, Is)`` at the disease-free state. An integer: the discrete model
        that :func:`simulate` runs, ``steps_per_day * log(rho(A))`` with ``A`` the one-step
        linearised map.

    Returns
    -------
    float
        ``r`` such that infections grow like ``exp(r t)``.
    """
    communes = population["commune"].values.astype(str).astype(object)
    pop = population.to_numpy().astype(float)
    n = len(communes)
    mix = _mixing_matrix(coupling, pop, communes)
    b = _vector(beta, params.transmission_rate_per_day, communes)
    force = (b * pop)[:, None] * mix
    sigma, gamma = params.progression_rate_per_day, params.recovery_rate_per_day
    pa, rel_a = params.asymptomatic_fraction, params.relative_infectiousness_asymptomatic
    rate_a = gamma + params.detection_rate_asymptomatic_per_day
    rate_s = gamma + params.detection_rate_symptomatic_per_day
    eye = np.eye(n)
    jac = np.zeros((3 * n, 3 * n))
    if steps_per_day is None:
        jac[:n, :n] = -sigma * eye
        jac[:n, n : 2 * n] = rel_a * force
        jac[:n, 2 * n :] = force
        jac[n : 2 * n, :n] = pa * sigma * eye
        jac[n : 2 * n, n : 2 * n] = -rate_a * eye
        jac[2 * n :, :n] = (1 - pa) * sigma * eye
        jac[2 * n :, 2 * n :] = -rate_s * eye
        return float(np.max(np.linalg.eigvals(jac).real))
    dt = 1.0 / steps_per_day
    p_e, p_a, p_s = (-math.expm1(-r * dt) for r in (sigma, rate_a, rate_s))
    jac[:n, :n] = (1 - p_e) * eye
    jac[:n, n : 2 * n] = rel_a * force * dt
    jac[:n, 2 * n :] = force * dt
    jac[n : 2 * n, :n] = pa * p_e * eye
    jac[n : 2 * n, n : 2 * n] = (1 - p_a) * eye
    jac[2 * n :, :n] = (1 - pa) * p_e * eye
    jac[2 * n :, 2 * n :] = (1 - p_s) * eye
    return float(steps_per_day * np.log(np.max(np.abs(np.linalg.eigvals(jac)))))
