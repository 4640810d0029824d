"""The main pages in headless Chromium with the demo's data, as a new analyst first sees them
(#14): login, queue, a post, the overview and an operator page, from a laptop window (1000 px)
down to a tablet held upright (768 px). Nothing overflows its box, no word of the queue or of
the channels page is cut in two, the decision column is whole, every field of the channels page
is labelled and shows its whole group name, the post's suppression boxes sit beside their
phrases, Arabic runs right to left at 18 px or more and is drawn in an Arabic font (Debian's
fonts-noto-core). The screenshots are kept under var/screenshots/.
Needs Debian's chromium (test_web_browser.py); MONITOR_REQUIRE_BROWSER=1 turns a skip into a
failure."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.demo_logins import DEMO_PASSWORD
from monitor.store.channels import ensure_channel, get_channel
from monitor.store.db import make_engine, session_factory
from monitor.store.models import Channel, Match, Post
from monitor.web.app import create_app

from .test_web_browser import launched
from .web_support import serving, settings

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
WIDTHS = (1000, 768)  # a laptop window down to a tablet held upright
# Boxes whose text must fit: cells, buttons, badges, the post's link, the bands, the nav.
OVERFLOW_JS = """() => {
  const seen = [];
  const boxes = "td, th, button, select, label, h1, h2, .kind, .sev, .state, a.open, "
    + "header.top nav a, .bands li, .counts li, .legend li, .tag";
  for (const el of document.querySelectorAll(boxes)) {
    const cs = getComputedStyle(el);
    if (cs.display === "inline" || cs.display === "none" || el.getClientRects().length === 0) {
      continue;  // an inline box has no width of its own to overflow
    }
    if (cs.overflowX === "auto" || cs.overflowX === "scroll") { continue; }
    if (el.scrollWidth > el.clientWidth + 1) {
      seen.push(el.tagName.toLowerCase() + "." + el.className + ": " + el.scrollWidth
        + " > " + el.clientWidth + " " + JSON.stringify(el.innerText.slice(0, 40)));
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) {
    seen.push("the page scrolls sideways: " + page.scrollWidth + " > " + window.innerWidth);
  }
  return seen;
}"""
# Where the queue's decision column ends, and the control in it, against the window's width.
DECISION_JS = """() => {
  const cell = document.querySelector("tr.row td.decide-cell");
  const control = cell.querySelector("select[name=decision]");
  return [cell.getBoundingClientRect().right, control.getBoundingClientRect().right,
          window.innerWidth];
}"""
# Words of the queue's cells that the layout cut across two lines ("Chan|nel", "Resist|ance"):
# a table squeezed below its width breaks words anywhere rather than overflow.
SPLIT_WORDS_JS = """(selector) => {
  const split = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      for (const m of node.data.matchAll(/[^\\s-]+/g)) {  // a line may end after a hyphen
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
        // a token longer than a column (a 32-letter handle, a link) has to break somewhere
        if (tops.size > 1 && m[0].length <= 16) { split.push(m[0]); }
      }
    }
  }
  return split;
}"""
# The Arabic excerpts of the queue: their direction, size, and alignment in their cells.
ARABIC_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => /[\\u0600-\\u06ff]/.test(el.innerText.slice(0, 12)))
  .map((el) => {
    const cs = getComputedStyle(el);
    const cell = el.closest("td") || el.parentElement;
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = Array.from(range.getClientRects());
    const top = Math.min(...rects.map((r) => r.top));
    const line = rects.filter((r) => r.top < top + 4);  // the first line's pieces
    const box = cell.getBoundingClientRect();
    const pad = parseFloat(getComputedStyle(cell).paddingRight);
    return { dir: cs.direction, size: parseFloat(cs.fontSize),
             gapRight: Math.round(box.right - pad - Math.max(...line.map((r) => r.right))),
             text: el.innerText.slice(0, 30) };
  })"""


# The channels page's fields without a name a reader can hear or see (no aria-label, no
# <label> around or for them), and those whose value does not fit their box ("Islamic Resi").
FIELDS_JS = """() => {
  const unnamed = [], cut = [];
  for (const el of document.querySelectorAll("main input:not([type=hidden]), main select")) {
    const name = (el.getAttribute("aria-label") || "").trim()
      || Array.from(el.labels || []).map((l) => l.innerText).join(" ").trim();
    if (!name) { unnamed.push(el.outerHTML.slice(0, 80)); }
    if (el.tagName === "INPUT" && el.value && el.scrollWidth > el.clientWidth + 1) {
      cut.push(el.name + ": " + JSON.stringify(el.value));
    }
  }
  return { unnamed, cut };
}"""
# The post's suppression boxes: the top of each box against the top of its phrase's first line.
SUPPRESS_JS = """() => Array.from(document.querySelectorAll("fieldset label.sup")).map((l) => {
  const box = l.querySelector("input").getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(l.querySelector("bdi"));
  const first = Array.from(range.getClientRects()).sort((a, b) => a.top - b.top)[0];
  return { apart: Math.round(Math.abs((box.top + box.bottom) / 2 - (first.top + first.bottom) / 2)),
           text: l.innerText.slice(0, 30) };
})"""
# A channel's health at its worst, to lay out: a handle of Telegram's 32 letters, an Arabic
# group name, a long error, gaps and a cooldown; disabled.
TROUBLED = "a_channel_with_32_letters_handle"
ARABIC_GROUP = "سرايا الاختبار الطويلة"


