"""The post page (highlights, verses, versions, deletion) and decisions with their audit trail."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from monitor.collect.records import PostRecord
from monitor.match.normalize import normalize
from monitor.store.models import AuditLog, Post, Review, Suppression
from monitor.web.suppress import active_suppressions, suppresses

from .conftest import Database
from .web_support import (
    NOW,
    THREAT,
    VERSE_139,
    Seeded,
    TestClient,
    add_match,
    csrf,
    login,
    make_client,
    make_users,
    seed,
    store_posts,
)

TEXT_DIV = re.compile(r'<div class="post-text" id="post-text" dir="auto">(.*?)</div>', re.S)


@pytest.fixture
def signed_in(sqlite_db: Database) -> tuple[Database, Seeded, TestClient]:
    make_users(sqlite_db.sessions)
    seeded = seed(sqlite_db.sessions)
    client = make_client(sqlite_db.sessions)
    assert login(client, "operator") == 303
    return sqlite_db, seeded, client


def test_post_page_highlights_the_span_where_it_is(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    page = client.get(f"/posts/{s.posts['verse']}").text
    body = TEXT_DIV.search(page)
    assert body
    before, mark, after = re.split(r"<mark [^>]*>|</mark>", body.group(1))
    with db.sessions() as ses:
        text = ses.get_one(Post, s.posts["verse"]).text
    start = text.index(VERSE_139)
    assert html.unescape(before) == text[:start]
    assert html.unescape(mark) == VERSE_139
    assert html.unescape(after) == text[start + len(VERSE_139) :]
    assert 'title="verse_cue · quran:3:139 · 3:139"' in page
    # the verse itself beside the quote, from the mushaf
    assert re.search(
        r'<p class="verse" dir="rtl" lang="ar"><span class="ref">3:139</span> \S', page
    )
    assert "1 signal(s) → high" in page  # the explanation of the score
    assert 'href="https://t.me/sarayat_test/1" rel="noopener noreferrer"' in page


def test_post_page_shows_forward_media_and_channel(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    page = client.get(f"/posts/{s.posts['threat']}").text
    assert 'Forwarded from: <bdi dir="auto">Sabereen</bdi> @<bdi>sabereen_news</bdi> #77' in page
    assert "video/mp4" in page and "1234 bytes" in page and "ab" * 32 in page
    assert "Kataib Test" in page and "critical" in page
    assert html.escape(THREAT, quote=False) in page


def test_versions_and_deletion(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    store_posts(
        db.sessions,
        s.channel_id,
        [
            PostRecord(
                3,
                NOW - timedelta(days=1),
                "رحم الله الشهداء الأبطال إنا لله وإنا إليه راجعون",
                "export",
                edited_at=NOW,
            )
        ],
    )
    page = client.get(f"/posts/{s.posts['plain']}").text
    assert "Stored versions (2)" in page
    assert "<ins> الأبطال</ins>" in page  # the edit, as a word diff against the first text
    with db.sessions() as ses:
        post = ses.scalar(select(Post).where(Post.id == s.posts["plain"]))
        assert post is not None
        hashes = [v.sha256 for v in post.versions]
    assert all(h in page for h in hashes)
    assert "Deleted from the channel" not in page
    store_posts(db.sessions, s.channel_id, [PostRecord(3, NOW, "", "export", deleted=True)])
    page = client.get(f"/posts/{s.posts['plain']}").text
    assert "Deleted from the channel" in page
    assert "الأبطال" in page  # the stored text stays readable
    assert client.get("/posts/999999").status_code == 404


def test_decision_is_recorded_and_audited(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    token = csrf(client)
    post = s.posts["threat"]
    resp = client.post(
        f"/posts/{post}/review",
        data={
            "decision": "escalated",
            "note": "claims a strike <b>tonight</b>",
            "assign_to": "analyst",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 303 and resp.headers["location"] == f"/posts/{post}"
    page = client.get(f"/posts/{post}").text
    assert '<span class="state state-escalated" id="state">escalated</span>' in page
    assert "assigned to <strong>analyst</strong>" in page
    assert "claims a strike &lt;b&gt;tonight&lt;/b&gt;" in page
    with db.sessions() as ses:
        review = ses.scalar(select(Review).where(Review.post_id == post))
        assert review is not None and review.decision == "escalated"
        entry = ses.scalar(select(AuditLog).where(AuditLog.action == "post.review"))
        assert entry is not None
        assert (entry.actor, entry.target, entry.detail["decision"]) == (
            "operator",
            f"post:{post}",
            "escalated",
        )
    audit = client.get("/audit?action=post.review").text
    assert f'<a href="/posts/{post}">post:{post}</a>' in audit and "operator" in audit
    # JSON for the inline (scripted) decision
    resp = client.post(
        f"/posts/{post}/review",
        data={"decision": "confirmed"},
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert resp.json() == {"ok": True, "post": post, "state": "confirmed", "suppressions": []}
    assert (
        client.post(
            f"/posts/{post}/review", data={"decision": "maybe", "csrf_token": token}
        ).status_code
        == 400
    )
    # assignment alone keeps the decision
    client.post(f"/posts/{post}/assign", data={"assign_to": "admin", "csrf_token": token})
    page = client.get(f"/posts/{post}").text
    assert "state-confirmed" in page and "assigned to <strong>admin</strong>" in page
    assert client.get("/?state=confirmed").text.count('class="row"') == 1


def test_dismissal_can_become_a_suppression(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    token = csrf(client)
    form = {
        "decision": "dismissed",
        "note": "recited at a funeral",
        "suppress": str(s.signals["verse"]),
        "suppress_phrase": "صَدَقَ اللهُ العظيم",
        "csrf_token": token,
    }
    # first the analyst sees what the rulings would silence (#11), then confirms
    assert client.post(f"/posts/{s.posts['verse']}/review", data=form).status_code == 200
    resp = client.post(f"/posts/{s.posts['verse']}/review", data={**form, "confirm_suppress": "1"})
    assert resp.status_code == 303
    with db.sessions() as ses:
        rows = ses.scalars(select(Suppression).order_by(Suppression.id)).all()
        assert [(r.channel_id, r.kind, r.rule) for r in rows] == [
            (s.channel_id, "verse_cue", "quran:3:139"),
            (s.channel_id, None, None),
        ]
        assert rows[0].phrase == VERSE_139 and rows[0].phrase_norm == normalize(VERSE_139).text
        assert rows[1].phrase_norm == "صدق الله العظيم"
        assert rows[0].review_id is not None
        active = active_suppressions(ses, s.channel_id)
        assert [a.id for a in active] == [r.id for r in rows]
        assert active_suppressions(ses, s.other_channel_id) == []
        assert suppresses(
            rows[0],
            s.channel_id,
            "verse_cue",
            "quran:3:139",
            "ولا تهنوا ولا تحزنوا وانتم الاعلون ان كنتم مؤمنين",
        )
        assert not suppresses(rows[0], s.other_channel_id, "verse_cue", "quran:3:139", VERSE_139)
        assert ses.scalar(select(AuditLog).where(AuditLog.action == "suppression.add")) is not None
    assert "recited" not in client.get("/suppressions").text
    assert "صَدَقَ اللهُ العظيم" in client.get("/suppressions").text  # as the analyst typed it
    # a confirmation never creates one
    client.post(
        f"/posts/{s.posts['threat']}/review",
        data={"decision": "confirmed", "suppress": str(s.signals["threat"]), "csrf_token": token},
    )
    with db.sessions() as ses:
        assert len(active_suppressions(ses)) == 2


def test_hostile_text_is_escaped(signed_in) -> None:  # type: ignore[no-untyped-def]
    db, s, client = signed_in
    payload = '<script>alert(1)</script> <img src=x onerror=alert(2)> "quoted" javascript:alert(3)'
    ids = store_posts(
        db.sessions, s.channel_id, [PostRecord(77, NOW, f"تحذير {payload} النهاية", "export")]
    )
    add_match(db.sessions, ids[77], "high", [("threat", "t", None, "<script>alert(1)</script>")])
    for url in ("/", f"/posts/{ids[77]}", "/?q=alert", f"/posts/{ids[77]}?q=alert"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page
        if "q=" not in url:
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        elif url.startswith("/?"):  # a search marks its hit in the escaped excerpt (#14)
            assert '&lt;script&gt;<mark class="hit">alert</mark>(1)&lt;/script&gt;' in page
        else:  # on the post page the hit is cut inside the threat's own mark
            assert '&lt;script&gt;</mark><mark class="kind-threat hit"' in page
            assert ">alert</mark>" in page and ">(1)&lt;/script&gt;</mark>" in page
    assert '<a href="javascript' not in client.get(f"/posts/{ids[77]}").text


def test_overview_and_operator_pages(signed_in) -> None:  # type: ignore[no-untyped-def]
    _, s, client = signed_in
    page = client.get("/overview").text
    assert page.count("<svg") == 3 and "<rect" in page  # by group, by kind, severity (#14)
    assert "Kataib Test" in page and "verse_cue" in page
    assert re.search(
        r'channel=\d+&amp;since=[\d-]+&amp;until=[\d-]+&amp;state=all&amp;sort=newest">'
        r"<bdi>sarayat_test</bdi></a></td>"
        r'<td><bdi dir="auto">Kataib Test</bdi></td><td>2</td>',
        page,
    )
    channels = client.get("/channels").text
    assert "sarayat_test" in channels and "never" in channels
    token = csrf(client)
    resp = client.post(f"/channels/{s.channel_id}", data={"enabled": "0", "csrf_token": token})
    assert resp.status_code == 303
    assert "Enable</button>" in client.get("/channels").text
    client.post(
        "/groups",
        data={
            "name": "Kataib Test",
            "kind": "militia",
            "aliases": "KH, كتائب",
            "csrf_token": token,
        },
    )
    assert "KH, كتائب" in client.get("/groups").text
    rules = client.get("/rules").text
    assert "phrases.yaml" in rules
    assert "threat" in client.get("/rules?file=phrases.yaml").text
    assert client.get("/rules?file=../settings.yaml").status_code == 404
    resp = client.post("/rules/reload", data={"csrf_token": token})
    assert "rules+valid" in resp.headers["location"] or "rules%20valid" in resp.headers["location"]
