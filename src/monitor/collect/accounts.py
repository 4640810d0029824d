"""The Telegram account a worker collects with: its row (one per MONITOR_TELEGRAM_ACCOUNT) and
its health, which the operators' view shows next to the channels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.store.models import Account, Channel


class AccountRow:
    def __init__(
        self, sessions: sessionmaker[Session], settings: Settings, clock: Callable[[], datetime]
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self._id: int | None = None

    def id(self, s: Session) -> int:
        """The account's id, its row created on first use."""
        if self._id is None:
            name = self.settings.telegram_account
            acc = s.scalar(select(Account).where(Account.name == name))
            if acc is None:
                acc = Account(name=name, session_path=str(self.settings.telegram_session))
                s.add(acc)
                s.flush()
            self._id = acc.id
        return self._id

    def mark(self, status: str, error: str | None = None, until: datetime | None = None) -> None:
        with self.sessions.begin() as s:
            acc = s.get_one(Account, self.id(s))
            acc.status, acc.last_error, acc.cooldown_until = status, error, until
            if status == "revoked":
                # Its channels cannot be read until the session is replaced (`monitor login`).
                s.execute(
                    update(Channel)
                    .where(Channel.source == "telethon", Channel.account_id.in_([acc.id, None]))
                    .values(status="revoked", last_error=error, last_error_at=self.clock())
                    .execution_options(synchronize_session=False)
                )
