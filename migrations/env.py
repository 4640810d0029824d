"""Alembic environment: takes the engine or URL handed over by monitor.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from monitor.store.db import make_engine
from monitor.store.models import Base

config = context.config
target_metadata = Base.metadata


def _include_name(name: str | None, type_: str, _parent: object) -> bool:
    # The full-text search tables (0002) are dialect-specific and outside the ORM models;
    # without this, autogenerate would propose dropping them.
    from monitor.store.search import is_search_table

    return not (type_ == "table" and is_search_table(name))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        # SQLite cannot ALTER most things in place: batch mode recreates the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from monitor.config import load_settings

        url = load_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
