"""Media jobs (#13): fetch a post's image into the store, hash it, read it, hand the post back.

A job is a row in ``jobs`` that any worker may lease (media/queue.py). A failed attempt is
retried later with a growing wait, until ``media_attempts``; what cannot succeed (a corrupt
file, a decompression bomb, an address refused) fails at once, its reason on the media row.
The post's text verdict stands throughout: only a successful read changes it, by running the
pipeline's hooks on the post again. A post edited to another image is read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from PIL import Image
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor import metrics
from monitor.config import Settings
from monitor.evidence.capture import media_captured
from monitor.media.fetch import FetchError
from monitor.media.images import ImageRejected, open_image, perceptual_hash, sniff_mime
from monitor.media.ocr import OcrFailed, OcrResult, ocr_unavailable_reason, read_image
from monitor.media.queue import JobQueue, Work, backoff, update_own
from monitor.media.store import MediaStore, MediaTooLarge
from monitor.pipeline import Pipeline
from monitor.store.models import Channel, Job, MediaFile, Post, utcnow

log = logging.getLogger(__name__)

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
        self.queue = JobQueue(
            self.sessions,
            worker=worker,
            attempts=settings.media_attempts,
            clock=clock,
            telegram=telegram,
        )

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
            img,
            languages=self.settings.ocr_languages,
            timeout=self.settings.ocr_timeout,
            in_process=self.settings.ocr_in_process,
        )

    # -- the queue -------------------------------------------------------------------------

    def lease(self, limit: int) -> list[Work]:
        return self.queue.lease(limit)

    def depth(self) -> int:
        return self.queue.depth()

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
                if not await asyncio.to_thread(self.queue.renew, item):
                    continue
                result = await self.process(item, reason)
                if result == "superseded":
                    continue
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

    async def process(self, work: Work, ocr_off: str | None) -> str:
        try:
            data, sha = await self._bytes(work)
            # Decoding and hashing are CPU work: off the loop, which serves collectors too.
            img, phash = await asyncio.to_thread(self._open, data)
            facts: dict[str, object] = {
                "sha256": sha,
                "mime": sniff_mime(data),
                "size": len(data),
                "width": img.width,
                "height": img.height,
                "phash": phash,
            }
            if ocr_off:
                return await self._settle("hashed", self._hashed, work, facts, ocr_off)
            start = time.perf_counter()
            try:
                result = await asyncio.to_thread(self.read, img)
            except OcrFailed as exc:
                raise _Retry(str(exc)) from None
            finally:
                metrics.OCR_SECONDS.observe(time.perf_counter() - start)
            return await self._settle("read", self._read, work, facts, result)
        except _Permanent as exc:
            return await self._settle("failed", self._fail, work, str(exc))
        except _Retry as exc:
            return await self._again(work, str(exc))
        except Exception as exc:
            # A bug of ours or of a library on this one image: logged with its traceback,
            # retried like a passing failure, so the rest of the batch goes on (#13).
            log.exception("media %d: unexpected error", work.media_id)
            return await self._again(work, f"unexpected error: {type(exc).__name__}: {exc}")

    async def _again(self, work: Work, reason: str) -> str:
        if work.attempts >= self.settings.media_attempts:
            reason = f"{reason} (gave up after {work.attempts} attempts)"
            return await self._settle("failed", self._fail, work, reason)
        return await self._settle("retrying", self._retry, work, reason)

    async def _settle(
        self, outcome: str, write: Callable[..., bool], work: Work, *args: Any
    ) -> str:
        if await asyncio.to_thread(write, work, *args):
            return outcome
        log.info(
            "media %d: job taken over or requeued meanwhile; this attempt dropped", work.media_id
        )
        return "superseded"

    async def _bytes(self, work: Work) -> tuple[bytes, str]:
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

    def _open(self, data: bytes) -> tuple[Image.Image, str]:
        try:
            img = open_image(data, max_pixels=self.settings.media_max_pixels)
        except ImageRejected as exc:
            raise _Permanent(str(exc)) from None
        return img, perceptual_hash(img)

    def _update(self, s: Session, work: Work, **values: object) -> None:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == work.media_id)
            .values(updated_at=self.clock(), **values)
            .execution_options(synchronize_session=False)
        )

    def _job(self, s: Session, work: Work, **values: object) -> bool:
        """Settle this attempt's job; False when the job is no longer this attempt's (the
        post was edited to another image and requeued, media/enqueue.py, or the lease ran
        out and another worker has it): then nothing of this attempt is written."""
        return update_own(s, work, self.worker, lease_owner=None, lease_until=None, **values)

    def _read(self, work: Work, facts: dict[str, object], result: OcrResult) -> bool:
        with self.sessions.begin() as s:
            if not self._job(s, work, state="done", error=None, finished_at=self.clock()):
                return False
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
            if result.text.strip():
                row = s.execute(
                    select(Post, Channel)
                    .join(MediaFile, MediaFile.post_id == Post.id)
                    .join(Channel, Channel.id == Post.channel_id)
                    .where(MediaFile.id == work.media_id)
                ).one()
                self.pipeline.relayer(s, row[1], [row[0]])
            # The file and what was read from it, chained with the row that keeps them (#17);
            # last, as in a collector's batch: the chain's head is the last lock either takes.
            media_captured(s, work.media_id, with_ocr=True)
            return True

    def _hashed(self, work: Work, facts: dict[str, object], reason: str) -> bool:
        with self.sessions.begin() as s:
            # Not an attempt: the image is read once Tesseract is there.
            if not self._job(
                s,
                work,
                state="queued",
                attempts=Job.attempts - 1,
                run_after=self.clock() + OCR_OFF_RETRY,
                error=reason,
            ):
                return False
            self._update(s, work, error=reason, **facts)
            media_captured(s, work.media_id, with_ocr=False)
            return True

    def _retry(self, work: Work, reason: str) -> bool:
        log.info(
            "media %d (@%s #%d): %s; will retry",
            work.media_id,
            work.channel,
            work.message_id,
            reason,
        )
        with self.sessions.begin() as s:
            if not self._job(
                s,
                work,
                state="queued",
                run_after=self.clock() + backoff(work.attempts),
                error=reason,
            ):
                return False
            self._update(s, work, error=reason)
            return True

    def _fail(self, work: Work, reason: str) -> bool:
        self.last_error = reason
        log.warning("media %d (@%s #%d): %s", work.media_id, work.channel, work.message_id, reason)
        with self.sessions.begin() as s:
            if not self._job(s, work, state="failed", error=reason, finished_at=self.clock()):
                return False
            self._update(s, work, status="failed", error=reason)
            return True
