"""The schema exists only through Alembic, and is the same on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from monitor.store.db import make_engine
from monitor.store.migrate import current_revision, head_revision, upgrade
from monitor.store.models import Base
from monitor.store.search import is_search_table
from tests.conftest import Database, _postgres


def include_name(name: str | None, type_: str, _parent: object) -> bool:
    """The full-text search tables are dialect-specific and live outside the ORM."""
    return not (type_ == "table" and is_search_table(name))


def shape(engine: Engine) -> dict[str, set[str]]:
    insp = inspect(engine)
    return {
        t: {c["name"] for c in insp.get_columns(t)}
        for t in insp.get_table_names()
        if not is_search_table(t)
    }


def test_migrations_match_the_models(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], "models changed without a migration (alembic revision --autogenerate)"


@pytest.mark.postgres
def test_sqlite_and_postgres_get_the_same_tables(tmp_path: Path) -> None:
    lite = make_engine(f"sqlite:///{tmp_path}/same.db")
    upgrade(lite)
    with _postgres() as url:
        pg = make_engine(url)
        try:
            upgrade(pg)
            pg_shape = shape(pg)
            pg_has_search = any(is_search_table(t) for t in inspect(pg).get_table_names())
        finally:
            pg.dispose()
    assert shape(lite) == pg_shape
    # Full-text search differs by design: FTS5 on SQLite, a tsvector table on PostgreSQL.
    assert any(is_search_table(t) for t in inspect(lite).get_table_names())
    assert pg_has_search
    assert {"posts", "post_versions", "matches", "alert_outbox"} <= set(pg_shape)


def test_upgrade_is_idempotent(db: Database) -> None:
    before = shape(db.engine)
    upgrade(db.engine)
    assert shape(db.engine) == before
