"""``safemap forecast``, ``scenario run|compare``, ``zones propose`` and ``suggest``.

Thin click wrappers: read through :mod:`forecast.workspace`, compute with the pure
functions, print with rich, write files.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pandas as pd

_workspace_option = click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)
_date_option = click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Forecast date D, a Monday (default: the latest Monday the cube supports).",
)


def _open(workspace_dir: str | None) -> Any:
    from geo.workspace import open_workspace

    try:
        return open_workspace(workspace_dir, create=False)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _as_date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command("forecast")
@_workspace_option
@_date_option
@click.option(
    "--members",
    type=click.IntRange(1, 5000),
    default=200,
    show_default=True,
    help="SEIR ensemble members.",
)
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option(
    "--skill-weeks",
    type=click.IntRange(0, 52),
    default=8,
    show_default=True,
    help="Back-test the forecaster at the last N Mondays before D (data before D only) "
    "and write D-skill.json; horizons that do not beat the baseline are hidden from "
    "the public map. 0 skips it (every horizon is then hidden).",
)
def forecast(
    workspace_dir: str | None, day: datetime | None, members: int, seed: int, skill_weeks: int
) -> None:
    """Quantile forecasts of daily and weekly cases per commune, district and province.

    Combines the calibrated SEIR ensemble, the statistical model and the
    COVIDhub-baseline (level-wise median of the three) using only cube data dated
    before D. Writes
    WORKSPACE/forecasts/D.nc and WORKSPACE/forecasts/D.csv (Hub long format), and
    the relative WIS per horizon of a rolling-origin back-test against the
    COVIDhub-baseline in WORKSPACE/forecasts/D-skill.json (docs/publication.md).

    Example:

        safemap forecast --workspace workspace --date 2021-06-21 --members 200
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from forecast.ensemble import default_forecast_date
    from forecast.workspace import (
        load_workspace_inputs,
        read_skill,
        run_workspace_forecast,
        skill_path,
    )

    ws = _open(workspace_dir)
    steps = ("calibrate", "simulate", "statistical", "combine", "skill")
    try:
        forecast_date = _as_date(day) or default_forecast_date(load_workspace_inputs(ws).cube)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=False
        ) as bar:
            task = bar.add_task(f"forecast {forecast_date}", total=len(steps) + 1)

            def step(name: str) -> None:
                bar.update(task, completed=steps.index(name), description=f"forecast: {name}")

            ds, nc_path, csv_path = run_workspace_forecast(
                ws,
                forecast_date,
                members=members,
                seed=seed,
                progress=step,
                skill_weeks=skill_weeks,
            )
            bar.update(task, completed=len(steps) + 1, description="forecast: written")
        skill = read_skill(ws, forecast_date)
        if skill is not None:
            skill["path"] = str(skill_path(ws, forecast_date))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    province = ds["weekly_cases"].sel(location="province")
    click.echo(f"province, weekly cases (median [5%, 95%]) from {forecast_date}:")
    for h in province["horizon_week"].values:
        q = province.sel(horizon_week=h)
        click.echo(
            f"  {h} wk ahead: {float(q.sel(quantile=0.5)):.0f} "
            f"[{float(q.sel(quantile=0.05)):.0f}, {float(q.sel(quantile=0.95)):.0f}]"
        )
    click.echo(f"wrote {nc_path}\nwrote {csv_path}")
    _print_skill(skill)


def _print_skill(skill: dict[str, Any] | None) -> None:
    if skill is None:
        click.echo("skill: not back-tested (--skill-weeks 0): every horizon will be hidden")
        return
    origins = skill.get("origins", [])
    click.echo(
        f"skill: back-test at {len(origins)} Mondays ({', '.join(origins) or 'none'}); "
        "relative WIS of the communes vs the COVIDhub-baseline:"
    )
    for target, verdict in skill.get("horizons", {}).items():
        relative = verdict.get("relative_wis")
        shown = "shown" if verdict.get("beats_baseline") else "hidden"
        value = "not measurable" if relative is None else f"{relative:.2f}"
        click.echo(f"  {target}: {value} -> {shown} on the public map")
    for item in skill.get("skipped", []):
        click.echo(f"  origin {item['origin']} skipped: {item['reason']}")
    click.echo(f"wrote {skill.get('path')}")


