"""The console in headless Chromium: the analyst's path through it, and hostile posts that must
never execute. Needs Debian's chromium; MONITOR_REQUIRE_BROWSER=1 turns a skip into a failure.
The main pages as a new analyst first sees them: test_web_browser_pages.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.store.channels import ensure_channel
from monitor.web.app import create_app

from .conftest import Database
from .web_support import (
    NOW,
    PASSWORD,
    THREAT,
    VERSE_139,
    Seeded,
    add_match,
    make_users,
    seed,
    serving,
    settings,
    store_posts,
)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("MONITOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        if os.environ.get("MONITOR_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "MONITOR_REQUIRE_BROWSER=1 but no chromium binary (apt-get install chromium)"
            )
        pytest.skip("no chromium binary (apt-get install chromium); browser tests skipped")
    return path


@dataclass
class Served:
    url: str
    db: Database
    seeded: Seeded


@pytest.fixture
def served(sqlite_db: Database) -> Iterator[Served]:
    make_users(sqlite_db.sessions)
    seeded = seed(sqlite_db.sessions)
    with serving(create_app(settings(), sqlite_db.sessions)) as url:
        yield Served(url, sqlite_db, seeded)


@contextmanager
def launched() -> Iterator[Any]:
    """Debian's chromium, headless (skipped, or failed under MONITOR_REQUIRE_BROWSER=1, when
    there is none): never a browser Playwright downloads."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched() as b:
        yield b


def sign_in(page: Any, base: str, user: str) -> None:
    page.goto(base + "/")
    assert page.url.startswith(base + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(base + "/")


def test_analyst_path_login_filter_open_decide_audit(served: Served, browser: Any) -> None:
    base, s = served.url, served.seeded
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, base, "operator")
    assert page.locator("tr.row").count() == 3

    page.select_option("select[name=severity]", "critical")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("tr.row").count() == 1
    assert THREAT in page.locator("tr.row").inner_text()

    page.goto(base + "/")
    page.fill("input[name=q]", "وَلَا تَهِنُوا")
    page.press("input[name=q]", "Enter")
    page.wait_for_load_state()
    rows = page.locator("tr.row")
    assert rows.count() == 1
    rows.locator("a.open").click()
    page.wait_for_url(f"{base}/posts/{s.posts['verse']}*")

    # The signal's span, cut where the search words (#14) are marked inside it.
    mark = page.locator("#post-text mark.kind-verse_cue")
    assert "".join(mark.all_inner_texts()) == VERSE_139 and mark.first.is_visible()
    assert mark.first.get_attribute("title") == "verse_cue · quran:3:139 · 3:139"
    hits = page.locator("#post-text mark.hit").all_inner_texts()
    assert hits and set(hits) <= {"وَلَا", "تَهِنُوا"}, hits
    assert page.locator("#post-text").get_attribute("dir") == "auto"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#post-text')).direction") == "rtl"
    )
    assert page.locator(".verse").count() == 1

    page.fill("#decide textarea[name=note]", "cue verse posted before the strike")
    page.click("#decide button[value=escalated]")
    page.wait_for_load_state()
    assert page.locator("#state").inner_text() == "escalated"

    page.click("text=Audit log")
    page.wait_for_url(base + "/audit")
    first = page.locator("table.audit tbody tr").first
    text = first.inner_text()
    assert "operator" in text and "post.review" in text and "decision=escalated" in text
    assert "cue verse posted before the strike" in text

    # With the script: j selects the first row, c confirms it in place, and the selection
    # moves on to the next row, as an analyst works down the queue (#14: keyboard first).
    page.goto(base + "/?sort=newest")
    counted = page.locator('.counts .n[data-severity="critical"]')
    assert counted.inner_text() == "1"
    page.keyboard.press("j")
    assert page.locator("tr.row.selected").count() == 1
    selected_id = page.locator("tr.row.selected").get_attribute("data-post")
    page.keyboard.press("c")
    page.wait_for_selector(f'tr.row[data-post="{selected_id}"] .state-confirmed')
    assert page.url == base + "/?sort=newest"  # no navigation: decided inline
    assert page.locator("tr.row.selected").get_attribute("data-post") != selected_id
    assert counted.inner_text() == "0"  # one less left to review
    page.keyboard.press("d")  # the next row, dismissed the same way
    page.wait_for_selector("tr.row.selected .state-dismissed, tr.row.decided .state-dismissed")
    page.reload()
    # decided, so no longer in what is left to review; with every state, there as decided
    assert page.locator(f'tr.row[data-post="{selected_id}"]').count() == 0
    page.goto(base + "/?sort=newest&state=all")
    row = page.locator(f'tr.row[data-post="{selected_id}"] .state')
    assert row.inner_text() == "confirmed"
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems


PAYLOADS = [
    "<script>window.__xss=1;document.title='pwned'</script>",
    "<img src=x onerror=\"window.__xss=2;document.title='pwned'\">",
    "<a href=\"javascript:window.__xss=3;document.title='pwned'\">اضغط هنا</a>"
    " javascript:window.__xss=3",
    "<svg onload=\"window.__xss=4;document.title='pwned'\"><script>window.__xss=5</script></svg>",
    '<iframe srcdoc="<script>parent.__xss=6</script>"></iframe>',
    '"><script>window.__xss=7</script><b onmouseover=alert(7)>x</b>',
    "<style>@import 'http://127.0.0.1:1/x.css';</style>"
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(8)>",
]


def test_hostile_posts_never_execute(served: Served, browser: Any) -> None:
    base, db = served.url, served.db
    with db.sessions.begin() as ses:
        evil = ensure_channel(
            ses, "evil_chan", source="web", title="<script>window.__xss=9</script>قناة"
        )
        evil_id = evil.id
    records = [
        PostRecord(
            500 + i,
            NOW,
            f"بيان عاجل {payload} سنرد على العدوان — English around it {payload} end",
            "web",
            forwarded_from=ForwardInfo("x", 1, "<img src=x onerror=alert(10)>"),
        )
        for i, payload in enumerate(PAYLOADS)
    ]
    ids = store_posts(db.sessions, evil_id, records)
    for i, pid in enumerate(ids.values()):
        add_match(db.sessions, pid, "critical", [("threat", "threat.x", None, PAYLOADS[i])])

    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, base, "admin")
    token = page.locator("meta[name=csrf-token]").get_attribute("content")
    # a hostile note too: analysts' text is rendered the same way
    first = next(iter(ids.values()))
    page.request.post(
        f"{base}/posts/{first}/review",
        form={
            "decision": "dismissed",
            "note": PAYLOADS[1],
            "csrf_token": token or "",
            "suppress_phrase": PAYLOADS[0],
            "confirm_suppress": "1",
        },
    )
    urls = [
        "/",
        "/?q=window",
        "/?severity=critical&sort=newest",
        "/audit",
        "/suppressions",
        "/channels",
        "/overview",
    ]
    urls += [f"/posts/{pid}" for pid in ids.values()]
    for url in urls:
        page.goto(base + url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(100)
        title = page.title()
        assert page.evaluate("typeof window.__xss") == "undefined", url
        assert title != "pwned", url
        assert page.locator('a[href^="javascript:"]').count() == 0, url
        assert (
            page.locator("main img, main svg:not(.chart svg), main iframe, main script").count()
            == 0
        ), url
    # the payloads are there, as text
    page.goto(f"{base}/posts/{first}")
    assert PAYLOADS[0] in page.locator("#post-text").inner_text()
    page.hover("#post-text")
    assert dialogs == []
