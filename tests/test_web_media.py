"""Statement images in the console (#13): GET /media/{id} and what it refuses, the post page's
image with the words of its signals boxed and its text highlighted, the states of the reading,
the same image on other channels, and the queue's mark on flags read from an image."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.media.store import MediaStore
from monitor.store.models import MediaFile
from monitor.web.post_media import boxes, confidence_pct
from monitor.web.security import CSP

from .conftest import Database
from .web_media_support import HEIGHT, OCR_TEXT, PHRASE, WIDTH, ImagePost, add_image_post
from .web_support import Seeded, TestClient, login, make_client, make_users, seed

RECT = re.compile(
    r'<rect class="stroke kind-(\w+)" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"'
    r' data-signals="([\d ]+)"><title>([^<]*)</title></rect>'
)
OCR_DIV = re.compile(r'<div class="post-text ocr-text" id="ocr-text" dir="auto">(.*?)</div>', re.S)
TEXT_DIV = re.compile(r'<div class="post-text" id="post-text" dir="auto">(.*?)</div>', re.S)


@dataclass
class Console:
    db: Database
    seeded: Seeded
    client: TestClient
    media_dir: Path
    image: ImagePost


@pytest.fixture
def console(db: Database, tmp_path: Path) -> Console:
    """On SQLite, and on PostgreSQL when configured (conftest.py): the queue's statement."""
    make_users(db.sessions)
    seeded = seed(db.sessions)
    media_dir = tmp_path / "media"
    image = add_image_post(
        db.sessions,
        media_dir,
        seeded.channel_id,
        50,
        caption="نبايع القائد على السمع والطاعة",
        caption_phrase="نبايع القائد",
    )
    client = make_client(db.sessions, media_dir=media_dir)
    assert login(client, "analyst") == 303
    return Console(db, seeded, client, media_dir, image)


def test_media_is_served_with_its_sniffed_type_and_safe_headers(console: Console) -> None:
    img = console.image
    resp = console.client.get(f"/media/{img.media_id}")
    assert resp.status_code == 200
    assert resp.content == img.data
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["content-disposition"] == f'inline; filename="media-{img.media_id}.jpg"'
    assert resp.headers["cache-control"] == "no-store"  # not left in the browser after sign-out
    # The app's CSP allows images from the console itself, and from nowhere else.
    assert resp.headers["content-security-policy"] == CSP
    assert "img-src 'self'" in CSP and "data:" not in CSP and "http" not in CSP


def test_media_needs_a_signed_in_user(console: Console) -> None:
    anonymous = make_client(console.db.sessions, media_dir=console.media_dir)
    resp = anonymous.get(f"/media/{console.image.media_id}")
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/login?next=%2Fmedia%2F")
    assert console.image.data not in resp.content
    api = anonymous.get(f"/media/{console.image.media_id}", headers={"accept": "application/json"})
    assert api.status_code == 401


@pytest.mark.parametrize("mime", ["text/html", "image/svg+xml", "application/octet-stream", None])
def test_media_of_a_type_not_shown_as_an_image_is_404(console: Console, mime: str | None) -> None:
    with console.db.sessions.begin() as s:
        s.get_one(MediaFile, console.image.media_id).mime = mime
    resp = console.client.get(f"/media/{console.image.media_id}")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("text/html")
    assert console.image.data not in resp.content
    # and the post page no longer links it
    page = console.client.get(f"/posts/{console.image.post_id}").text
    assert f'src="/media/{console.image.media_id}"' not in page


def test_missing_or_damaged_files_are_a_logged_404(
    console: Console, caplog: pytest.LogCaptureFixture
) -> None:
    img = console.image
    path = MediaStore(console.media_dir, max_bytes=1 << 20).path(img.sha256)
    caplog.set_level(logging.WARNING, logger="monitor.web.media")

    path.write_bytes(img.data[:-10] + b"0123456789")  # no longer its hash
    resp = console.client.get(f"/media/{img.media_id}")
    assert resp.status_code == 404 and "not available" in resp.text
    assert "Traceback" not in resp.text and img.sha256 not in resp.text

    path.unlink()
    resp = console.client.get(f"/media/{img.media_id}")
    assert resp.status_code == 404 and "not available" in resp.text
    logged = [r for r in caplog.records if r.name == "monitor.web.media"]
    assert len(logged) == 2 and not any(r.exc_info for r in logged)
    assert "does not match its hash" in logged[0].getMessage()
    assert "missing" in logged[1].getMessage()

    assert console.client.get("/media/999999").status_code == 404
    assert console.client.get("/media/x1").status_code == 404
    with console.db.sessions.begin() as s:
        s.get_one(MediaFile, img.media_id).sha256 = None
    assert console.client.get(f"/media/{img.media_id}").status_code == 404


