"""The collection service: one APScheduler job per channel this worker holds a lease on.

Jobs are built from the database at start and re-synced with the leases every third of the
lease time (channels added, disabled, taken over from a dead worker, or handed to a new one).
SIGTERM/SIGINT stop new passes; passes in flight store the batch in hand and return, then the
leases are released so other workers take over at once instead of after the expiry.
With a Sender, the service also delivers the alert outbox every ``alert_poll_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import ColumnElement, and_, or_, select

from monitor.alerts.sender import Sender, SendSummary
from monitor.collect.collector import Collector, PassResult
from monitor.collect.leases import Leases
from monitor.store.models import Channel

log = logging.getLogger(__name__)

# Seconds a graceful stop waits for passes in flight before cancelling them.
GRACE = 60.0


def _jitter(interval: int) -> int:
    return max(1, min(interval // 10, 60))


class Service:
    def __init__(self, collector: Collector, leases: Leases, sender: Sender | None = None) -> None:
        self.collector = collector
        self.leases = leases
        self.sender = sender
        self._inflight: set[asyncio.Task[object]] = set()
        self._scheduler: AsyncIOScheduler | None = None

    def eligible(self) -> ColumnElement[bool]:
        """Channels this worker can collect: web always; Telethon with a usable session."""
        c = self.collector
        if "telethon" not in c.sources or "telethon" in c.unavailable:
            return Channel.source == "web"
        with c.sessions.begin() as s:
            account = c.account_id(s)
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
        if self.sender is None:
            return None
        summary = await asyncio.to_thread(self.sender.send_due)
        if summary.messages or summary.errors:
            log.info(
                "alerts: %d messages, %d delivered, %d to retry, %d failed",
                summary.messages,
                summary.sent,
                summary.retrying,
                summary.failed,
            )
        return summary

    async def _job(self, channel_id: int) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
        try:
            result = await self.collector.collect_channel(channel_id)
        finally:
            if task is not None:
                self._inflight.discard(task)
        if result.outcome != "ok":
            log.info("%s", result.line())
        if result.status == "revoked" or result.message.startswith("being collected by"):
            await self.sync()

    async def sync(self) -> None:
        """Renew leases and make the jobs match the channels held."""
        scheduler = self._scheduler
        if scheduler is None or self.collector.stopping:
            return
        held = self.leases.rebalance(self.eligible())
        with self.collector.sessions() as s:
            intervals: dict[int, int] = {
                cid: every
                for cid, every in s.execute(
                    select(Channel.id, Channel.interval_seconds).where(Channel.id.in_(held))
                )
            }
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
                await asyncio.wait(set(self._inflight), timeout=GRACE)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            if scheduler.running:
                scheduler.shutdown(wait=False)
            self._scheduler = None
            self.leases.release()
