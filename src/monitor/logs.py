"""Logging for the long-running commands: text or one JSON object per line, never a secret.

``configure_logging(settings)`` installs one stderr handler on the root logger. Every record
carries the process's run id (``run``) and, inside a collection pass, the channel handle
(``channel``) and the collection run id (``collection_run``), set through context variables so
that concurrent passes (asyncio tasks) each log their own. Known secrets (the Telegram API hash,
the console secret key, the database password, subscription URLs and their tokens) are replaced
by ``***`` in every formatted line, tracebacks included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from monitor.config import Settings
from monitor.redaction import token_parts, url_secrets, userinfo_secrets

RUN_ID = uuid.uuid4().hex[:12]  # one per process: ties a process's lines together
channel_var: ContextVar[str | None] = ContextVar("monitor_log_channel", default=None)
collection_run_var: ContextVar[int | None] = ContextVar("monitor_log_collection_run", default=None)

_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_secrets: set[str] = set()
_WORD = re.compile(r"[a-z]+")
_secrets_lock = threading.Lock()
# Third-party loggers that would log a line per request or per job run at INFO.
# alembic: the schema check every command makes logs "Context impl SQLiteImpl." at INFO (#14).
_QUIET = (
    "apscheduler",
    "httpx",
    "httpcore",
    "urllib3",
    "telethon",
    "apprise",
    "uvicorn.access",
    "alembic",
)


def add_secret(value: str | None) -> None:
    """Never print ``value`` (at least 6 characters; shorter ones would mask ordinary words)."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def add_url_secrets(url: str) -> None:
    """A notification or database URL: the URL and every piece of it that may be a secret
    (userinfo, token hosts, path segments, query values; see ``redaction.url_secrets``)."""
    # The registry masks these in every line of the process: a webhook's route name ("alerts",
    # "notify") would blank that word everywhere, so all-lowercase words under 16 characters
    # are left out, unless they are the URL's user name or password, or the host or a path
    # segment of a scheme whose host is a credential (an ntfy topic; redaction.token_parts).
    always = userinfo_secrets(url) | token_parts(url)
    for secret in url_secrets(url) | always:
        if secret in always or len(secret) >= 16 or not _WORD.fullmatch(secret):
            add_secret(secret)


def redact(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


@contextmanager
def log_context(*, channel: str | None = None, collection_run: int | None = None) -> Iterator[None]:
    channel_token = channel_var.set(channel) if channel is not None else None
    run_token = collection_run_var.set(collection_run) if collection_run is not None else None
    try:
        yield
    finally:
        if run_token is not None:
            collection_run_var.reset(run_token)
        if channel_token is not None:
            channel_var.reset(channel_token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run = RUN_ID
        channel = channel_var.get()
        if channel is not None and not hasattr(record, "channel"):
            record.channel = channel
        run = collection_run_var.get()
        if run is not None and not hasattr(record, "collection_run"):
            record.collection_run = run
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _extras(record).items():
            data[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False))


class _Stderr(logging.StreamHandler[IO[str]]):
    """Whatever sys.stderr is at the time of each line (tests redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Root logging as the settings say; returns the installed handler."""
    add_secret(
        settings.telegram_api_hash.get_secret_value() if settings.telegram_api_hash else None
    )
    add_secret(settings.secret_key.get_secret_value() if settings.secret_key else None)
    if "@" in settings.database_url:
        password = urlsplit(settings.database_url).password
        add_secret(password)
    handler: logging.StreamHandler[IO[str]] = (
        logging.StreamHandler(stream) if stream is not None else _Stderr()
    )
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_monitor", False):
            root.removeHandler(old)
    handler._monitor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    quiet = max(logging.WARNING, logging.getLevelName(settings.log_level))
    for name in _QUIET:
        logging.getLogger(name).setLevel(quiet if settings.log_level != "DEBUG" else logging.INFO)
    return handler
