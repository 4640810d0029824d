"""A small monitor with something of every kind in its chain: posts (one edited, one deleted),
an image read by OCR, and a review decision; and a signing key in the test's own folder."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from monitor.collect.records import MediaInfo, PostRecord
from monitor.config import Settings, load_settings
from monitor.evidence.capture import review_captured
from monitor.evidence.checkpoint import checkpoint_now
from monitor.media.fetch import FetchError
from monitor.media.jobs import MediaWorker
from monitor.media.ocr import OcrResult, OcrWord
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import MediaFile, Post, Review
from tests.conftest import Database, add_channel

T0 = datetime(2024, 1, 28, 9, 0, tzinfo=UTC)
HANDLE = "sabereen_test"
OCR_TEXT = "بيان المقاومة الإسلامية في العراق"


def jpeg(color: str = "white") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 120), color).save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class FakeFetcher:
    """The media fetcher's interface, answering by URL from a table."""

    files: dict[str, bytes] = field(default_factory=dict)

    async def fetch(
        self, *, origin: str, url: str | None, path: str | None, channel: str, message_id: int
    ) -> bytes:
        if url not in self.files:
            raise FetchError(f"not found: {url}", permanent=True)
        return self.files[url]

    async def aclose(self) -> None:
        pass


def read_statement(img: Image.Image) -> OcrResult:
    words = tuple(
        OcrWord(w, i, i + len(w), 10, 10, 20, 20, 90.0) for i, w in enumerate(OCR_TEXT.split())
    )
    return OcrResult(
        OCR_TEXT, 0.9, "tesseract", "5.3.0", "ara+eng", 6, img.width, img.height, words
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        media_dir=tmp_path / "media", evidence_key=tmp_path / "keys" / "signing.key"
    )


@pytest.fixture
def pipeline(db: Database, settings: Settings) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, settings)


@dataclass
class Captured:
    channel_id: int
    posts: dict[int, int]  # message id -> post id
    media_id: int
    media_sha256: str
    review_id: int


def capture(db: Database, pipeline: Pipeline, settings: Settings) -> Captured:
    """Posts 1-3, post 2 edited, post 3 deleted, post 4 with an image read by OCR, post 1
    reviewed; then a checkpoint."""
    cid = add_channel(db, HANDLE)
    pipeline.store(
        cid,
        [
            PostRecord(1, T0, "نعلن جاهزيتنا الكاملة", "telethon"),
            PostRecord(2, T0 + timedelta(minutes=1), "بيان أول", "telethon"),
            PostRecord(3, T0 + timedelta(minutes=2), "سيحذف هذا", "telethon"),
            PostRecord(
                4,
                T0 + timedelta(minutes=3),
                "صورة البيان",
                "web",
                media=MediaInfo("photo", "image/jpeg", url="https://cdn.test/4.jpg"),
            ),
        ],
    )
    pipeline.store(cid, [PostRecord(2, T0 + timedelta(minutes=1), "بيان معدل", "telethon")])
    pipeline.store(cid, [PostRecord(3, T0 + timedelta(minutes=2), "", "telethon", deleted=True)])
    fetcher = FakeFetcher({"https://cdn.test/4.jpg": jpeg()})
    worker = MediaWorker(pipeline, settings, fetcher, reader=read_statement)
    summary = asyncio.run(worker.run_once())
    assert summary.read == 1, summary
    with db.sessions.begin() as s:
        posts = {mid: pid for pid, mid in s.execute(select(Post.id, Post.message_id))}
        media = s.scalars(select(MediaFile)).one()
        review = Review(post_id=posts[1], decision="escalated", note="تهديد واضح")
        s.add(review)
        s.flush()
        review_captured(s, review)
        captured = Captured(cid, posts, media.id, media.sha256 or "", review.id)
    assert checkpoint_now(db.sessions, settings) is not None
    return captured


@pytest.fixture
def captured(db: Database, pipeline: Pipeline, settings: Settings) -> Captured:
    return capture(db, pipeline, settings)
