"""The media job queue (#13): leases on rows of ``jobs`` that any number of workers share.

``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never lease one job; SQLite
has one writer at a time, so the same statements are already exclusive there. A lease that
runs out (a worker killed mid-image) is taken by the next worker, until the job has had
``media_attempts``; then it fails, so that an image that kills its worker cannot block the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.store.models import Channel, Job, MediaFile, Post

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Work:
    """One leased job: what the worker needs to fetch and read its image."""

    job_id: int
    media_id: int
    attempts: int
    sha256: str | None
    origin: str
    url: str | None
    path: str | None
    channel: str
    message_id: int


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def update_own(s: Session, work: Work, worker: str, **values: object) -> bool:
    """Update ``work``'s job if it is still this attempt's: leased by ``worker``, running, not
    requeued since (an edit to another image resets attempts, media/enqueue.py)."""
    done = s.execute(
        update(Job)
        .where(
            Job.id == work.job_id,
            Job.state == "running",
            Job.lease_owner == worker,
            Job.attempts == work.attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


class JobQueue:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        worker: str,
        attempts: int,
        clock: Callable[[], datetime],
        telegram: bool,
    ) -> None:
        self.sessions = sessions
        self.worker = worker
        self.attempts = attempts
        self.clock = clock
        self.telegram = telegram

    def lease(self, limit: int) -> list[Work]:
        now = self.clock()
        with self.sessions.begin() as s:
            self._expire(s, now)
            q = (
                select(Job.id)
                .join(MediaFile, MediaFile.id == Job.media_id)
                .where(
                    Job.kind == "media",
                    Job.state.in_(("queued", "running")),
                    Job.run_after <= now,
                    or_(Job.lease_until.is_(None), Job.lease_until < now),
                )
                .order_by(Job.run_after, Job.id)
                .limit(limit)
            )
            if not self.telegram:
                q = q.where(or_(MediaFile.origin != "telethon", MediaFile.sha256.is_not(None)))
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(s.scalars(q))
            if not ids:
                return []
            s.execute(
                update(Job)
                .where(Job.id.in_(ids))
                .values(
                    state="running",
                    lease_owner=self.worker,
                    lease_until=now + LEASE,
                    attempts=Job.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            rows = s.execute(
                select(Job, MediaFile, Post.message_id, Channel.handle)
                .join(MediaFile, MediaFile.id == Job.media_id)
                .join(Post, Post.id == MediaFile.post_id)
                .join(Channel, Channel.id == Post.channel_id)
                .where(Job.id.in_(ids))
                .order_by(Job.id)
            ).all()
            return [
                Work(
                    job.id,
                    m.id,
                    job.attempts,
                    m.sha256,
                    m.origin,
                    m.url,
                    m.path,
                    handle,
                    message_id,
                )
                for job, m, message_id, handle in rows
            ]

    def _expire(self, s: Session, now: datetime) -> None:
        """Fail the jobs whose worker died in their last allowed attempt.

        Without this, an image that kills its worker (or outlasts every lease) is leased
        again forever, and each time takes a batch slot from the images behind it."""
        stale = (
            select(Job.id, Job.media_id, Job.attempts)
            .where(
                Job.kind == "media",
                Job.state == "running",
                Job.lease_until < now,
                Job.attempts >= self.attempts,
            )
            .limit(100)
        )
        if s.get_bind().dialect.name == "postgresql":
            stale = stale.with_for_update(skip_locked=True)
        for job_id, media_id, attempts in s.execute(stale).all():
            reason = f"the worker stopped during the attempt (gave up after {attempts} attempts)"
            log.warning("media %d: %s", media_id, reason)
            s.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(
                    state="failed",
                    lease_owner=None,
                    lease_until=None,
                    error=reason,
                    finished_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            s.execute(
                update(MediaFile)
                .where(MediaFile.id == media_id)
                .values(status="failed", error=reason, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def renew(self, work: Work) -> bool:
        """Extend this job's lease before starting it; False if another worker has taken it.

        A batch is leased at once and read one image after the other: without a fresh lease
        the last of a slow batch could run out and be read twice."""
        with self.sessions.begin() as s:
            return update_own(s, work, self.worker, lease_until=self.clock() + LEASE)

    def depth(self) -> int:
        with self.sessions() as s:
            return (
                s.scalar(
                    select(func.count(Job.id)).where(
                        Job.kind == "media", Job.state.in_(("queued", "running"))
                    )
                )
                or 0
            )
