"""Interventions: small frozen records turned into ``(date, commune)`` input arrays for SEIR.

Four kinds, each applying to a set of communes over an inclusive date range:

* :class:`Lockdown`: contacts inside the commune reduced by ``contact_reduction`` and
  travel across its boundary cut by ``mobility_reduction`` (coupling entries to and from the
  commune are scaled by ``1 - mobility_reduction``; the time goes back home);
* :class:`Closure`: a venue type closed; contacts reduced by that setting's share of
  contacts (:data:`VENUE_CONTACT_SHARE`) times ``compliance``;
* :class:`Tracing`: tracing, testing and isolation of F1 contacts adds
  ``isolation_rate_per_day`` to the rate at which infectious people move to isolation;
* :class:`Vaccination`: ``doses_per_day`` doses of ``dose`` (1 or 2) given in each commune.

Overlapping reductions combine multiplicatively (``1 - prod(1 - r)``); isolation rates and
doses add up. :func:`interventions_to_arrays` is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import pandas as pd
import xarray as xr

from models.errors import ModelInputError

#: Share of daily contacts made in each venue type (unitless). Settings from Prem K. et al.
#: (2021), "Projecting contact matrices in 177 geographical regions", PLOS Comput. Biol.
#: 17:e1009098 (Vietnam: school about 0.2, work about 0.25, other about 0.2 of contacts); the
#: split of "work" and "other" among venue types is a safemap assumption to calibrate.
VENUE_CONTACT_SHARE = MappingProxyType(
    {
        "school": 0.20,
        "factory": 0.15,
        "office": 0.08,
        "market": 0.08,
        "supermarket": 0.04,
        "restaurant": 0.05,
        "religious": 0.02,
        "transport": 0.03,
        "hospital": 0.01,
        "other": 0.02,
    }
)


def _check_common(kind: str, communes: tuple[str, ...], start: date, end: date) -> None:
    if not communes:
        raise ModelInputError(f"{kind}: no communes given; fix: name at least one commune code")
    for code in communes:
        if not (isinstance(code, str) and len(code) == 5 and code.isdigit()):
            raise ModelInputError(
                f"{kind}: commune id {code!r} is not a 5-digit GSO code string; "
                f"fix: keep the leading zero, e.g. '09163'"
            )
    if not (isinstance(start, date) and isinstance(end, date)):
        raise ModelInputError(
            f"{kind}: start/end must be datetime.date; got {start!r}, {end!r}; "
            f"fix: pass date(2021, 5, 18)"
        )
    if end < start:
        raise ModelInputError(
            f"{kind}: end {end} is before start {start}; fix: swap them (both are inclusive)"
        )


def _check_share(kind: str, name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        raise ModelInputError(
            f"{kind}.{name}: strength {value!r} is outside [0, 1]; fix: give a share, "
            f"e.g. 0.6 for a 60% reduction"
        )


@dataclass(frozen=True)
class Lockdown:
    """Lockdown (phong tỏa) of communes.

    Attributes
    ----------
    communes : tuple of str
        Commune codes locked down.
    start, end : datetime.date
        First and last day (inclusive).
    contact_reduction : float
        Reduction of transmission inside the commune (unitless, [0, 1]).
    mobility_reduction : float
        Reduction of time spent across the commune boundary, both ways (unitless, [0, 1]).
    """

    communes: tuple[str, ...]
    start: date
    end: date
    contact_reduction: float = 0.5
    mobility_reduction: float = 0.9

    def __post_init__(self) -> None:
        _check_common("Lockdown", self.communes, self.start, self.end)
        _check_share("Lockdown", "contact_reduction", self.contact_reduction)
        _check_share("Lockdown", "mobility_reduction", self.mobility_reduction)


@dataclass(frozen=True)
class Closure:
    """Closure of one venue type (schools, markets, ...).

    Attributes
    ----------
    communes : tuple of str
        Commune codes where the venues close.
    start, end : datetime.date
        First and last day (inclusive).
    venue_type : str
        A key of :data:`VENUE_CONTACT_SHARE`.
    compliance : float
        Share of that setting's contacts actually removed (unitless, [0, 1]).
    """

    communes: tuple[str, ...]
    start: date
    end: date
    venue_type: str
    compliance: float = 1.0

    def __post_init__(self) -> None:
        _check_common("Closure", self.communes, self.start, self.end)
        if self.venue_type not in VENUE_CONTACT_SHARE:
            raise ModelInputError(
                f"Closure.venue_type: got {self.venue_type!r}; expected one of "
                f"{sorted(VENUE_CONTACT_SHARE)}; fix the venue type"
            )
        _check_share("Closure", "compliance", self.compliance)

    @property
    def contact_reduction(self) -> float:
        """Reduction of transmission (unitless): the setting's contact share × compliance."""
        return VENUE_CONTACT_SHARE[self.venue_type] * self.compliance


