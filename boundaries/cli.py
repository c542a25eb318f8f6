"""``safemap boundaries``: list, show, import, export and crosswalk boundary sets."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pandas as pd

from boundaries.crosswalk import build_crosswalk
from boundaries.errors import BoundaryError
from boundaries.io import export_geojson, read_boundary_file, write_boundary_set
from boundaries.sets import (
    GENERATED_SETS,
    PACKAGED_SETS,
    list_boundary_sets,
    load_boundary_set,
    repair_report_frame,
)
from geo.workspace import open_workspace, resolve_home

WORKSPACE_OPTION = click.option(
    "--workspace",
    "workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)


def _existing_home(workspace: Path | None) -> Path | None:
    """Return the workspace directory if it exists; never create one just to read."""
    home = resolve_home(workspace)
    return home if home.is_dir() else None


def summarise_report(report: pd.DataFrame) -> list[str]:
    """Describe a repair report in a few lines.

    Parameters
    ----------
    report : pandas.DataFrame
        Columns ``kind, from_code, to_code, area_km2`` (see :func:`repair_topology`).

    Returns
    -------
    list of str
        One line per kind of move (pieces, total and largest area), or one line saying
        nothing was moved.
    """
    if report.empty:
        return ["repair: nothing moved (already a clean coverage)"]
    lines = []
    for kind, group in report.groupby("kind", sort=True):
        lines.append(
            f"repair: {len(group)} {kind} pieces moved, {group['area_km2'].sum():.3f} km2 "
            f"in total, largest {group['area_km2'].max():.3f} km2"
        )
    return lines


def _load(name: str, workspace: Path | None) -> pd.DataFrame:
    try:
        return load_boundary_set(name, workspace_dir=_existing_home(workspace))
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def boundaries() -> None:
    """Boundary sets: list, show, import, export and crosswalk.

    Packaged sets: bac-ninh-2021 (126 communes) and bac-ninh-2025 (99 units). Every set is
    loaded repaired (no overlaps, no gaps).

    Example: safemap boundaries show bac-ninh-2021
    """


@boundaries.command("list")
@WORKSPACE_OPTION
def list_command(workspace: Path | None) -> None:
    """List the boundary sets: packaged, generated, and those imported into the workspace.

    Example: safemap boundaries list --workspace ./workspace
    """
    for name in list_boundary_sets(_existing_home(workspace)):
        kind = (
            "packaged"
            if name in PACKAGED_SETS
            else "generated (synthetic, built on first use)"
            if name in GENERATED_SETS
            else "imported"
        )
        click.echo(f"{name}\t{kind}")


@boundaries.command("show")
@click.argument("set_name", metavar="SET")
@WORKSPACE_OPTION
def show_command(set_name: str, workspace: Path | None) -> None:
    """Show counts, area, population and the repair summary of a set.

    Example: safemap boundaries show bac-ninh-2025
    """
    gdf = _load(set_name, workspace)
    click.echo(f"set: {set_name}")
    click.echo(f"units: {len(gdf)}")
    types = gdf["commune_type"].replace("", "(none)").value_counts().sort_index()
    click.echo("types: " + ", ".join(f"{k} {v}" for k, v in types.items()))
    districts = gdf.loc[gdf["district_name"] != "", "district_name"].nunique()
    click.echo(f"districts: {districts}")
    click.echo(f"area_km2: {gdf['area_km2'].sum():.3f}")
    pop = gdf["population"]
    click.echo(f"population: {int(pop.sum(skipna=True)):,} ({int(pop.isna().sum())} units missing)")
    for source, count in gdf["population_source"].value_counts().sort_index().items():
        note = gdf.attrs.get("population_note", {}).get(source, "")
        click.echo(f"  {source}: {count} units; {note}")
    for line in summarise_report(repair_report_frame(gdf)):
        click.echo(line)
    click.echo(f"attribution: {gdf.attrs.get('attribution', '')}")


@boundaries.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-field", required=True, help="Field with the unit code (kept as text).")
@click.option("--name-field", required=True, help="Field with the unit name.")
@click.option("--population-field", default=None, help="Field with the population.")
@click.option("--district-field", default=None, help="Field with the district name.")
@click.option("--name", "set_name", required=True, help="Name of the new set, e.g. my-province.")
@click.option("--make-valid", is_flag=True, help="Repair invalid polygons instead of refusing.")
@click.option("--attribution", default="", help="Source and licence to show with the set.")
@click.option("--force", is_flag=True, help="Replace an imported set of the same name.")
@WORKSPACE_OPTION
def import_command(
    file: Path,
    id_field: str,
    name_field: str,
    population_field: str | None,
    district_field: str | None,
    set_name: str,
    make_valid: bool,
    attribution: str,
    force: bool,
    workspace: Path | None,
) -> None:
    """Import a boundary file (GeoJSON, GeoPackage, Shapefile) as a new set.

    The file is checked (CRS, fields, unique ids, polygon validity), stored in
    <workspace>/boundaries/SET/, then repaired (overlaps removed, gaps filled); the repair
    summary is printed.

    Example: safemap boundaries import communes.gpkg --id-field ma_xa --name-field ten_xa
    --population-field dan_so --name my-province-2024 --workspace ./workspace
    """
    try:
        gdf = read_boundary_file(
            file,
            id_field=id_field,
            name_field=name_field,
            population_field=population_field,
            district_field=district_field,
            make_valid=make_valid,
        )
        home = open_workspace(workspace).root
        folder = write_boundary_set(
            gdf,
            home,
            set_name,
            attribution=attribution,
            source=os.path.basename(file),
            overwrite=force,
        )
        built = load_boundary_set(set_name, workspace_dir=home)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in gdf.attrs.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"imported {len(built)} units into {folder}")
    for line in summarise_report(repair_report_frame(built)):
        click.echo(line)


@boundaries.command("export")
@click.argument("set_name", metavar="SET")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output GeoJSON file.",
)
@WORKSPACE_OPTION
def export_command(set_name: str, out: Path, workspace: Path | None) -> None:
    """Export a repaired set as GeoJSON (commune_code, commune_name, district_name, population).

    Example: safemap boundaries export bac-ninh-2021 --out communes.geojson
    """
    gdf = _load(set_name, workspace)
    try:
        path = export_geojson(gdf, out)
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {len(gdf)} units to {path}")


@boundaries.command("crosswalk")
@click.argument("source")
@click.argument("target")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Output CSV."
)
@click.option(
    "--weight",
    type=click.Choice(["area", "population"]),
    default="area",
    show_default=True,
    help="Split source units by area, or by population (uniform in the finer set's units).",
)
@WORKSPACE_OPTION
def crosswalk_command(
    source: str, target: str, out: Path, weight: str, workspace: Path | None
) -> None:
    """Write the crosswalk from set SOURCE to set TARGET as CSV.

    Columns: source_code, target_code, weight (sums to 1 per source), area_km2.

    Example: safemap boundaries crosswalk bac-ninh-2021 bac-ninh-2025 --out cw.csv
    """
    src = _load(source, workspace)
    tgt = _load(target, workspace)
    if not out.parent.is_dir():
        raise click.ClickException(f"folder {out.parent} does not exist; create it first")
    try:
        table = build_crosswalk(src, tgt, weight="population" if weight == "population" else "area")
    except BoundaryError as exc:
        raise click.ClickException(str(exc)) from exc
    table.to_csv(out, index=False)
    click.echo(
        f"wrote {len(table)} rows ({table['source_code'].nunique()} sources, "
        f"{table['target_code'].nunique()} targets) to {out}"
    )
