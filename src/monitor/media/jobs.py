"""Media jobs (#13): fetch a post's image into the store, hash it, read it, hand the post back.

A job is a row in ``jobs`` that any worker may lease: ``SELECT … FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers share one queue; SQLite has one writer at a time, so the same
statements are already exclusive there. A lease that runs out (a worker killed mid-image) is
taken by the next worker. A failed attempt is retried later with a growing wait, until
``media_attempts``; what cannot succeed (a corrupt file, a decompression bomb, an address
refused) fails at once, its reason on the media row. The post's text verdict stands throughout:
only a successful read changes it, by running the pipeline's hooks on the post again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from PIL import Image
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor import metrics
from monitor.config import Settings
from monitor.media.fetch import FetchError
from monitor.media.images import ImageRejected, open_image, perceptual_hash, sniff_mime
from monitor.media.ocr import OcrFailed, OcrResult, ocr_unavailable_reason, read_image
from monitor.media.store import MediaStore, MediaTooLarge
from monitor.pipeline import Pipeline
from monitor.store.models import Channel, Job, MediaFile, Post, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
# With OCR off the image is still fetched and hashed; the read waits for Tesseract.
OCR_OFF_RETRY = timedelta(hours=1)

Reader = Callable[[Image.Image], OcrResult]


class Fetcher(Protocol):
    """Gets a media's bytes from where its source saw it (media/fetch.py, or a test's fake)."""

    async def fetch(
        self, *, origin: str, url: str | None, path: str | None, channel: str, message_id: int
    ) -> bytes: ...

    async def aclose(self) -> None: ...


class _Permanent(Exception):
    """This media can never be read as it is: fail the job now."""


class _Retry(Exception):
    """This attempt failed for a reason that may pass (network, a timeout)."""


@dataclass(frozen=True, slots=True)
class _Work:
    job_id: int
    media_id: int
    attempts: int
    sha256: str | None
    origin: str
    url: str | None
    path: str | None
    channel: str
    message_id: int


@dataclass(slots=True)
class MediaSummary:
    read: int = 0  # OCR stored (the post was matched again)
    hashed: int = 0  # fetched and hashed, OCR off or unavailable
    retrying: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # one line per media that failed

    def line(self) -> str:
        return (
            f"media: {self.read} read, {self.hashed} hashed without OCR, "
            f"{self.retrying} to retry, {self.failed} failed"
        )


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


class MediaWorker:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        fetcher: Fetcher,
        *,
        worker: str = "media",
        reader: Reader | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch: int = 4,
        telegram: bool = False,
    ) -> None:
        """``telegram``: the fetcher can download through the collector's Telegram client.
        Without one, images seen only over MTProto are left to a worker that has it (`monitor
        run`): a second client on one session file gets the session revoked."""
        self.pipeline = pipeline
        self.sessions: sessionmaker[Session] = pipeline.sessions
        self.settings = settings
        self.fetcher = fetcher
        self.worker = worker
        self.store = MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes)
        self._reader = reader
        self.clock = clock
        self.batch = batch
        self.telegram = telegram
        self.last_error = ""

    def ocr_off_reason(self) -> str | None:
        """Why images are not read here, or None when they are."""
        if self._reader is not None:
            return None
        if not self.settings.ocr_enabled:
            return "OCR is off (setting ocr_enabled)"
        return ocr_unavailable_reason(self.settings.ocr_languages)

    def read(self, img: Image.Image) -> OcrResult:
        if self._reader is not None:
            return self._reader(img)
        return read_image(
            img, languages=self.settings.ocr_languages, timeout=self.settings.ocr_timeout
        )

    # -- the queue -------------------------------------------------------------------------

    def lease(self, limit: int) -> list[_Work]:
        now = self.clock()
        with self.sessions.begin() as s:
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
                _Work(
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

    async def run_once(self, *, limit: int | None = None) -> MediaSummary:
        """Work through every job that is due now (at most ``limit``), then return."""
        summary = MediaSummary()
        done = 0
        reason = self.ocr_off_reason()  # said once by the command that starts the worker
        while limit is None or done < limit:
            take = self.batch if limit is None else min(self.batch, limit - done)
            work = await asyncio.to_thread(self.lease, take)
            if not work:
                break
            for item in work:
                result = await self.process(item, reason)
                if result == "failed":
                    summary.failures.append(
                        f"media {item.media_id} (@{item.channel} message {item.message_id}): "
                        f"{self.last_error}"
                    )
                setattr(summary, result, getattr(summary, result) + 1)
                metrics.MEDIA_JOBS.labels(result if result != "retrying" else "retry").inc()
                done += 1
        metrics.MEDIA_QUEUE_DEPTH.set(await asyncio.to_thread(self.depth))
        return summary

    # -- one job ---------------------------------------------------------------------------

    async def process(self, work: _Work, ocr_off: str | None) -> str:
        try:
            data, sha = await self._bytes(work)
            img = await asyncio.to_thread(self._open, data)
            facts: dict[str, object] = {
                "sha256": sha,
                "mime": sniff_mime(data),
                "size": len(data),
                "width": img.width,
                "height": img.height,
                "phash": perceptual_hash(img),
            }
            if ocr_off:
                await asyncio.to_thread(self._hashed, work, facts, ocr_off)
                return "hashed"
            start = time.perf_counter()
            try:
                result = await asyncio.to_thread(self.read, img)
            except OcrFailed as exc:
                raise _Retry(str(exc)) from None
            finally:
                metrics.OCR_SECONDS.observe(time.perf_counter() - start)
            await asyncio.to_thread(self._read, work, facts, result)
            return "read"
        except _Permanent as exc:
            await asyncio.to_thread(self._fail, work, str(exc))
            return "failed"
        except _Retry as exc:
            if work.attempts >= self.settings.media_attempts:
                reason = f"{exc} (gave up after {work.attempts} attempts)"
                await asyncio.to_thread(self._fail, work, reason)
                return "failed"
            await asyncio.to_thread(self._retry, work, str(exc))
            return "retrying"

    async def _bytes(self, work: _Work) -> tuple[bytes, str]:
        if work.sha256 and self.store.has(work.sha256):
            try:
                return self.store.read(work.sha256), work.sha256
            except (OSError, ValueError) as exc:
                log.warning(
                    "media %d: stored file unusable (%s); fetching again", work.media_id, exc
                )
        try:
            data = await self.fetcher.fetch(
                origin=work.origin,
                url=work.url,
                path=work.path,
                channel=work.channel,
                message_id=work.message_id,
            )
        except FetchError as exc:
            raise (_Permanent if exc.permanent else _Retry)(str(exc)) from None
        try:
            return data, self.store.put(data)
        except MediaTooLarge as exc:
            raise _Permanent(str(exc)) from None
        except OSError as exc:
            raise _Retry(f"media store: {exc}") from None

    def _open(self, data: bytes) -> Image.Image:
        try:
            return open_image(data, max_pixels=self.settings.media_max_pixels)
        except ImageRejected as exc:
            raise _Permanent(str(exc)) from None

    def _update(self, s: Session, work: _Work, **values: object) -> None:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == work.media_id)
            .values(updated_at=self.clock(), **values)
            .execution_options(synchronize_session=False)
        )

    def _job(self, s: Session, work: _Work, **values: object) -> None:
        s.execute(
            update(Job)
            .where(Job.id == work.job_id)
            .values(lease_owner=None, lease_until=None, **values)
            .execution_options(synchronize_session=False)
        )

    def _read(self, work: _Work, facts: dict[str, object], result: OcrResult) -> None:
        with self.sessions.begin() as s:
            self._update(
                s,
                work,
                status="done",
                error=None,
                ocr_text=result.text,
                ocr_confidence=result.confidence,
                ocr_engine=result.engine,
                ocr_version=result.version,
                ocr_words=result.words_json(),
                **facts,
            )
            self._job(s, work, state="done", error=None, finished_at=self.clock())
            if result.text.strip():
                row = s.execute(
                    select(Post, Channel)
                    .join(MediaFile, MediaFile.post_id == Post.id)
                    .join(Channel, Channel.id == Post.channel_id)
                    .where(MediaFile.id == work.media_id)
                ).one()
                self.pipeline.relayer(s, row[1], [row[0]])

    def _hashed(self, work: _Work, facts: dict[str, object], reason: str) -> None:
        with self.sessions.begin() as s:
            self._update(s, work, error=reason, **facts)
            # Not an attempt: the image is read once Tesseract is there.
            self._job(
                s,
                work,
                state="queued",
                attempts=Job.attempts - 1,
                run_after=self.clock() + OCR_OFF_RETRY,
                error=reason,
            )

    def _retry(self, work: _Work, reason: str) -> None:
        log.info(
            "media %d (@%s #%d): %s; will retry",
            work.media_id,
            work.channel,
            work.message_id,
            reason,
        )
        with self.sessions.begin() as s:
            self._update(s, work, error=reason)
            self._job(
                s,
                work,
                state="queued",
                run_after=self.clock() + backoff(work.attempts),
                error=reason,
            )

    def _fail(self, work: _Work, reason: str) -> None:
        self.last_error = reason
        log.warning("media %d (@%s #%d): %s", work.media_id, work.channel, work.message_id, reason)
        with self.sessions.begin() as s:
            self._update(s, work, status="failed", error=reason)
            self._job(s, work, state="failed", error=reason, finished_at=self.clock())
