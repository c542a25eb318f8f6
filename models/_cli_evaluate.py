"""``safemap evaluate-risk``: rolling-origin scores of the regression risk models."""

from __future__ import annotations

import click
import pandas as pd


@click.command("evaluate-risk")
@click.option(
    "--data",
    type=click.Choice(["bac-ninh-2021", "workspace"]),
    default="bac-ninh-2021",
    show_default=True,
    help="bac-ninh-2021: the real Bắc Ninh commune series (Apr-Jul 2021) shipped with safemap; "
    "workspace: the cube of --workspace.",
)
@click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace whose cube.nc is evaluated (with --data workspace).",
)
@click.option("--first-origin", default=None, help="First origin day (default: 4 weeks in).")
@click.option("--top-k", default=10, show_default=True, help="Length of the ranked list.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the per-origin table as CSV.",
)
def evaluate_risk(
    data: str, workspace_dir: str | None, first_origin: str | None, top_k: int, out: str | None
) -> None:
    """Score the next-week risk models against the naive ranking by last week's cases.

    At each weekly origin the models are fitted on earlier weeks only, then rank every
    commune. Printed per origin and on average: AUC of "at least one case next week",
    share of next week's cases in the top-k communes, AUC of the upturn warning. "model" is
    the additive count model that ranks communes; "glm" the negative binomial rate model.

    Example:

        safemap evaluate-risk --data bac-ninh-2021
    """
    from boundaries.sets import load_boundary_set
    from geo.build import read_cube
    from geo.cube import build_cube
    from geo.epi import commune_cases_to_codes, read_bacninh_commune_series
    from geo.workspace import open_workspace
    from models.features import rook_adjacency
    from models.risk_evaluation import evaluate_rankings, summarise

    if data == "bac-ninh-2021":
        communes = load_boundary_set("bac-ninh-2021")
        matched, unmatched = commune_cases_to_codes(read_bacninh_commune_series(), communes)
        rows = matched.loc[matched.index.repeat(matched["cases"])]
        cube = build_cube(
            {"cases": rows.rename(columns={"date": "report_date"})},
            communes,
            start="2021-04-27",
            end="2021-07-13",
        )
        click.echo(
            f"real Bắc Ninh series: {int(matched['cases'].sum())} cases in "
            f"{matched['commune_code'].nunique()} communes "
            f"({int(unmatched['new_cases'].sum())} living outside the province left out)"
        )
        default_first = "2021-05-24"
    else:
        ws = open_workspace(workspace_dir, create=False)
        if not ws.cube_path.exists():
            raise click.ClickException(f"no cube in {ws.root}; run 'safemap build' first")
        cube = read_cube(ws.cube_path)
        communes = load_boundary_set(ws.config.boundary_set, workspace_dir=ws.root)
        default_first = str((pd.Timestamp(cube["date"].values[0]) + pd.Timedelta(days=27)).date())
    last = pd.Timestamp(cube["date"].values[-1]) - pd.Timedelta(days=6)
    origins = pd.date_range(first_origin or default_first, last, freq="7D")
    if len(origins) == 0:
        raise click.ClickException(
            "no origin with a full week of data after it; pick an earlier one"
        )
    try:
        scores = evaluate_rankings(cube, rook_adjacency(communes), origins, top_k=top_k)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(scores.round(3).to_string())
    click.echo("\nmean over origins (model vs naive):")
    summary = summarise(scores)
    click.echo(summary.round(3).to_string())
    met = (
        summary["auc_model"] > summary["auc_naive"]
        and summary["top_k_model"] > summary["top_k_naive"]
    )
    click.echo(
        f"\ngoal (model beats the naive ranking on AUC and top-{top_k} share): "
        + ("met" if met else "NOT met")
    )
    if out:
        scores.to_csv(out)
        click.echo(f"wrote {out}")
