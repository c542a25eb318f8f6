"""Disease-timing presets: SEIR periods whose generation interval matches the pathogen's.

The reproduction number estimated from case counts depends on the generation interval the
model assumes (Wallinga and Lipsitch 2007, Proc. R. Soc. B 274:599: ``R = 1 / M(-r)``, ``M``
the moment generating function of the generation interval, ``r`` the growth rate). The
calibration (:mod:`models.calibration`) runs the SEIR model of :mod:`models.seir` with one
exact-exponential step a day, which is a renewal model whose generation interval follows
from the periods: someone infected on day ``t`` leaves ``E`` after a geometric number of
steps ``J >= 1`` (probability ``p_e = 1 - exp(-sigma)`` a step), is infectious from the next
step and stays a geometric number ``M >= 0`` of further steps (``p = 1 - exp(-(gamma +
delta))`` for ``Ia`` and ``Is``, weighted by their share and relative infectiousness). The
generation interval is ``G = 1 + J + M`` days (at least 2), with closed-form mean and
variance (:func:`generation_interval_moments`).

The default :class:`models.seir.SEIRParams` (latent 4 d, infectious 6 d) give a daily-step
generation interval of mean 8.9 days, about twice the sourced SARS-CoV-2 values: fitted
``R(t)`` is then too far from 1 (too high in growth, too low in decline). A preset fixes the
periods so that the mean generation interval equals a sourced value, and, of all such pairs,
takes the one with the smallest variance: exponential stages make the SEIR generation
interval wider than the estimated ones (coefficient of variation at least about 0.54 at a
4.7-day mean, against 0.3-0.6 in published SARS-CoV-2 estimates), so the narrowest feasible
interval is the closest. See ``docs/calibration.md`` for the sources and measured accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import optimize

from models.errors import ModelInputError
from models.seir import SEIRParams

__all__ = [
    "DELTA_2021",
    "DISEASE_TIMINGS",
    "OMICRON_2022",
    "DiseaseTiming",
    "disease_timing",
    "generation_interval_moments",
    "generation_interval_pmf",
    "seir_params_for_generation_interval",
]


def _stage_probabilities(params: SEIRParams) -> tuple[float, np.ndarray, np.ndarray]:
    """``p_e``, per-step exit probabilities of ``(Ia, Is)`` and their infectiousness weights."""
    p_e = -math.expm1(-params.progression_rate_per_day)
    gamma = params.recovery_rate_per_day
    exits = np.array(
        [
            -math.expm1(-(gamma + params.detection_rate_asymptomatic_per_day)),
            -math.expm1(-(gamma + params.detection_rate_symptomatic_per_day)),
        ]
    )
    pa = params.asymptomatic_fraction
    # expected infectious days of each class, times its share and relative infectiousness
    weights = np.array([pa * params.relative_infectiousness_asymptomatic, 1.0 - pa]) / exits
    return p_e, exits, weights / weights.sum()


def generation_interval_moments(params: SEIRParams) -> tuple[float, float]:
    """Mean and standard deviation of the daily-step SEIR generation interval.

    Parameters
    ----------
    params : SEIRParams
        Natural history (periods, asymptomatic share, detection rates).

    Returns
    -------
    tuple of float
        ``(mean_days, sd_days)`` of ``G = 1 + J + M`` (see the module docstring), exact for
        the model that :func:`models.seir.simulate` runs with ``steps_per_day=1`` and that
        :func:`models.calibration.calibrate_transmission` fits.
    """
    p_e, exits, weights = _stage_probabilities(params)
    mean_j, var_j = 1.0 / p_e, (1.0 - p_e) / p_e**2
    mean_m = float((weights * (1.0 - exits) / exits).sum())
    second_m = float((weights * (1.0 - exits) * (2.0 - exits) / exits**2).sum())
    return 1.0 + mean_j + mean_m, math.sqrt(var_j + second_m - mean_m**2)


def generation_interval_pmf(params: SEIRParams, *, max_days: int = 60) -> np.ndarray:
    """Probabilities of the daily-step SEIR generation interval on days ``0..max_days``.

    Parameters
    ----------
    params : SEIRParams
        Natural history.
    max_days : int
        Last day kept (days, >= 2); the tail beyond it is folded into the last day.

    Returns
    -------
    numpy.ndarray
        ``pmf[k]`` = share of an infection's offspring infected ``k`` days after it (zero for
        ``k < 2``); sums to 1.

    Raises
    ------
    ModelInputError
        If ``max_days`` is below 2.
    """
    if max_days < 2:
        raise ModelInputError(
            f"generation interval: max_days={max_days!r}; expected >= 2 (the daily-step "
            f"model's shortest interval is 2 days); fix: pass a larger max_days"
        )
    p_e, exits, weights = _stage_probabilities(params)
    j = np.arange(1, max_days + 1)
    latent = (1.0 - p_e) ** (j - 1) * p_e  # P(J = j), j >= 1
    m = np.arange(max_days + 1)
    infectious = (weights[:, None] * exits[:, None] * (1.0 - exits[:, None]) ** m).sum(axis=0)
    pmf = np.zeros(max_days + 1)
    pmf[2:] = np.convolve(latent, infectious)[: max_days - 1]
    pmf[-1] += max(1.0 - pmf.sum(), 0.0)  # the folded tail (rounding can make it -1e-16)
    return pmf / pmf.sum()


def seir_params_for_generation_interval(
    mean_days: float, *, base: SEIRParams | None = None
) -> SEIRParams:
    """Latent and infectious periods giving a generation interval of the requested mean.

    Among the pairs ``(latent, infectious)`` whose daily-step generation interval has mean
    ``mean_days``, the one with the smallest variance is returned (exponential stages are
    wider than estimated SARS-CoV-2 generation intervals, so the narrowest is the closest).
    All other fields are taken from ``base``.

    Parameters
    ----------
    mean_days : float
        Target mean generation interval (days, > 2.5: the daily step needs at least 2 days
        and a little room for both stages).
    base : SEIRParams, optional
        Asymptomatic share, relative infectiousness, detection rates and the rest (default
        :class:`models.seir.SEIRParams`).

    Returns
    -------
    SEIRParams
        ``base`` with the solved ``latent_period_days`` and ``infectious_period_days``.

    Raises
    ------
    ModelInputError
        If ``mean_days`` is not above 2.5 or not finite.
    """
    if not (math.isfinite(mean_days) and mean_days > 2.5):
        raise ModelInputError(
            f"generation interval: mean_days={mean_days!r}; expected a number > 2.5 days "
            f"(e.g. 4.7 for Delta); fix: pass the pathogen's mean generation interval"
        )
    base = base or SEIRParams()

    def with_periods(latent: float, infectious: float) -> SEIRParams:
        return SEIRParams(
            latent_period_days=latent,
            infectious_period_days=infectious,
            asymptomatic_fraction=base.asymptomatic_fraction,
            relative_infectiousness_asymptomatic=base.relative_infectiousness_asymptomatic,
            basic_reproduction_number=base.basic_reproduction_number,
            vaccine_efficacy_dose1=base.vaccine_efficacy_dose1,
            vaccine_efficacy_dose2=base.vaccine_efficacy_dose2,
            detection_rate_symptomatic_per_day=base.detection_rate_symptomatic_per_day,
            detection_rate_asymptomatic_per_day=base.detection_rate_asymptomatic_per_day,
        )

    def infectious_for(latent: float) -> float:
        def gap(log_t: float) -> float:
            return generation_interval_moments(with_periods(latent, math.exp(log_t)))[0] - mean_days

        return math.exp(optimize.brentq(gap, math.log(1e-3), math.log(1e3), xtol=1e-12))

    # the mean grows with both periods; the latent period can use at most the mean minus the
    # 1-day step and the shortest infectious stay, found by bisection on its upper end
    lo, hi = 1e-3, mean_days
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if generation_interval_moments(with_periods(mid, 1e-3))[0] < mean_days:
            lo = mid
        else:
            hi = mid
    best = optimize.minimize_scalar(
        lambda latent: generation_interval_moments(with_periods(latent, infectious_for(latent)))[1],
        bounds=(1e-3, lo * 0.999),
        method="bounded",
        options={"xatol": 1e-6},
    )
    latent = float(best.x)
    return with_periods(latent, infectious_for(latent))


@dataclass(frozen=True)
class DiseaseTiming:
    """Timing of one pathogen wave: the SEIR periods and the infection-to-report delay.

    Attributes
    ----------
    name : str
        Preset name (``"delta-2021"``, ``"omicron-2022"``).
    generation_interval_mean_days : float
        Target mean generation interval (days).
    generation_interval_source : str
        Where the target comes from.
    params : SEIRParams
        Natural history with the periods solved by
        :func:`seir_params_for_generation_interval` (rounded to 0.01 day, written out).
    report_delay_mean_days, report_delay_sd_days : float
        Gamma infection-to-report delay of the calibration's observation model (days).
    report_delay_source : str
        Where the delay comes from.
    """

    name: str
    generation_interval_mean_days: float
    generation_interval_source: str
    params: SEIRParams
    report_delay_mean_days: float
    report_delay_sd_days: float
    report_delay_source: str


def _timing_params(latent_period_days: float, infectious_period_days: float) -> SEIRParams:
    # every field written out: the solved periods depend on the asymptomatic share, relative
    # infectiousness and detection rates, so a change of the SEIRParams defaults must not
    # silently change a preset
    return SEIRParams(
        latent_period_days=latent_period_days,
        infectious_period_days=infectious_period_days,
        asymptomatic_fraction=0.35,
        relative_infectiousness_asymptomatic=0.75,
        basic_reproduction_number=5.08,
        vaccine_efficacy_dose1=0.307,
        vaccine_efficacy_dose2=0.67,
        detection_rate_symptomatic_per_day=0.2,
        detection_rate_asymptomatic_per_day=0.02,
    )


#: Delta, Viet Nam's fourth wave (2021). Mean intrinsic generation time 4.7 days: Hart W.S.
#: et al. (2022), "Generation time of the alpha and delta SARS-CoV-2 variants: an
#: epidemiological analysis", Lancet Infect. Dis. 22(5):603-610 (UK household study; the
#: value as cited for the synthetic truth in ``geo/_synth_params.py``). Report delay: mean
#: incubation 4.41 days (Wu Y. et al. 2022, JAMA Netw. Open 5(8):e2228008, Delta) plus 2
#: days from onset to a reported result (safemap assumption for Viet Nam's 2021 mass
#: testing); sd 3 days assumed.
DELTA_2021 = DiseaseTiming(
    name="delta-2021",
    generation_interval_mean_days=4.7,
    generation_interval_source="Hart et al. 2022, Lancet Infect Dis 22:603 (Delta, intrinsic)",
    params=_timing_params(latent_period_days=1.89, infectious_period_days=2.18),
    report_delay_mean_days=6.4,
    report_delay_sd_days=3.0,
    report_delay_source="incubation 4.41 d (Wu et al. 2022, JAMA Netw Open, Delta) + 2 d "
    "onset to report (assumed); sd 3 d assumed",
)

#: Omicron BA.1 (2022). Mean 3.5 days: the serial interval of Omicron household pairs in the
#: Netherlands (Backer J.A. et al. 2022, Euro Surveill. 27(6):2200042, as restated by Park
#: S.W. et al. 2023, PNAS 120(22):e2221887120), the value :data:`models.rt.
#: SERIAL_INTERVAL_OMICRON` uses; the serial and generation intervals share their mean.
#: Park et al. estimate a shorter generation interval in the same data (3.0 days), shortened
#: by susceptible depletion in households, so 3.5 is the closer value for the population.
#: Report delay: mean incubation 3.42 days (Wu et al. 2022, Omicron) plus 2 days (assumed).
#: Only the timing differs from the Delta preset: R0 and vaccine efficacy are NOT Omicron
#: estimates (calibration does not use them).
OMICRON_2022 = DiseaseTiming(
    name="omicron-2022",
    generation_interval_mean_days=3.5,
    generation_interval_source="Backer et al. 2022, Euro Surveill 27(6) (Omicron BA.1 serial "
    "interval, NL households)",
    params=_timing_params(latent_period_days=1.21, infectious_period_days=1.36),
    report_delay_mean_days=5.4,
    report_delay_sd_days=3.0,
    report_delay_source="incubation 3.42 d (Wu et al. 2022, JAMA Netw Open, Omicron) + 2 d "
    "onset to report (assumed); sd 3 d assumed",
)

#: Presets by name (read-only).
DISEASE_TIMINGS: Mapping[str, DiseaseTiming] = MappingProxyType(
    {timing.name: timing for timing in (DELTA_2021, OMICRON_2022)}
)


def disease_timing(name: str) -> DiseaseTiming:
    """Look up a disease-timing preset by name.

    Parameters
    ----------
    name : str
        One of :data:`DISEASE_TIMINGS` (``"delta-2021"``, ``"omicron-2022"``).

    Returns
    -------
    DiseaseTiming
        The preset.

    Raises
    ------
    ModelInputError
        For an unknown name.
    """
    try:
        return DISEASE_TIMINGS[name]
    except KeyError:
        raise ModelInputError(
            f"disease timing preset: got {name!r}; expected one of "
            f"{sorted(DISEASE_TIMINGS)}; fix: pick a preset or pass SEIRParams"
        ) from None
