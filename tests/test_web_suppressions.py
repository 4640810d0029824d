"""Suppressions cannot silence a channel with one word, show what they would silence before they
are saved, and operators review and lift them (#11)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import unquote_plus

import pytest
from sqlalchemy import func, select

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import AuditLog, Match, Post, Review, Suppression

from .conftest import Database
from .conftest_match import shared_matcher
from .web_support import (
    NOW,
    VERSE_139,
    TestClient,
    add_match,
    csrf,
    login,
    make_client,
    make_users,
    seed,
    store_posts,
)

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
COUNT = re.compile(r"would silence <strong>(\d+)</strong> stored post")


def counts(db: Database) -> tuple[int, int]:
    with db.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Suppression)) or 0,
            s.scalar(select(func.count()).select_from(Review)) or 0,
        )


@pytest.mark.parametrize("phrase", ["ولا", "وَلَا", "  وَلا  ", "ولا و لا", "and the of", "إن"])
def test_a_phrase_of_stop_words_is_refused(sqlite_db: Database, phrase: str) -> None:
    make_users(sqlite_db.sessions)
    s = seed(sqlite_db.sessions)
    client = make_client(sqlite_db.sessions)
    assert login(client, "analyst") == 303
    before = counts(sqlite_db)
    for confirm in ("", "1"):  # confirming does not get round it
        resp = client.post(
            f"/posts/{s.posts['verse']}/review",
            data={
                "decision": "dismissed",
                "suppress_phrase": phrase,
                "confirm_suppress": confirm,
                "csrf_token": csrf(client),
            },
        )
        assert resp.status_code == 400
        assert "Refused" in resp.text and "stop words" in resp.text
    assert counts(sqlite_db) == before  # neither the ruling nor the dismissal was saved
    # JSON clients are told the same
    resp = client.post(
        f"/posts/{s.posts['verse']}/review",
        data={"decision": "dismissed", "suppress_phrase": phrase, "csrf_token": csrf(client)},
        headers={"accept": "application/json"},
    )
    assert resp.status_code == 400 and "stop words" in resp.json()["suppressions"][0]["refused"]


def test_the_preview_counts_what_it_would_silence_before_saving(sqlite_db: Database) -> None:
    make_users(sqlite_db.sessions)
    s = seed(sqlite_db.sessions)
    client = make_client(sqlite_db.sessions)
    assert login(client, "analyst") == 303
    # Two more posts quoting 3:139 in the channel, one in the other channel, one unrelated.
    ids = store_posts(
        sqlite_db.sessions,
        s.channel_id,
        [
            PostRecord(20, NOW - timedelta(hours=5), f"{VERSE_139} والنصر قريب", "export"),
            PostRecord(21, NOW - timedelta(hours=4), f"نذكر {VERSE_139}", "export"),
            PostRecord(22, NOW - timedelta(hours=3), "وأنتم الأعلون في كل ساحة", "export"),
        ],
    )
    for mid in (20, 21):
        add_match(
            sqlite_db.sessions, ids[mid], "high", [("verse_cue", "quran:3:139", "3:139", VERSE_139)]
        )
    add_match(sqlite_db.sessions, ids[22], "none", [], flagged=False)
    other = store_posts(
        sqlite_db.sessions, s.other_channel_id, [PostRecord(30, NOW, VERSE_139, "web")]
    )
    add_match(
        sqlite_db.sessions, other[30], "high", [("verse_cue", "quran:3:139", "3:139", VERSE_139)]
    )
    before = counts(sqlite_db)
    form = {
        "decision": "dismissed",
        "note": "funeral",
        "suppress_phrase": "وانتم الاعلون",
        "csrf_token": csrf(client),
    }
    resp = client.post(f"/posts/{s.posts['verse']}/review", data=form)
    assert resp.status_code == 200
    found = COUNT.search(resp.text)
    assert found and int(found.group(1)) == 3, resp.text  # posts 1, 20, 21 of this channel
    assert "(3 flagged now)" in resp.text
    for pid in (s.posts["verse"], ids[20], ids[21]):
        assert f'href="/posts/{pid}"' in resp.text
    assert f'href="/posts/{other[30]}"' not in resp.text and f'/posts/{ids[22]}"' not in resp.text
    assert counts(sqlite_db) == before  # nothing saved before the analyst confirms
    assert 'name="confirm_suppress" value="1"' in resp.text
    assert 'name="note" value="funeral"' in resp.text
    # confirming saves the dismissal and the ruling
    resp = client.post(f"/posts/{s.posts['verse']}/review", data={**form, "confirm_suppress": "1"})
    assert resp.status_code == 303
    assert counts(sqlite_db) == (before[0] + 1, before[1] + 1)
    # the signal's own span: previewed too (its kind and rule set)
    resp = client.post(
        f"/posts/{s.posts['threat']}/review",
        data={
            "decision": "dismissed",
            "suppress": str(s.signals["threat"]),
            "csrf_token": form["csrf_token"],
        },
    )
    found = COUNT.search(resp.text)
    assert resp.status_code == 200 and found and int(found.group(1)) == 1


@pytest.mark.parametrize("phrase", ["ه", "1", "ل ب"])
def test_a_phrase_without_a_real_word_is_refused(sqlite_db: Database, phrase: str) -> None:
    # A ruling matches inside words: one letter or a digit would silence nearly every signal.
    make_users(sqlite_db.sessions)
    s = seed(sqlite_db.sessions)
    client = make_client(sqlite_db.sessions)
    assert login(client, "analyst") == 303
    before = counts(sqlite_db)
    resp = client.post(
        f"/posts/{s.posts['verse']}/review",
        data={
            "decision": "dismissed",
            "suppress_phrase": phrase,
            "confirm_suppress": "1",
            "csrf_token": csrf(client),
        },
    )
    assert resp.status_code == 400 and "no word of 3 letters" in resp.text
    assert counts(sqlite_db) == before


def test_a_ruling_that_silences_most_of_a_channel_needs_an_operator(sqlite_db: Database) -> None:
    # "الله" is no stop word, yet it is in nearly every verse signal of a religious channel.
    make_users(sqlite_db.sessions)
    s = seed(sqlite_db.sessions)
    verse = "إن الله يحب الذين يقاتلون في سبيله صفا"
    records = [
        PostRecord(40 + i, NOW - timedelta(hours=i + 1), f"{verse} {i}", "export") for i in range(6)
    ]
    ids = store_posts(sqlite_db.sessions, s.channel_id, records)
    for mid in ids.values():
        add_match(sqlite_db.sessions, mid, "high", [("verse_cue", "quran:61:4", "61:4", verse)])
    form = {"decision": "dismissed", "suppress_phrase": "الله", "confirm_suppress": "1"}
    analyst = make_client(sqlite_db.sessions)
    assert login(analyst, "analyst") == 303
    before = counts(sqlite_db)
    resp = analyst.post(f"/posts/{ids[40]}/review", data={**form, "csrf_token": csrf(analyst)})
    assert resp.status_code == 400 and "needs an operator" in resp.text, resp.text
    assert counts(sqlite_db) == before  # nothing saved
    operator = make_client(sqlite_db.sessions)
    assert login(operator, "operator") == 303
    resp = operator.post(f"/posts/{ids[40]}/review", data={**form, "csrf_token": csrf(operator)})
    assert resp.status_code == 303  # an operator may make the wide ruling
    assert counts(sqlite_db) == (before[0] + 1, before[1] + 1)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def flagged(db: Database, channel_id: int, mid: int) -> bool:
    with db.sessions() as s:
        match = s.scalar(
            select(Match)
            .join(Post, Post.id == Match.post_id)
            .where(Post.channel_id == channel_id, Post.message_id == mid)
        )
        assert match is not None
        return match.flagged


def test_an_operator_lifts_a_suppression_and_matches_flag_again(
    db: Database, pipeline: Pipeline
) -> None:
    make_users(db.sessions)
    s = seed(db.sessions)
    cid = s.channel_id
    pipeline.store(cid, [PostRecord(100, NOW, CUE, "telethon")])
    assert flagged(db, cid, 100)
    with db.sessions() as ses:
        first = ses.scalar(select(Post.id).where(Post.channel_id == cid, Post.message_id == 100))
    analyst = make_client(db.sessions)
    assert login(analyst, "analyst") == 303
    resp = analyst.post(
        f"/posts/{first}/review",
        data={
            "decision": "dismissed",
            "suppress_phrase": "وأنتم الأعلون",
            "confirm_suppress": "1",
            "csrf_token": csrf(analyst),
        },
    )
    assert resp.status_code == 303
    with db.sessions() as ses:
        sup_id = ses.scalars(select(Suppression.id)).one()
    pipeline.store(cid, [PostRecord(101, NOW, CUE, "telethon")])
    assert not flagged(db, cid, 101)  # the ruling silences the next post

    page = analyst.get("/suppressions").text
    row = re.search(rf'<tr id="suppression-{sup_id}">(.*?)</tr>', page, re.S)
    assert row, page
    assert "analyst" in row.group(1) and "sarayat_test" in row.group(1)
    assert '<td class="hidden-count">1</td>' in row.group(1)  # post 101
    assert "/lift" not in row.group(1)  # analysts see, operators lift
    token = csrf(analyst)
    assert (
        analyst.post(f"/suppressions/{sup_id}/lift", data={"csrf_token": token}).status_code == 403
    )
    assert (
        analyst.post(
            f"/suppressions/{sup_id}", data={"enabled": "0", "csrf_token": token}
        ).status_code
        == 403
    )

    operator = make_client(db.sessions)
    assert login(operator, "operator") == 303
    page = operator.get("/suppressions").text
    assert f'action="/suppressions/{sup_id}/lift"' in page
    # the lift route checks CSRF
    assert operator.post(f"/suppressions/{sup_id}/lift", data={}).status_code == 403
    resp = operator.post(f"/suppressions/{sup_id}/lift", data={"csrf_token": csrf(operator)})
    assert resp.status_code == 303
    assert "rematch" in unquote_plus(resp.headers["location"])
    with db.sessions() as ses:
        audit = ses.scalars(select(AuditLog).where(AuditLog.action == "suppression.lift")).one()
        assert (audit.actor, audit.target) == ("operator", f"suppression:{sup_id}")
    pipeline.store(cid, [PostRecord(102, NOW, CUE, "telethon")])
    assert flagged(db, cid, 102)  # lifted: the next match flags again
    assert "lifted" in operator.get("/suppressions").text


def test_restoring_a_stop_word_ruling_is_refused(sqlite_db: Database) -> None:
    """A ruling saved before stop words were refused cannot be brought back once lifted."""
    make_users(sqlite_db.sessions)
    s = seed(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as ses:
        sup = Suppression(channel_id=s.channel_id, phrase="ولا", phrase_norm="ولا", enabled=False)
        ses.add(sup)
        ses.flush()
        sup_id = sup.id
    client: TestClient = make_client(sqlite_db.sessions)
    assert login(client, "operator") == 303
    resp = client.post(f"/suppressions/{sup_id}", data={"enabled": "1", "csrf_token": csrf(client)})
    assert "not restored" in unquote_plus(resp.headers["location"])
    with sqlite_db.sessions() as ses:
        assert ses.get(Suppression, sup_id).enabled is False  # type: ignore[union-attr]
