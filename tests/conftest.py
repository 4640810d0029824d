"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when configured) and an
in-process runner for the `monitor` command.

PostgreSQL tests run when MONITOR_TEST_DATABASE_URL is set; each gets its own schema. With
MONITOR_REQUIRE_POSTGRES=1 (as in CI) a missing database fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.channels import ensure_channel, get_group
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config"
SAMPLE = CONFIG / "sample" / "result.json"
SAMPLE_POSTS = 46 + 10 + 9 + 6  # result.json and the three exports under config/sample/exports


def postgres_url() -> str:
    url = os.environ.get("MONITOR_TEST_DATABASE_URL")
    if not url:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES") == "1":
            pytest.fail("MONITOR_REQUIRE_POSTGRES=1 but MONITOR_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL not configured (set MONITOR_TEST_DATABASE_URL)")
    return url


@dataclass
class Database:
    url: str  # usable as MONITOR_DATABASE_URL by CLI runs in the same test
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


@contextlib.contextmanager
def _sqlite(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'monitor.db'}"


def _postgres() -> contextlib.AbstractContextManager[str]:
    return scratch_schema(postgres_url(), "t")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated database: every test runs on SQLite and on PostgreSQL."""
    ctx = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    with ctx as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Database(url, engine, session_factory(engine))
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on each backend, not migrated: for tests of one migration's upgrade of
    rows an older schema held."""
    ctx = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    with ctx as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """SQLite only, for tests of behaviour that does not depend on the backend."""
    with _sqlite(tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            yield Database(url, engine, session_factory(engine))
        finally:
            engine.dispose()


def add_channel(
    db: Database, handle: str, group: str | None = None, parent: str | None = None
) -> int:
    """Register a channel (and its group, under ``parent``); returns its id."""
    with db.sessions.begin() as s:
        channel = ensure_channel(s, handle, group=group)
        if group and parent:
            g = get_group(s, group)
            assert g is not None
            g.parent = get_group(s, parent)
        return channel.id


@dataclass
class CliResult:
    code: int
    out: str
    err: str


CliRunner = Callable[..., CliResult]


@pytest.fixture(scope="session")
def match_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One matcher cache for the whole run: a cold build of the rules takes seconds (#12), and
    its files are keyed by the rules' hash, so every test reading the same rules shares them."""
    return tmp_path_factory.getbasetemp() / "match-cache"


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, match_cache: Path) -> CliRunner:
    """Run `monitor ARGS` in-process; returns exit code, stdout and stderr.

    Environment defaults: config from the repository, database in tmp_path (override with
    db_url=...); `input` feeds stdin.
    """
    from monitor.cli import main

    def run(
        *args: str, input: str | None = None, db_url: str | None = None, **env: str
    ) -> CliResult:
        monkeypatch.setenv("MONITOR_CONFIG_DIR", env.pop("config_dir", str(CONFIG)))
        monkeypatch.setenv("MONITOR_DATABASE_URL", db_url or f"sqlite:///{tmp_path / 'cli.db'}")
        monkeypatch.setenv("MONITOR_VAR_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("MONITOR_CACHE_DIR", str(match_cache))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.StringIO(input or ""))
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run
