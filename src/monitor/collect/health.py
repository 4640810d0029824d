"""Channel health, for `monitor channels list` and the console (issue #4), and the update that
records a good pass.

"Silent" compares the time since the newest post with the channel's own rhythm: the mean gap
between its posts over the last two weeks. Militia channels post in bursts, so only a silence
of several usual gaps (and at least a few hours) is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from monitor.store.models import Channel, Post, utcnow

RHYTHM_DAYS = 14
SILENCE_FACTOR = 4
MIN_SILENCE = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class HealthRow:
    channel_id: int
    handle: str
    title: str | None
    source: str
    kind: str  # monitor.channel_kinds (#12)
    group: str | None
    enabled: bool
    interval_seconds: int
    status: str  # ok | error word from the last failing pass | cooldown | silent
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    failing: bool  # the last pass failed (its error is newer than the last success)
    newest_post_at: datetime | None
    lag: timedelta | None  # since the newest post
    posts_per_day: float
    silent: bool
    cooldown_until: datetime | None
    gaps: list[list[int]]
    lease_owner: str | None

    @property
    def summary(self) -> str:
        """One readable status phrase."""
        parts = []
        if not self.enabled:
            parts.append("disabled")
        if self.cooldown_until is not None:
            parts.append(f"cooldown until {self.cooldown_until:%Y-%m-%d %H:%M} UTC")
        if self.failing and self.last_error:
            parts.append(f"{self.status}: {self.last_error}")
        if self.silent:
            parts.append("silent beyond its usual rhythm")
        if self.gaps:
            ids = ", ".join(f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in self.gaps[:3])
            more = f" (+{len(self.gaps) - 3} more)" if len(self.gaps) > 3 else ""
            parts.append(f"gaps {ids}{more}")
        if not parts:
            parts.append("ok" if self.last_success_at else "never collected")
        return "; ".join(parts)


def channel_health(session: Session, *, now: datetime | None = None) -> list[HealthRow]:
    now = now or utcnow()
    since = now - timedelta(days=RHYTHM_DAYS)
    recent: dict[int, int] = {
        cid: n
        for cid, n in session.execute(
            select(Post.channel_id, func.count())
            .where(Post.date >= since)
            .group_by(Post.channel_id)
        )
    }
    rows = []
    for ch in session.scalars(select(Channel).order_by(Channel.handle)):
        per_day = recent.get(ch.id, 0) / RHYTHM_DAYS
        lag = now - ch.newest_post_at if ch.newest_post_at else None
        silent = False
        if lag is not None and per_day > 0 and ch.enabled:
            usual = timedelta(days=1) / per_day
            silent = lag > max(SILENCE_FACTOR * usual, MIN_SILENCE)
        failing = ch.last_error_at is not None and (
            ch.last_success_at is None or ch.last_error_at >= ch.last_success_at
        )
        cooldown = ch.cooldown_until if ch.cooldown_until and ch.cooldown_until > now else None
        status = ch.status if failing else ("cooldown" if cooldown else "ok")
        if status == "ok" and silent:
            status = "silent"
        rows.append(
            HealthRow(
                channel_id=ch.id,
                handle=ch.handle,
                title=ch.title,
                source=ch.source,
                kind=ch.kind,
                group=ch.group.name if ch.group else None,
                enabled=ch.enabled,
                interval_seconds=ch.interval_seconds,
                status=status,
                last_success_at=ch.last_success_at,
                last_error_at=ch.last_error_at,
                last_error=ch.last_error,
                failing=failing,
                newest_post_at=ch.newest_post_at,
                lag=lag,
                posts_per_day=per_day,
                silent=silent,
                cooldown_until=cooldown,
                gaps=[list(g) for g in ch.gaps or []],
                lease_owner=ch.lease_owner
                if ch.lease_until is not None and ch.lease_until > now
                else None,
            )
        )
    return rows


@cache
def healthy(*, stamp: bool) -> Update:
    """The end of a good pass: status ok, gaps as they stand, and (``stamp``) the success time
    when no store did it. Built once, like the window query (issue #4's per-channel budget)."""
    values: dict[str, object] = {
        "status": "ok",
        "cooldown_until": None,
        "gaps": bindparam("gaps", type_=Channel.__table__.c.gaps.type),
    }
    if stamp:
        values["last_success_at"] = bindparam("at", type_=Channel.__table__.c.last_success_at.type)
    return (
        update(Channel)
        .where(Channel.id == bindparam("cid"))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
