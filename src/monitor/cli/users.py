"""`monitor users …`: console accounts."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from monitor.cli.context import Runtime
from monitor.errors import ConfigError
from monitor.store.models import AuditLog, User
from monitor.store.users import ROLES, add_user, check_password, end_sessions, set_password


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
    password = _read_password(password_stdin)
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
        end_sessions(user)  # so that enabling it again later revives no old cookie (#11)
        s.add(AuditLog(actor="cli", action="user.disable", target=name, detail={}))
    click.echo(f"disabled {name}")


@users_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@click.pass_obj
def passwd(rt: Runtime, name: str, password_stdin: bool) -> None:
    """Change an account's password (prompted twice, or read from stdin); ends its sessions."""
    password = _read_password(password_stdin)
    with rt.migrated_sessions().begin() as s:
        user = s.scalar(select(User).where(User.username == name))
        if user is None:
            raise ConfigError(f"no such user: {name}", key="NAME")
        set_password(s, user, password, actor="cli")
    click.echo(f"changed the password of {name}; its sessions are signed out")


def _read_password(from_stdin: bool) -> str:
    """One line of stdin, or a hidden prompt asked twice; checked before any database work."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    check_password(password)
    return str(password)


COMMANDS = [users_group]
