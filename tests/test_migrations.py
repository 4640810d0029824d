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
from tests.conftest import Database, _postgres


def shape(engine: Engine) -> dict[str, set[str]]:
    insp = inspect(engine)
    return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()}


def test_migrations_match_the_models(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
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
        finally:
            pg.dispose()
    assert shape(lite) == pg_shape
    assert {"posts", "post_versions", "matches", "alert_outbox"} <= set(pg_shape)


def test_upgrade_is_idempotent(db: Database) -> None:
    before = shape(db.engine)
    upgrade(db.engine)
    assert shape(db.engine) == before
