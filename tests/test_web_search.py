"""Search by whole words (#14): a word finds its forms with the proclitics, hits are marked
(escaped), and the sort the control shows is the sort applied; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from monitor.collect.records import PostRecord

from .conftest import Database
from .web_support import NOW, ROW, Seeded, analyst_signed_in, shown, store_posts

SELECTED_SORT = re.compile(r'<select name="sort">.*?<option value="(\w+)" selected>', re.S)
FORMS = ("المقاومة", "والمقاومة", "بالمقاومة", "للمقاومة", "فالمقاومة")


@pytest.fixture
def signed_in(db: Database) -> tuple[Database, Seeded, TestClient]:
    return (db, *analyst_signed_in(db.sessions))


def _store_forms(db: Database, s: Seeded) -> tuple[list[int], int]:
    day = timedelta(days=1)
    records = [
        PostRecord(900 + i, NOW - day * i, f"بيان {form} مستمرة", "export")
        for i, form in enumerate(FORMS)
    ]
    records.append(PostRecord(950, NOW, "بيان عن مقاومات الطقس والمقاول", "export"))
    ids = store_posts(db.sessions, s.channel_id, records)
    return [ids[900 + i] for i in range(len(FORMS))], ids[950]


@pytest.mark.parametrize("query", ["مقاومة", "المقاومة", "والمقاومة", "مُقَاوَمَة"])
def test_a_word_finds_all_its_proclitic_forms(signed_in, query: str) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    found, unrelated = _store_forms(db, s)
    rows = shown(client, f"q={query}")
    assert sorted(rows) == sorted(found)
    assert unrelated not in rows
    # every word of a query still has to be there
    assert shown(client, f"q={query} مستمرة") == rows
    assert shown(client, f"q={query} الطقس") == []


def test_hits_are_marked_and_hostile_text_stays_escaped(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    text = '<script>alert(1)</script>وَالمُقَاوَمَةُ <b onclick="x">"باقية"</b> المقاول'
    pid = store_posts(db.sessions, s.channel_id, [PostRecord(960, NOW, text, "export")])[960]
    queue = client.get("/?q=مقاومة").text
    post = client.get(f"/posts/{pid}?q=مقاومة").text
    for page in (queue, post):
        assert "<script>" not in page and "<b onclick" not in page
        # the whole written word, harakat included, mapped back through the offset map
        assert '&lt;/script&gt;<mark class="hit">وَالمُقَاوَمَةُ</mark> &lt;b onclick=' in page
        assert "المقاول</mark>" not in page
    # the queue's link carries the search to the post page, which marks it too
    assert re.search(rf'href="/posts/{pid}\?q=%D9%85[^"]*&amp;next=', queue)
    assert '<mark class="hit">' not in client.get(f"/posts/{pid}").text


def test_sort_shown_is_the_sort_applied(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    day = timedelta(days=1)
    # Collected in one order, dated in another: the two orders differ.
    ids = store_posts(
        db.sessions,
        s.channel_id,
        [
            PostRecord(970, NOW - day * 3, "أولا المقاومة", "export"),
            PostRecord(971, NOW - day * 1, "ثانيا بالمقاومة", "export"),
            PostRecord(972, NOW - day * 5, "ثالثا والمقاومة", "export"),
        ],
    )
    by_collection = [ids[972], ids[971], ids[970]]
    by_date = [ids[971], ids[970], ids[972]]
    for query, selected, order in (
        # the flagged page's default (severity) carried into a search: not applicable there,
        # so the control says what is applied instead of "highest severity"
        ("q=مقاومة", "recent", by_collection),
        ("q=مقاومة&sort=severity", "recent", by_collection),
        ("q=مقاومة&sort=recent", "recent", by_collection),
        ("q=مقاومة&sort=newest", "newest", by_date),
    ):
        page = client.get(f"/?{query}").text
        m = SELECTED_SORT.search(page)
        assert m is not None and m[1] == selected, query
        assert [int(x) for x in ROW.findall(page)] == order, query
    # the flagged queue offers and shows its own orders
    assert SELECTED_SORT.search(client.get("/").text)[1] == "severity"  # type: ignore[index]
    assert SELECTED_SORT.search(client.get("/?sort=newest").text)[1] == "newest"  # type: ignore[index]
    assert SELECTED_SORT.search(client.get("/?sort=recent").text)[1] == "severity"  # type: ignore[index]
