"""``safemap backtest`` and ``safemap score``: rolling-origin forecasts and their scores."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forecast._io import read_hub_csv, read_series_csv, write_hub_csv
from forecast.backtest import parse_forecast_dates, run_backtest
from forecast.errors import ForecastInputError
from forecast.hub import validate_hub_frame
from forecast.models import MODEL_NAMES
from forecast.scoring import relative_wis, score_forecasts, summarise_scores, truth_to_weekly


def _backtest_with_progress(
    cases: pd.DataFrame, days: list[date], model: str, seed: int, console: Console
) -> pd.DataFrame:
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{model}: forecast dates", total=len(days))
        return run_backtest(
            cases,
            days,
            model=model,  # type: ignore[arg-type]
            rng=np.random.default_rng(seed),
            on_date_done=lambda _day: progress.advance(task),
        )


@click.command("backtest")
@click.option(
    "--cases",
    "cases_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of daily incident counts: date, location, value.",
)
@click.option(
    "--forecast-dates",
    required=True,
    help="Comma-separated Mondays, e.g. 2021-06-07,2021-06-14.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hub long-format CSV to write.",
)
@click.option(
    "--model",
    type=click.Choice(MODEL_NAMES),
    default="default",
    show_default=True,
    help="Forecaster: default (pool of trend, calibrated persistence and baseline, "
    "recalibrated from its own past PITs), trend, or the COVIDhub baseline.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the baseline.")
def backtest(cases_path: Path, forecast_dates: str, out_path: Path, model: str, seed: int) -> None:
    """Rolling-origin 1-4 week quantile forecasts of a tidy daily case series.

    Each forecast date must be a Monday and uses only rows dated before it. The output
    has 23 quantiles and a point per location, forecast date and target
    '1 wk ahead inc case' ... '4 wk ahead inc case'.
    """
    console = Console(stderr=True)
    try:
        days = parse_forecast_dates(forecast_dates)
        cases = read_series_csv(cases_path)
        frame = _backtest_with_progress(cases, days, model, seed, console)
    except ForecastInputError as exc:
        raise click.ClickException(str(exc)) from exc
    write_hub_csv(frame, out_path)
    n_loc = frame["location"].nunique()
    click.echo(
        f"wrote {len(frame)} rows ({len(days)} forecast dates x {n_loc} locations x 4 "
        f"targets) to {out_path}"
    )


def _print_table(console: Console, title: str, table_frame: pd.DataFrame) -> None:
    table = Table(title=title)
    for col in table_frame.columns:
        table.add_column(str(col), justify="right")
    for row in table_frame.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


@click.command("score")
@click.option(
    "--forecasts",
    "forecasts_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hub long-format CSV of the model.",
)
@click.option(
    "--truth",
    "truth_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of daily incident counts: date, location, value (summed into epiweeks).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Hub CSV of the baseline; default: re-run the COVIDhub-baseline on the truth.",
)
@click.option(
    "--by",
    type=click.Choice(["horizon", "location", "both"]),
    default="horizon",
    show_default=True,
    help="Grouping of the score table.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the score table (all weeks and rising weeks) as CSV.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the baseline.")
def score(
    forecasts_path: Path,
    truth_path: Path,
    baseline_path: Path | None,
    by: str,
    out_path: Path | None,
    seed: int,
) -> None:
    """WIS, relative WIS against the baseline, absolute error and 50/95% coverage.

    Relative WIS is mean WIS of the model / mean WIS of the baseline over the same
    forecast dates, targets and locations. Rising weeks: observed weekly incidence above
    the week before.
    """
    console = Console()
    try:
        forecasts = validate_hub_frame(read_hub_csv(forecasts_path))
        truth_daily = read_series_csv(truth_path, what="truth")
        weekly = truth_to_weekly(truth_daily)
        scores = score_forecasts(forecasts, weekly)
        if scores.empty:
            raise ForecastInputError(
                "score: no forecast week is observed in the truth file; expected truth "
                "covering the target weeks (Sunday-Saturday) of the forecasts"
            )
        if baseline_path is not None:
            baseline = read_hub_csv(baseline_path, what="baseline")
        else:
            days = sorted(d.date() for d in forecasts["forecast_date"].unique())
            console.print(f"re-running the COVIDhub-baseline on the truth for {len(days)} dates")
            baseline = _backtest_with_progress(
                truth_daily, days, "baseline", seed, Console(stderr=True)
            )
        base_scores = score_forecasts(baseline, weekly)
        tables = {
            "all": relative_wis(scores, base_scores, by=by),
            "all, 1-4 wk pooled": relative_wis(scores, base_scores, by="overall"),
            "rising": relative_wis(scores[scores["rising"]], base_scores, by=by),
            "rising, 1-4 wk pooled": relative_wis(
                scores[scores["rising"]], base_scores, by="overall"
            ),
        }
    except ForecastInputError as exc:
        raise click.ClickException(str(exc)) from exc
    show = [
        "horizon_weeks",
        "location",
        "n",
        "wis",
        "baseline_wis",
        "relative_wis",
        "abs_error",
        "coverage_50",
        "coverage_95",
    ]
    for name, table in tables.items():
        _print_table(console, f"Scores: {name} weeks", table[[c for c in show if c in table]])
    summary = summarise_scores(scores, by="overall")
    console.print(
        f"{int(summary['n'].iloc[0])} scored forecasts; mean WIS {summary['wis'].iloc[0]:.3f}"
    )
    if out_path is not None:
        stacked = pd.concat(
            [t.assign(subset=name) for name, t in tables.items()], ignore_index=True
        )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        stacked.to_csv(out_path, index=False)
        console.print(f"wrote {out_path}")
