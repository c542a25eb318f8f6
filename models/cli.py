"""Command line of the models package: ``safemap rt`` and ``safemap risk`` (I/O edge)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from models.errors import ModelInputError, RuleSetError


def _parse_serial_interval(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        mean, sd = float(parts[0]), float(parts[1])
    except ValueError:
        raise click.BadParameter(
            f"{text!r}; expected MEAN,SD in days, e.g. 4.1,2.8 (Delta) or 3.5,2.4 (Omicron)",
            param_hint="--serial-interval",
        ) from None
    return mean, sd


@click.command("rt")
@click.option(
    "--cases",
    "cases_path",
    required=True,
    type=click.Path(dir_okay=False, exists=True),
    help="Tidy CSV with columns date, location, value (daily counts).",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output CSV: date, location, rt_median, rt_lower, rt_upper.",
)
@click.option(
    "--serial-interval",
    default="4.1,2.8",
    show_default=True,
    help="Gamma serial interval MEAN,SD in days (default: Delta; Omicron 3.5,2.4).",
)
@click.option("--window-days", default=7, show_default=True, type=int, help="Sliding window.")
@click.option(
    "--dumps",
    type=click.Choice(["redistribute", "keep"]),
    default="redistribute",
    show_default=True,
    help="Spread catch-up dumps over the zero run before them.",
)
def rt(cases_path: str, out_path: str, serial_interval: str, window_days: int, dumps: str) -> None:
    """Estimate Rt (Cori et al.) per location from a tidy daily case CSV.

    Values are empty where the data are insufficient (fewer than 20 days or at most 20
    cumulative cases).
    """
    from models.rt import cases_from_tidy, estimate_rt, redistribute_dumps, rt_to_tidy

    si = _parse_serial_interval(serial_interval)
    frame = pd.read_csv(cases_path, dtype=str, keep_default_na=False)
    try:
        cases = cases_from_tidy(frame)
        if dumps == "redistribute":
            cases = redistribute_dumps(cases)
        result = estimate_rt(cases, serial_interval=si, window_days=window_days)
    except ModelInputError as exc:
        raise click.ClickException(f"{cases_path}: {exc}") from exc
    table = rt_to_tidy(result)
    table.to_csv(out_path, index=False, na_rep="", float_format="%.4f")
    n_ok = int(result["sufficient"].sum())
    click.echo(
        f"wrote {len(table)} rows ({n_ok} with an estimate) for "
        f"{result.sizes['location']} location(s) to {out_path}"
        + (
            f"; {cases.attrs.get('dumps_redistributed', 0)} dump(s) redistributed"
            if dumps == "redistribute"
            else ""
        )
    )


def _format_list(values: object) -> str:
    return "; ".join(values) if isinstance(values, list) else ""


def _risk_table(
    cube_path: Path, rule_ids: list[str], date: str | None, adult_share: float | None
) -> tuple[pd.DataFrame, list[pd.DataFrame], list[pd.DataFrame]]:
    import xarray as xr

    from models.rt import estimate_rt
    from models.rules import assess_risk, indicators_from_cube, load_rule_set, rollup

    rule_sets = [load_rule_set(rid) for rid in rule_ids]
    with xr.open_dataset(cube_path) as cube:
        cube.load()
        indicators = indicators_from_cube(cube, date, adult_share=adult_share)
        needs_rt = any("rt" in r.criteria_used() for r in rule_sets)
        if needs_rt and "rt" not in indicators.columns and "cases" in cube.data_vars:
            # Rt per commune from the cube's daily cases (NaN where the data are insufficient)
            rt = estimate_rt(cube["cases"].transpose("date", "commune"))
            at = rt["rt_median"].sel(date=pd.Timestamp(indicators["date"].iloc[0]))
            indicators["rt"] = at.to_numpy()
        districts = (
            dict(zip(indicators["commune_code"], indicators["district"], strict=True))
            if "district" in indicators.columns
            else None
        )
    results = [assess_risk(indicators, r) for r in rule_sets]
    rolled = (
        [
            rollup(res, districts, r, indicators=indicators)
            for res, r in zip(results, rule_sets, strict=True)
        ]
        if districts is not None
        else []
    )
    return indicators, results, rolled


@click.command("risk")
@click.option(
    "--rules",
    "rule_id",
    default="4800",
    show_default=True,
    help="Rule set id (2686, 4800, 218, can, cdc).",
)
@click.option("--date", default=None, help="Assessment date YYYY-MM-DD (default: last cube date).")
@click.option(
    "--workspace",
    default=None,
    type=click.Path(file_okay=False),
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace); reads its cube.",
)
@click.option(
    "--cube",
    "cube_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True),
    help="A cube NetCDF file instead of the workspace's.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--compare", default=None, help="Comma-separated rule sets side by side, e.g. 2686,4800."
)
@click.option(
    "--rollup",
    "show_rollup",
    is_flag=True,
    help="Also print district and province levels (roll-up as the rule set says).",
)
@click.option(
    "--adult-share",
    type=float,
    default=None,
    help="Share of population aged 18+ when the cube has no population_adult.",
)
def risk(
    rule_id: str,
    date: str | None,
    workspace: str | None,
    cube_file: str | None,
    fmt: str,
    compare: str | None,
    show_rollup: bool,
    adult_share: float | None,
) -> None:
    """Score communes under an official rule set (one row per commune).

    Every row names the rule set and version; thresholds the sources did not confirm are
    listed in the 'unverified' column.
    """
    if cube_file is not None:
        cube_path = Path(cube_file)
    else:
        from geo.workspace import open_workspace

        try:
            cube_path = open_workspace(workspace, create=False).cube_path
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        if not cube_path.exists():
            raise click.ClickException(
                f"no cube at {cube_path}; build it with 'safemap build' or pass --cube FILE"
            )
    rule_ids = [r.strip() for r in compare.split(",") if r.strip()] if compare else [rule_id]
    try:
        indicators, results, rolled = _risk_table(cube_path, rule_ids, date, adult_share)
    except (RuleSetError, ModelInputError) as exc:
        raise click.ClickException(str(exc)) from exc
    if show_rollup and not rolled:
        raise click.ClickException(
            "the cube has no 'district' coordinate; --rollup needs communes mapped to districts"
        )
    names = (
        dict(zip(indicators["commune_code"], indicators["commune_name"], strict=True))
        if "commune_name" in indicators.columns
        else {}
    )
    table = _side_by_side(results, rule_ids, names, "commune_code")
    _emit(table, fmt, single=len(results) == 1)
    if show_rollup:
        if fmt == "table":
            click.echo("\ndistricts and province:")
        _emit(_side_by_side(rolled, rule_ids, {}, "unit_code"), fmt, single=len(rolled) == 1)


def _side_by_side(
    results: list[pd.DataFrame], rule_ids: list[str], names: dict[str, str], key: str
) -> pd.DataFrame:
    if len(results) == 1:
        table = results[0].copy()
    else:
        keep = [c for c in ("unit_type", key, "date") if c in results[0].columns]
        table = results[0][keep].copy()
        for rid, res in zip(rule_ids, results, strict=True):
            table[f"level_{rid}"] = res["level"].to_numpy()
            table[f"name_{rid}"] = res["level_name_en"].to_numpy()
            table[f"unverified_{rid}"] = res["unverified_criteria"].map(len).to_numpy()
    if names:
        table.insert(table.columns.get_loc(key) + 1, "commune_name", table[key].map(names))
    return table


def _emit(table: pd.DataFrame, fmt: str, *, single: bool) -> None:
    if fmt == "json":
        records = json.loads(table.to_json(orient="records", force_ascii=False))
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    flat = table.copy()
    for col in ("unverified_criteria", "criteria_missing"):
        if col in flat.columns:
            flat[col] = flat[col].map(_format_list)
    if fmt == "csv":
        click.echo(flat.to_csv(index=False, na_rep=""), nl=False)
        return
    n_unverified = table["unverified_criteria"].map(len) if single else None
    if n_unverified is not None:
        flat = flat.rename(
            columns={"unverified_criteria": "unverified", "criteria_missing": "missing"}
        )
        flat["unverified"] = n_unverified.map(lambda n: f"{n} item(s)" if n else "")
        flat = flat.drop(columns=["level_name_vi"])
    with pd.option_context(
        "display.max_rows", None, "display.width", 200, "display.max_colwidth", 40
    ):
        click.echo(flat.astype(object).where(flat.notna(), None).to_string(index=False, na_rep="-"))
    if n_unverified is not None and n_unverified.any():
        click.echo(
            "\nunverified thresholds were used (see --format csv/json for the list; "
            "docs/risk-rules.md for grades and sources)"
        )
