"""``safemap synth``: write a synthetic set of every feed, with its ground truth (I/O edge)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ValidationError

FEED_ORDER = (
    "venues",
    "workers",
    "checkins",
    "cases",
    "contacts",
    "tests",
    "declarations",
    "movements",
    "assessments",
    "feedback",
    "vaccinations",
    "workforce",
)


def load_communes(boundary_set: str) -> gpd.GeoDataFrame:
    """The boundary set by name, from ``boundaries.sets`` (package data)."""
    from boundaries.sets import load_boundary_set

    return load_boundary_set(boundary_set)


def write_csv(frame: pd.DataFrame, path: Path, *, header: bool = True, mode: str = "w") -> None:
    """UTF-8 CSV, LF line ends, empty cells for missing values, floats as written."""
    frame.to_csv(
        path,
        index=False,
        header=header,
        mode=mode,
        encoding="utf-8",
        lineterminator="\n",
        quoting=csv.QUOTE_MINIMAL,
    )


class CheckinWriter:
    """Appends each day's check-ins to ``checkins.csv`` as the simulation produces them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.first = True

    def __call__(self, frame: pd.DataFrame) -> None:
        write_csv(frame, self.path, header=self.first, mode="w" if self.first else "a")
        self.first = False
        self.rows += len(frame)


def write_truth(truth: Any, path: Path) -> None:
    """The truth Dataset as NetCDF (netCDF4 engine, no timestamps inside: reproducible)."""
    encoding = {name: {"zlib": True, "complevel": 4} for name in truth.data_vars}
    truth.to_netcdf(path, engine="netcdf4", encoding=encoding)


README_TEXT = """# Synthetic safemap feeds

Written by `safemap synth {args}`. Every person, case and venue here is invented; the communes,
their boundaries and populations are real ({boundary_set}). The generative model is described in
`docs/synthetic-data.md` of the safemap repository.

| file | content |
|---|---|
{rows}
| `truth.nc` | ground truth (NetCDF): `infections`, `rt`, `r_driver`, `reported_cases`, \
`infections_by_route` by date and commune, `rt_province` by date, `lockdown_date` by commune |
| `params.json` | every parameter of the run, the generation interval and the seed |

Feed columns follow `docs/data-formats.md`. `reported_cases` in `truth.nc` equals the count of
`cases.csv` rows by residence commune and `report_date`. Ingest with
`safemap ingest` (see `safemap ingest --help`).
"""


