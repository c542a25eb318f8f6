"""``safemap demo`` (``safemap serve`` lives in ``webmap/_cli_ops.py``)."""

from __future__ import annotations

import click

_workspace_option = click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)


@click.command("demo")
@_workspace_option
@click.option("--days", default=60, show_default=True, help="Days of synthetic feeds.")
@click.option("--scale", default=0.05, show_default=True, help="Feed volume (1 = province scale).")
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic feeds.")
@click.option(
    "--forecast-members",
    default=200,
    show_default=True,
    help="SEIR ensemble members of the forecast (0 skips forecasting).",
)
@click.option("--no-serve", is_flag=True, help="Build the workspace and stop.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def demo(
    workspace_dir: str | None,
    days: int,
    scale: float,
    seed: int,
    forecast_members: int,
    no_serve: bool,
    host: str,
    port: int,
) -> None:
    """Build the demo workspace and serve the safe-COVID map.

    Steps, each through the same code path as production: synthetic feeds for every
    surveillance feed over the real Bắc Ninh communes -> 'safemap ingest' of each
    file -> 'safemap build' (cube) -> 'safemap forecast' -> publish (risk levels under
    the rule set in force, Rt, venues, H3 cells, forecasts) -> serve at http://HOST:PORT.
    Running it again reuses what is already ingested (ingestion is idempotent).

    Example:

        safemap demo --workspace workspace --scale 0.05
    """
    from webmap.pipeline import build_demo

    def say(message: str) -> None:
        click.echo(message)

    try:
        build_demo(
            workspace_dir,
            days=days,
            scale=scale,
            seed=seed,
            forecast_members=forecast_members,
            report=say,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not no_serve:
        from webmap._cli_ops import serve

        click.get_current_context().invoke(
            serve, workspace_dir=workspace_dir, host=host, port=port, production=False
        )
