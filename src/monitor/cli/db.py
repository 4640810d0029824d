"""`monitor db …`: schema management."""

from __future__ import annotations

import click

from monitor.cli.context import Runtime
from monitor.store.migrate import current_revision, upgrade


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(rt: Runtime) -> None:
    """Apply all migrations (Alembic `upgrade head`) to MONITOR_DATABASE_URL."""
    # The one command that migrates says what it did (#14); the others only check the revision
    # and keep Alembic's INFO lines out of their logs.
    before = current_revision(rt.engine)
    upgrade(rt.engine)
    after = current_revision(rt.engine)
    if before == after:
        click.echo(f"database already at revision {after}: nothing to do")
    else:
        click.echo(f"database upgraded from {before or 'no schema'} to revision {after}")


COMMANDS = [db_group]
