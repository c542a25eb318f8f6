"""``safemap build``: aggregate the event store into the cube."""

from __future__ import annotations

import time

import click

from geo.workspace import open_workspace


@click.command("build")
@click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)
@click.option("--start", default=None, help="First day of the cube, YYYY-MM-DD (default: data).")
@click.option("--end", default=None, help="Last day of the cube, YYYY-MM-DD (default: data).")
def build(workspace_dir: str | None, start: str | None, end: str | None) -> None:
    """Aggregate every ingested feed into the date x commune (and x H3 cell) cube.

    Writes <workspace>/cube.nc (NetCDF). Example:

        safemap build --workspace workspace
    """
    from geo.build import build_workspace_cube

    ws = open_workspace(workspace_dir, create=False)
    started = time.perf_counter()
    try:
        cube = build_workspace_cube(ws, start=start, end=end)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.perf_counter() - started
    click.echo(
        f"cube {ws.cube_path}: {cube.sizes['date']} days x {cube.sizes['commune']} communes "
        f"x {cube.sizes['cell']} H3 cells, {len(cube.data_vars)} variables, "
        f"{int(cube['cases'].sum())} cases, {int(cube['checkins'].sum())} check-ins "
        f"({cube.attrs['first_date']} to {cube.attrs['last_date']}) in {seconds:.1f} s"
    )
