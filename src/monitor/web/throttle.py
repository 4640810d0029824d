"""The console's login limit: a budget of password checks per account, shared by every worker.

Each attempt first *claims* one check from the account's budget — a ``pending`` row in
``login_failures`` written before the password is verified, turned into a failure if it was
wrong and deleted if it was right — so that twenty parallel guesses cannot all read "4
failures so far" and all go ahead (#11, finding 8: they got 8 checks where 5 are allowed).
When the budget is taken only by checks still in flight, the attempt waits for them instead
of being refused: twenty analysts of one shared account signing in at once all get in. The
claim is serialised per account: on PostgreSQL by a transaction-scoped advisory lock on the
name, on SQLite by making the claim's first statement a write, which takes the database's
single write lock. Both hold across worker processes, and neither is held during the check.

The failures of one client address are counted too, but never refuse a right password: behind
a proxy, or a shared NAT, one guesser would otherwise lock every analyst out. A noisy address
is only told to slow down when its guess is wrong (429 instead of 401) and marked in the audit
log; the per-account budget is what stops guessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from monitor.store.models import LoginFailure, utcnow

IN_FLIGHT = 0  # claim(): no check free now, but one will be when those in progress settle
STALE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Claim:
    """One password check granted: ``row`` is its provisional failure; ``noisy`` when the
    client address is over its own failure limit."""

    row: int
    noisy: bool
    client_wait: int


class LoginLimiter:
    """``per_user`` password checks per account and ``per_client`` failures per address in a
    sliding ``window`` of seconds."""

    def __init__(
        self,
        per_user: int = 5,
        per_client: int = 30,
        window: float = 300.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.per_user, self.per_client = per_user, per_client
        self.window = timedelta(seconds=window)
        self.clock = clock

    def claim(self, s: Session, client: str, username: str) -> Claim | int:
        """Reserve one password check for ``username``; else the seconds until one is free,
        or ``IN_FLIGHT`` when checks in progress hold the rest of the budget (ask again soon).

        Commit ``s`` before checking the password: the claim must be visible to the others."""
        now, name, client = self.clock(), _name(username), client[:100]
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(name)})
        # On SQLite this write comes first and so takes the write lock until commit.
        # Expired rows go as new ones come: the table never holds more than one window.
        s.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
        recent = LoginFailure.at > now - self.window
        # A check that has not settled in a minute died with its process: it counts as failed.
        in_flight = LoginFailure.pending & (LoginFailure.at > now - STALE)
        failed, pending, oldest = s.execute(
            select(
                func.count().filter(~in_flight),
                func.count().filter(in_flight),
                func.min(LoginFailure.at).filter(~in_flight),
            ).where(recent, LoginFailure.username == name)
        ).one()
        if failed >= self.per_user:
            return self._wait(oldest, now)
        if failed + pending >= self.per_user:
            return IN_FLIGHT
        by_client, client_oldest = s.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                recent, LoginFailure.client == client, ~in_flight
            )
        ).one()
        row = LoginFailure(client=client, username=name, at=now, pending=True)
        s.add(row)
        s.flush()
        noisy = by_client >= self.per_client
        return Claim(row.id, noisy, self._wait(client_oldest, now) if noisy else 0)

    def failed(self, s: Session, claim: Claim) -> None:
        """A wrong password: the claim stays, as one failure of the account's budget."""
        s.execute(update(LoginFailure).where(LoginFailure.id == claim.row).values(pending=False))

    def succeeded(self, s: Session, claim: Claim, client: str, username: str) -> None:
        """A right password: withdraw the claim and forget this address's typos for the name."""
        s.execute(delete(LoginFailure).where(LoginFailure.id == claim.row))
        s.execute(
            delete(LoginFailure).where(
                LoginFailure.client == client[:100],
                LoginFailure.username == _name(username),
                ~LoginFailure.pending,
            )
        )

    def _wait(self, oldest: datetime, now: datetime) -> int:
        return max(1, int((oldest + self.window - now).total_seconds()) + 1)


def _name(username: str) -> str:
    return username.lower()[:100]


def _lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key for the account name."""
    digest = hashlib.sha256(b"monitor.login:" + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
