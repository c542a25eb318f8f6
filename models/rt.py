"""Time-varying reproduction number R(t) by the Cori et al. (2013) renewal-equation method.

Pure functions: case counts in (``xarray.DataArray`` over ``(date, location)`` or a tidy
``pandas.DataFrame``), an ``xarray.Dataset`` out. Everything is vectorised over locations:
the infection pressure is one ``scipy.signal.lfilter`` along the date axis, the window sums are
differences of cumulative sums, and the posterior quantiles are one ``scipy.special.gammaincinv``
call on whole arrays.

Method (Cori, Ferguson, Fraser, Cauchemez 2013, Am J Epidemiol 178(9):1505-12, "A new
framework and software to estimate time-varying reproduction numbers during epidemics"):
with daily incidence ``I_t`` and a discretised serial interval ``w_s`` (``w_0 = 0``), the
infection pressure is ``Lambda_t = sum_s I_{t-s} w_s``. Assuming R constant over the window
``(t - tau, t]`` and ``I_t ~ Poisson(R Lambda_t)``, a Gamma(shape ``a``, scale ``b``) prior gives
the posterior Gamma(shape ``a + sum I``, scale ``1 / (1/b + sum Lambda)``). Defaults follow
EpiEstim: prior mean 5, sd 5 (``a = 1``, ``b = 5``), weekly window.

Minimum-data rule (Covid Act Now, ``pyseir/rt``): an estimate is reported only where the
location has at least 20 days of data and more than 20 cumulative cases up to that date;
elsewhere the values are NaN and ``sufficient`` is False (insufficient data, not a number).

Reporting artefacts (zero runs followed by a catch-up dump) are handled by
:func:`redistribute_dumps`, applied explicitly by the caller (the CLI does so by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import signal, special, stats

from models.errors import ModelInputError

__all__ = [
    "SERIAL_INTERVAL_DELTA",
    "SERIAL_INTERVAL_OMICRON",
    "MIN_DAYS",
    "MIN_CUMULATIVE_CASES",
    "SerialInterval",
    "discretise_serial_interval",
    "cases_from_tidy",
    "redistribute_dumps",
    "aggregate_cases",
    "estimate_rt",
    "rt_to_tidy",
]


@dataclass(frozen=True)
class SerialInterval:
    """A gamma serial interval given by its mean and standard deviation, in days.

    Attributes
    ----------
    mean_days : float
        Mean of the serial interval (days, > 1 so the discretised mass is mostly after day 0).
    sd_days : float
        Standard deviation (days, > 0).
    source : str
        Where the numbers come from.
    """

    mean_days: float
    sd_days: float
    source: str = ""

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean_days) and self.mean_days > 1.0):
            raise ModelInputError(
                f"serial interval mean is {self.mean_days} days; expected a number > 1 "
                "(e.g. 4.1 for Delta); pass --serial-interval MEAN,SD"
            )
        if not (np.isfinite(self.sd_days) and self.sd_days > 0.0):
            raise ModelInputError(
                f"serial interval sd is {self.sd_days} days; expected a number > 0 "
                "(e.g. 2.8 for Delta); pass --serial-interval MEAN,SD"
            )


#: 2021 Delta wave. Mean 4.1 days: household serial interval of non-SGTF (Delta) pairs in the
#: Netherlands, 13-26 Dec 2021 (Backer et al., Euro Surveill 2022;27(6):2200042, as restated by
#: Park et al., PNAS 2023;120(22):e2221887120: "serial interval (3.5 d vs. 4.1 d)"). The sd of
#: 2.8 days was NOT read in a source: it is an assumption (coefficient of variation ~0.7, as in
#: the pre-variant estimates); configure it when a sourced value is available.
SERIAL_INTERVAL_DELTA = SerialInterval(
    4.1, 2.8, "mean: Backer et al. 2022 (Delta, NL households); sd 2.8 UNVERIFIED assumption"
)

#: 2022 Omicron (BA.1) wave. Mean 3.5 days from the same study (SGTF pairs); the sd of 2.4
#: days is an assumption with the same coefficient of variation (UNVERIFIED).
SERIAL_INTERVAL_OMICRON = SerialInterval(
    3.5, 2.4, "mean: Backer et al. 2022 (Omicron BA.1, NL households); sd 2.4 UNVERIFIED assumption"
)

#: Covid Act Now minimum-data rule: at least this many days of data ...
MIN_DAYS = 20
#: ... and more than this many cumulative cases.
MIN_CUMULATIVE_CASES = 20


def discretise_serial_interval(
    mean_days: float, sd_days: float, *, max_days: int | None = None
) -> np.ndarray:
    """Discretise a gamma serial interval onto whole days.

    Day ``k >= 1`` receives the gamma mass of ``(k - 0.5, k + 0.5]``; the mass below 1.5 days
    goes to day 1 and day 0 gets none (the renewal equation needs ``w_0 = 0``). The vector is
    truncated where the upper tail falls below 1e-4 and renormalised to sum to 1.

    Parameters
    ----------
    mean_days, sd_days : float
        Mean and standard deviation of the continuous gamma serial interval, in days.
    max_days : int, optional
        Last day kept; default the 99.99th percentile rounded up.

    Returns
    -------
    numpy.ndarray
        ``w`` with ``w[0] == 0`` and ``w.sum() == 1``.
    """
    si = SerialInterval(float(mean_days), float(sd_days))
    shape = (si.mean_days / si.sd_days) ** 2
    scale = si.sd_days**2 / si.mean_days
    dist = stats.gamma(shape, scale=scale)
    if max_days is None:
        max_days = max(2, int(np.ceil(dist.ppf(0.9999))))
    if max_days < 1:
        raise ModelInputError(f"max_days is {max_days}; expected at least 1")
    edges = np.arange(max_days + 1, dtype=float) + 0.5  # 0.5, 1.5, ..., max_days + 0.5
    cdf = dist.cdf(edges)
    w = np.zeros(max_days + 1)
    w[1] = cdf[1]
    w[2:] = np.diff(cdf[1:])
    return w / w.sum()


def cases_from_tidy(frame: pd.DataFrame, *, value_column: str = "value") -> xr.DataArray:
    """Validate a tidy ``date, location, value`` frame and pivot it to a ``(date, location)`` array.

    Dates missing for a location are filled with 0 (a day without a row reports no case), and
    the date axis runs without gaps from the first to the last date in the file.
    Errors name the line of the file (header = line 1, first data row = line 2), the field,
    the value and the fix.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows as read from the CSV (``dtype=str`` is best: location codes keep their zeros).
    value_column : str
        Name of the count column.

    Returns
    -------
    xarray.DataArray
        Float counts named ``cases`` with dims ``(date, location)``; locations are strings.

    Raises
    ------
    ModelInputError
        Missing columns, unparseable dates, non-numeric, negative or non-finite values,
        duplicated ``(date, location)`` rows, or an empty table.
    """
    required = ["date", "location", value_column]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ModelInputError(
            f"missing column(s) {missing}; found {list(frame.columns)}; "
            f"the case file needs a header with {required} (daily counts per location)"
        )
    if len(frame) == 0:
        raise ModelInputError("the case table has no data rows; expected daily counts")
    frame = frame.reset_index(drop=True)
    line = np.arange(len(frame)) + 2
    dates = pd.to_datetime(
        frame["date"].astype(str).str.strip(), format="%Y-%m-%d", errors="coerce"
    )
    bad = np.flatnonzero(dates.isna().to_numpy())
    if bad.size:
        i = bad[0]
        raise ModelInputError(
            f"line {line[i]}: field 'date' is {frame['date'].iloc[i]!r}; expected an ISO date "
            f"YYYY-MM-DD ({bad.size} bad date(s) in all); fix the date or drop the row"
        )
    locations = frame["location"].astype(str).str.strip()
    empty = np.flatnonzero((locations == "").to_numpy() | frame["location"].isna().to_numpy())
    if empty.size:
        i = empty[0]
        raise ModelInputError(
            f"line {line[i]}: field 'location' is empty; expected a location code such as "
            "'09163'; fill it in or drop the row"
        )
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)))
    if bad.size:
        i = bad[0]
        raise ModelInputError(
            f"line {line[i]}: field '{value_column}' is {frame[value_column].iloc[i]!r}; "
            "expected a finite number of cases (0 or more); fix the count"
        )
    neg = np.flatnonzero(values.to_numpy(dtype=float) < 0)
    if neg.size:
        i = neg[0]
        raise ModelInputError(
            f"line {line[i]}: field '{value_column}' is {values.iloc[i]:g}; expected a count "
            ">= 0 (negative corrections must be applied to earlier days before estimating Rt)"
        )
    keys = pd.DataFrame({"date": dates, "location": locations})
    dup = np.flatnonzero(keys.duplicated(keep="first").to_numpy())
    if dup.size:
        i = dup[0]
        first = np.flatnonzero(
            (
                (keys["date"] == keys["date"].iloc[i]) & (keys["location"] == locations.iloc[i])
            ).to_numpy()
        )[0]
        raise ModelInputError(
            f"line {line[i]}: (date, location) = ({dates.iloc[i]:%Y-%m-%d}, "
            f"{locations.iloc[i]!r}) repeats line {line[first]}; expected one row per date and "
            "location; sum the rows or drop the duplicate"
        )
    wide = (
        pd.DataFrame({"date": dates, "location": locations, "value": values.astype(float)})
        .pivot(index="date", columns="location", values="value")
        .reindex(pd.date_range(dates.min(), dates.max(), freq="D"))
        .fillna(0.0)
    )
    return xr.DataArray(
        wide.to_numpy(dtype=float),
        dims=("date", "location"),
        coords={
            "date": wide.index.to_numpy(),
            "location": np.asarray(wide.columns.astype(str), dtype=object),
        },
        name="cases",
    )


def _as_cases_array(cases: xr.DataArray | pd.DataFrame) -> xr.DataArray:
    if isinstance(cases, pd.DataFrame):
        return cases_from_tidy(cases)
    if not isinstance(cases, xr.DataArray):
        raise ModelInputError(
            f"cases is a {type(cases).__name__}; expected an xarray.DataArray over (date, "
            "location) or a tidy pandas.DataFrame with columns date, location, value"
        )
    if "date" not in cases.dims:
        raise ModelInputError(
            f"cases has dims {cases.dims}; expected a 'date' dimension (plus one location dim)"
        )
    if cases.ndim == 1:
        cases = cases.expand_dims(location=["all"], axis=1)
    if cases.ndim != 2:
        raise ModelInputError(
            f"cases has dims {cases.dims}; expected exactly (date, location): select or sum "
            "the extra dimensions first"
        )
    other = next(d for d in cases.dims if d != "date")
    cases = cases.transpose("date", other)
    if other != "location":
        cases = cases.rename({other: "location"})
    values = cases.to_numpy().astype(float)
    if not np.all(np.isfinite(values)):
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise ModelInputError(
            f"cases is NaN or infinite at date {pd.Timestamp(cases['date'].values[i]):%Y-%m-%d}"
            f", location {cases['location'].values[j]!r}; expected counts; fill missing "
            "days with 0 or an imputed count"
        )
    if np.any(values < 0):
        i, j = np.argwhere(values < 0)[0]
        raise ModelInputError(
            f"cases is {values[i, j]:g} at date {pd.Timestamp(cases['date'].values[i]):%Y-%m-%d}"
            f", location {cases['location'].values[j]!r}; expected a count >= 0"
        )
    return cases.copy(data=values)


def redistribute_dumps(
    cases: xr.DataArray,
    *,
    min_zero_run_days: int = 1,
    lookback_days: int = 7,
    dump_factor: float = 2.0,
    min_dump_cases: float = 10.0,
) -> xr.DataArray:
    """Spread catch-up dumps evenly over the run of zero days that precedes them.

    A *dump* is a day whose count is at least ``min_dump_cases`` and more than ``dump_factor``
    times the mean of the ``lookback_days`` days before its zero run, where the zero run has at
    least ``min_zero_run_days`` days and the lookback mean is positive (reporting was active, so
    the zeros are a reporting stall and not the start of an outbreak). The dump and the zero run
    then all receive ``dump / (run + 1)``; totals are conserved exactly. This is the
    "spread first value after reporting stall" step of Covid Act Now's case-density pipeline,
    restricted to stalls that end with a spike.

    Parameters
    ----------
    cases : xarray.DataArray
        Non-negative daily counts over ``(date, location)``.
    min_zero_run_days, lookback_days : int
        Shortest zero run treated as a stall; days averaged before the run.
    dump_factor, min_dump_cases : float
        How large the day after the run must be to count as a dump.

    Returns
    -------
    xarray.DataArray
        Float counts, same shape and coordinates, attribute ``dumps_redistributed`` = number of
        dumps spread.
    """
    arr = _as_cases_array(cases)
    x = arr.to_numpy().copy()
    n_dumps = 0
    n_days = x.shape[0]
    # Loops over the stalls found, not over every location-day: this is a pre-processing step,
    # stalls are rare, and each one needs its own run length.
    zero = x == 0
    for j in np.flatnonzero(zero.any(axis=0)):
        col = x[:, j]
        z = zero[:, j]
        t = 1
        while t < n_days:
            if z[t - 1] and not z[t]:
                start = t - 1
                while start > 0 and z[start - 1]:
                    start -= 1
                run = t - start
                before = col[max(0, start - lookback_days) : start]
                base = before.mean() if before.size else 0.0
                if (
                    run >= min_zero_run_days
                    and start > 0
                    and base > 0
                    and col[t] >= min_dump_cases
                    and col[t] > dump_factor * base
                ):
                    col[start : t + 1] = col[t] / (run + 1)
                    n_dumps += 1
            t += 1
    out = arr.copy(data=x)
    out.attrs["dumps_redistributed"] = n_dumps
    return out


def aggregate_cases(cases: xr.DataArray, groups: Mapping[str, str] | pd.Series) -> xr.DataArray:
    """Sum daily counts of locations into groups (communes -> districts -> province).

    Parameters
    ----------
    cases : xarray.DataArray
        Counts over ``(date, location)``.
    groups : mapping or pandas.Series
        Location code -> group code. Every location must be mapped.

    Returns
    -------
    xarray.DataArray
        Counts over ``(date, location)`` where ``location`` now holds the group codes.

    Raises
    ------
    ModelInputError
        When a location has no group.
    """
    arr = _as_cases_array(cases)
    mapping = dict(groups.items()) if isinstance(groups, pd.Series) else dict(groups)
    codes = [str(c) for c in arr["location"].values]
    unmapped = [c for c in codes if c not in mapping]
    if unmapped:
        raise ModelInputError(
            f"location(s) {unmapped[:5]} have no group ({len(unmapped)} in all); expected every "
            "location in the grouping; add them to the mapping"
        )
    labels = xr.DataArray([str(mapping[c]) for c in codes], dims="location", name="group")
    out = arr.groupby(labels).sum()
    return out.rename({"group": "location"}).transpose("date", "location")


def estimate_rt(
    cases: xr.DataArray | pd.DataFrame,
    *,
    serial_interval: tuple[float, float] | SerialInterval = SERIAL_INTERVAL_DELTA,
    window_days: int = 7,
    prior_shape: float = 1.0,
    prior_scale: float = 5.0,
    credible_level: float = 0.95,
    min_days: int = MIN_DAYS,
    min_cumulative_cases: float = MIN_CUMULATIVE_CASES,
) -> xr.Dataset:
    """Estimate R(t) per location with the Cori et al. sliding-window gamma posterior.

    The value at date ``t`` is R assumed constant over the window ``(t - window_days, t]``:
    it lags the instantaneous R by about half a window.

    Parameters
    ----------
    cases : xarray.DataArray or pandas.DataFrame
        Daily counts over ``(date, location)`` (any name for the location dim), or a tidy frame
        ``date, location, value`` (see :func:`cases_from_tidy`).
    serial_interval : (mean, sd) or SerialInterval
        Gamma serial interval in days; default :data:`SERIAL_INTERVAL_DELTA`.
    window_days : int
        Sliding window length (days, >= 1).
    prior_shape, prior_scale : float
        Gamma prior on R (default mean 5, sd 5, as EpiEstim).
    credible_level : float
        Central credible interval of ``rt_lower`` / ``rt_upper`` (default 0.95).
    min_days, min_cumulative_cases : float
        Minimum-data rule: report only from the ``min_days``-th day of the series and where the
        cumulative count exceeds ``min_cumulative_cases``.

    Returns
    -------
    xarray.Dataset
        ``rt_median``, ``rt_lower``, ``rt_upper`` (float, NaN where insufficient), ``sufficient``
        (bool), ``rt_mean``, ``cases_window`` and ``infectiousness_window`` over
        ``(date, location)``; attrs record the method and every parameter.
    """
    arr = _as_cases_array(cases)
    si = (
        serial_interval
        if isinstance(serial_interval, SerialInterval)
        else SerialInterval(float(serial_interval[0]), float(serial_interval[1]))
    )
    if int(window_days) != window_days or window_days < 1:
        raise ModelInputError(
            f"window_days is {window_days}; expected a whole number of days >= 1 (default 7)"
        )
    window_days = int(window_days)
    if not (prior_shape > 0 and prior_scale > 0):
        raise ModelInputError(
            f"prior shape/scale are {prior_shape}/{prior_scale}; expected both > 0 "
            "(default 1 and 5)"
        )
    if not 0 < credible_level < 1:
        raise ModelInputError(f"credible_level is {credible_level}; expected 0 < level < 1")
    w = discretise_serial_interval(si.mean_days, si.sd_days)
    x = arr.to_numpy()
    n_days = x.shape[0]
    # Lambda_t = sum_{s>=1} w_s I_{t-s}: a causal FIR filter along dates, all locations at once.
    lam = signal.lfilter(w, [1.0], x, axis=0)
    cum_i = np.cumsum(x, axis=0)
    cum_l = np.cumsum(lam, axis=0)
    pad = np.zeros((window_days, x.shape[1]))
    sum_i = cum_i - np.vstack([pad, cum_i[:-window_days]])[:n_days]
    sum_l = cum_l - np.vstack([pad, cum_l[:-window_days]])[:n_days]
    shape = prior_shape + sum_i
    with np.errstate(divide="ignore"):
        scale = 1.0 / (1.0 / prior_scale + sum_l)
    alpha = (1.0 - credible_level) / 2.0
    day_index = np.arange(n_days)[:, None]
    sufficient = (
        (day_index >= max(min_days - 1, window_days)) & (cum_i > min_cumulative_cases) & (sum_l > 0)
    )
    median = special.gammaincinv(shape, 0.5) * scale
    lower = special.gammaincinv(shape, alpha) * scale
    upper = special.gammaincinv(shape, 1.0 - alpha) * scale
    mean = shape * scale
    nan = np.nan
    coords = {"date": arr["date"].values, "location": arr["location"].values}
    dims = ("date", "location")
    ds = xr.Dataset(
        {
            "rt_median": (dims, np.where(sufficient, median, nan)),
            "rt_lower": (dims, np.where(sufficient, lower, nan)),
            "rt_upper": (dims, np.where(sufficient, upper, nan)),
            "rt_mean": (dims, np.where(sufficient, mean, nan)),
            "sufficient": (dims, sufficient),
            "cases_window": (dims, sum_i),
            "infectiousness_window": (dims, sum_l),
        },
        coords=coords,
        attrs={
            "method": "Cori et al. 2013 sliding-window gamma posterior",
            "serial_interval_mean_days": si.mean_days,
            "serial_interval_sd_days": si.sd_days,
            "serial_interval_source": si.source,
            "window_days": window_days,
            "prior_shape": prior_shape,
            "prior_scale": prior_scale,
            "credible_level": credible_level,
            "min_days": min_days,
            "min_cumulative_cases": min_cumulative_cases,
            "minimum_data_rule": "Covid Act Now: >= 20 days of data and > 20 cumulative cases",
        },
    )
    for name in ("rt_median", "rt_lower", "rt_upper", "rt_mean"):
        ds[name].attrs["long_name"] = f"R(t) posterior {name[3:]} over the trailing window"
    return ds


def rt_to_tidy(rt: xr.Dataset) -> pd.DataFrame:
    """Flatten an :func:`estimate_rt` result to rows of date, location and the R(t) quantiles.

    Parameters
    ----------
    rt : xarray.Dataset
        Output of :func:`estimate_rt`.

    Returns
    -------
    pandas.DataFrame
        One row per date and location, sorted by location then date; values are NaN where the
        data were insufficient.
    """
    frame = (
        rt[["rt_median", "rt_lower", "rt_upper"]]
        .to_dataframe()
        .reset_index()
        .sort_values(["location", "date"], kind="stable")
        .reset_index(drop=True)
    )
    frame["location"] = frame["location"].astype(str)
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    return frame[["date", "location", "rt_median", "rt_lower", "rt_upper"]]