@dataclass(frozen=True)
class Tracing:
    """Contact tracing, testing and isolation of F1 contacts.

    Attributes
    ----------
    communes : tuple of str
        Commune codes covered.
    start, end : datetime.date
        First and last day (inclusive).
    isolation_rate_per_day : float
        Extra rate (1/day) at which infectious people are found and isolated; 0.5 means an
        infectious person is isolated after 2 days on average from tracing alone.
    """

    communes: tuple[str, ...]
    start: date
    end: date
    isolation_rate_per_day: float = 0.3

    def __post_init__(self) -> None:
        _check_common("Tracing", self.communes, self.start, self.end)
        rate = self.isolation_rate_per_day
        if not (isinstance(rate, int | float) and math.isfinite(rate) and 0.0 <= rate <= 10.0):
            raise ModelInputError(
                f"Tracing.isolation_rate_per_day: got {rate!r}; expected a rate in [0, 10] "
                f"per day; fix: e.g. 0.3 (isolation about 3 days after infectiousness)"
            )


@dataclass(frozen=True)
class Vaccination:
    """A vaccination campaign.

    Attributes
    ----------
    communes : tuple of str
        Commune codes covered; each gets ``doses_per_day``.
    start, end : datetime.date
        First and last day (inclusive).
    doses_per_day : float
        Doses given per day in each commune (doses/day).
    dose : int
        1 (first dose: ``S -> V1``) or 2 (second dose: ``V1 -> V2``).
    """

    communes: tuple[str, ...]
    start: date
    end: date
    doses_per_day: float
    dose: int = 1

    def __post_init__(self) -> None:
        _check_common("Vaccination", self.communes, self.start, self.end)
        d = self.doses_per_day
        if not (isinstance(d, int | float) and math.isfinite(d) and d >= 0):
            raise ModelInputError(
                f"Vaccination.doses_per_day: got {d!r}; expected a finite number >= 0"
            )
        if self.dose not in (1, 2):
            raise ModelInputError(
                f"Vaccination.dose: got {self.dose!r}; expected 1 or 2 (a third dose is "
                f"not modelled; count it as dose 2)"
            )


Intervention = Lockdown | Closure | Tracing | Vaccination


def interventions_to_arrays(
    interventions: Sequence[Intervention],
    communes: Sequence[str],
    start_date: date | str | pd.Timestamp,
    days: int,
) -> xr.Dataset:
    """Turn intervention records into daily arrays for :func:`models.seir.simulate`.

    Parameters
    ----------
    interventions : sequence of Intervention
        Lockdown, Closure, Tracing and Vaccination records.
    communes : sequence of str
        The simulation's commune codes.
    start_date : datetime.date, str or pandas.Timestamp
        Date of the initial state; the horizon is the ``days`` days after it.
    days : int
        Horizon length.

    Returns
    -------
    xarray.Dataset
        Dims ``(date, commune)``: ``contact_reduction`` and ``mobility_reduction`` (unitless,
        [0, 1]), ``isolation_rate_per_day`` (1/day), ``doses_dose1`` and ``doses_dose2``
        (doses/day).

    Raises
    ------
    ModelInputError
        For an unknown commune or an intervention that starts or ends outside the horizon.
    """
    codes = pd.Index([str(c) for c in communes])
    first = pd.Timestamp(start_date) + pd.Timedelta(days=1)
    dates = pd.date_range(first, periods=int(days), freq="D")
    shape = (len(dates), len(codes))
    keep_contact = np.ones(shape)
    keep_mobility = np.ones(shape)
    isolation = np.zeros(shape)
    doses = {1: np.zeros(shape), 2: np.zeros(shape)}
    for number, item in enumerate(interventions, start=1):
        kind = type(item).__name__
        if not isinstance(item, Lockdown | Closure | Tracing | Vaccination):
            raise ModelInputError(
                f"intervention {number}: got {kind}; expected Lockdown, Closure, Tracing or "
                f"Vaccination"
            )
        unknown = [c for c in item.communes if c not in codes]
        if unknown:
            raise ModelInputError(
                f"intervention {number} ({kind}): unknown commune {unknown[0]!r}; expected one "
                f"of the {len(codes)} simulated communes; fix the code or the boundary set"
            )
        lo, hi = pd.Timestamp(item.start), pd.Timestamp(item.end)
        if lo < dates[0] or hi > dates[-1]:
            raise ModelInputError(
                f"intervention {number} ({kind}): dates {item.start}..{item.end} fall outside "
                f"the horizon {dates[0].date()}..{dates[-1].date()}; fix: clip them to it"
            )
        rows = (dates >= lo) & (dates <= hi)
        cols = codes.get_indexer(list(item.communes))
        block = np.ix_(rows, cols)
        if isinstance(item, Lockdown):
            keep_contact[block] *= 1.0 - item.contact_reduction
            keep_mobility[block] *= 1.0 - item.mobility_reduction
        elif isinstance(item, Closure):
            keep_contact[block] *= 1.0 - item.contact_reduction
        elif isinstance(item, Tracing):
            isolation[block] += item.isolation_rate_per_day
        else:
            doses[item.dose][block] += item.doses_per_day
    dims = ("date", "commune")
    return xr.Dataset(
        {
            "contact_reduction": (dims, 1.0 - keep_contact),
            "mobility_reduction": (dims, 1.0 - keep_mobility),
            "isolation_rate_per_day": (dims, isolation),
            "doses_dose1": (dims, doses[1]),
            "doses_dose2": (dims, doses[2]),
        },
        coords={"date": dates, "commune": codes.to_numpy(dtype=object)},
    )
