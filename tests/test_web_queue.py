"""The queue: filters, Arabic-aware search, keyset pages and export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from monitor.collect.records import PostRecord
from monitor.store.models import Post, Review

from .conftest import Database
from .web_support import (
    NOW,
    ROW,
    VERSE_139,
    Seeded,
    TestClient,
    add_match,
    analyst_signed_in,
    csrf,
    login,
    make_client,
    shown,
    store_posts,
)


@pytest.fixture
def signed_in(db: Database) -> tuple[Database, Seeded, TestClient]:
    return (db, *analyst_signed_in(db.sessions))


def test_queue_shows_flagged_posts_most_severe_first(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    assert shown(client) == [s.posts["threat"], s.posts["verse"], s.posts["english"]]
    newest = shown(client, "sort=newest")
    assert newest == [s.posts["threat"], s.posts["verse"], s.posts["english"]]  # by post date
    page = client.get("/").text
    assert "sarayat_test" in page and "Kataib Test" in page and "verse_cue" in page


def test_queue_filters(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    assert shown(client, "severity=critical") == [s.posts["threat"]]
    assert shown(client, "severity=high") == [s.posts["threat"], s.posts["verse"]]
    assert shown(client, "kind=verse_cue") == [s.posts["verse"]]
    assert shown(client, "kind=threat") == [s.posts["threat"], s.posts["english"]]
    assert shown(client, f"channel={s.other_channel_id}") == [s.posts["english"]]
    assert shown(client, f"group={s.group_id}") == [s.posts["threat"], s.posts["verse"]]
    day = (NOW - timedelta(days=2)).date().isoformat()
    assert shown(client, f"since={day}&until={day}") == [s.posts["threat"]]
    assert shown(client, f"until={(NOW - timedelta(days=4)).date()}") == [s.posts["english"]]
    token = csrf(client)
    client.post(
        f"/posts/{s.posts['verse']}/review", data={"decision": "escalated", "csrf_token": token}
    )
    client.post(
        f"/posts/{s.posts['threat']}/review", data={"decision": "confirmed", "csrf_token": token}
    )
    client.post(
        f"/posts/{s.posts['threat']}/review", data={"decision": "dismissed", "csrf_token": token}
    )
    assert shown(client, "state=unreviewed") == [s.posts["english"]]
    assert shown(client, "state=escalated") == [s.posts["verse"]]
    assert shown(client, "state=dismissed") == [s.posts["threat"]]
    assert shown(client, "state=confirmed") == []  # superseded by the later dismissal
    assert shown(client, "state=escalated&severity=critical") == []
    assert shown(client, "severity=bogus") == shown(client)  # unknown values are ignored


def test_search_folds_arabic_on_both_sides(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    bare = "ولا تهنوا ولا تحزنوا"
    with_harakat = "وَلَا تَهِنُوا وَلَا تَحْزَنُوا"
    with_tatweel = "ولا تهـــنوا، ولا تحزنوا!"
    assert shown(client, f"q={bare}") == [s.posts["verse"]]
    assert shown(client, f"q={with_harakat}") == [s.posts["verse"]]
    assert shown(client, f"q={with_tatweel}") == [s.posts["verse"]]
    # hamza forms fold too: الأعلون / الاعلون
    assert shown(client, "q=الاعلون") == [s.posts["verse"]]
    # Search covers every post, flagged or not, unless told to stay in the queue.
    assert shown(client, "q=الشهداء") == [s.posts["plain"]]
    assert shown(client, "q=الشهداء&scope=flagged") == []
    assert shown(client, "q=STRIKE Occupier") == [s.posts["english"]]
    assert shown(client, "q=strike&kind=verse_cue") == []
    assert shown(client, 'q=" OR * NEAR(') == []  # query syntax is never interpreted


def test_search_sees_new_and_edited_posts(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    ids = store_posts(
        db.sessions, s.channel_id, [PostRecord(50, NOW, "نص أول عن الصواريخ", "export")]
    )
    assert shown(client, "q=الصواريخ") == [ids[50]]
    store_posts(
        db.sessions, s.channel_id, [PostRecord(50, NOW, "نص معدل عن الطائرات المسيرة", "export")]
    )
    assert shown(client, "q=الصواريخ") == []
    assert shown(client, "q=المسيره") == [ids[50]]  # teh marbuta folds to heh


def test_keyset_pagination_walks_every_flag_once(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    records = [
        PostRecord(1000 + i, NOW - timedelta(minutes=i % 7), f"تحذير رقم {i}", "export")
        for i in range(120)
    ]
    ids = store_posts(db.sessions, s.channel_id, records)
    for i, pid in enumerate(ids.values()):
        add_match(
            db.sessions, pid, ["low", "medium", "high"][i % 3], [("threat", "t", None, "تحذير")]
        )
    for sort in ("severity", "newest"):
        seen: list[int] = []
        url = f"/?sort={sort}"
        pages = 0
        while url:
            page = client.get(url).text
            seen += [int(x) for x in ROW.findall(page)]
            nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
            url = nxt.group(1).replace("&amp;", "&") if nxt else ""
            pages += 1
        assert pages == 3
        assert len(seen) == len(set(seen)) == 123
        with db.sessions() as ses:
            posts = {p.id: p for p in ses.query(Post).filter(Post.id.in_(seen))}
        if sort == "newest":
            keys = [(posts[i].date, i) for i in seen]
            assert keys == sorted(keys, reverse=True)


def test_export_carries_the_filtered_queue_with_review_state(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    token = csrf(client)
    client.post(
        f"/posts/{s.posts['verse']}/review",
        data={"decision": "confirmed", "note": "cue verse, real", "csrf_token": token},
    )
    lines = client.get("/export.jsonl?severity=high").text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["message_id"] for r in rows] == [2, 1]
    verse = rows[1]
    assert verse["review"]["state"] == "confirmed" and verse["review"]["by"] == "analyst"
    assert verse["review"]["note"] == "cue verse, real"
    assert verse["signals"][0]["ref"] == "3:139" and VERSE_139 in verse["text"]
    assert rows[0]["review"]["state"] == "unreviewed"
    raw = client.get("/export.csv?kind=verse_cue").content
    assert raw.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM spreadsheets need (#11)
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(table) == 1 and table[0]["review_state"] == "confirmed"  # flat since #14
    assert table[0]["review_by"] == "analyst" and table[0]["review_note"] == "cue verse, real"
    assert table[0]["channel"] == "sarayat_test"
    with db.sessions() as ses:
        assert ses.query(Review).count() == 1


def test_assigned_to_me_shows_each_analyst_their_own_posts(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    token = csrf(client)
    for post, who in ((s.posts["threat"], "analyst"), (s.posts["verse"], "operator")):
        r = client.post(f"/posts/{post}/assign", data={"assign_to": who, "csrf_token": token})
        assert r.status_code in (200, 303)
    assert shown(client, "mine=1") == [s.posts["threat"]]
    # A second analyst in the same process: built statements are kept per filter (for the
    # whole process), never shared across users where the filter names the user.
    other = make_client(db.sessions)
    assert login(other, "operator") == 303
    assert shown(other, "mine=1") == [s.posts["verse"]]
    assert shown(client, "mine=1") == [s.posts["threat"]]
