"""What every command needs, built on first use: nothing connects at import time."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.db import make_engine, session_factory
from monitor.store.migrate import current_revision, head_revision

if TYPE_CHECKING:
    from monitor.match import Matcher


class Runtime:
    def __init__(self) -> None:
        self.demo = False
        # Values a command sets before the settings are first read (`monitor demo` turns on
        # `demo_logins`); the environment still wins over them, as over settings.yaml.
        self.overrides: dict[str, Any] = {}

    @cached_property
    def settings(self) -> Settings:
        return load_settings(demo=self.demo, **self.overrides)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def migrated_sessions(self) -> sessionmaker[Session]:
        """Sessions on a database whose schema is current; otherwise a clear exit 2."""
        current, head = current_revision(self.engine), head_revision()
        if current != head:
            # A database never migrated has no revision at all: say so, not "at nothing" (#14).
            state = (
                "the database has no schema yet"
                if current is None
                else f"the database schema is at revision {current}, this version needs {head}"
            )
            raise ConfigError(f"{state}: run `monitor db upgrade`", key="MONITOR_DATABASE_URL")
        return self.sessions

    @cached_property
    def matcher(self) -> Matcher:
        """The rules in CONFIG_DIR/rules and the Quran index (cached on disk under var/cache)."""
        from monitor.match import Matcher, load_rules

        rules = load_rules(self.settings.config_dir / "rules")
        return Matcher(rules, cache_dir=self.settings.cache_path)

    def pipeline(self) -> Pipeline:
        """The collect → store → match → outbox pipeline on the migrated database."""
        return build_pipeline(self.migrated_sessions(), self.settings, matcher=self.matcher)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
