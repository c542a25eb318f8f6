"""The ``safemap`` command line: one root group, subcommands loaded lazily.

Each package owns its commands (``boundaries/cli.py``, ``geo/_cli_*.py``,
``models/cli.py``, ``forecast/cli.py``, ``webmap/_cli_*.py``); this module only
maps names to them, so ``safemap --help`` answers without importing geopandas.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command; help text shown without importing it
COMMANDS: dict[str, tuple[str, str]] = {
    "boundaries": ("boundaries.cli:boundaries", "Boundary sets: list, import, export, crosswalk."),
    "synth": ("geo._cli_synth:synth", "Write a realistic synthetic set of every feed."),
    "ingest": ("geo._cli_ingest:ingest", "Validate feed files into the event store."),
    "status": ("geo._cli_ingest:status", "Per-feed counts, batches and date ranges."),
    "locate": ("geo._cli_locate:locate", "Match Vietnamese addresses to communes."),
    "build": ("geo._cli_build:build", "Aggregate the event store into the cube."),
    "demo": ("webmap._cli_demo:demo", "Build the demo workspace and serve the map."),
    "serve": ("webmap._cli_ops:serve", "Serve the web map (--production: gunicorn)."),
    "db": ("webmap._cli_ops:db", "App database migrations: upgrade, current."),
    "update": (
        "webmap._cli_ops:update",
        "Ingest a drop folder, purge, rebuild, re-forecast, republish.",
    ),
    "purge": ("webmap._cli_ops:purge", "Delete raw person-level rows past the retention period."),
    "users": ("webmap._cli_users:users", "Accounts of officials, modelers and admins."),
    "rt": ("models.cli:rt", "Estimate Rt from a tidy daily case CSV."),
    "risk": ("models.cli:risk", "Score communes under an official rule set."),
    "evaluate-risk": (
        "models._cli_evaluate:evaluate_risk",
        "Rolling-origin scores of the risk models vs the naive ranking.",
    ),
    "backtest": ("forecast.cli:backtest", "Rolling-origin quantile forecasts of a tidy series."),
    "score": ("forecast.cli:score", "WIS, relative WIS and coverage of hub forecasts."),
    "forecast": (
        "forecast._cli_workspace:forecast",
        "Quantile forecasts per commune, district and province for a workspace.",
    ),
    "scenario": ("forecast._cli_workspace:scenario", "Run and compare scenario spec files."),
    "zones": ("forecast._cli_workspace:zones", "Propose lockdown zones from forecasts."),
    "suggest": (
        "forecast._cli_workspace:suggest",
        "Tracing (venues visited by F0s) and testing suggestions.",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the command names, sorted."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return the command ``cmd_name`` (None when unknown)."""
        if cmd_name not in COMMANDS:
            return None
        target, _ = COMMANDS[cmd_name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose module is not built yet
            raise click.ClickException(
                f"command '{cmd_name}' is not available in this build ({exc})"
            ) from exc
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their one-line help, without importing them."""
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="safemap")
def main(**_: Any) -> None:
    """safemap: epidemic risk maps and forecasts by commune and H3 cell.

    Workspace commands take --workspace DIR (default $SAFEMAP_HOME or ./workspace).
    Start with 'safemap demo'.
    """
