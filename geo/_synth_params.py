"""Parameter dataclasses of the synthetic feed generator (re-exported by ``geo.synth``).

Every field carries its unit and its source. "Assumed" means a plausible value chosen for the
demo, not an estimate; change it through the dataclass, never in code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.errors import ValidationError


@dataclass(frozen=True)
class IndustrialZone:
    """An industrial zone: where factories stand and workers commute to.

    Attributes
    ----------
    name : str
        Display name, written in the ``industrial_zone`` column of venues and workers.
    host_communes : tuple of str
        GSO codes (2021 boundary set) of the communes the zone lies in.
    workers : int
        Workers who live in the province, at scale 1 (persons); assumed (zones employ more,
        many from other provinces, who are not modelled).
    """

    name: str
    host_communes: tuple[str, ...]
    workers: int


# Host communes from the zones' public descriptions (Bac Ninh Industrial Zones Authority web
# pages, 2021); the split of a zone's workers is assumed.
BAC_NINH_ZONES: tuple[IndustrialZone, ...] = (
    IndustrialZone("KCN Yên Phong", ("09205", "09232", "09229"), 30_000),
    IndustrialZone("KCN Quế Võ", ("09265", "09271", "09286", "09280"), 28_000),
    IndustrialZone("KCN VSIP Bắc Ninh", ("09397", "09355"), 15_000),
    IndustrialZone("KCN Tiên Sơn", ("09340", "09385"), 15_000),
    IndustrialZone("KCN Thuận Thành II", ("09409", "09418"), 6_000),
    IndustrialZone("KCN Thuận Thành III", ("09427", "09430"), 5_000),
)


@dataclass(frozen=True)
class EpidemicParams:
    """The renewal metapopulation model that produces the true infections.

    Attributes
    ----------
    r_growth : float
        Reproduction number before the lockdown (dimensionless). Delta in northern Vietnam,
        May 2021: 1.6-2.0 (brief; consistent with the Bac Giang/Bac Ninh doubling time of
        about 3-4 days).
    r_lockdown : float
        Reproduction number once the lockdown is fully in force (dimensionless); assumed 0.7.
    r_log_sd : float
        Standard deviation of the commune-level log multiplier of R (dimensionless); assumed.
    industrial_r_factor : float
        Multiplier of R in communes hosting an industrial zone (dimensionless); assumed.
    lockdown_day : int
        Day index (0 = start) at which the lockdown is half in force; 23 puts it at 2021-05-20
        for the default start 2021-04-27 (Bac Ninh distancing orders of mid-May 2021).
    lockdown_jitter_days : int
        District-level lockdown dates vary uniformly by +/- this many days (days); assumed.
    lockdown_ramp_days : float
        Logistic time scale of the switch from growth to lockdown (days); assumed.
    gi_mean_days : float
        Mean of the generation interval (days); Delta about 4.6 (brief; Hart et al. 2022,
        Lancet Infect Dis, estimate 4.7 days for Delta).
    gi_sd_days : float
        Standard deviation of the generation interval, gamma shaped (days); assumed.
    gi_max_days : int
        Truncation of the discretised generation interval (days).
    incubation_mean_days : float
        Mean incubation period, lognormal (days); Delta 4.41 (Wu et al. 2022, JAMA Netw Open,
        meta-analysis).
    incubation_sd_days : float
        Standard deviation of the incubation period (days); assumed.
    report_delay_mean_days : float
        Mean delay from onset to report, negative binomial (days); assumed, Vietnam's 2021
        mass testing reported most cases within days.
    report_delay_dispersion : float
        Negative binomial size of the report delay (dimensionless); assumed.
    reporting_fraction : float
        Probability that a local infection is reported as a case; assumed 0.6.
    asymptomatic_fraction : float
        Reported cases without an onset date (share); assumed 0.3.
    venue_share : float
        Share of offspring infected at venues in nearby communes (gravity kernel); assumed.
    work_coupling : float
        Offspring share at the workplace per unit of the commune's worker fraction
        (dimensionless); assumed. A commune whose residents are 20% zone workers sends
        ``0.2 * work_coupling`` of its offspring through the zones; the rest of the offspring
        (``1 - venue_share - work``) stays in the home commune (household, neighbourhood).
    gravity_scale_km : float
        Distance scale of the venue co-location kernel ``exp(-d / scale)`` (km); assumed.
    commute_scale_km : float
        Distance scale of the home-to-zone commute kernel (km); assumed.
    seeds : tuple of tuple
        ``(commune_code, day, infections)``: locally acquired seed infections of unknown origin.
    imported_cases : int
        Infections acquired abroad and quarantined on entry (persons); they are reported and
        do not transmit.
    """

    r_growth: float = 1.8
    r_lockdown: float = 0.7
    r_log_sd: float = 0.08
    industrial_r_factor: float = 1.1
    lockdown_day: int = 23
    lockdown_jitter_days: int = 3
    lockdown_ramp_days: float = 2.5
    gi_mean_days: float = 4.6
    gi_sd_days: float = 2.6
    gi_max_days: int = 14
    incubation_mean_days: float = 4.4
    incubation_sd_days: float = 2.0
    report_delay_mean_days: float = 2.0
    report_delay_dispersion: float = 2.0
    reporting_fraction: float = 0.6
    asymptomatic_fraction: float = 0.3
    venue_share: float = 0.2
    work_coupling: float = 1.2
    gravity_scale_km: float = 4.0
    commute_scale_km: float = 8.0
    seeds: tuple[tuple[str, int, int], ...] = (
        ("09205", 0, 3),  # Yen Trung (KCN Yen Phong)
        ("09265", 1, 3),  # Phuong Lieu (KCN Que Vo)
        ("09397", 2, 2),  # Phu Chan (VSIP)
        ("09448", 3, 3),  # Nghia Dao (Thuan Thanh)
        ("09271", 4, 2),  # Van Duong (Bac Ninh city)
        ("09232", 5, 2),  # Long Chau (KCN Yen Phong)
        ("09409", 6, 2),  # Mao Dien (KCN Thuan Thanh II)
        ("09286", 8, 2),  # Nam Son (KCN Que Vo)
        ("09181", 10, 2),  # Dai Phuc (Bac Ninh city)
    )
    imported_cases: int = 6

    def __post_init__(self) -> None:
        checks = {
            "r_growth": (self.r_growth, 0.0, 10.0),
            "r_lockdown": (self.r_lockdown, 0.0, 10.0),
            "gi_mean_days": (self.gi_mean_days, 1.0, 15.0),
            "gi_sd_days": (self.gi_sd_days, 0.1, 15.0),
            "reporting_fraction": (self.reporting_fraction, 0.0, 1.0),
            "asymptomatic_fraction": (self.asymptomatic_fraction, 0.0, 1.0),
            "venue_share": (self.venue_share, 0.0, 0.9),
        }
        for name, (value, low, high) in checks.items():
            if not low <= value <= high:
                raise ValidationError(
                    f"EpidemicParams.{name} is {value}; expected a number in [{low}, {high}]; "
                    "pass a value in range"
                )
        if self.r_lockdown > self.r_growth:
            raise ValidationError(
                f"EpidemicParams.r_lockdown is {self.r_lockdown}, above r_growth {self.r_growth}; "
                "expected the lockdown to lower R; swap or lower r_lockdown"
            )


@dataclass(frozen=True)
class PopulationParams:
    """The synthetic people, venues and their daily behaviour.

    Attributes
    ----------
    app_user_share : float
        Share of residents who check in with the QR app (persons per resident, at scale 1);
        assumed 0.5.
    venues_at_scale_1 : int
        Number of QR venues at scale 1 (venues); the brief's 10,000.
    min_venues : int
        Fewest venues at any scale (venues).
    checkins_per_user_day : float
        Check-ins per app user on a normal weekday (check-ins per person per day); 0.44 gives
        the brief's 300,000 a day for Bac Ninh at scale 1 (684,000 users).
    lockdown_checkin_factor : float
        Check-in volume under full lockdown relative to before (ratio); assumed.
    weekday_factors : tuple of float
        Check-in volume Monday..Sunday relative to a weekday (ratio); assumed.
    work_checkin_share : float
        Share of a zone worker's weekday check-ins made at the factory (ratio); assumed.
    home_venue_share : float
        Share of other check-ins made in the home commune (ratio); assumed.
    household_contacts_mean : float
        Mean household F1 contacts per case (persons), Poisson; Vietnam's mean household size
        was 3.5 in 2019 (GSO census).
    colocation_window_s : int
        Two check-ins at one venue within this many seconds make an F1 contact (seconds).
    max_colocated_per_checkin : int
        Cap on F1s listed for one check-in of a case (persons); keeps lists realistic.
    f2_share : float
        Share of F1 contacts whose own household is listed as F2 (ratio); assumed.
    traced_case_share : float
        Probability that a local case is drawn from earlier F1 contacts in its commune when any
        are available (ratio); assumed.
    case_point_share : float
        Cases located by residence lat/lon (ratio); the brief's ~70%.
    case_code_share : float
        Cases located only by ``commune_code`` (ratio); the rest carry a free-text address.
    """

    app_user_share: float = 0.5
    venues_at_scale_1: int = 10_000
    min_venues: int = 50
    checkins_per_user_day: float = 0.44
    lockdown_checkin_factor: float = 0.5
    weekday_factors: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.75)
    work_checkin_share: float = 0.45
    home_venue_share: float = 0.7
    household_contacts_mean: float = 2.5
    colocation_window_s: int = 3600
    max_colocated_per_checkin: int = 15
    f2_share: float = 0.3
    traced_case_share: float = 0.5
    case_point_share: float = 0.7
    case_code_share: float = 0.05

    def __post_init__(self) -> None:
        if len(self.weekday_factors) != 7:
            raise ValidationError(
                f"PopulationParams.weekday_factors has {len(self.weekday_factors)} values; "
                "expected 7 (Monday..Sunday)"
            )
        shares = (
            "app_user_share",
            "lockdown_checkin_factor",
            "f2_share",
            "traced_case_share",
            "case_point_share",
            "case_code_share",
        )
        for name in shares:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValidationError(
                    f"PopulationParams.{name} is {value}; expected a share in [0, 1]"
                )
        if self.case_point_share + self.case_code_share > 1.0:
            raise ValidationError(
                f"PopulationParams case_point_share + case_code_share is "
                f"{self.case_point_share + self.case_code_share}; expected at most 1 (the rest "
                "of the cases get an address); lower one of them"
            )


@dataclass(frozen=True)
class SynthParams:
    """All parameters of one synthetic run.

    Attributes
    ----------
    epidemic : EpidemicParams
        The transmission model.
    population : PopulationParams
        People, venues and behaviour.
    zones : tuple of IndustrialZone
        Industrial zones (factories, commuting).
    """

    epidemic: EpidemicParams = field(default_factory=EpidemicParams)
    population: PopulationParams = field(default_factory=PopulationParams)
    zones: tuple[IndustrialZone, ...] = BAC_NINH_ZONES