def trouble(sessions: Any) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as s:
        c = ensure_channel(s, TROUBLED, title="قناة الاختبار | Test Channel", group=ARABIC_GROUP)
        c.enabled = False
        c.status = "cooldown"
        c.cooldown_until = now + timedelta(hours=2)
        c.gaps = [[1200, 1234], [1300, 1302], [1410, 1499], [1600, 1601]]
        c.last_error_at = now - timedelta(minutes=30)
        c.last_error = (
            "FloodWaitError: a wait of 7200 seconds is required (caused by "
            "GetHistoryRequest) https://t.me/s/a_channel_with_32_letters_handle?before=1234"
        )
        kahf = get_channel(s, "kahf_media")
        assert kahf is not None
        kahf.gaps = [[7, 9]]


FIRST_LETTER_ARABIC = re.compile(r"[^A-Za-z\u0600-\u06ff]*[\u0600-\u06ff]")


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


@dataclass
class Demo:
    url: str
    post: int  # a flagged Arabic post of the sample
    sessions: Any


@pytest.fixture
def demo_served(run_cli: Any, tmp_path: Path) -> Iterator[Demo]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    result = run_cli("demo", "--once", db_url=url)
    assert result.code == 0, result.err
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as s:
        flagged = s.execute(
            select(Post.id, Post.text)
            .join(Match, Match.post_id == Post.id)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Match.flagged.is_(True), Channel.handle == "sarayat_alfajr")
            .order_by(Match.severity_rank.desc(), Match.score.desc())
        ).all()
    # the most severe whose first letter is Arabic (some of the sample's posts are English)
    post = next(pid for pid, text in flagged if FIRST_LETTER_ARABIC.match(text or ""))
    app = create_app(settings(demo_logins=True), sessions, demo=True)
    try:
        with serving(app) as base:
            yield Demo(base, post, sessions)
    finally:
        engine.dispose()


def demo_sign_in(page: Any, base: str, user: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(base + "/")


def drawn_with(context: Any, page: Any, selector: str) -> dict[str, int]:
    """The fonts Chromium drew ``selector``'s text with (family -> glyphs): what the analyst
    sees, not what the stylesheet asks for."""
    cdp = context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def look(page: Any, name: str, width: int) -> list[str]:
    """A full-page screenshot kept under var/screenshots/, and the boxes that overflow."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    return [f"{name} at {width}px: {p}" for p in page.evaluate(OVERFLOW_JS)]


def test_main_pages_fit_from_laptop_to_tablet_with_arabic_right_to_left(
    browser: Any, demo_served: Demo
) -> None:
    # (the browser first: without chromium the test skips before the demo is built)
    base = demo_served.url
    trouble(demo_served.sessions)
    overflow: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(base + "/login")
        assert DEMO_PASSWORD in page.locator("main").inner_text()  # what to sign in with
        overflow += look(page, "login", width)

        demo_sign_in(page, base, "demo-analyst")
        overflow += look(page, "queue", width)
        assert page.locator("tr.row").count() > 5
        split = page.evaluate(SPLIT_WORDS_JS, "table.queue th, table.queue td")
        assert not split, (width, split)
        cell, control, window = page.evaluate(DECISION_JS)
        assert control <= cell <= window, (width, cell, control, window)  # never cut
        excerpts = page.evaluate(ARABIC_JS, "tr.row a.open")
        assert excerpts, "no Arabic post in the demo's queue"
        for e in excerpts:
            # right-to-left, at least 18 px, its first line against the cell's right edge
            assert e["dir"] == "rtl" and e["size"] >= 18, e
            assert e["gapRight"] <= 2, e

        page.goto(f"{base}/posts/{demo_served.post}")
        overflow += look(page, "post", width)
        assert (
            page.evaluate("getComputedStyle(document.querySelector('#post-text')).direction")
            == "rtl"
        )
        assert page.locator("#why .bands li.here").count() == 1
        fonts = drawn_with(context, page, "#post-text")
        arabic = {f: n for f, n in fonts.items() if "Arabic" in f}
        assert arabic, f"Arabic drawn without an Arabic font ({fonts}): install fonts-noto-core"
        # each suppression box beside its phrase, and a note box as wide as the form
        boxes = page.evaluate(SUPPRESS_JS)
        assert boxes and all(b["apart"] <= 6 for b in boxes), (width, boxes)
        note = page.locator("form.decide textarea[name=note]").bounding_box()
        assert note is not None and note["width"] >= 300 and note["height"] >= 60, (width, note)

        page.goto(base + "/overview")
        overflow += look(page, "overview", width)
        assert page.locator(".chart rect.bar").count() > 5

        context.close()
        # an operator page, in a session of its own
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        demo_sign_in(page, base, "demo-operator")
        page.goto(base + "/channels")
        overflow += look(page, "channels", width)
        text = page.locator("main").inner_text()
        assert "fajr_commander" in text and TROUBLED in text and ARABIC_GROUP in text
        split = page.evaluate(SPLIT_WORDS_JS, "table.channels th, table.channels td")
        assert not split, (width, split)
        fields = page.evaluate(FIELDS_JS)
        assert fields == {"unnamed": [], "cut": []}, (width, fields)
        # the table fits the window rather than scrolling in its wrapper
        assert page.evaluate(
            "(() => { const w = document.querySelector('.table-wrap');"
            " return w.scrollWidth <= w.clientWidth; })()"
        ), width
        # the group names whole and Arabic isolated, in the column and in the field
        group = page.locator("tbody.channel", has_text=TROUBLED).locator("td.group bdi")
        assert group.inner_text() == ARABIC_GROUP and group.get_attribute("dir") == "auto"
        assert "Islamic Resistance in Iraq" in page.locator("td.group").all_inner_texts()
        context.close()
    assert not overflow, "\n".join(overflow)
