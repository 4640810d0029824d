"""`monitor users …`: console accounts."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from monitor.cli.context import Runtime
from monitor.errors import ConfigError
from monitor.store.models import AuditLog, User
from monitor.store.users import ROLES, add_user


@click.group("users")
def users_group() -> None:
    """Console accounts: analyst (review), operator (+ channels, rules), admin (+ users)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def add(rt: Runtime, name: str, role: str, password_stdin: bool) -> None:
    """Create a console account; the password is prompted for (or read from stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with rt.migrated_sessions().begin() as s:
        add_user(s, name, role, password, actor="cli")
    click.echo(f"added {role} {name}")


@users_group.command("list")
@click.pass_obj
def list_(rt: Runtime) -> None:
    """List accounts with role and state."""
    with rt.migrated_sessions()() as s:
        for u in s.scalars(select(User).order_by(User.username)):
            state = "disabled" if u.disabled else "active"
            click.echo(f"{u.username:<24} {u.role:<9} {state}")


@users_group.command("disable")
@click.argument("name")
@click.pass_obj
def disable(rt: Runtime, name: str) -> None:
    """Disable an account: it can no longer log in; its reviews stay."""
    with rt.migrated_sessions().begin() as s:
        user = s.scalar(select(User).where(User.username == name))
        if user is None:
            raise ConfigError(f"no such user: {name}", key="NAME")
        user.disabled = True
        s.add(AuditLog(actor="cli", action="user.disable", target=name, detail={}))
    click.echo(f"disabled {name}")


COMMANDS = [users_group]
