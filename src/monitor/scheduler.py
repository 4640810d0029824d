"""The collection service: one APScheduler job per channel this worker holds a lease on.

Jobs are built from the database at start and re-synced with the leases every third of the
lease time (channels added, disabled, taken over from a dead worker, or handed to a new one).
SIGTERM/SIGINT stop new passes; passes in flight store the batch in hand and return, deliveries in
flight record their outcome (up to ``GRACE`` seconds, then they are cancelled), then the
leases are released so other workers take over at once instead of after the expiry.
With a Sender, the service also delivers the alert outbox every ``alert_poll_seconds``.

When the database cannot be reached (issue #7) the service keeps running: passes, lease syncs
and deliveries are skipped while one probe retries with exponential backoff (capped at
``db_retry_max`` seconds); once the database answers, every channel is collected at once and the
outbox delivered. Nothing is lost meanwhile: a pass commits posts and cursor together, so the
first pass after the outage reads again whatever the failed ones could not store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import tenacity
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import ColumnElement, and_, or_, select, text

from monitor import metrics
from monitor.alerts.sender import Sender, SendSummary
from monitor.collect.collector import Collector
from monitor.collect.leases import Leases
from monitor.collect.source import PassResult
from monitor.errors import MonitorError
from monitor.media.jobs import MediaSummary, MediaWorker
from monitor.store.db import unavailable
from monitor.store.models import Channel

log = logging.getLogger(__name__)

# Seconds a graceful stop waits for passes in flight before cancelling them.
GRACE = 60.0


def _jitter(interval: int) -> int:
    return max(1, min(interval // 10, 60))


class Service:
    def __init__(
        self,
        collector: Collector,
        leases: Leases,
        sender: Sender | None = None,
        media: MediaWorker | None = None,
    ) -> None:
        self.collector = collector
        self.leases = leases
        self.sender = sender
        self.media = media
        self._inflight: set[asyncio.Task[object]] = set()
        self._scheduler: AsyncIOScheduler | None = None
        # Database outage: when it started (monotonic), and the probe waiting for its end.
        self.outage_since: float | None = None
        self.outages = 0
        self._probe: asyncio.Task[None] | None = None
        retry_max = collector.settings.db_retry_max
        self.backoff = tenacity.wait_exponential(multiplier=0.5, max=retry_max) + (
            tenacity.wait_random(0, min(1.0, retry_max / 10))
        )

    @contextmanager
    def _in_hand(self) -> Iterator[None]:
        """Keep the current job's task for the graceful stop to wait on.

        A job still running when the loop closes is destroyed mid-await, which APScheduler
        logs as a traceback and which, for a delivery, drops the outcome of alerts already sent.
        """
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._inflight.discard(task)

    # -- database outages ------------------------------------------------------------------

    @property
    def database_down(self) -> bool:
        return self.outage_since is not None

    def _database_down(self, exc: BaseException | str) -> None:
        if self.outage_since is not None:
            return
        self.outage_since = time.monotonic()
        self.outages += 1
        metrics.DATABASE_UP.set(0)
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.warning("database unreachable (%s); pausing until it answers", reason)
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._wait_for_database())

    def _ping(self) -> None:
        with self.collector.sessions() as s:
            s.execute(text("SELECT 1"))

    async def _wait_for_database(self) -> None:
        attempt = 0
        while not self.collector.stopping:
            attempt += 1
            state = tenacity.RetryCallState(
                retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={}
            )
            state.attempt_number = attempt
            await asyncio.sleep(float(self.backoff(state)))
            try:
                await asyncio.to_thread(self._ping)
            except Exception as exc:
                if not unavailable(exc):
                    raise
                log.info("database still unreachable (attempt %d)", attempt)
                continue
            break
        since, self.outage_since = self.outage_since, None
        metrics.DATABASE_UP.set(1)
        if since is not None:
            log.warning("database reachable again after %.1f s", time.monotonic() - since)
        if self.collector.stopping:
            return
        await self.sync()
        scheduler = self._scheduler
        if scheduler is not None:  # catch up now instead of at each job's next interval
            now = datetime.now(UTC)
            for job in scheduler.get_jobs():
                if job.id.startswith("channel:") or job.id == "alerts":
                    job.modify(next_run_time=now)

    def eligible(self) -> ColumnElement[bool]:
        """Channels this worker can collect: web always; Telethon with a usable session."""
        c = self.collector
        if "telethon" not in c.sources or "telethon" in c.unavailable:
            return Channel.source == "web"
        with c.sessions.begin() as s:
            account = c.account.id(s)
        return or_(
            Channel.source == "web",
            and_(
                Channel.source == "telethon",
                or_(Channel.account_id.is_(None), Channel.account_id == account),
            ),
        )

    async def cycle(self) -> list[PassResult]:
        """`run --once`: one pass over this worker's share of the channels."""
        held = self.leases.rebalance(self.eligible())
        try:
            return await self.collector.collect_many(sorted(held))
        finally:
            self.leases.release()

    async def deliver(self) -> SendSummary | None:
        """Send the alerts that are due; in a thread, since apprise blocks on the network."""
        if self.sender is None or self.database_down:
            return None
        try:
            with self._in_hand():
                summary = await asyncio.to_thread(self.sender.send_due)
        except Exception as exc:
            if not unavailable(exc):
                raise
            # A claimed alert stays claimed until its lease runs out, then goes out again.
            self._database_down(exc)
            return None
        if summary.messages or summary.errors:
            log.info(
                "alerts: %d messages, %d delivered, %d to retry, %d failed",
                summary.messages,
                summary.sent,
                summary.retrying,
                summary.failed,
            )
        return summary

    async def read_media(self) -> MediaSummary | None:
        """Fetch, hash and read the images that are due (#13): a job of its own, so a burst of
        statement images never delays a collection pass."""
        if self.media is None or self.database_down:
            return None
        try:
            with self._in_hand():
                summary = await self.media.run_once()
        except Exception as exc:
            if not unavailable(exc):
                raise
            # A leased media job is taken again once its lease runs out.
            self._database_down(exc)
            return None
        if summary.read or summary.failed or summary.retrying:
            log.info("%s", summary.line())
        return summary

    async def checkpoint(self) -> None:
        """Sign the evidence chain's head (#17), every ``evidence_checkpoint_seconds``."""
        if self.database_down:
            return
        from monitor.evidence.checkpoint import checkpoint_now

        try:
            with self._in_hand():
                await asyncio.to_thread(
                    checkpoint_now, self.collector.sessions, self.collector.settings
                )
        except MonitorError as exc:
            # A key refused (its mode, its format): collection goes on, the reason is logged.
            log.error("evidence checkpoint not signed: %s", exc)
        except Exception as exc:
            if not unavailable(exc):
                raise
            self._database_down(exc)

    async def _job(self, channel_id: int) -> None:
        if self.database_down:
            return
        with self._in_hand():
            result = await self.collector.collect_channel(channel_id)
        if result.status == "database":
            self._database_down(result.message)
            return
        if result.outcome != "ok":
            log.info("%s", result.line())
        if result.status == "revoked" or result.message.startswith("being collected by"):
            await self.sync()

    async def sync(self) -> None:
        """Renew leases and make the jobs match the channels held."""
        scheduler = self._scheduler
        if scheduler is None or self.collector.stopping or self.database_down:
            return
        try:
            held = self.leases.rebalance(self.eligible())
            with self.collector.sessions() as s:
                intervals: dict[int, int] = {
                    cid: every
                    for cid, every in s.execute(
                        select(Channel.id, Channel.interval_seconds).where(Channel.id.in_(held))
                    )
                }
        except Exception as exc:
            if not unavailable(exc):
                raise
            self._database_down(exc)
            return
        now = datetime.now(UTC)
        for job in scheduler.get_jobs():
            if job.id.startswith("channel:") and int(job.id[8:]) not in held:
                job.remove()
        for cid, interval in intervals.items():
            job_id = f"channel:{cid}"
            trigger = IntervalTrigger(seconds=interval, jitter=_jitter(interval), timezone=UTC)
            existing = scheduler.get_job(job_id)
            if existing is None:
                scheduler.add_job(
                    self._job,
                    trigger,
                    args=[cid],
                    id=job_id,
                    max_instances=1,
                    coalesce=True,
                    misfire_grace_time=interval,
                    # Spread the first passes instead of hitting Telegram all at once.
                    next_run_time=now + timedelta(seconds=random.uniform(0, min(interval, 15))),
                )
            elif existing.trigger.interval != timedelta(seconds=interval):
                existing.reschedule(trigger)

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Run until SIGTERM/SIGINT (or ``stop`` is set)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        self._scheduler = scheduler
        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        try:
            await self.sync()
            scheduler.add_job(
                self.sync,
                IntervalTrigger(seconds=max(10, self.leases.ttl.total_seconds() / 3), timezone=UTC),
                id="leases",
                max_instances=1,
                coalesce=True,
            )
            if self.sender is not None:
                scheduler.add_job(
                    self.deliver,
                    IntervalTrigger(seconds=self.sender.settings.alert_poll_seconds, timezone=UTC),
                    id="alerts",
                    max_instances=1,
                    coalesce=True,
                )
            if self.media is not None:
                scheduler.add_job(
                    self.read_media,
                    IntervalTrigger(seconds=self.media.settings.media_poll_seconds, timezone=UTC),
                    id="media",
                    max_instances=1,
                    coalesce=True,
                )
            every = self.collector.settings.evidence_checkpoint_seconds
            if every:
                scheduler.add_job(
                    self.checkpoint,
                    IntervalTrigger(seconds=every, timezone=UTC),
                    id="evidence",
                    max_instances=1,
                    coalesce=True,
                )
            scheduler.start()
            log.info(
                "collector %s started with %d channels",
                self.leases.worker,
                sum(job.id.startswith("channel:") for job in scheduler.get_jobs()),
            )
            await stop.wait()
            log.info("stopping: finishing the batches in hand")
            scheduler.pause()
            self.collector.stopping = True
            if self._inflight:
                _, late = await asyncio.wait(set(self._inflight), timeout=GRACE)
                if late:
                    log.warning("cancelling %d jobs still running after %.0f s", len(late), GRACE)
                    for task in late:
                        task.cancel()
                    await asyncio.wait(late)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            if scheduler.running:
                scheduler.shutdown(wait=False)
            self._scheduler = None
            self.collector.stopping = True
            probe, self._probe = self._probe, None
            if probe is not None and not probe.done():
                probe.cancel()
                await asyncio.gather(probe, return_exceptions=True)
            try:
                self.leases.release()
            except Exception as exc:
                if not unavailable(exc):
                    raise
                log.warning("could not release the leases (database unreachable); they expire")
