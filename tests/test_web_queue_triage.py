"""The queue as an analyst triages it (#14): "highest severity" is the band, then the score in
it, then the newest; counts per severity; what is left to review by default; a group column
and the posts of channels in no group (``group=-``). On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from monitor.collect.records import PostRecord
from monitor.store.channels import ensure_channel
from monitor.store.models import Match

from .conftest import Database
from .web_support import (
    NOW,
    ROW,
    Seeded,
    TestClient,
    add_match,
    analyst_signed_in,
    csrf,
    shown,
    store_posts,
)

COUNT = re.compile(r'<span class="n" data-severity="(\w+)">(\d+)</span>')
NEXT = re.compile(r'<a rel="next" href="([^"]+)"')


@pytest.fixture
def signed_in(db: Database) -> tuple[Database, Seeded, TestClient]:
    return (db, *analyst_signed_in(db.sessions))


def counts(client: TestClient, query: str = "") -> dict[str, int]:
    return {s: int(n) for s, n in COUNT.findall(client.get(f"/?{query}").text)}


def set_score(db: Database, post_id: int, score: float) -> None:
    with db.sessions.begin() as s:
        s.execute(update(Match).where(Match.post_id == post_id).values(score=score))


def flag(db: Database, channel_id: int, message_id: int, severity: str, score: float) -> int:
    ids = store_posts(
        db.sessions, channel_id, [PostRecord(message_id, NOW, f"تهديد رقم {message_id}", "export")]
    )
    pid = ids[message_id]
    add_match(db.sessions, pid, severity, [("threat", "t", None, f"تهديد رقم {message_id}")])
    set_score(db, pid, score)
    return pid


def test_highest_severity_is_the_band_then_the_score_then_the_newest(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    set_score(db, s.posts["verse"], 85.0)
    top = flag(db, s.channel_id, 20, "high", 100.0)
    older_85 = flag(db, s.channel_id, 21, "high", 85.0)
    newer_85 = flag(db, s.channel_id, 22, "high", 85.0)
    # critical first whatever its score; in "high" 100 above 85, and equal scores newest first
    set_score(db, s.posts["threat"], 40.0)
    expected = [s.posts["threat"], top, newer_85, older_85, s.posts["verse"], s.posts["english"]]
    assert shown(client) == expected
    page = client.get("/").text
    assert "highest severity first, highest score first within a severity" in page


def test_pages_keep_the_score_order_across_the_cursor(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    records = [PostRecord(1000 + i, NOW, f"تحذير رقم {i}", "export") for i in range(110)]
    ids = list(store_posts(db.sessions, s.channel_id, records).values())
    for i, pid in enumerate(ids):
        add_match(db.sessions, pid, ("medium", "high")[i % 2], [("threat", "t", None, "تحذير")])
        set_score(db, pid, 40.0 + (i * 7) % 50 + 0.25)  # scores that repeat, with decimals
    seen: list[int] = []
    url = "/"
    while url:
        page = client.get(url).text
        seen += [int(x) for x in ROW.findall(page)]
        nxt = NEXT.search(page)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    assert len(seen) == len(set(seen)) == 113
    with db.sessions() as ses:
        keys = {m.post_id: (m.severity_rank, m.score, m.post_id) for m in ses.query(Match)}
    assert [keys[p] for p in seen] == sorted((keys[p] for p in seen), reverse=True)


def test_counts_per_severity_follow_the_filter_not_the_minimum(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    assert counts(client) == {"critical": 1, "high": 1, "medium": 1, "low": 0}
    # a minimum severity narrows the rows, not the counts the analyst works through
    assert shown(client, "severity=critical") == [s.posts["threat"]]
    assert counts(client, "severity=critical") == {"critical": 1, "high": 1, "medium": 1, "low": 0}
    assert counts(client, "kind=threat") == {"critical": 1, "high": 0, "medium": 1, "low": 0}
    page = client.get("/").text
    assert "3 in all" in page
    # each count opens that severity and above
    assert re.search(r'<a href="/\?severity=high"[^>]*><span class="sev sev-high">', page)


def test_reviewed_posts_are_hidden_until_asked_for(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    token = csrf(client)
    resp = client.post(
        f"/posts/{s.posts['threat']}/review", data={"decision": "confirmed", "csrf_token": token}
    )
    assert resp.status_code in (200, 303)
    assert shown(client) == [s.posts["verse"], s.posts["english"]]
    page = client.get("/").text
    assert "not yet reviewed" in page
    assert counts(client)["critical"] == 0
    link = re.search(r'<a href="([^"]+)" id="show-all">show reviewed posts too</a>', page)
    assert link is not None and "state=all" in link.group(1)
    everything = client.get(link.group(1).replace("&amp;", "&")).text
    every = [s.posts["threat"], s.posts["verse"], s.posts["english"]]
    assert [int(x) for x in ROW.findall(everything)] == every
    assert 'data-state="confirmed"' in everything
    assert shown(client, "state=all&severity=critical") == [s.posts["threat"]]
    # the page links keep the analyst's choice: the next page of "every state" stays so
    assert '<option value="all" selected>any state</option>' in everything
    # a search covers every state without being told
    assert shown(client, "q=العدوان") == [s.posts["threat"]]
    # the export of the page exports what the page shows
    export = client.get("/").text
    href = re.search(r'<a href="(/export\.jsonl\?[^"]*)">JSONL</a>', export)
    assert href is not None and "state=unreviewed" in href.group(1)


def test_group_column_and_the_posts_of_channels_in_no_group(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    with db.sessions.begin() as ses:
        loose = ensure_channel(ses, "loose_chan", source="export").id
    lone = flag(db, loose, 30, "low", 12.0)
    page = client.get("/").text
    assert "<th>Group</th>" in page
    assert '<td class="group"><bdi dir="auto">Kataib Test</bdi></td>' in page
    assert '<td class="group"><bdi dir="auto">Facade Two</bdi></td>' in page
    assert '<td class="group"><span class="none">—</span></td>' in page
    assert shown(client, "group=-") == [lone]
    assert shown(client, f"group={s.group_id}") == [s.posts["threat"], s.posts["verse"]]
    filtered = client.get("/?group=-").text
    assert '<option value="-" selected>(no group)</option>' in filtered
    # the filter survives paging and exporting
    assert re.search(r'href="/export\.csv\?group=-&amp;state=unreviewed"', filtered)
    assert counts(client, "group=-") == {"critical": 0, "high": 0, "medium": 0, "low": 1}
    assert client.get("/?group=nobody").status_code == 400


def test_each_row_decides_with_one_compact_control_and_the_keys_are_on_the_page(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    page = client.get("/").text
    rows = re.findall(r'<tr class="row".*?</tr>', page, re.S)
    assert len(rows) == 3
    for row in rows:
        # one list of the three decisions (a Save button for browsers without the script),
        # no note box: notes and suppressions are on the post page
        assert row.count("<select") == 1 and row.count("<button") == 1
        assert "note" not in row and "<textarea" not in row
        assert re.findall(r'<option value="(\w+)">', row) == ["confirmed", "dismissed", "escalated"]
    keys = re.search(r'<p class="keys"[^>]*>(.*?)</p>', page, re.S)
    assert keys is not None
    for key, does in (("j", "next"), ("k", "previous"), ("o", "open"), ("c", "confirm")):
        assert f"<kbd>{key}</kbd>" in keys.group(1) and does in keys.group(1)
    assert "<kbd>d</kbd> dismiss" in keys.group(1) and "<kbd>e</kbd> escalate" in keys.group(1)
    # the row's control posts like the post page's form, and brings the analyst back here
    token = csrf(client)
    resp = client.post(
        f"/posts/{s.posts['english']}/review",
        data={"decision": "dismissed", "csrf_token": token, "next": "/?sort=newest"},
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/?sort=newest"
    assert s.posts["english"] not in shown(client)
