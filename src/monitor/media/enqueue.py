"""Pipeline hook: every stored post with an image gets a media row and a job (#13).

It runs in the batch's transaction, before the matcher, and only writes two small rows: the
download and the OCR happen later in a media job, so a burst of images never slows collection
and a failed download never loses the post's text.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.collect.records import MediaInfo
from monitor.config import Settings
from monitor.media.store import MediaStore
from monitor.store.ingest import Changed
from monitor.store.models import Channel, Job, MediaFile, utcnow

NOT_INCLUDED = "the export did not include this image (export again with photos)"
# Video kinds whose thumbnail Telegram (or the preview) gives as a still image.
_MOVING = frozenset({"video", "animation", "video_note"})


def image_kind(media: MediaInfo) -> str | None:
    """What of this media can be read as an image: photo, document (an image file) or
    thumbnail (a video's still); None for the rest (voice, polls, other files)."""
    if media.type == "photo":
        return "photo"
    if media.type == "document" and (media.mime or "").lower().startswith("image/"):
        return "document"
    if media.type in _MOVING and (media.url or media.path or media.thumb_sha256):
        return "thumbnail"
    return None


class MediaHook:
    def __init__(self, settings: Settings) -> None:
        self.store = MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes)

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        wanted = []
        for c in changed:
            media = c.record.media
            if c.status in ("new", "edited") and media is not None:
                kind = image_kind(media)
                if kind is not None:
                    wanted.append((c, media, kind))
        if not wanted:
            return
        have = {
            m.post_id: m
            for m in session.scalars(
                select(MediaFile).where(MediaFile.post_id.in_([c.post_id for c, _, _ in wanted]))
            )
        }
        rows, again = [], []
        for c, media, kind in wanted:
            old = have.get(c.post_id)
            if old is None:
                rows.append(self._describe(MediaFile(post_id=c.post_id), c, media, kind))
            elif c.status == "edited" and _replaced(old, c.record.source, media, kind):
                again.append(self._describe(old, c, media, kind))
        if not rows and not again:
            return
        session.add_all(rows)
        session.flush()
        session.add_all(Job(kind="media", media_id=r.id) for r in rows if r.status == "pending")
        for r in again:
            self._requeue(session, r)
        session.flush()

    def _describe(self, row: MediaFile, c: Changed, media: MediaInfo, kind: str) -> MediaFile:
        # A sha256 names the image only when its bytes are already kept (Telethon fetched
        # them during the pass); a video's sha256 is the video's, its still is thumb_sha256,
        # as is the still of an image file too large to keep (collect/telegram.py).
        sha = _kept(media, kind, self.store)
        # An export made without its files names the photo but cannot give it: nothing
        # could ever fetch it, so it is recorded as such instead of failing a job.
        absent = c.record.source == "export" and sha is None and not media.path
        # Everything read from an earlier image goes: the matcher, next in this
        # transaction, must not score the post with the text of a picture it no longer has.
        for name in _READ:
            setattr(row, name, None)
        row.kind, row.origin, row.url, row.path = kind, c.record.source, media.url, media.path
        row.sha256, row.size, row.updated_at = sha, media.size, utcnow()
        row.status = "skipped" if absent else "pending"
        row.error = NOT_INCLUDED if absent else None
        return row

    def _requeue(self, session: Session, media: MediaFile) -> None:
        job = session.scalars(select(Job).where(Job.media_id == media.id)).first()
        if media.status != "pending":
            if job is not None:
                session.delete(job)
            return
        if job is None:
            session.add(Job(kind="media", media_id=media.id))
            return
        # A fresh job: a worker still holding the old lease finds it is no longer its own
        # (media/queue.py) and drops what it read from the old image.
        job.state, job.attempts, job.run_after = "queued", 0, utcnow()
        job.lease_owner = job.lease_until = job.error = job.finished_at = None


_READ = (
    "mime",
    "width",
    "height",
    "phash",
    "ocr_text",
    "ocr_confidence",
    "ocr_engine",
    "ocr_version",
    "ocr_words",
)


def _hashes(media: MediaInfo, kind: str) -> list[str]:
    """The hashes that may name this media's image, preferred first: a video's sha256 is the
    video's, so a thumbnail has only its still's."""
    named = [media.thumb_sha256] if kind == "thumbnail" else [media.sha256, media.thumb_sha256]
    return [h for h in named if h]


def _kept(media: MediaInfo, kind: str, store: MediaStore) -> str | None:
    return next((h for h in _hashes(media, kind) if store.has(h)), None)


def _replaced(old: MediaFile, source: str, media: MediaInfo, kind: str) -> bool:
    """Whether an edited post now carries another image than the one its media row holds.

    By hash where the source gives one (Telethon, store/ingest.py). The web preview gives
    only an address, which stays the same while the file does; a new address on an edited
    post is read again, at worst re-reading the same picture once."""
    hashes = set(_hashes(media, kind))
    if hashes and old.sha256 is not None:
        return old.sha256 not in hashes
    if source == "web" and old.origin == "web":
        return media.url is not None and media.url != old.url
    return kind != old.kind
