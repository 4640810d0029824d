"""PostgreSQL connections: idle ones tested before use, readers in autocommit (#5, #7)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from monitor.store.db import PING_AFTER_IDLE, make_engine, reader_sessions, session_factory
from tests.conftest import _postgres

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg() -> Iterator[tuple[Engine, Engine]]:
    """An engine with a one-connection pool, and a separate one to watch and kill it with."""
    with _postgres() as url:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        admin = make_engine(url)
        try:
            yield engine, admin
        finally:
            engine.dispose()
            admin.dispose()


def _backend(engine: Engine) -> int:
    with session_factory(engine)() as s:
        return int(s.scalar(text("SELECT pg_backend_pid()")) or 0)


def test_an_idle_connection_the_server_dropped_is_replaced(pg: tuple[Engine, Engine]) -> None:
    engine, admin = pg
    first = _backend(engine)
    with admin.connect() as c:
        assert c.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": first})
    time.sleep(PING_AFTER_IDLE + 0.3)
    # Both kinds of session get a live connection, without an error reaching the caller.
    second = _backend(engine)
    assert second != first
    with reader_sessions(session_factory(engine))() as s:
        assert s.scalar(text("SELECT pg_backend_pid()")) == second


def test_readers_hold_no_transaction_and_writers_still_roll_back(
    pg: tuple[Engine, Engine],
) -> None:
    engine, admin = pg
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.execute(text("CREATE TABLE probe (x int)"))
    with reader_sessions(sessions)() as r:
        pid = r.scalar(text("SELECT pg_backend_pid()"))
        r.scalar(text("SELECT count(*) FROM probe"))
        with admin.connect() as c:
            state = c.scalar(text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
        assert state == "idle"  # not "idle in transaction": no BEGIN, no ROLLBACK to send
    # The same pooled connection, handed to a writer afterwards, is transactional again.
    with sessions() as s:
        assert s.scalar(text("SELECT pg_backend_pid()")) == pid
        s.execute(text("INSERT INTO probe VALUES (1)"))
        s.rollback()
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM probe")) == 0