@click.command(name="synth")
@click.option(
    "--days",
    type=click.IntRange(1, 730),
    default=60,
    show_default=True,
    help="Number of simulated days.",
)
@click.option(
    "--seed",
    type=click.IntRange(0, None),
    default=0,
    show_default=True,
    help="Random seed: the same seed and options give byte-identical files.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory (created if missing; existing feed files are overwritten).",
)
@click.option(
    "--scale",
    type=click.FloatRange(0.0, 10.0, min_open=True),
    default=0.05,
    show_default=True,
    help="Population, venues and check-ins relative to the province: 1 gives 10,000 "
    "venues and about 300,000 check-ins a day (about 1 GB of CSV, a few minutes).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2021-04-27",
    show_default=True,
    help="First simulated day (YYYY-MM-DD).",
)
@click.option(
    "--boundary-set",
    default="bac-ninh-2021",
    show_default=True,
    help="Boundary set whose communes carry the outbreak (see 'safemap boundaries list').",
)
@click.option(
    "--geojson/--no-geojson",
    default=True,
    show_default=True,
    help="Also write venues.geojson (point features).",
)
@click.option(
    "--national",
    is_flag=True,
    default=False,
    help="National volumes instead: venues and one day (--start) of check-ins only, written "
    "in Parquet/CSV partitions of --chunk-rows rows (never all in memory); the boundary set "
    "defaults to vn-synthetic-national. See docs/national.md.",
)
@click.option(
    "--checkins",
    "n_checkins",
    type=click.IntRange(1, None),
    default=100_000_000,
    show_default=True,
    help="With --national: check-ins of the day.",
)
@click.option(
    "--venues",
    "n_venues",
    type=click.IntRange(1, None),
    default=None,
    help="With --national: venues (default: one per 100 check-ins, at most 1,000,000).",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(1, None),
    default=1_000_000,
    show_default=True,
    help="With --national: check-ins per partition file (each one ingest batch).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["parquet", "csv"]),
    default="parquet",
    show_default=True,
    help="With --national: format of the venues file and the check-in partitions.",
)
@click.pass_context
def synth(
    ctx: click.Context,
    days: int,
    seed: int,
    out_dir: Path,
    scale: float,
    start: datetime,
    boundary_set: str,
    geojson: bool,
    national: bool,
    n_checkins: int,
    n_venues: int | None,
    chunk_rows: int,
    file_format: str,
) -> None:
    """Write a realistic synthetic set of every feed, with its ground truth.

    Simulates a Delta-like outbreak (growth, then a lockdown) over the real communes of the
    boundary set and derives every feed from it: cases, contacts, tests, declarations, venues,
    checkins, movements, assessments, feedback, workers, vaccinations, workforce. Writes
    OUT/<feed>.csv, OUT/truth.nc (the true infections and reproduction numbers),
    OUT/params.json and OUT/README.md, and prints the row count of each feed.

    With --national, writes national volumes instead (see docs/national.md):
    OUT/venues.parquet and OUT/checkins/part-NNNNN.parquet for the day --start.

    \b
    Examples:
      safemap synth --days 60 --seed 0 --out demo-feeds
      safemap synth --national --checkins 100000000 --out national-feeds
    """
    if national:
        source = ctx.get_parameter_source("boundary_set")
        explicit = source is not None and source.name == "COMMANDLINE"
        _write_national(
            out_dir,
            boundary_set=boundary_set if explicit else "vn-synthetic-national",
            day=start.date(),
            seed=seed,
            n_checkins=n_checkins,
            n_venues=n_venues,
            chunk_rows=chunk_rows,
            file_format=file_format,
        )
        return
    from rich.console import Console
    from rich.table import Table

    from geo.synth import synthesize

    first_day: date = start.date()
    last_day = date.fromordinal(first_day.toordinal() + days - 1)
    if first_day < date(2019, 1, 1) or last_day > date.today():
        raise click.BadParameter(
            f"the run covers {first_day}..{last_day}; feeds dated before 2019-01-01 or after "
            f"today ({date.today()}) are rejected at ingestion; choose an earlier --start or "
            "fewer --days",
            param_hint="--start/--days",
        )
    try:
        communes = load_communes(boundary_set)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--boundary-set") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = CheckinWriter(out_dir / "checkins.csv")
    console = Console(stderr=True)
    with console.status(f"simulating {days} days at scale {scale} (seed {seed})..."):
        try:
            result = synthesize(
                communes,
                start=first_day,
                days=days,
                scale=scale,
                rng=np.random.default_rng(seed),
                checkins_sink=writer,
            )
        except ValidationError as exc:
            raise click.ClickException(str(exc)) from exc
    counts: dict[str, int] = {"checkins": writer.rows}
    for name, frame in result.feeds.items():
        write_csv(frame, out_dir / f"{name}.csv")
        counts[name] = len(frame)
    if geojson:
        venues = result.feeds["venues"]
        points = gpd.GeoDataFrame(
            venues.drop(columns=["lat", "lon"]),
            geometry=gpd.points_from_xy(venues["lon"], venues["lat"]),
            crs="EPSG:4326",
        )
        (out_dir / "venues.geojson").write_text(points.to_json(drop_id=True), encoding="utf-8")
    write_truth(result.truth, out_dir / "truth.nc")
    params = dict(result.params, seed=seed, boundary_set=boundary_set)
    (out_dir / "params.json").write_text(
        json.dumps(params, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    args = (
        f"--days {days} --seed {seed} --scale {scale} --start {first_day} "
        f"--boundary-set {boundary_set}"
    )
    rows = "\n".join(f"| `{name}.csv` | {counts[name]:,} rows |" for name in FEED_ORDER)
    (out_dir / "README.md").write_text(
        README_TEXT.format(args=args, boundary_set=boundary_set, rows=rows),
        encoding="utf-8",
    )
    table = Table(title=f"synthetic feeds in {out_dir}")
    table.add_column("feed")
    table.add_column("rows", justify="right")
    for name in FEED_ORDER:
        table.add_row(name, f"{counts[name]:,}")
    table.add_row("truth: infections", f"{int(result.truth['infections'].sum()):,}")
    table.add_row("truth: reported cases", f"{int(result.truth['reported_cases'].sum()):,}")
    Console().print(table)


NATIONAL_README = """# Synthetic national feeds

Written by `safemap synth --national {args}`. Every venue and check-in is invented; so is the
boundary set if it is `vn-synthetic-national` (see `docs/national.md`).

| file | content |
|---|---|
| `venues.{ext}` | {venues:,} venues, placed in proportion to commune population |
| `checkins/part-*.{ext}` | {checkins:,} check-ins of {day} in {parts:,} partitions |
| `params.json` | the options and the seed |

Ingest the venues first, then the partitions (each one batch), e.g. on a Dask cluster:
`safemap ingest venues venues.{ext}` then `safemap ingest checkins checkins/*.{ext} --scheduler
local`.
"""


def write_partition(frame: pd.DataFrame, path: Path) -> None:
    """Write one partition as Parquet (string columns, lz4) or CSV, by ``path``'s suffix."""
    if path.suffix == ".csv":
        write_csv(frame, path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="lz4")


def _write_national(
    out_dir: Path,
    *,
    boundary_set: str,
    day: date,
    seed: int,
    n_checkins: int,
    n_venues: int | None,
    chunk_rows: int,
    file_format: str,
) -> None:
    from rich.console import Console

    from geo._synth_national import checkins_chunk, chunk_sizes, national_venues

    try:
        communes = load_communes(boundary_set)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--boundary-set") from exc
    venues_n = n_venues if n_venues is not None else max(1, min(1_000_000, n_checkins // 100))
    sizes = chunk_sizes(n_checkins, chunk_rows)
    if len(sizes) > 99_999:
        raise click.BadParameter(
            f"{len(sizes):,} partitions of {chunk_rows:,} rows; expected at most 99,999; "
            "pass a larger --chunk-rows",
            param_hint="--chunk-rows",
        )
    world_seq, *chunk_seqs = np.random.SeedSequence(seed).spawn(1 + len(sizes))
    console = Console(stderr=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = out_dir / "checkins"
    parts.mkdir(exist_ok=True)
    for stale in parts.glob("part-*.*"):  # a previous run with more partitions
        stale.unlink()
    with console.status(f"drawing {venues_n:,} venues over {boundary_set}..."):
        venues = national_venues(communes, venues_n, np.random.default_rng(world_seq))
        write_partition(venues, out_dir / f"venues.{file_format}")
    venue_ids = venues["venue_id"].to_numpy(dtype=object)
    n_people = int(pd.to_numeric(communes["population"], errors="coerce").fillna(0).sum()) or 1
    del venues
    written = 0
    with console.status("writing check-ins...") as status:
        for i, (rows, seq) in enumerate(zip(sizes, chunk_seqs, strict=True)):
            frame = checkins_chunk(venue_ids, rows, day, n_people, np.random.default_rng(seq))
            write_partition(frame, parts / f"part-{i:05d}.{file_format}")
            written += rows
            status.update(f"writing check-ins: {written:,} / {n_checkins:,}")
    params = {
        "boundary_set": boundary_set,
        "day": day.isoformat(),
        "seed": seed,
        "checkins": n_checkins,
        "venues": venues_n,
        "chunk_rows": chunk_rows,
        "partitions": len(sizes),
        "format": file_format,
    }
    (out_dir / "params.json").write_text(
        json.dumps(params, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    args = (
        f"--boundary-set {boundary_set} --start {day} --seed {seed} --checkins {n_checkins} "
        f"--venues {venues_n} --chunk-rows {chunk_rows} --format {file_format}"
    )
    (out_dir / "README.md").write_text(
        NATIONAL_README.format(
            args=args,
            ext=file_format,
            venues=venues_n,
            checkins=n_checkins,
            day=day,
            parts=len(sizes),
        ),
        encoding="utf-8",
    )
    click.echo(
        f"{out_dir}: {venues_n:,} venues, {n_checkins:,} check-ins of {day} in "
        f"{len(sizes):,} partitions ({boundary_set})"
    )
