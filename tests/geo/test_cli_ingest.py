"""``safemap ingest`` and ``safemap status`` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
from click.testing import CliRunner

from geo._cli_ingest import ingest, status
from webmap.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "feeds"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run_ingest(runner: CliRunner, ws: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        ingest, [*args, "--workspace", str(ws), "--today", "2021-07-01"], catch_exceptions=False
    )


def test_ingest_prints_summary_and_is_idempotent(runner: CliRunner, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = run_ingest(runner, ws, "venues", str(EXAMPLES / "venues.csv"))
    assert first.exit_code == 0, first.output
    assert "venues.csv -> venues batch" in first.output
    assert "3 rows, 3 accepted, 0 rejected" in first.output
    again = run_ingest(runner, ws, "venues", str(EXAMPLES / "venues.csv"))
    assert again.exit_code == 0
    assert "already ingested as batch" in again.output and "nothing new stored" in again.output


def test_rejects_are_listed_with_examples_and_exit_zero(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "cases.csv"
    lines = ["case_id,report_date,commune_code,age,sex,source"]
    lines += [f"C{i},2021-05-0{i + 1},09163,30,F,community" for i in range(3)]
    lines += [f"D{i},2031-01-0{i + 1},09163,30,F,community" for i in range(7)]
    bad.write_text("\n".join(lines) + "\n", "utf-8")
    result = run_ingest(runner, tmp_path / "ws", "cases", str(bad))
    assert result.exit_code == 0, result.output
    assert "10 rows, 3 accepted, 7 rejected" in result.output
    assert "7  report_date: in the future" in result.output
    assert result.output.count("row ") == 5  # at most five example rows per reason
    assert "row 4: report_date='2031-01-01': report_date 2031-01-01 is in the future" in (
        result.output
    )
    assert "rejected rows stored in" in result.output


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "the file is empty"),
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16"),
        (b"case_id,age\nC1,3\n", "required column(s) 'report_date'"),
    ],
)
def test_unusable_file_exits_one_with_the_message(
    runner: CliRunner, tmp_path: Path, content: bytes, pattern: str
) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(content)
    result = run_ingest(runner, tmp_path / "ws", "cases", str(path))
    assert result.exit_code == 1
    assert pattern in result.output


def test_other_files_still_ingest_when_one_is_unusable(runner: CliRunner, tmp_path: Path) -> None:
    result = run_ingest(
        runner,
        tmp_path / "ws",
        "venues",
        str(tmp_path / "missing.csv"),
        str(EXAMPLES / "venues.csv"),
    )
    assert result.exit_code == 1
    assert "missing.csv: file not found" in result.output
    assert "3 accepted" in result.output


def test_unknown_feed_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(ingest, ["case", str(EXAMPLES / "cases.csv")])
    assert result.exit_code == 2
    assert "'case' is not one of 'cases', 'contacts'" in result.output


def test_status_shows_counts_date_range_and_cube(runner: CliRunner, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run_ingest(runner, ws, "venues", str(EXAMPLES / "venues.csv"))
    run_ingest(runner, ws, "checkins", str(EXAMPLES / "checkins.csv"))
    result = runner.invoke(status, ["--workspace", str(ws)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if "checkins" in ln)
    assert "2021-05-10" in line and "2021-05-11" in line and " 3 " in line
    assert "no cube yet" in result.output
    xr.Dataset(attrs={"as_of": "2021-05-11T00:00:00+07:00"}).to_netcdf(ws / "cube.nc")
    result = runner.invoke(status, ["--workspace", str(ws)])
    assert "as of 2021-05-11T00:00:00+07:00" in result.output


def test_status_without_workspace_fails_with_the_fix(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(status, ["--workspace", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no workspace at" in result.output and "pass --workspace" in result.output


@pytest.mark.parametrize("command", ["ingest", "status"])
def test_help_has_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"safemap {command}" in result.output
