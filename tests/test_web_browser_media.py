"""A post's statement image in headless Chromium (#13): the image loads through /media/ under
the console's CSP, every box of a matched word lies over the image where the word is, at a
laptop's and a tablet's width, the boxes are strokes that leave the words readable, and the
text read from the image runs right to left. Screenshots are kept under var/screenshots/.
Needs Debian's chromium (test_web_browser.py); MONITOR_REQUIRE_BROWSER=1 turns a skip into a
failure."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from monitor.web.app import create_app

from .conftest import Database
from .test_web_browser import launched, sign_in
from .test_web_browser_pages import OVERFLOW_JS, SCREENSHOTS, WIDTHS
from .web_media_support import HEIGHT, WIDTH, ImagePost, add_image_post
from .web_support import make_users, seed, serving, settings

pytestmark = pytest.mark.browser

# The image's box and each word box's, in CSS pixels of the page.
GEOMETRY_JS = """() => {
  const img = document.querySelector("#image img");
  const box = (r) => ({ left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                        width: r.width, height: r.height });
  return {
    loaded: img.complete && img.naturalWidth > 0,
    natural: [img.naturalWidth, img.naturalHeight],
    img: box(img.getBoundingClientRect()),
    svg: box(document.querySelector("#image svg.ocr-boxes").getBoundingClientRect()),
    rects: Array.from(document.querySelectorAll("#image svg.ocr-boxes rect")).map((r) => ({
      ...box(r.getBoundingClientRect()),
      x: +r.getAttribute("x"), y: +r.getAttribute("y"),
      w: +r.getAttribute("width"), h: +r.getAttribute("height"),
      fill: getComputedStyle(r).fill, stroke: getComputedStyle(r).stroke,
      title: r.querySelector("title").textContent,
    })),
  };
}"""


@dataclass
class Served:
    url: str
    image: ImagePost


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


@pytest.fixture
def served(sqlite_db: Database, tmp_path: Path) -> Iterator[Served]:
    make_users(sqlite_db.sessions)
    seeded = seed(sqlite_db.sessions)
    media_dir = tmp_path / "media"
    image = add_image_post(
        sqlite_db.sessions,
        media_dir,
        seeded.channel_id,
        50,
        caption="نبايع القائد على السمع والطاعة",
        caption_phrase="نبايع القائد",
    )
    add_image_post(sqlite_db.sessions, media_dir, seeded.other_channel_id, 51, days_ago=2)
    app = create_app(settings(media_dir=media_dir), sqlite_db.sessions)
    with serving(app) as url:
        yield Served(url, image)


def test_image_loads_and_boxes_lie_over_their_words(browser: Any, served: Served) -> None:
    base = served.url
    overflow: list[str] = []
    problems: list[str] = []  # refused responses and script errors, of one width at a time
    for width in WIDTHS:
        problems.clear()
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        sign_in(page, base, "analyst")
        assert page.locator(".tag.image").count() == 2  # both flags were read from an image
        page.goto(f"{base}/posts/{served.image.post_id}")
        page.wait_for_load_state("load")
        page.evaluate("document.fonts.ready")
        geo = page.evaluate(GEOMETRY_JS)
        assert geo["loaded"] and geo["natural"] == [WIDTH, HEIGHT], geo
        img = geo["img"]
        assert img["width"] > 150 and img["right"] <= width, (width, img)
        # the overlay is exactly the image's box, and so every box lies over the image
        for side in ("left", "top", "right", "bottom"):
            assert abs(geo["svg"][side] - img[side]) <= 1.5, (width, side, geo["svg"], img)
        scale_x, scale_y = img["width"] / WIDTH, img["height"] / HEIGHT
        assert abs(scale_x - scale_y) < 0.02, (width, scale_x, scale_y)  # not distorted
        assert len(geo["rects"]) == 3
        for r in geo["rects"]:
            assert img["left"] - 1 <= r["left"] and r["right"] <= img["right"] + 1, (width, r)
            assert img["top"] - 1 <= r["top"] and r["bottom"] <= img["bottom"] + 1, (width, r)
            # where the word is in the image's own pixels, scaled as the image is
            assert abs(r["left"] - (img["left"] + r["x"] * scale_x)) <= 2, (width, r)
            assert abs(r["top"] - (img["top"] + r["y"] * scale_y)) <= 2, (width, r)
            assert abs(r["width"] - r["w"] * scale_x) <= 2, (width, r)
            assert r["fill"] == "none" and r["stroke"] not in ("none", ""), r
            assert r["title"].startswith("threat")
        ocr_dir = "getComputedStyle(document.querySelector('#ocr-text')).direction"
        assert page.evaluate(ocr_dir) == "rtl"
        assert page.locator("#ocr-text mark.kind-threat").inner_text() == "سنرد على العدوان"
        assert page.locator("#post-text mark.kind-threat").count() == 0
        assert "identical" in page.locator("#similar").inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"post-image-{width}.png"), full_page=True)
        overflow += [f"post-image at {width}px: {p}" for p in page.evaluate(OVERFLOW_JS)]
        assert not problems, (width, problems)  # nothing refused, the CSP blocked nothing
        context.close()
    assert not overflow, "\n".join(overflow)
