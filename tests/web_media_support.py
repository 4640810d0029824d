"""Statement images for the console tests (#13): a real JPEG with the words of its text drawn as
dark boxes where OCR would have found them, kept in a MediaStore, and a post whose verdict has
signals in the image's text (layer "ocr"), all written directly with the ORM."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session, sessionmaker

from monitor.collect.records import PostRecord
from monitor.media.store import MediaStore
from monitor.store.models import Match, MediaFile, Post, RuleSetVersion, SignalRow

from .web_support import NOW, store_posts

WIDTH, HEIGHT = 640, 360
PHRASE = "سنرد على العدوان"
# Arabic, as statements are, with markup an attacker would try through the image's text.
OCR_TEXT = f"بيان\n{PHRASE} الأمريكي <script>alert(1)</script>"
MAX_BYTES = 10_000_000


def layout(text: str) -> list[list[Any]]:
    """``ocr_words`` for ``text``: its words laid right to left in lines of three, each word
    a box of the image's pixels, as the OCR engine stores them."""
    words: list[list[Any]] = []
    for n, m in enumerate(re.finditer(r"\S+", text)):
        line, place = divmod(n, 3)
        width = 40 + 12 * min(len(m.group()), 10)
        left = WIDTH - 30 - (place + 1) * 200 + (200 - width)
        words.append([m.start(), m.end(), left, 30 + line * 70, width, 44, 90.0])
    return words


def jpeg(words: list[list[Any]], *, shade: int = 0) -> bytes:
    """A white page with each word a dark box: what a scanned statement looks like to a test."""
    img = Image.new("RGB", (WIDTH, HEIGHT), (250, 250, 248))
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, WIDTH - 9, HEIGHT - 9), outline=(20, 60, 20), width=4)
    for _, _, left, top, w, h, _ in words:
        draw.rectangle((left, top, left + w, top + h), fill=(30 + shade, 30, 40))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@dataclass
class ImagePost:
    post_id: int
    media_id: int
    match_id: int
    sha256: str
    data: bytes
    words: list[list[Any]]
    signals: dict[str, int] = field(default_factory=dict)


def rule_set(s: Session) -> int:
    rs = s.query(RuleSetVersion).first()
    if rs is None:
        rs = RuleSetVersion(version="test", summary={})
        s.add(rs)
        s.flush()
    return rs.id


def add_image_post(
    sessions: sessionmaker[Session],
    media_dir: Path,
    channel_id: int,
    message_id: int,
    *,
    caption: str = "",
    ocr_text: str | None = OCR_TEXT,
    ocr_phrase: str | None = PHRASE,
    caption_phrase: str | None = None,
    status: str = "done",
    mime: str = "image/jpeg",
    phash: str = "8f3c00ff12345678",
    error: str | None = None,
    days_ago: int = 0,
) -> ImagePost:
    """A post with an image: ``ocr_phrase`` a threat found in the image's text, and
    ``caption_phrase`` (if any) an allegiance found in the caption."""
    from datetime import timedelta

    ids = store_posts(
        sessions,
        channel_id,
        [PostRecord(message_id, NOW - timedelta(days=days_ago, hours=1), caption, "telethon")],
    )
    post_id = ids[message_id]
    words = layout(ocr_text or "")
    data = jpeg(words, shade=message_id % 50)
    sha = MediaStore(media_dir, max_bytes=MAX_BYTES).put(data)
    with sessions.begin() as s:
        post = s.get_one(Post, post_id)
        media = MediaFile(
            post_id=post_id,
            kind="photo",
            origin="telethon",
            sha256=sha,
            mime=mime,
            size=len(data),
            width=WIDTH,
            height=HEIGHT,
            phash=phash,
            status=status,
            error=error,
            ocr_text=ocr_text if status == "done" else None,
            ocr_confidence=0.87 if status == "done" else None,
            ocr_engine="tesseract" if status == "done" else None,
            ocr_version="5.3.0" if status == "done" else None,
            ocr_words=words if status == "done" else None,
        )
        s.add(media)
        found: list[tuple[str, str, str, str, int]] = []
        if ocr_phrase and ocr_text:
            found.append(
                ("ocr", "threat", "threat.retaliate", ocr_phrase, ocr_text.index(ocr_phrase))
            )
        if caption_phrase:
            found.append(
                (
                    "text",
                    "allegiance",
                    "allegiance.pledge",
                    caption_phrase,
                    caption.index(caption_phrase),
                )
            )
        match = Match(
            post_id=post_id,
            rule_set_id=rule_set(s),
            text_sha256=post.text_sha256,
            flagged=bool(found),
            severity="high" if found else "none",
            severity_rank=3 if found else 0,
            score=55.0 if found else 0.0,
            explanation=[
                *(f"strongest signal {rule} ({kind}): 40" for _, kind, rule, *_ in found[:1]),
                "score 55 -> high",
            ],
        )
        s.add(match)
        s.flush()
        out = ImagePost(post_id, media.id, match.id, sha, data, words)
        for layer, kind, rule, phrase, start in found:
            row = SignalRow(
                match_id=match.id,
                kind=kind,
                rule=rule,
                ref=None,
                refs=[],
                start=start,
                end=start + len(phrase),
                matched=phrase,
                score=0.9,
                layer=layer,
            )
            s.add(row)
            s.flush()
            out.signals[layer] = row.id
    return out