@click.group("scenario")
def scenario() -> None:
    """Reproducible scenario runs for modelers (spec file: docs/scenarios.md)."""


@scenario.command("run")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory: result.nc and summary.csv.",
)
@click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace for initial.source = 'calibration' and the worker coupling "
    "(optional for seeded specs).",
)
def scenario_run(spec_path: Path, out_dir: Path, workspace_dir: str | None) -> None:
    """Run the scenario SPEC (TOML) and write OUT/result.nc and OUT/summary.csv.

    The same spec and seed give byte-identical files.

    Example:

        safemap scenario run docs/examples/scenario.toml --out runs/lockdown
    """
    from boundaries.sets import load_boundary_set
    from forecast.scenario import run_scenario, summarise_scenario
    from forecast.workspace import (
        load_workspace_inputs,
        read_scenario_spec,
        workspace_coupling,
        write_scenario_result,
    )

    try:
        spec = read_scenario_spec(spec_path)
        cube = None
        if workspace_dir is not None:
            ws = _open(workspace_dir)
            inputs = load_workspace_inputs(ws)
            if spec.boundary_set != ws.config.boundary_set:
                raise click.ClickException(
                    f"{spec_path}: boundary_set {spec.boundary_set!r} but the workspace uses "
                    f"{ws.config.boundary_set!r}; fix the spec or pick another workspace"
                )
            communes, coupling, cube = inputs.communes, inputs.coupling, inputs.cube
        else:
            communes = load_boundary_set(spec.boundary_set)
            coupling = workspace_coupling(communes)
        result = run_scenario(spec, communes, coupling, cube=cube)
        summary = summarise_scenario(result)
        write_scenario_result(result, summary, out_dir)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    total = summary.set_index("location").loc["total"]
    click.echo(
        f"{spec.name}: {spec.members} members, {spec.start_date}+{spec.horizon_days} days\n"
        f"  cases {total['cases_q50']:.0f} [90%: {total['cases_q05']:.0f}-"
        f"{total['cases_q95']:.0f}], peak {total['peak_cases_q50']:.0f}/day on "
        f"{total['peak_date_q50']}\nwrote {out_dir / 'result.nc'}\nwrote "
        f"{out_dir / 'summary.csv'}"
    )


