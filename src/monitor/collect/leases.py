"""Which worker polls which channel: row leases on ``channels`` (issue #4).

A lease is ``lease_owner`` + ``lease_until``. A worker claims free or expired rows with
``SELECT … FOR UPDATE SKIP LOCKED`` (on PostgreSQL; SQLite has one writer at a time and no
such clause, so the same statements are already exclusive there), renews its own, and gives
back what exceeds its fair share (enabled channels / live workers) so a worker that joins
later gets work. A pass re-checks its lease with one conditional UPDATE once less than half of
it remains, so a worker that stalled past its expiry never polls a channel someone else took
over. Until then no query is needed: a lease is only taken over after it expires, and only its
holder gives it up early.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, text, true, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.models import Channel, utcnow

_APP_PREFIX = "monitor worker "


class Leases:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        worker: str,
        *,
        ttl: int = 600,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.worker = worker
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self._until: dict[int, datetime] = {}  # leases this worker wrote, while it holds them

    def _free(self, now: datetime) -> ColumnElement[bool]:
        return or_(
            Channel.lease_owner.is_(None),
            Channel.lease_owner == self.worker,
            Channel.lease_until.is_(None),
            Channel.lease_until < now,
        )

    def hold(self, channel_id: int) -> bool:
        """Claim or renew one channel's lease; False while another live worker holds it."""
        now = self.clock()
        until = self._until.get(channel_id)
        if until is not None and until - now > self.ttl / 2:
            return True
        with self.sessions.begin() as s:
            done = s.execute(
                update(Channel)
                .where(Channel.id == channel_id, self._free(now))
                .values(lease_owner=self.worker, lease_until=now + self.ttl)
                .execution_options(synchronize_session=False)
            )
            held = bool(getattr(done, "rowcount", 0))
        if held:
            self._until[channel_id] = now + self.ttl
        else:
            self._until.pop(channel_id, None)
        return held

    def holder(self, channel_id: int) -> str | None:
        with self.sessions() as s:
            row = s.execute(
                select(Channel.lease_owner, Channel.lease_until).where(Channel.id == channel_id)
            ).one_or_none()
        if row is None or row.lease_until is None or row.lease_until < self.clock():
            return None
        return row.lease_owner if row.lease_owner != self.worker else None

    def release(self, ids: set[int] | None = None) -> None:
        if ids is None:
            self._until.clear()
        for cid in ids or ():
            self._until.pop(cid, None)
        with self.sessions.begin() as s:
            stmt = update(Channel).where(Channel.lease_owner == self.worker)
            if ids is not None:
                stmt = stmt.where(Channel.id.in_(ids))
            s.execute(
                stmt.values(lease_owner=None, lease_until=None).execution_options(
                    synchronize_session=False
                )
            )

    def _others(self, s: Session, now: datetime) -> set[str]:
        """Other live workers: lease holders, and on PostgreSQL every connected worker.

        A worker that holds nothing yet is visible only through its connection's
        application_name; without that, the first worker would keep every channel forever.
        The name disappears with the connection when a worker dies.
        """
        live = set(
            s.scalars(
                select(Channel.lease_owner)
                .where(Channel.lease_owner.is_not(None), Channel.lease_until >= now)
                .distinct()
            )
        )
        if s.get_bind().dialect.name == "postgresql":
            me = (_APP_PREFIX + self.worker)[:63]  # NAMEDATALEN
            s.execute(text("SELECT set_config('application_name', :me, false)"), {"me": me})
            for name in s.scalars(
                text(
                    "SELECT DISTINCT application_name FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name LIKE :p"
                ),
                {"p": _APP_PREFIX + "%"},
            ):
                live.add(name.removeprefix(_APP_PREFIX) if name != me else self.worker)
        live.discard(self.worker)
        return {str(w) for w in live}

    def rebalance(self, eligible: ColumnElement[bool] | None = None) -> set[int]:
        """Renew this worker's fair share of eligible enabled channels and claim the rest of it."""
        now = self.clock()
        until = now + self.ttl
        wanted = and_(Channel.enabled.is_(True), eligible if eligible is not None else true())
        with self.sessions.begin() as s:
            total = s.scalar(select(func.count()).select_from(Channel).where(wanted)) or 0
            share = math.ceil(total / (len(self._others(s, now)) + 1))
            mine = list(
                s.scalars(
                    select(Channel.id)
                    .where(wanted, Channel.lease_owner == self.worker)
                    .order_by(Channel.id)
                    .with_for_update(skip_locked=True)
                )
            )
            keep = mine[:share]
            # Channels disabled or no longer eligible are given back as well.
            s.execute(
                update(Channel)
                .where(Channel.lease_owner == self.worker, Channel.id.not_in(keep))
                .values(lease_owner=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            claimed: list[int] = []
            if len(keep) < share:
                claimed = list(
                    s.scalars(
                        select(Channel.id)
                        .where(
                            wanted,
                            or_(
                                Channel.lease_owner.is_(None),
                                Channel.lease_until.is_(None),
                                Channel.lease_until < now,
                            ),
                        )
                        .order_by(Channel.lease_until.is_not(None), Channel.id)
                        .limit(share - len(keep))
                        .with_for_update(skip_locked=True)
                    )
                )
            held = keep + claimed
            if held:
                s.execute(
                    update(Channel)
                    .where(Channel.id.in_(held))
                    .values(lease_owner=self.worker, lease_until=until)
                    .execution_options(synchronize_session=False)
                )
        self._until = dict.fromkeys(held, until)
        return set(held)
