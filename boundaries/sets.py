"""Named boundary sets: the packaged ones and those imported into a workspace.

:func:`load_boundary_set` returns the *repaired* set (see :mod:`boundaries.repair`), indexed
by ``commune_code`` with the columns ``commune_name, commune_type, district_code,
district_name, population, population_source, area_km2, geometry`` in EPSG:4326.

Building a set (read, repair, attach population, measure areas) is done once; the result is
cached, keyed by a hash of the source files and the repair version:

- with a workspace, as GeoParquet under ``<workspace>/boundaries/.cache/``;
- otherwise in memory for the process (:func:`functools.lru_cache` on a private function).

This module is an I/O edge (it reads package data and workspace files); the steps it chains
(:func:`repair_topology`, :func:`build_crosswalk`, :func:`reaggregate`) are pure.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from boundaries.crosswalk import build_crosswalk, reaggregate
from boundaries.errors import BoundaryError
from boundaries.repair import AREA_CRS, REPAIR_VERSION, REPORT_COLUMNS, repair_topology

DATA_DIR = Path(__file__).resolve().parent / "data"
SOURCES_FILE = DATA_DIR / "SOURCES.md"
#: bump when the build (not the repair) changes, so cached builds are rebuilt
BUILD_VERSION = "1"
STORAGE_CRS = "EPSG:4326"
COLUMNS = [
    "commune_name",
    "commune_type",
    "district_code",
    "district_name",
    "population",
    "population_source",
    "area_km2",
    "geometry",
]
#: files written by ``safemap boundaries import`` into ``<workspace>/boundaries/<name>/``
IMPORTED_GEOMETRY = "communes.geojson"
IMPORTED_META = "meta.json"
SET_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

#: packaged sets: name -> (geometry file, section of SOURCES.md holding the attribution)
PACKAGED_SETS: dict[str, tuple[str, str]] = {
    "bac-ninh-2021": ("bac-ninh-2021/communes.geojson", "bac_ninh_communes_2021.geojson"),
    "bac-ninh-2025": ("bac-ninh-2025/communes.geojson", "bac_ninh_communes_2025.geojson"),
}
#: generated sets (no data file; built by code, cached like the others): name -> attribution
GENERATED_SETS: dict[str, str] = {
    "vn-synthetic-national": (
        "Synthetic: Voronoi communes drawn from a population-density surface by "
        "boundaries.national.build_national_set(seed=0); not real boundaries or populations"
    ),
}
POPULATION_2021 = "bac-ninh-2021/population.csv"
#: Bac Giang province, 2020 average population (GSO), quoted in SOURCES.md
BAC_GIANG_POPULATION_2020 = 1_841_700

POPULATION_NOTES = {
    "census-2019": "2019 census (GSO), per commune",
    "census-2019-area-interpolated": (
        "2019 census of the 2021 communes, moved to this unit by area-weighted interpolation"
    ),
    "estimate-area-share-2020": (
        "ESTIMATE: former Bac Giang province 2020 average population (GSO, 1,841,700) "
        "split over its 58 units in proportion to area; not a census figure, do not use for "
        "incidence without replacing it"
    ),
    "imported": "population field of the imported file",
    "synthetic": "SYNTHETIC: drawn from a density surface (boundaries.national); not real",
    "missing": "no population in the imported file",
}


class RepairRecords(list):  # type: ignore[type-arg]
    """The ``repair_report`` attr: a list of dicts that pandas does not deep-copy.

    pandas deep-copies ``attrs`` after every operation; copying hundreds of dicts each time
    made simple column arithmetic on a loaded set about 50 times slower. Frames derived from
    one loaded set share this list; every call of :func:`load_boundary_set` gets a new one.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> RepairRecords:
        return self

    def __copy__(self) -> RepairRecords:
        return self


# ---------------------------------------------------------------------------- discovery


def _imported_dir(workspace_dir: str | os.PathLike[str] | None) -> Path | None:
    if workspace_dir is None:
        return None
    return Path(workspace_dir) / "boundaries"


