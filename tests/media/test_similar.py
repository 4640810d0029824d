"""The same statement image on another channel (#13): re-posted or re-compressed copies are
linked, earliest first; a different statement is not, nor the channel's own posts."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageDraw
from sqlalchemy.orm import Session

from monitor.media.images import open_image, perceptual_hash
from monitor.media.similar import same_image
from monitor.store.models import MediaFile, Post
from tests.conftest import Database, add_channel

T0 = datetime(2024, 1, 28, 9, 0, tzinfo=UTC)


def statement(seed: int, quality: int = 85) -> bytes:
    img = Image.new("RGB", (600, 360), "white")
    draw = ImageDraw.Draw(img)
    for i in range(8):  # rows of "text" that differ from one statement to the next
        y = 40 + 36 * i
        width = 120 + (seed * 97 + i * 53) % 400
        draw.rectangle((560 - width, y, 560, y + 14), fill="black")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def add_post(s: Session, channel_id: int, mid: int, minutes: int, data: bytes) -> MediaFile:
    post = Post(
        channel_id=channel_id,
        message_id=mid,
        date=T0 + timedelta(minutes=minutes),
        text="",
        text_sha256="0" * 64,
        source="web",
        first_seen_at=T0,
    )
    s.add(post)
    s.flush()
    media = MediaFile(
        post_id=post.id,
        kind="photo",
        origin="web",
        status="done",
        phash=perceptual_hash(open_image(data)),
    )
    s.add(media)
    s.flush()
    return media


def test_the_same_statement_elsewhere_is_listed_earliest_first(db: Database) -> None:
    a, b, c = (add_channel(db, h) for h in ("kahf_media", "fajr_commander", "baghdad_wire"))
    with db.sessions.begin() as s:
        original = add_post(s, a, 1, 30, statement(1))
        add_post(s, a, 2, 40, statement(1))  # the channel's own re-post: not "elsewhere"
        later = add_post(s, b, 7, 90, statement(1, quality=55))  # re-compressed copy
        earlier = add_post(s, c, 3, 10, statement(1))  # posted before, on a third channel
        add_post(s, b, 8, 60, statement(2))  # another statement on the same letterhead
        found = same_image(s, original)
        assert [x.media.id for x in found] == [earlier.id, later.id]
        assert [x.channel.handle for x in found] == ["baghdad_wire", "fajr_commander"]
        assert found[0].distance == 0 and found[1].distance <= 7
        assert [x.media.id for x in same_image(s, later)][:1] == [earlier.id]


def test_an_image_not_yet_hashed_has_no_copies(db: Database) -> None:
    a = add_channel(db, "kahf_media")
    with db.sessions.begin() as s:
        media = add_post(s, a, 1, 0, statement(3))
        media.phash = None
        assert same_image(s, media) == []
