"""The schema exists only through Alembic, and is the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from monitor.store.db import make_engine
from monitor.store.migrate import alembic_config, current_revision, head_revision, upgrade
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


def test_console_subscriptions_made_before_0004_are_checked_from_then_on(
    bare_engine: Engine,
) -> None:
    """Only the console gives a subscription an owner; those are the ones to check again."""
    engine = bare_engine
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, disabled,"
                " created_at) VALUES (1, 'ana', 'x', 'analyst', false, CURRENT_TIMESTAMP)"
            )
        )
        for name, owner in (("from-console", 1), ("from-cli", None)):
            conn.execute(
                text(
                    "INSERT INTO subscriptions (name, url, owner_id, min_severity, kinds,"
                    " groups, channels, refs, enabled, created_at) VALUES (:n,"
                    " 'json://example.org/h', :o, 'high', '[]', '[]', '[]', '[]', true,"
                    " CURRENT_TIMESTAMP)"
                ),
                {"n": name, "o": owner},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, check_destination FROM subscriptions"))
        flags = {name: bool(flag) for name, flag in rows}
    assert flags == {"from-console": True, "from-cli": False}


def test_accounts_made_before_0005_get_a_session_epoch(bare_engine: Engine) -> None:
    """Existing users keep their accounts; 0005 gives each the epoch a new cookie will carry."""
    engine = bare_engine
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, password_hash, role, disabled,"
                " created_at) VALUES (1, 'ana', 'x', 'analyst', false, CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        epochs = list(conn.execute(text("SELECT username, session_epoch FROM users")))
    assert [tuple(row) for row in epochs] == [("ana", 0)]


def test_channels_made_before_0006_are_group_channels(bare_engine: Engine) -> None:
    """#12: existing channels keep flagging as they did, as a group's own channel."""
    engine = bare_engine
    upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO channels (handle, source, interval_seconds, enabled, cursor,"
                " gaps, status, created_at) VALUES ('old_chan', 'web', 300, true, 0,"
                " '[]', 'ok', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        kinds = list(conn.execute(text("SELECT handle, kind FROM channels")))
    # and back: the column goes, the channel stays
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    with engine.connect() as conn:
        left = {c["name"] for c in inspect(engine).get_columns("channels")}
        handles = list(conn.execute(text("SELECT handle FROM channels")))
    assert [tuple(row) for row in kinds] == [("old_chan", "group")]
    assert "kind" not in left and [tuple(r) for r in handles] == [("old_chan",)]


def test_registry_edits_made_before_0015_keep_their_aliases_and_note(bare_engine: Engine) -> None:
    """#16: an alias-and-note edit becomes two of the row's fields, and back again."""
    engine = bare_engine
    upgrade(engine, "0014")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO registry_overrides (kind, ref, aliases, note, updated_by,"
                " updated_at) VALUES ('person', 'akram-al-kaabi', '[\"الكعبي\"]',"
                " 'corrected', 'op', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    with engine.begin() as conn:
        upgraded = list(conn.execute(text("SELECT ref, fields, added FROM registry_overrides")))
        conn.execute(
            text(
                "INSERT INTO registry_overrides (kind, ref, fields, added, updated_by,"
                " updated_at) VALUES ('site', 'q-west', '{\"name\": \"Q\"}', true, 'op',"
                " CURRENT_TIMESTAMP)"
            )
        )
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")
    with engine.connect() as conn:
        left = {c["name"] for c in inspect(engine).get_columns("registry_overrides")}
        back = list(conn.execute(text("SELECT ref, aliases, note FROM registry_overrides")))
    [(ref, fields, added)] = upgraded
    fields = json.loads(fields) if isinstance(fields, str) else fields
    assert (ref, fields, bool(added)) == (
        "akram-al-kaabi",
        {"aliases": ["الكعبي"], "note": "corrected"},
        False,
    )
    assert "fields" not in left and "added" not in left
    # The entry added in the console goes: 0014 holds no whole entry.
    [(ref, aliases, note)] = back
    aliases = json.loads(aliases) if isinstance(aliases, str) else aliases
    assert (ref, aliases, note) == ("akram-al-kaabi", ["الكعبي"], "corrected")
