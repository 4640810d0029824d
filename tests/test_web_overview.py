"""The overview's charts as an analyst uses them (#14): axes with ticks and dates, values on
hover, bars that open the queue with exactly the posts they count, a date range, the by-kind
chart saying how it counts, and severity over time per group."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.collect.records import PostRecord
from monitor.store.channels import ensure_channel
from monitor.web.charts import day_label, long_day, nice_ticks
from monitor.web.kinds import KIND_LABELS
from tests.conftest import Database
from tests.web_support import (
    TestClient,
    add_match,
    csrf,
    login,
    make_client,
    make_users,
    store_posts,
)

TODAY = datetime.now(UTC).date()
Client = tuple[TestClient, dict[str, int]]
ROW = re.compile(r'data-post="(\d+)"')
BAR = re.compile(
    r'<a href="(/\?[^"]+)"><rect class="bar ([\w-]+)"[^>]*><title>([^<]*)</title></rect></a>'
)
CELL = re.compile(r'<a href="(/\?[^"]+)"><rect class="heat heat-(\w+)"[^>]*><title>([^<]*)</title>')


def at(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(0, 30), UTC)


def seed_overview(db: Database) -> dict[str, int]:
    """Two groups and a channel in none, flagged posts 2, 10 and 40 days ago."""
    with db.sessions.begin() as s:
        alpha = ensure_channel(s, "alpha_chan", source="export", group="Alpha <Brigade>").id
        beta = ensure_channel(s, "beta_chan", source="export", group="Beta").id
        loose = ensure_channel(s, "loose_chan", source="export").id
    ids = store_posts(
        db.sessions,
        alpha,
        [
            PostRecord(1, at(2), "verse-one and threat-one", "export"),
            PostRecord(2, at(2), "threat-two", "export"),
            PostRecord(3, at(10), "ready-three", "export"),
            PostRecord(4, at(40), "verse-four", "export"),
        ],
    )
    ids |= store_posts(
        db.sessions,
        beta,
        [
            PostRecord(5, at(2), "pledge-five", "export"),
            PostRecord(6, at(2), "nothing here", "export"),
        ],
    )
    ids |= store_posts(db.sessions, loose, [PostRecord(7, at(1), "claim-seven", "export")])
    add_match(
        db.sessions,
        ids[1],
        "high",
        [("verse_cue", "quran:3:139", "3:139", "verse-one"), ("threat", "t", None, "threat-one")],
    )
    add_match(db.sessions, ids[2], "critical", [("threat", "t", None, "threat-two")])
    add_match(db.sessions, ids[3], "medium", [("readiness", "r", None, "ready-three")])
    add_match(db.sessions, ids[4], "low", [("verse_cue", "quran:8:60", "8:60", "verse-four")])
    add_match(db.sessions, ids[5], "medium", [("allegiance", "a", None, "pledge-five")])
    add_match(db.sessions, ids[6], "none", [], flagged=False)
    add_match(db.sessions, ids[7], "high", [("attack_claim", "c", None, "claim-seven")])
    return {f"p{mid}": pid for mid, pid in ids.items()}


@pytest.fixture
def client(db: Database) -> Client:
    make_users(db.sessions)
    posts = seed_overview(db)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    return client, posts


def section(page: str, key: str) -> str:
    start = page.index(f'id="chart-{key}"')
    return page[start : page.index("</section>", start)]


def queue_ids(client: TestClient, href: str) -> set[int]:
    resp = client.get(html.unescape(href))
    assert resp.status_code == 200, href
    return {int(x) for x in ROW.findall(resp.text)}


def test_nice_ticks_are_round_and_cover_the_peak() -> None:
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(12) == [0, 5, 10, 15]
    assert nice_ticks(480) == [0, 100, 200, 300, 400, 500]


def test_charts_have_axes_ticks_dates_and_hover_values(client: Client) -> None:
    c, _ = client
    page = c.get("/overview").text
    by_group = section(page, "group")
    ticks = [int(t) for t in re.findall(r'<text class="tick y"[^>]*>(\d+)</text>', by_group)]
    assert ticks[0] == 0 and ticks == sorted(ticks) and ticks[-1] >= 3 and len(ticks) >= 3
    labels = re.findall(r'<text class="tick x"[^>]*>([^<]+)</text>', by_group)
    first = TODAY - timedelta(days=29)
    assert labels[0] == day_label(first, year=True) and 4 <= len(labels) <= 8
    # Hover: the day, the group (escaped), its count and the day's total.
    day = day_label(TODAY - timedelta(days=2), year=True)
    assert f"<title>{html.escape(long_day(TODAY - timedelta(days=2)))} · " in by_group
    assert re.search(
        rf"<title>\w{{3}} {day} · Alpha &lt;Brigade&gt;: 2 flagged \(day: 3\)</title>", by_group
    )
    assert "Alpha <Brigade>" not in page


def test_every_bar_opens_the_queue_with_the_posts_it_counts(
    client: Client,
) -> None:
    c, posts = client
    page = c.get("/overview").text
    found = []
    for key in ("group", "kind"):
        for href, css, title in BAR.findall(section(page, key)):
            n = int(re.search(r": (\d+) flagged", title).group(1))  # type: ignore[union-attr]
            ids = queue_ids(c, href)
            name = html.unescape(title).split(" · ")[1].split(":")[0]
            assert len(ids) == n, (title, href)  # "(no group)" too: the queue's group=-
            if key == "kind":
                # named in words ("cue verse"), painted in the shared palette's class
                name = next(k for k, label in KIND_LABELS.items() if label == name)
                assert css == f"kind-{name}"
            found.append((key, name, frozenset(ids)))
    assert ("group", "Alpha <Brigade>", {posts["p1"], posts["p2"]}) in found
    assert ("group", "Alpha <Brigade>", {posts["p3"]}) in found
    assert ("group", "Beta", {posts["p5"]}) in found
    assert ("group", "(no group)", {posts["p7"]}) in found
    assert ("kind", "threat", {posts["p1"], posts["p2"]}) in found
    assert ("kind", "verse_cue", {posts["p1"]}) in found
    assert ("kind", "attack_claim", {posts["p7"]}) in found
    # The legend lists each series with its total over the range, linked the same way.
    kind = section(page, "kind")
    legend = dict(
        re.findall(
            r'<li><a href="([^"]+)"><span class="swatch [^"]+"></span><bdi dir="auto">(\w+)</bdi>',
            kind,
        )
    )
    assert queue_ids(c, next(h for h, k in legend.items() if k == "readiness")) == {posts["p3"]}


def test_the_kind_chart_says_a_post_counts_once_per_kind(client: Client) -> None:
    c, _ = client
    kind = section(c.get("/overview").text, "kind")
    assert "counts once under each kind" in kind
    # the post with a cue verse and a threat is in both bars of its day
    day = long_day(TODAY - timedelta(days=2))
    assert f"{day} · cue verse: 1 flagged post(s) with this kind (day: 3 flagged)" in kind
    assert f"{day} · threat: 2 flagged post(s) with this kind (day: 3 flagged)" in kind


def test_the_date_range_changes_what_is_counted(client: Client) -> None:
    c, posts = client
    default = c.get("/overview").text
    assert "5 flagged posts" in default  # 40 days ago is outside the last 30
    week = c.get("/overview?days=7").text
    assert "4 flagged posts" in week  # and not the one 10 days ago
    assert "readiness</bdi>" not in week
    assert 'aria-current="true" class="current">last 7 days' in week
    quarter = c.get("/overview?days=90").text
    assert "6 flagged posts" in quarter
    old = (TODAY - timedelta(days=40)).isoformat()
    one_day = c.get(f"/overview?since={old}&until={old}").text
    assert "· 1 flagged post</small>" in one_day
    assert re.search(r"cue verse</bdi> \(1\)", one_day)
    hrefs = [h for h, _, _ in BAR.findall(section(one_day, "group"))]
    assert len(hrefs) == 1 and queue_ids(c, hrefs[0]) == {posts["p4"]}
    empty = c.get("/overview?since=2001-01-01&until=2001-01-31").text
    assert empty.count("No flags in this period.") == 4
    for bad in (
        "since=2026-02-30",
        f"since={TODAY}&until={TODAY - timedelta(days=1)}",
        "since=2000-01-01&until=2002-01-01",
    ):
        resp = c.get(f"/overview?{bad}")
        assert resp.status_code == 400 and "since" in resp.text


def test_severity_over_time_per_group(client: Client) -> None:
    c, posts = client
    heat = section(c.get("/overview").text, "severity")
    assert "Severity over time, per group" in heat
    rows = re.findall(r'<text class="row-label"[^>]*>([^<]+)<title>', heat)
    assert rows == ["Alpha &lt;Brigade&gt;", "Beta", "(no group)"]  # most flags first
    cells = {
        html.unescape(t).split(" · ")[1].split(":")[0] + f"@{sev}": h
        for h, sev, t in CELL.findall(heat)
    }
    # Alpha's day two days ago: one critical and one high, coloured by the critical
    assert "Alpha <Brigade>@critical" in cells and "Beta@medium" in cells
    assert queue_ids(c, cells["Alpha <Brigade>@critical"]) == {posts["p1"], posts["p2"]}
    titles = [html.unescape(t) for _, _, t in CELL.findall(heat)]
    assert any(
        "Alpha <Brigade>: 2 flagged (1 critical, 1 high); highest critical" in t for t in titles
    )
    assert any("Alpha <Brigade>: 1 flagged (1 medium); highest medium" in t for t in titles)


def test_top_channels_follow_the_range(client: Client) -> None:
    c, posts = client
    week = c.get("/overview?days=7").text
    table = week[week.index("<h2>Top channels") :]
    href = re.search(r'<a href="([^"]+)"><bdi>alpha_chan</bdi>', table)
    assert href and queue_ids(c, href.group(1)) == {posts["p1"], posts["p2"]}
    assert "beta_chan" in table and "loose_chan" in table


def test_a_reviewed_post_is_still_behind_its_bar(client: Client) -> None:
    # The queue alone shows what is left to review; the charts count every flagged post, so
    # their links ask for every review state.
    c, posts = client
    token = csrf(c)
    resp = c.post(
        f"/posts/{posts['p7']}/review", data={"decision": "dismissed", "csrf_token": token}
    )
    assert resp.status_code in (200, 303)
    page = c.get("/overview").text
    no_group = [h for h, _, t in BAR.findall(section(page, "group")) if "(no group)" in t]
    assert len(no_group) == 1 and queue_ids(c, no_group[0]) == {posts["p7"]}
    assert "group=-" in no_group[0] and "state=all" in no_group[0]