def ocr_word_spans(text: str, phrase: str) -> list[tuple[int, int]]:
    start = text.index(phrase)
    return [
        (m.start(), m.end())
        for m in re.finditer(r"\S+", text)
        if m.start() < start + len(phrase) and start < m.end()
    ]


def test_post_page_boxes_exactly_the_words_of_the_image_signal(console: Console) -> None:
    img = console.image
    page = console.client.get(f"/posts/{img.post_id}").text
    assert f'<img src="/media/{img.media_id}"' in page and 'alt="The post' in page
    assert f'width="{WIDTH}" height="{HEIGHT}"' in page
    assert f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none"' in page
    rects = RECT.findall(page)
    spans = ocr_word_spans(OCR_TEXT, PHRASE)
    assert len(spans) == 3
    expected = [w for w in img.words if (w[0], w[1]) in spans]
    assert [(int(x), int(y), int(w), int(h)) for _, x, y, w, h, _, _ in rects] == [
        (e[2], e[3], e[4], e[5]) for e in expected
    ]
    for kind, *_, ids, title in rects:
        assert kind == "threat" and ids == str(img.signals["ocr"])
        assert "threat" in html.unescape(title) and "in the image" in html.unescape(title)


def test_each_layer_is_highlighted_with_its_own_signals_and_escaped(console: Console) -> None:
    img = console.image
    page = console.client.get(f"/posts/{img.post_id}").text
    text_div, ocr_div = TEXT_DIV.search(page), OCR_DIV.search(page)
    assert text_div and ocr_div
    text_marks = re.findall(r'<mark class="([^"]*)" data-signals="([^"]*)"', text_div.group(1))
    ocr_marks = re.findall(r'<mark class="([^"]*)" data-signals="([^"]*)"', ocr_div.group(1))
    assert text_marks == [("kind-allegiance ", str(img.signals["text"]))]
    assert ocr_marks == [("kind-threat ", str(img.signals["ocr"]))]
    # the OCR text is hostile: escaped, whole, in order
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ocr_div.group(1)
    assert html.unescape(re.sub(r"<[^>]+>", "", ocr_div.group(1))) == OCR_TEXT
    assert "Read from the image by tesseract 5.3.0, confidence 87%" in page
    # why this score says where the signal was found
    assert "the strongest signal in the image" in page
    assert 'class="tag image" title="found in the text read from the post' in page


def test_a_post_without_an_image_has_no_image_section(console: Console) -> None:
    page = console.client.get(f"/posts/{console.seeded.posts['threat']}").text
    assert 'id="image"' not in page and "/media/" not in page


@pytest.mark.parametrize(
    ("status", "error", "shown"),
    [
        ("pending", None, "Image not read yet (queued)"),
        ("failed", "<b>tesseract</b> timed out", "Image could not be read: &lt;b&gt;tesseract"),
        ("done", None, "No text found in the image"),
    ],
)
def test_states_of_the_reading(
    sqlite_db: Database, tmp_path: Path, status: str, error: str | None, shown: str
) -> None:
    make_users(sqlite_db.sessions)
    seeded = seed(sqlite_db.sessions)
    img = add_image_post(
        sqlite_db.sessions,
        tmp_path / "media",
        seeded.channel_id,
        60,
        caption="بيان",
        ocr_text="   " if status == "done" else None,
        ocr_phrase=None,
        status=status,
        error=error,
    )
    client = make_client(sqlite_db.sessions, media_dir=tmp_path / "media")
    assert login(client, "analyst") == 303
    page = client.get(f"/posts/{img.post_id}").text
    assert shown in page
    assert "<b>tesseract</b>" not in page
    assert "<rect" not in page and 'id="ocr-text"' not in page
    assert f'src="/media/{img.media_id}"' in page  # the image itself is there to look at
    assert "Same image on other channels" not in page


