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
@click.option(
    "--scheduler",
    default=None,
    metavar="local|ADDRESS",
    help="Count on Dask, partition by partition: 'local' starts a LocalCluster (one worker "
    "per core), an address such as tcp://10.0.0.5:8786 uses a running scheduler whose "
    "workers see the workspace. Default: in this process. Same cube either way.",
)
def build(
    workspace_dir: str | None, start: str | None, end: str | None, scheduler: str | None
) -> None:
    """Aggregate every ingested feed into the date x commune (and x H3 cell) cube.

    Writes <workspace>/cube.nc (NetCDF). Examples:

    \b
      safemap build --workspace workspace
      safemap build --workspace national --scheduler local
    """
    from geo.build import build_workspace_cube

    ws = open_workspace(workspace_dir, create=False)
    started = time.perf_counter()
    try:
        if scheduler is None:
            cube = build_workspace_cube(ws, start=start, end=end)
        else:
            from geo.distributed import build_cube_distributed, dask_client

            with dask_client(scheduler) as client:
                cube = build_cube_distributed(client, ws, start=start, end=end)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.perf_counter() - started
    click.echo(
        f"cube {ws.cube_path}: {cube.sizes['date']} days x {cube.sizes['commune']} communes "
        f"x {cube.sizes['cell']} H3 cells, {len(cube.data_vars)} variables, "
        f"{int(cube['cases'].sum())} cases, {int(cube['checkins'].sum())} check-ins "
        f"({cube.attrs['first_date']} to {cube.attrs['last_date']}) in {seconds:.1f} s"
    )