@scenario.command("compare")
@click.argument("a_dir", metavar="A", type=click.Path(file_okay=False, path_type=Path))
@click.argument("b_dir", metavar="B", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the comparison of every commune as CSV.",
)
def scenario_compare(a_dir: Path, b_dir: Path, out: Path | None) -> None:
    """Compare two scenario results: cases, peak and cases averted by B relative to A.

    Differences are paired member by member when both runs used the same seed.

    Example:

        safemap scenario compare runs/no-action runs/lockdown
    """
    from rich.console import Console
    from rich.table import Table

    from forecast.scenario import compare_scenarios
    from forecast.workspace import read_scenario_result, write_csv

    try:
        table = compare_scenarios(read_scenario_result(a_dir), read_scenario_result(b_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    total = table[table["location"] == "total"]
    paired = bool(total["paired"].iloc[0])
    view = Table(title=f"B = {b_dir} vs A = {a_dir} ({'paired' if paired else 'unpaired'})")
    for column in ("metric", "A median [90%]", "B median [90%]", "averted A-B mean [90%]"):
        view.add_column(column)
    for _, row in total.iterrows():
        view.add_row(
            str(row["metric"]),
            f"{row['a_q50']:.0f} [{row['a_q05']:.0f}, {row['a_q95']:.0f}]",
            f"{row['b_q50']:.0f} [{row['b_q05']:.0f}, {row['b_q95']:.0f}]",
            f"{row['averted_mean']:.0f} [{row['averted_q05']:.0f}, {row['averted_q95']:.0f}]",
        )
    Console(width=120).print(view)
    if out is not None:
        write_csv(table, out)
        click.echo(f"wrote {out}")


@click.group("zones")
def zones() -> None:
    """Lockdown-zone plans for officials."""


@zones.command("propose")
@_workspace_option
@_date_option
@click.option(
    "--threshold-per-100k",
    type=click.FloatRange(0, None),
    default=50.0,
    show_default=True,
    help="Forecast 14-day incidence per 100,000 at which a commune is proposed.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="GeoJSON file (default WORKSPACE/forecasts/zones-D.geojson).",
)
@click.option(
    "--members",
    type=click.IntRange(1, 5000),
    default=100,
    show_default=True,
    help="Posterior members of the averted-cases runs.",
)
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option(
    "--unit",
    type=click.Choice(["commune", "h3"]),
    default="commune",
    show_default=True,
    help="Zones made of whole communes, or of contiguous H3 cells (the workspace's "
    "resolution; each commune's forecast split among its cells by recent located cases).",
)
@click.option(
    "--min-forecast-cases",
    type=click.FloatRange(0, None),
    default=0.0,
    show_default=True,
    help="With --unit h3: drop clusters whose forecast 14-day cases are below this.",
)
def zones_propose(
    workspace_dir: str | None,
    day: datetime | None,
    threshold_per_100k: float,
    out: Path | None,
    members: int,
    seed: int,
    unit: str,
    min_forecast_cases: float,
) -> None:
    """Propose lockdown zones where the forecast 14-day incidence passes the threshold.

    Uses WORKSPACE/forecasts/D.nc (computed first when missing). With --unit commune
    (default) zones are contiguous communes; with --unit h3 they are contiguous
    clusters of H3 cells. Each zone is evaluated (population, venues by type,
    workers, cases averted over 14 and 28 days against no action, release rule) and
    written as GeoJSON (default WORKSPACE/forecasts/zones-D.geojson, or
    zones-h3-D.geojson for --unit h3).

    Example:

        safemap zones propose --workspace workspace --threshold-per-100k 50 --unit h3
    """
    import geopandas as gpd
    import numpy as np

    from forecast.ensemble import calibrate_ensemble, default_forecast_date, history_before
    from forecast.proposals import propose_cell_zones, propose_zones
    from forecast.workspace import (
        forecast_paths,
        load_workspace_inputs,
        read_forecast,
        run_workspace_forecast,
    )
    from geo.store import list_batches, read_feed

    ws = _open(workspace_dir)
    try:
        inputs = load_workspace_inputs(ws)
        forecast_date = _as_date(day) or default_forecast_date(inputs.cube)
        if not forecast_paths(ws, forecast_date)[0].exists():
            click.echo(f"no forecast for {forecast_date} yet; running 'safemap forecast'")
            run_workspace_forecast(ws, forecast_date, seed=seed)
        ds = read_forecast(ws, forecast_date)
        venues = None
        if list_batches(ws, "venues"):
            frame = read_feed(ws, "venues")
            venues = gpd.GeoDataFrame(
                frame[["venue_id", "venue_type"]],
                geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
                crs="EPSG:4326",
            )
        ensemble = calibrate_ensemble(
            history_before(inputs.cube, forecast_date),
            days=29,
            members=members,
            rng=np.random.default_rng(seed),
        )
        if unit == "h3":
            proposals = propose_cell_zones(
                inputs.cube,
                inputs.communes,
                ds,
                threshold_per_100k=threshold_per_100k,
                venues=venues,
                ensemble=ensemble,
                coupling=inputs.coupling,
                seed=seed,
                min_forecast_cases_14d=min_forecast_cases,
            )
        else:
            proposals = propose_zones(
                inputs.cube,
                inputs.communes,
                ds,
                threshold_per_100k=threshold_per_100k,
                venues=venues,
                ensemble=ensemble,
                coupling=inputs.coupling,
                seed=seed,
            )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_zones(proposals, forecast_date, threshold_per_100k)
    name = f"zones-h3-{forecast_date}" if unit == "h3" else f"zones-{forecast_date}"
    target = out or ws.root / "forecasts" / f"{name}.geojson"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(proposals.to_json(drop_id=True, ensure_ascii=False), encoding="utf-8")
    click.echo(f"wrote {target}")


def _print_zones(proposals: Any, forecast_date: date, threshold: float) -> None:
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"zones proposed for {forecast_date} (>= {threshold:g} per 100k, 14 d)")
    for column in (
        "zone",
        "communes",
        "population",
        "forecast 14d",
        "venues",
        "workers res/emp",
        "averted 14d [90%]",
        "averted 28d [90%]",
        "rule",
    ):
        view.add_column(column)
    for _, row in proposals.iterrows():
        venues = ", ".join(f"{k} {v}" for k, v in sorted(row["venues_by_type"].items()))
        averted = [
            f"{row[f'cases_averted_{w}d_mean']:.0f} [{row[f'cases_averted_{w}d_q05']:.0f}, "
            f"{row[f'cases_averted_{w}d_q95']:.0f}]"
            if f"cases_averted_{w}d_mean" in row
            else "-"
            for w in (14, 28)
        ]
        where = str(row["commune_names"])
        if "n_cells" in row:
            where = f"{row['n_cells']} cells in {where}"
        view.add_row(
            str(row["zone_id"]),
            where,
            f"{row['population']:,}",
            f"{row['forecast_cases_14d']:.0f} ({row['forecast_incidence_14d_per_100k']:.0f}/100k)",
            venues or "-",
            f"{row['workers_resident']}/{row['workers_employed']}",
            *averted,
            f"{row['release_rule_days']} d",
        )
    Console(width=160).print(view)
    if proposals.empty:
        click.echo("no commune or cell passes the threshold")


@click.command("suggest")
@_workspace_option
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day of the suggestions (default: the day after the cube's last day).",
)
@click.option(
    "--days",
    type=click.IntRange(1, 60),
    default=14,
    show_default=True,
    help="Trace F0s reported in the DAYS days before the date.",
)
@click.option("--top", type=click.IntRange(1, 500), default=15, show_default=True)
def suggest(workspace_dir: str | None, day: datetime | None, days: int, top: int) -> None:
    """Tracing and testing suggestions (officials only; never published).

    Venues visited by recent F0s during their infectious window, with the number of
    co-located visitors to trace as F1 and the time windows; and the communes where
    testing would find the most cases next week (regression model).

    Example:

        safemap suggest --workspace workspace --date 2021-06-21
    """
    from rich.console import Console

    from forecast.tracing import exposure_venues, testing_priorities
    from forecast.workspace import load_workspace_inputs
    from geo.store import list_batches, read_feed

    ws = _open(workspace_dir)
    console = Console(width=160)
    try:
        inputs = load_workspace_inputs(ws)
        last = pd.Timestamp(inputs.cube["date"].values[-1]).date()
        when = _as_date(day) or last + timedelta(days=1)
        if list_batches(ws, "checkins") and list_batches(ws, "cases"):
            cases = read_feed(ws, "cases")
            report = pd.to_datetime(cases["report_date"])
            recent = cases[
                (report >= pd.Timestamp(when - timedelta(days=days)))
                & (report < pd.Timestamp(when))
            ]
            venues = read_feed(ws, "venues") if list_batches(ws, "venues") else None
            exposures = exposure_venues(read_feed(ws, "checkins"), recent, venues=venues)
            console.print(
                f"[bold]venues to trace[/bold]: F0s reported {when - timedelta(days=days)}.."
                f"{when - timedelta(days=1)} ({int(recent['person_id'].notna().sum())} with a "
                "person id); contacts = other check-ins within 60 min"
            )
            table = exposures.head(top).to_string(index=False) if len(exposures) else "none"
            console.print(table, markup=False, highlight=False, soft_wrap=True)
        else:
            console.print("no check-ins or cases ingested: no venues to trace")
        priorities = testing_priorities(inputs.cube, inputs.communes, when)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"\n[bold]testing priorities[/bold] for the week from {when}:")
    ranked = priorities.head(top).round(2).to_string(index=False)
    console.print(ranked, markup=False, soft_wrap=True)
