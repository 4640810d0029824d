"""Schema changes go through Alembic only; this finds the scripts and runs them."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from monitor.errors import ConfigError


def migrations_dir() -> Path:
    # The scripts live at the repository top (src/monitor/store -> ../../../migrations); an
    # installed copy run from a checkout (the Docker image) finds them under the working folder.
    candidates = [Path(__file__).resolve().parents[3] / "migrations", Path.cwd() / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError(
        "cannot find the Alembic migrations folder; run from the repository checkout",
        file=candidates[0],
    )


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    # The connection is handed over directly (not as a URL: configparser would choke on the
    # percent-escapes of a URL's query string).
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
