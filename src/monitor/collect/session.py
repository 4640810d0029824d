"""The Telethon session file: one process at a time, mode 0600, and the interactive login.

The session file is as good as the account's password, so it is created 0600 (under a 0077
umask, leaving no window where it is readable), never logged and never served. Two processes
using one session make Telegram revoke it (AuthKeyDuplicated), hence the lock file next to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from monitor.collect.source import AccountUnusable
from monitor.config import Settings
from monitor.errors import ConfigError

log = logging.getLogger(__name__)


def session_file(settings: Settings) -> Path:
    """Where Telethon keeps the session (it appends ``.session`` when the name lacks it)."""
    path = settings.telegram_session
    return path if path.name.endswith(".session") else path.with_name(path.name + ".session")


def require_credentials(settings: Settings) -> tuple[int, str]:
    if settings.telegram_api_id is None or settings.telegram_api_hash is None:
        raise ConfigError(
            "Telegram credentials missing: set MONITOR_TELEGRAM_API_ID and "
            "MONITOR_TELEGRAM_API_HASH (from my.telegram.org)",
            key="MONITOR_TELEGRAM_API_ID",
        )
    return settings.telegram_api_id, settings.telegram_api_hash.get_secret_value()


class SessionLock:
    """An exclusive, non-blocking lock on ``<session>.lock``; released when the process dies."""

    def __init__(self, session: Path) -> None:
        self.path = session.with_name(session.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ConfigError(
                f"{self.path.with_suffix('')} is in use by another monitor process "
                f"(pid {holder}); give each worker its own session file",
                key="MONITOR_TELEGRAM_SESSION",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SessionLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _secure(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + "-journal")):
        if candidate.exists():
            candidate.chmod(0o600)


def _new_client(settings: Settings, path: Path) -> Any:
    from telethon import TelegramClient

    api_id, api_hash = require_credentials(settings)
    return TelegramClient(
        str(path),
        api_id,
        api_hash,
        # FloodWait policy is ours (telegram.TelethonSource), not Telethon's silent sleep.
        flood_sleep_threshold=0,
        receive_updates=False,
    )


@contextlib.asynccontextmanager
async def open_client(settings: Settings) -> AsyncIterator[Any]:
    """A connected, authorised client on this process's session, holding its lock."""
    path = session_file(settings)
    require_credentials(settings)
    if not path.exists():
        raise AccountUnusable(f"no Telegram session at {path}: run `monitor login` first")
    with SessionLock(path):
        old = os.umask(0o077)
        try:
            client = _new_client(settings, path)
            await client.connect()
        finally:
            os.umask(old)
        try:
            _secure(path)
            if not await client.is_user_authorized():
                raise AccountUnusable(
                    f"the Telegram session at {path} is logged out or revoked: "
                    "run `monitor login` again"
                )
            yield client
        finally:
            await client.disconnect()


async def login(
    settings: Settings,
    *,
    ask: Callable[[str, bool], str],
) -> str:
    """Interactive login (phone, code, 2FA password) that writes the session file 0600."""
    path = session_file(settings)
    require_credentials(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with SessionLock(path):
        old = os.umask(0o077)
        try:
            client = _new_client(settings, path)
            await client.start(
                phone=lambda: ask("Phone number (international format)", False),
                code_callback=lambda: ask("Login code Telegram sent you", False),
                password=lambda: ask("Two-step verification password", True),
            )
        finally:
            os.umask(old)
        try:
            _secure(path)
            me = await client.get_me()
            who = " ".join(p for p in (me.first_name, me.last_name) if p) or str(me.id)
        finally:
            await client.disconnect()
    log.info("telegram login complete; session written")
    return who
