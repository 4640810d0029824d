"""Engine and session creation. Nothing here runs at import time."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    InvalidatePoolError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from monitor.errors import ConfigError


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    cur = dbapi_conn.cursor()
    # WAL lets the console read while a collector writes; busy_timeout rides out short locks.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}", key="MONITOR_DATABASE_URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        # psycopg 3 is the driver we ship; plain postgresql:// would look for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    if "connect_timeout" not in parsed.query:
        # A database host that drops packets must not hang a pass (or /readyz) for minutes.
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT)
    engine = create_engine(parsed, **kwargs)
    _ping_when_idle(engine)
    return engine


CONNECT_TIMEOUT = 10
# A pooled connection unused for this long is tested before it is handed out.
PING_AFTER_IDLE = 2.0
_IDLE_SINCE = "monitor.idle_since"


def _ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat idle.

    The stock pre-ping costs a round trip, and outside autocommit a BEGIN too, on every
    checkout: two of the ~13 waits on the server of a console page (#5 benchmark). A connection
    handed back moments ago is as alive as a ping would show; one that sat idle (a server
    restart, a firewall's idle timeout) is tested, and a dead one makes the pool drop every
    connection older than it, as the stock pre-ping does.
    """

    @event.listens_for(engine, "checkin")
    def _idle(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # a fresh connection, or one in steady use
        # In autocommit, so that the ping neither costs a BEGIN nor leaves a transaction open,
        # in which psycopg would refuse the switch to autocommit of a reader (below).
        try:
            dbapi.autocommit = True
            try:
                engine.dialect.do_ping(dbapi)
            finally:
                dbapi.autocommit = False
        except Exception as exc:
            raise InvalidatePoolError(f"idle connection failed its ping: {exc}") from exc


def reader_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for requests that only read (the console's GET pages).

    On PostgreSQL they run in autocommit: no BEGIN and ROLLBACK around every page, and psycopg
    keeps its prepared statements, which it drops on every ROLLBACK. Each statement then reads
    its own snapshot, which a page of independent reads does not notice. SQLite keeps its
    transactions, which cost no round trip.
    """
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name == "sqlite":
        return sessions
    return sessionmaker(
        bind.execution_options(isolation_level="AUTOCOMMIT"),
        expire_on_commit=False,
        info={"autocommit": True},
    )


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached (as opposed to a bug or bad data)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed whole or rolled back whole."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def scratch_schema(url: str, prefix: str = "scratch") -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a fresh schema, dropped afterwards.

    Tests and benchmarks use it so that a shared database is left exactly as it was.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        sep = "&" if "?" in url else "?"
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
