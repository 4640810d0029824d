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
from monitor.store.models import Channel, Job, MediaFile

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
        have = set(
            session.scalars(
                select(MediaFile.post_id).where(
                    MediaFile.post_id.in_([c.post_id for c, _, _ in wanted])
                )
            )
        )
        rows = []
        for c, media, kind in wanted:
            if c.post_id in have:
                continue
            # A sha256 names the image only when its bytes are already kept (Telethon fetched
            # them during the pass); a video's sha256 is the video's, its still is thumb_sha256,
            # as is the still of an image file too large to keep (collect/telegram.py).
            kept = (
                [media.thumb_sha256] if kind == "thumbnail" else [media.sha256, media.thumb_sha256]
            )
            sha = next((h for h in kept if h and self.store.has(h)), None)
            # An export made without its files names the photo but cannot give it: nothing
            # could ever fetch it, so it is recorded as such instead of failing a job.
            absent = c.record.source == "export" and sha is None and not media.path
            rows.append(
                MediaFile(
                    post_id=c.post_id,
                    kind=kind,
                    origin=c.record.source,
                    url=media.url,
                    path=media.path,
                    sha256=sha,
                    size=media.size,
                    status="skipped" if absent else "pending",
                    error=NOT_INCLUDED if absent else None,
                )
            )
        if not rows:
            return
        session.add_all(rows)
        session.flush()
        session.add_all(Job(kind="media", media_id=r.id) for r in rows if r.status == "pending")
        session.flush()
