"""``safemap locate``: match Vietnamese addresses to communes, CSV on stdout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

HELP_EPILOG = """
\b
Examples:
  safemap locate "Thôn Đông, xã Ninh Xá, huyện Thuận Thành, Bắc Ninh"
  safemap locate "p. vu ninh tp bac ninh" "Ninh Xá" --province "Bắc Ninh"
  safemap locate --file addresses.txt > located.csv
  safemap locate --file addresses.txt --boundary-set bac-ninh-2025

\b
Output columns: address, commune_code, commune_name, status, candidates.
status is matched, ambiguous (several communes fit: add the district), unknown
(no commune fits, or outside the province) or empty. Rejected rows list the
candidate communes as "09184 Phường Ninh Xá (Thành phố Bắc Ninh); ...".
Nothing is guessed; the exit status is 0 even when rows are rejected.
"""


def read_address_file(path: str) -> list[str]:
    """Read one address per line (UTF-8, a BOM tolerated; blank lines skipped).

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    list of str
        The addresses, stripped, in file order.

    Raises
    ------
    click.BadParameter
        When the file is not UTF-8 text.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise click.BadParameter(
            f"line {line}: byte {raw[exc.start : exc.start + 1]!r} is not UTF-8; expected "
            "a UTF-8 text file with one address per line; re-save it as UTF-8",
            param_hint="--file",
        ) from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


@click.command("locate", epilog=HELP_EPILOG)
@click.argument("addresses", nargs=-1)
@click.option(
    "--file",
    "file_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Text file with one address per line (UTF-8, BOM tolerated).",
)
@click.option(
    "--boundary-set",
    default="bac-ninh-2021",
    show_default=True,
    help="Boundary set whose communes are matched (see 'safemap boundaries').",
)
@click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace holding imported boundary sets and the build cache.",
)
@click.option(
    "--province",
    "provinces",
    multiple=True,
    help="Province the set covers (repeatable); addresses ending in another province "
    "are then rejected as outside. Example: --province 'Bắc Ninh'.",
)
def locate(
    addresses: tuple[str, ...],
    file_path: str | None,
    boundary_set: str,
    workspace_dir: str | None,
    provinces: tuple[str, ...],
) -> None:
    """Match free-text Vietnamese addresses to communes; write CSV to stdout.

    ADDRESS arguments and the lines of --file are matched in that order, with or
    without diacritics, type words (xã, P., TT, huyện, TP ...), hamlet and street
    parts, and one typo per name.
    """
    from boundaries.sets import load_boundary_set
    from geo.address import build_gazetteer, match_addresses

    items = list(addresses)
    if file_path is not None:
        items += read_address_file(file_path)
    if not items:
        raise click.UsageError("give at least one ADDRESS or --file FILE")
    try:
        communes = load_boundary_set(boundary_set, workspace_dir=workspace_dir)
        gazetteer = build_gazetteer(communes, province_names=provinces)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    table = match_addresses(items, gazetteer)
    table.to_csv(sys.stdout, index=False, lineterminator="\n")
