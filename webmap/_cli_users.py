"""``safemap users``: accounts of officials, modelers and admins."""

from __future__ import annotations

import sys

import click

_workspace_option = click.option(
    "--workspace",
    "workspace_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Workspace directory (default $SAFEMAP_HOME or ./workspace).",
)


def _session(workspace_dir: str | None):  # type: ignore[no-untyped-def]
    from sqlalchemy.orm import Session

    from geo.workspace import open_workspace
    from webmap.db import make_engine

    ws = open_workspace(workspace_dir)
    return Session(make_engine(ws.database_url))


@click.group("users")
def users() -> None:
    """Accounts that can log in to /officials (roles: official, modeler, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["official", "modeler", "admin"]), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@_workspace_option
def add(name: str, role: str, password_stdin: bool, workspace_dir: str | None) -> None:
    """Create the account NAME (the password is asked for, or read with --password-stdin).

    Example:

        safemap users add lan.nguyen --role official
    """
    from webmap.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _session(workspace_dir) as session:
        try:
            add_user(session, name, password, role)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"added {name} ({role})")


@users.command("list")
@_workspace_option
def list_users(workspace_dir: str | None) -> None:
    """List the accounts and their roles."""
    from sqlalchemy import select

    from webmap.db import User

    with _session(workspace_dir) as session:
        for user in session.scalars(select(User).order_by(User.name)):
            click.echo(f"{user.name}\t{user.role}\t{user.created_at:%Y-%m-%d}")