def list_boundary_sets(workspace_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """List the boundary sets that :func:`load_boundary_set` can load.

    Parameters
    ----------
    workspace_dir : path-like, optional
        A workspace whose ``boundaries/<name>/`` folders hold imported sets. Nothing is
        created when it does not exist.

    Returns
    -------
    list of str
        Packaged sets first (``bac-ninh-2021``, ``bac-ninh-2025``), then generated sets
        (``vn-synthetic-national``, built on first use), then imported sets, sorted.
    """
    names = list(PACKAGED_SETS) + [n for n in GENERATED_SETS if n not in PACKAGED_SETS]
    folder = _imported_dir(workspace_dir)
    if folder is not None and folder.is_dir():
        names += sorted(
            p.name
            for p in folder.iterdir()
            if p.is_dir()
            and (p / IMPORTED_GEOMETRY).is_file()
            and p.name not in PACKAGED_SETS
            and p.name not in GENERATED_SETS
        )
    return names


def read_attribution(section: str, sources_text: str) -> str:
    """Extract the ``- Attribution: "..."`` string of one section of a SOURCES.md text.

    Parameters
    ----------
    section : str
        Heading of the section (the text after ``## ``), e.g. ``bac_ninh_communes_2021.geojson``.
    sources_text : str
        Content of the SOURCES.md file.

    Returns
    -------
    str
        The attribution, with line breaks and indentation collapsed to single spaces.

    Raises
    ------
    BoundaryError
        When the section or its attribution line is missing.
    """
    match = re.search(rf"^## {re.escape(section)}\s*$(.*?)(?=^## |\Z)", sources_text, re.M | re.S)
    if match is None:
        raise BoundaryError(f"SOURCES.md has no section '## {section}'; add it with an attribution")
    found = re.search(r'- Attribution:\s*"(.*?)"', match.group(1), re.S)
    if found is None:
        raise BoundaryError(
            f"section '## {section}' of SOURCES.md has no '- Attribution: \"...\"' line; add one"
        )
    return re.sub(r"\s+", " ", found.group(1)).strip()


# ---------------------------------------------------------------------------- pure building


def _finish(
    gdf: gpd.GeoDataFrame, report: pd.DataFrame, name: str, attribution: str
) -> gpd.GeoDataFrame:
    """Measure areas, order columns and attach attrs."""
    out = gdf.copy()
    out["area_km2"] = np.round(out.geometry.to_crs(AREA_CRS).area.to_numpy() / 1e6, 6)
    out.index = pd.Index(out.index.astype(str), name="commune_code", dtype="str")
    out = out[COLUMNS].sort_index()
    out.attrs = {
        "boundary_set": name,
        "attribution": attribution,
        "repair_report": RepairRecords(report.to_dict(orient="records")),
        "population_note": {
            src: POPULATION_NOTES[src] for src in sorted(set(out["population_source"]))
        },
    }
    return out


def _largest_remainder(values: np.ndarray, total: int) -> np.ndarray:
    """Round non-negative floats to ints that sum exactly to ``total``."""
    floor = np.floor(values).astype("int64")
    short = int(total - floor.sum())
    if short > 0:
        order = np.argsort(-(values - floor), kind="stable")
        floor[order[:short]] += 1
    return floor


def build_bac_ninh_2021(
    raw: gpd.GeoDataFrame, population: pd.DataFrame, attribution: str
) -> gpd.GeoDataFrame:
    """Build the repaired 2021 set from its source GeoDataFrame and population table.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        The packaged ``communes.geojson`` as read (column ``commune_code`` as strings).
    population : pandas.DataFrame
        The packaged ``population.csv`` (``commune_code`` as strings, ``population_2019``).
    attribution : str
        Attribution string stored in ``attrs``.

    Returns
    -------
    geopandas.GeoDataFrame
        The set in the standard layout (see the module docstring).

    Raises
    ------
    BoundaryError
        When a commune has no population row or a population row no commune.
    """
    gdf = raw.set_index("commune_code")
    pop = population.set_index("commune_code")["population_2019"]
    missing = sorted(set(gdf.index) - set(pop.index))
    extra = sorted(set(pop.index) - set(gdf.index))
    if missing or extra:
        raise BoundaryError(
            f"population.csv and communes.geojson disagree: communes without population "
            f"{missing}, population rows without commune {extra}; fix the packaged data"
        )
    gdf["population"] = pop.reindex(gdf.index).astype("int64")
    gdf["population_source"] = "census-2019"
    repaired, report = repair_topology(gdf)
    return _finish(repaired, report, "bac-ninh-2021", attribution)


def build_bac_ninh_2025(
    raw: gpd.GeoDataFrame, set_2021: gpd.GeoDataFrame, attribution: str
) -> gpd.GeoDataFrame:
    """Build the repaired 2025 set, with population interpolated or estimated.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        The packaged 2025 ``communes.geojson`` as read.
    set_2021 : geopandas.GeoDataFrame
        The built 2021 set (source of the population of the ``09xxx`` units).
    attribution : str
        Attribution string stored in ``attrs``.

    Returns
    -------
    geopandas.GeoDataFrame
        The set in the standard layout. There is no district level: ``district_code`` and
        ``district_name`` are empty strings.

    Notes
    -----
    ``09xxx`` units (former Bắc Ninh): the 2019 census population of the 2021 communes moved
    by an area-weighted crosswalk restricted to the ``09xxx`` units, rounded by largest
    remainder so the province total (1,368,840) is kept exactly (``population_source`` =
    ``census-2019-area-interpolated``). ``07xxx`` units (former Bắc Giang): a flagged
    ESTIMATE, the 2020 provincial average population (1,841,700) split by area
    (``population_source`` = ``estimate-area-share-2020``).
    """
    gdf = raw.set_index("commune_code")
    gdf["district_code"] = ""
    gdf["district_name"] = ""
    repaired, report = repair_topology(gdf)

    is_bn = repaired.index.str.startswith("09")
    crosswalk = build_crosswalk(set_2021, repaired[is_bn], weight="area")
    moved = reaggregate(set_2021["population"].astype("float64"), crosswalk)
    moved = moved.reindex(repaired.index[is_bn], fill_value=0.0)
    total_bn = int(set_2021["population"].sum())
    pop = pd.Series(0, index=repaired.index, dtype="int64")
    pop[is_bn] = _largest_remainder(moved.to_numpy(), total_bn)
    area = repaired.geometry.to_crs(AREA_CRS).area.to_numpy()
    share = area[~is_bn] / area[~is_bn].sum() * BAC_GIANG_POPULATION_2020
    pop[~is_bn] = _largest_remainder(share, BAC_GIANG_POPULATION_2020)
    repaired["population"] = pop
    repaired["population_source"] = np.where(
        is_bn, "census-2019-area-interpolated", "estimate-area-share-2020"
    )
    return _finish(repaired, report, "bac-ninh-2025", attribution)


def build_imported(raw: gpd.GeoDataFrame, name: str, attribution: str) -> gpd.GeoDataFrame:
    """Build the repaired set from an imported file in the standard layout.

    Parameters
    ----------
    raw : geopandas.GeoDataFrame
        Columns ``commune_code, commune_name`` and optionally ``commune_type,
        district_code, district_name, population`` (as written by ``boundaries import``).
    name : str
        Name of the set.
    attribution : str
        Attribution string stored in ``attrs``.

    Returns
    -------
    geopandas.GeoDataFrame
        The set in the standard layout. Without a population, ``population`` is the
        nullable ``Int64`` dtype, all missing, and ``population_source`` is ``missing``.
    """
    gdf = raw.copy()
    gdf["commune_code"] = gdf["commune_code"].astype(str)
    gdf = gdf.set_index("commune_code")
    for col in ("commune_type", "district_code", "district_name"):
        if col not in gdf.columns:
            gdf[col] = ""
        gdf[col] = gdf[col].fillna("").astype(str)
    gdf["commune_name"] = gdf["commune_name"].fillna("").astype(str)
    pop = gdf["population"] if "population" in gdf.columns else None
    if pop is not None and pd.to_numeric(pop, errors="coerce").notna().all():
        gdf["population"] = pd.to_numeric(pop).round().astype("int64")
        gdf["population_source"] = "imported"
    else:
        gdf["population"] = pd.array(
            pd.to_numeric(pop, errors="coerce").round() if pop is not None else [pd.NA] * len(gdf),
            dtype="Int64",
        )
        gdf["population_source"] = np.where(gdf["population"].isna(), "missing", "imported")
    repaired, report = repair_topology(gdf)
    return _finish(repaired, report, name, attribution)


# ---------------------------------------------------------------------------- I/O and cache


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256(f"{REPAIR_VERSION}/{BUILD_VERSION}".encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _read_geojson(path: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(path)
    if "commune_code" in gdf.columns:
        gdf["commune_code"] = gdf["commune_code"].astype(str)
    return gdf


def _source_files(name: str, workspace_dir: str | os.PathLike[str] | None) -> list[Path]:
    if name in PACKAGED_SETS:
        files = [DATA_DIR / PACKAGED_SETS[name][0], SOURCES_FILE]
        if name == "bac-ninh-2021":
            files.append(DATA_DIR / POPULATION_2021)
        if name == "bac-ninh-2025":
            files += [DATA_DIR / PACKAGED_SETS["bac-ninh-2021"][0], DATA_DIR / POPULATION_2021]
        return files
    if name in GENERATED_SETS:
        from boundaries import national  # the generator's code is the source: edits rebuild

        return [Path(national.__file__)]
    folder = _imported_dir(workspace_dir)
    if folder is not None and (folder / name / IMPORTED_GEOMETRY).is_file():
        meta = folder / name / IMPORTED_META  # optional: a hand-made folder may lack it
        return [folder / name / IMPORTED_GEOMETRY] + ([meta] if meta.is_file() else [])
    available = list_boundary_sets(workspace_dir)
    where = (
        f" (looked in {folder} too)"
        if folder is not None
        else " (pass workspace_dir / --workspace to see imported sets)"
    )
    raise BoundaryError(
        f"unknown boundary set {name!r}{where}; available: {available}. "
        "Import your own with 'safemap boundaries import FILE --name SET'"
    )


def _build(name: str, workspace_dir: str | os.PathLike[str] | None) -> gpd.GeoDataFrame:
    if name == "bac-ninh-2021":
        raw = _read_geojson(DATA_DIR / PACKAGED_SETS[name][0])
        population = pd.read_csv(DATA_DIR / POPULATION_2021, dtype={"commune_code": str})
        text = SOURCES_FILE.read_text(encoding="utf-8")
        return build_bac_ninh_2021(raw, population, read_attribution(PACKAGED_SETS[name][1], text))
    if name == "bac-ninh-2025":
        raw = _read_geojson(DATA_DIR / PACKAGED_SETS[name][0])
        text = SOURCES_FILE.read_text(encoding="utf-8")
        attribution = (
            read_attribution(PACKAGED_SETS[name][1], text)
            + " Population: 2019 census (GSO) interpolated from the 2021 communes ("
            + read_attribution(PACKAGED_SETS["bac-ninh-2021"][1], text)
            + "); former Bắc Giang units estimated (see population_source)."
        )
        return build_bac_ninh_2025(raw, load_boundary_set("bac-ninh-2021"), attribution)
    if name in GENERATED_SETS:
        from boundaries.national import build_national_set

        # Voronoi cells are valid and tile the rectangle: nothing for repair_topology to do
        empty = pd.DataFrame(columns=REPORT_COLUMNS)
        return _finish(build_national_set(), empty, name, GENERATED_SETS[name])
    folder = _imported_dir(workspace_dir)
    assert folder is not None  # _source_files checked it
    meta_path = folder / name / IMPORTED_META
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    raw = _read_geojson(folder / name / IMPORTED_GEOMETRY)
    return build_imported(raw, name, str(meta.get("attribution", "")))


@functools.lru_cache(maxsize=8)
def _build_in_memory(name: str, workspace_dir: str | None, key: str) -> gpd.GeoDataFrame:
    return _build(name, workspace_dir)


def _cache_paths(cache_dir: Path, name: str, key: str) -> tuple[Path, Path]:
    stem = f"{name}-{key}"
    return cache_dir / f"{stem}.parquet", cache_dir / f"{stem}.attrs.json"


def _read_cached(cache_dir: Path, name: str, key: str) -> gpd.GeoDataFrame | None:
    data_path, attrs_path = _cache_paths(cache_dir, name, key)
    if not (data_path.is_file() and attrs_path.is_file()):
        return None
    gdf = gpd.read_parquet(data_path)
    gdf.index = pd.Index(gdf.index.astype(str), name="commune_code", dtype="str")
    gdf.attrs = json.loads(attrs_path.read_text(encoding="utf-8"))
    gdf.attrs["repair_report"] = RepairRecords(gdf.attrs.get("repair_report", []))
    return gdf


def _write_cached(gdf: gpd.GeoDataFrame, cache_dir: Path, name: str, key: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    data_path, attrs_path = _cache_paths(cache_dir, name, key)
    own = re.compile(rf"^{re.escape(name)}-[0-9a-f]{{20}}\.(parquet|attrs\.json)$")
    for old in cache_dir.iterdir():  # older builds of this set (not other sets, not tmp files)
        if own.match(old.name) and old not in (data_path, attrs_path):
            old.unlink(missing_ok=True)
    tmp_data = data_path.with_name(data_path.name + f".{os.getpid()}.tmp")
    tmp_attrs = attrs_path.with_name(attrs_path.name + f".{os.getpid()}.tmp")
    plain = gdf.copy()
    plain.attrs = {}
    plain.to_parquet(tmp_data)
    tmp_attrs.write_text(json.dumps(gdf.attrs, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp_data, data_path)
    os.replace(tmp_attrs, attrs_path)


def load_boundary_set(
    name: str, *, workspace_dir: str | os.PathLike[str] | None = None
) -> gpd.GeoDataFrame:
    """Load a repaired boundary set by name.

    Parameters
    ----------
    name : str
        ``bac-ninh-2021`` (126 communes, 2019 census population), ``bac-ninh-2025`` (99
        units, no district level, population interpolated / estimated; see
        :func:`build_bac_ninh_2025`) or a set imported into ``workspace_dir``.
    workspace_dir : path-like, optional
        Workspace holding imported sets (``boundaries/<name>/``) and the build cache
        (``boundaries/.cache/``). Without it, builds are cached in memory for the process.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``commune_code`` (str, leading zeros kept); columns ``commune_name``,
        ``commune_type``, ``district_code``, ``district_name``, ``population`` (int),
        ``population_source``, ``area_km2`` (UTM 48N, after repair), ``geometry``; CRS
        EPSG:4326. ``attrs``: ``boundary_set``, ``attribution``, ``repair_report`` (list of
        dicts with ``kind, from_code, to_code, area_km2``) and ``population_note``. The
        caller gets its own copy and may modify it.

    Raises
    ------
    BoundaryError
        When the name is unknown (the message lists the available sets).

    Examples
    --------
    >>> communes = load_boundary_set("bac-ninh-2021")  # doctest: +SKIP
    >>> communes.loc["09163", "commune_name"]  # doctest: +SKIP
    'Vũ Ninh'
    """
    files = _source_files(name, workspace_dir)
    key = _hash_files(files)
    root = Path(workspace_dir) if workspace_dir is not None else None
    if root is not None and root.is_dir():
        cache_dir = root / "boundaries" / ".cache"
        cached = _read_cached(cache_dir, name, key)
        if cached is None:
            cached = _build(name, workspace_dir)
            _write_cached(cached, cache_dir, name, key)
        gdf = cached
    else:
        ws = str(Path(workspace_dir).resolve()) if workspace_dir is not None else None
        gdf = _build_in_memory(name, ws if name not in PACKAGED_SETS else None, key)
    out = gdf.copy()
    attrs = {k: v for k, v in gdf.attrs.items() if k != "repair_report"}
    out.attrs = copy.deepcopy(attrs)
    out.attrs["repair_report"] = RepairRecords(
        dict(row) for row in gdf.attrs.get("repair_report", [])
    )
    return out


def repair_report_frame(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the ``repair_report`` attr of a loaded set as a DataFrame.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        A set returned by :func:`load_boundary_set`.

    Returns
    -------
    pandas.DataFrame
        Columns ``kind, from_code, to_code, area_km2``; empty when nothing was moved.
    """
    rows: list[dict[str, Any]] = list(gdf.attrs.get("repair_report", []))
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)
