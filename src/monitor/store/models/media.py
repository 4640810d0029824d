"""The tables of statement images (#13): the media of a post with its OCR layer, and the job
table that workers lease to fetch, hash and read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from monitor.store.models.core import Base, BigId, JSONType, Post, utcnow

MEDIA_STATES = ("pending", "done", "failed", "skipped")
JOB_STATES = ("queued", "running", "done", "failed")


class MediaFile(Base):
    """The image of one post (Telegram gives a message one media; an album is several posts).

    ``sha256`` names the bytes in the content-addressed store once they are fetched; the
    ``ocr_*`` columns are the post's OCR layer, which the matcher reads beside the caption."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # photo | document | thumbnail
    origin: Mapped[str] = mapped_column(String(20))  # the source: telethon | web | export
    url: Mapped[str | None] = mapped_column(Text)  # the web preview's image address
    path: Mapped[str | None] = mapped_column(Text)  # an export's file, inside the export
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    mime: Mapped[str | None] = mapped_column(String(100))  # sniffed from the bytes
    size: Mapped[int | None] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    error: Mapped[str | None] = mapped_column(Text)
    ocr_text: Mapped[str | None] = mapped_column(Text)
    ocr_confidence: Mapped[float | None] = mapped_column(Float)
    ocr_engine: Mapped[str | None] = mapped_column(String(40))
    ocr_version: Mapped[str | None] = mapped_column(String(40))
    # [start, end, left, top, width, height, confidence] per word, in the image's pixels.
    ocr_words: Mapped[list[list[Any]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship()


class Job(Base):
    """Slow work as a row any worker may lease (``SKIP LOCKED`` on PostgreSQL), so a burst of
    images never holds up collection; a failed attempt waits ``run_after`` and is retried."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "media_id"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # media: fetch, hash, OCR
    media_id: Mapped[int] = mapped_column(BigId, ForeignKey("media.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