def test_same_image_on_other_channels_earliest_first(console: Console) -> None:
    sessions, s = console.db.sessions, console.seeded
    base = "8f3c00ff12345678"
    near = f"{int(base, 16) ^ 0b101:016x}"  # two bits apart
    later = add_image_post(sessions, console.media_dir, s.other_channel_id, 70, phash=base)
    earlier = add_image_post(
        sessions, console.media_dir, s.other_channel_id, 71, phash=near, days_ago=3
    )
    add_image_post(sessions, console.media_dir, s.channel_id, 72, phash=base)  # same channel
    add_image_post(sessions, console.media_dir, s.other_channel_id, 73, phash="0" * 16)
    page = console.client.get(f"/posts/{console.image.post_id}").text
    assert "Same image on other channels" in page
    listed = re.search(r'<ul class="similar" id="similar">(.*?)</ul>', page, re.S)
    assert listed
    items = re.findall(
        r'<li><a href="/posts/(\d+)">.*?@<bdi>([^<]+)</bdi></a> · ([^·]+) · '
        r'<span class="how">([^<]+)</span>',
        listed.group(1),
    )
    assert [(int(p), h, how) for p, h, _, how in items] == [
        (earlier.post_id, "other_chan", "nearly identical (distance 2)"),
        (later.post_id, "other_chan", "identical"),
    ]
    assert all(when.strip().endswith("UTC") for _, _, when, _ in items)


def test_queue_marks_flags_from_the_image_and_shows_its_text_without_caption(
    console: Console,
) -> None:
    bare = add_image_post(
        console.db.sessions, console.media_dir, console.seeded.channel_id, 80, caption=""
    )
    page = console.client.get("/").text
    row = re.search(rf'<tr class="row" data-post="{bare.post_id}".*?</tr>', page, re.S)
    assert row
    assert 'title="flagged from the text of the image">image</span>' in row.group(0)
    assert "text of the image</span>" in row.group(0)
    excerpt = re.search(r'<a class="open" dir="auto" href="[^"]*">(.*?)</a>', row.group(0), re.S)
    assert excerpt and html.unescape(excerpt.group(1)).startswith("بيان\nسنرد")
    assert "<script>alert" not in page
    # a post with a caption keeps its caption as the excerpt, and gets the mark too
    captioned = re.search(
        rf'<tr class="row" data-post="{console.image.post_id}".*?</tr>', page, re.S
    )
    assert captioned and "نبايع القائد" in captioned.group(0)
    assert "flagged from the text of the image" in captioned.group(0)
    assert "text of the image</span>" not in captioned.group(0)
    # and posts without an image are as they were
    plain = re.search(
        rf'<tr class="row" data-post="{console.seeded.posts["threat"]}".*?</tr>', page, re.S
    )
    assert plain and "of the image" not in plain.group(0)


def test_boxes_skip_malformed_words_and_clip_to_the_image() -> None:
    class Sig:
        def __init__(self, kind: str, start: int, end: int, score: float) -> None:
            self.id, self.kind, self.start, self.end, self.score = 1, kind, start, end, score

    words = [
        [0, 4, -5, -5, 20, 20, 90],  # clipped to the top left corner
        [5, 9, 630, 350, 50, 50, 90],  # clipped to the bottom right corner
        [10, 14, "x", 0, 5, 5, 90],  # not numbers
        [15, 19, 0, 0],  # too short
        "nonsense",
        [20, 24, 0, 0, 10, 10, 90],  # outside every signal
        [25, 26, 900, 900, 10, 10, 90],  # wholly outside the image
    ]
    sigs = [Sig("threat", 0, 19, 0.5), Sig("target", 3, 8, 0.9)]
    got = boxes(words, sigs, WIDTH, HEIGHT)  # type: ignore[arg-type]
    assert [(b.x, b.y, b.width, b.height, b.kind) for b in got] == [
        (0, 0, 15, 15, "target"),
        (630, 350, 10, 10, "target"),
    ]
    assert got[0].title.startswith("target; threat")
    assert confidence_pct(0.874) == 87 and confidence_pct(91.6) == 92
    assert confidence_pct(None) is None and confidence_pct(float("nan")) is None


def test_image_read_again_after_the_match_hides_its_highlights(console: Console) -> None:
    with console.db.sessions.begin() as s:
        media = s.get_one(MediaFile, console.image.media_id)
        media.ocr_text = "نص آخر " + (media.ocr_text or "")  # the offsets now miss the words
    page = console.client.get(f"/posts/{console.image.post_id}").text
    assert "The image was read again after the post was matched" in page
    assert "<rect" not in page
    ocr_div = OCR_DIV.search(page)
    assert ocr_div and "<mark" not in ocr_div.group(1)
    text_div = TEXT_DIV.search(page)
    assert text_div and "kind-allegiance" in text_div.group(1)  # the caption's are its own
