"""The real case series shipped with safemap (``geo/data/epi``, see its SOURCES.md).

Readers are the I/O edge; :func:`commune_cases_to_codes` is pure. The series have
reporting artefacts (zero days followed by dumps); nothing here alters counts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.address import normalize_vietnamese

EPI_DIR = Path(__file__).resolve().parent / "data" / "epi"
PROVINCE_FILES = {
    "ncsc": "vn_province_daily_ncsc.csv",
    "vnexpress": "vn_province_daily_vnexpress.csv",
    "vncdc": "vn_province_daily_vncdc.csv",
}
BAC_NINH_REGION = "27"
BAC_NINH_COMMUNE_FILE = "bacninh_commune_daily_2021-04-27_2021-07-13.csv"
ATTRIBUTION = (
    "Case counts: Ministry of Health of Viet Nam (NCSC, vncdc) and VnExpress as scraped by public "
    "GitHub projects; Bắc Ninh communes from the antoancovid volunteer front end. "
    "See geo/data/epi/SOURCES.md."
)
_DISTRICT_PREFIXES = ("thanh pho ", "thi xa ", "huyen ", "quan ")


def read_province_series(source: str = "ncsc") -> pd.DataFrame:
    """Daily cases of Vietnam's 63 provinces from one source.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64), ``region_code`` (2-digit str), ``region_name``,
        ``new_cases`` (int), plus the source's own flag columns.
    """
    if source not in PROVINCE_FILES:
        raise ValueError(f"source is {source!r}; expected one of {sorted(PROVINCE_FILES)}")
    frame = pd.read_csv(EPI_DIR / PROVINCE_FILES[source], dtype={"region_code": str})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def province_tidy(source: str = "ncsc") -> pd.DataFrame:
    """Province series in the tidy form the CLI reads: ``date, location, value``."""
    frame = read_province_series(source)
    return pd.DataFrame(
        {
            "date": frame["date"].dt.strftime("%Y-%m-%d"),
            "location": frame["region_code"],
            "value": frame["new_cases"].astype(int),
        }
    )


def read_bacninh_commune_series() -> pd.DataFrame:
    """Read the Bắc Ninh commune series as published: ``date, district, commune, new_cases``.

    Only days with cases are listed (a missing row means 0). Names, not codes.
    """
    frame = pd.read_csv(
        EPI_DIR / BAC_NINH_COMMUNE_FILE,
        dtype={"district": str, "commune": str, "province_code": str},
    )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame[["date", "district", "commune", "new_cases"]]


def _district_key(name: str) -> str:
    key = normalize_vietnamese(name)
    for prefix in _DISTRICT_PREFIXES:
        key = key.removeprefix(prefix)
    return key


def commune_cases_to_codes(
    series: pd.DataFrame, communes: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give each (district, commune) row its commune code by exact normalised names.

    Parameters
    ----------
    series : DataFrame
        Columns ``date``, ``district``, ``commune``, ``new_cases``.
    communes : DataFrame
        Boundary set indexed by ``commune_code`` with ``commune_name`` and ``district_name``.

    Returns
    -------
    (matched, unmatched) : tuple of DataFrames
        ``matched`` has ``date, commune_code, cases``; ``unmatched`` keeps the rows whose place
        is not in the set (patients living outside the province), with their names.
    """
    keys = pd.DataFrame(
        {
            "commune_code": communes.index.astype(str),
            "d_key": [_district_key(n) for n in communes["district_name"]],
            "c_key": [normalize_vietnamese(n) for n in communes["commune_name"]],
        }
    )
    if keys.duplicated(["d_key", "c_key"]).any():
        raise ValueError("the boundary set has two communes with the same name in one district")
    rows = series.assign(
        d_key=[_district_key(n) for n in series["district"]],
        c_key=[normalize_vietnamese(n) for n in series["commune"]],
    ).merge(keys, on=["d_key", "c_key"], how="left")
    found = rows["commune_code"].notna()
    matched = rows.loc[found, ["date", "commune_code", "new_cases"]].rename(
        columns={"new_cases": "cases"}
    )
    unmatched = rows.loc[~found, ["date", "district", "commune", "new_cases"]]
    return matched.reset_index(drop=True), unmatched.reset_index(drop=True)
