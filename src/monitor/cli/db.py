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
    upgrade(rt.engine)
    click.echo(f"database at revision {current_revision(rt.engine)}")


COMMANDS = [db_group]
