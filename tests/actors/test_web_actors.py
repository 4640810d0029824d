"""The registry's pages (#16): /actors, a group's page (channels, signals, pledges made and
received) and a person's (pledges received, posts naming them); analysts read them, operators
edit an entry's aliases and note (audited, CSRF-checked); channel text is escaped everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import build_pipeline
from monitor.store.models import AuditLog, Channel, MediaFile, Mention, Post, RegistryOverride
from tests.conftest import Database, add_channel
from tests.conftest_match import shared_matcher
from tests.web_support import csrf, login, make_client, make_users

HOSTILE = "<script>alert(1)</script>\u202e"
PLEDGE = f"{HOSTILE} نحن رهن إشارة القائد أكرم الكعبي"
T0 = datetime(2024, 2, 3, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def console(db: Database, matcher: Matcher) -> Database:
    """Ashab al-Kahf's channel pledges to Kaabi (hostile text before it); Nujaba's channel
    posts a plain statement."""
    make_users(db.sessions)
    pipeline = build_pipeline(db.sessions, load_settings(), matcher=matcher)
    kahf = add_channel(db, "example_kahf_channel", "Ashab al-Kahf", "Harakat al-Nujaba")
    nujaba = add_channel(db, "example_nujaba_channel", "Harakat al-Nujaba")
    pipeline.store(kahf, [PostRecord(1, T0, PLEDGE, "export")])
    pipeline.store(nujaba, [PostRecord(2, T0, "كلمة الحاج هادي العامري", "export")])
    return db


def signed_in(db: Database, role: str) -> TestClient:
    client = make_client(db.sessions)
    assert login(client, role) == 303
    return client


def test_analysts_read_the_registry_and_its_pledges(console: Database) -> None:
    client = signed_in(console, "analyst")
    listing = client.get("/actors")
    assert listing.status_code == 200
    for name in ("Harakat al-Nujaba", "Akram al-Kaabi", "Ain al-Asad air base", "Tower 22"):
        assert name in listing.text
    assert 'href="/actors"' in listing.text  # the nav link

    kahf = client.get("/actors/groups/ashab-al-kahf")
    assert kahf.status_code == 200
    made = kahf.text.split("Pledges made", 1)[1].split("Pledges received", 1)[0]
    assert 'href="/actors/people/akram-al-kaabi"' in made
    assert "@<bdi>example_kahf_channel</bdi>" in kahf.text

    nujaba = client.get("/actors/groups/harakat-al-nujaba")
    received = nujaba.text.split("Pledges received", 1)[1]
    assert "القائد أكرم الكعبي" in received and 'href="/posts/' in received
    assert 'href="/actors/groups/ashab-al-kahf"' in nujaba.text  # its facade

    kaabi = client.get("/actors/people/akram-al-kaabi")
    assert kaabi.status_code == 200
    assert kaabi.text.count('class="post-row"') == 2  # a pledge received, and a post naming him
    assert "actor-edit" not in kaabi.text  # the form is the operators'
    for page in (listing, kahf, nujaba, kaabi):
        assert "<script>alert(1)" not in page.text


def test_the_signals_shown_are_escaped(console: Database) -> None:
    client = signed_in(console, "analyst")
    page = client.get("/actors/groups/ashab-al-kahf").text
    signals = page.split("Recent flagged signals", 1)[1].split("Pledges made", 1)[0]
    assert "allegiance" in signals
    assert "<script>" not in page


def test_an_unknown_entry_is_not_found(console: Database) -> None:
    client = signed_in(console, "analyst")
    assert client.get("/actors/groups/no-such-group").status_code == 404
    assert client.get("/actors/people/%3Cscript%3E").status_code == 404


def edit(client: TestClient, path: str, **form: str) -> str:
    resp = client.post(path, data={"csrf_token": csrf(client, "/actors"), **form})
    assert resp.status_code == 303, resp.text
    return parse_qs(urlsplit(resp.headers["location"]).query)["msg"][0]


def test_operators_edit_aliases_and_note_and_it_is_audited(
    console: Database, matcher: Matcher
) -> None:
    client = signed_in(console, "operator")
    page = client.get("/actors/people/akram-al-kaabi").text
    assert "actor-edit" in page and "الكعبي | الشيخ, سماحة" in page
    note = f"corrected {HOSTILE}"
    msg = edit(
        client,
        "/actors/person/akram-al-kaabi/edit",
        aliases="أكرم الكعبي\nأبو مهدي التجريبي\nالكعبي | الشيخ",
        note=note,
    )
    assert msg.startswith("saved")
    page = client.get("/actors/people/akram-al-kaabi").text
    assert str(escape(note)) in page and "<script>alert(1)" not in page
    assert "أبو مهدي التجريبي" in page
    with console.sessions() as s:
        (entry,) = s.scalars(select(AuditLog).where(AuditLog.action == "registry.edit"))
        assert (entry.actor, entry.target) == ("operator", "person:akram-al-kaabi")
        assert entry.detail["note"]["after"] == note
        assert "سماحة" in entry.detail["aliases"]["before"]
        assert entry.detail["aliases"]["after"].endswith("الكعبي | الشيخ")

    # Posts stored from now on are read with the edited aliases.
    pipeline = build_pipeline(console.sessions, load_settings(), matcher=matcher)
    channel = add_channel(console, "example_kahf_channel")
    pipeline.store(channel, [PostRecord(3, T0, "كلمة أبو مهدي التجريبي", "export")])
    with console.sessions() as s:
        new = s.scalars(select(Mention).where(Mention.ref == "akram-al-kaabi")).all()
        assert len(new) == 2  # the pledge of the fixture, and this post by the new alias


def test_a_bad_alias_is_refused_naming_its_line(console: Database) -> None:
    client = signed_in(console, "operator")
    msg = edit(
        client,
        "/actors/group/harakat-al-nujaba/edit",
        aliases="النجباء\n" + "ن" * 201,
        note="x",
    )
    assert msg.startswith("not saved: aliases, line 2")
    assert edit(client, "/actors/group/harakat-al-nujaba/edit", aliases="a", note=" ").startswith(
        "not saved: note"
    )
    assert edit(client, "/actors/group/no-such/edit", aliases="a", note="b").startswith(
        "not saved: no group"
    )
    with console.sessions() as s:
        assert s.scalars(select(RegistryOverride)).all() == []


def test_analysts_cannot_edit_and_every_edit_needs_the_token(console: Database) -> None:
    analyst = signed_in(console, "analyst")
    form = {"aliases": "x", "note": "y"}
    token = csrf(analyst, "/actors")
    resp = analyst.post("/actors/person/akram-al-kaabi/edit", data={"csrf_token": token, **form})
    assert resp.status_code == 403
    operator = signed_in(console, "operator")
    assert operator.post("/actors/person/akram-al-kaabi/edit", data=form).status_code == 403
    forged = {"csrf_token": "forged", **form}
    assert operator.post("/actors/person/akram-al-kaabi/edit", data=forged).status_code == 403
    with console.sessions() as s:
        assert s.scalars(select(RegistryOverride)).all() == []
        assert s.scalars(select(AuditLog).where(AuditLog.action == "registry.edit")).all() == []


def test_a_name_read_from_an_image_is_shown_from_the_images_text(
    console: Database, matcher: Matcher
) -> None:
    pipeline = build_pipeline(console.sessions, load_settings(), matcher=matcher)
    channel = add_channel(console, "example_kahf_channel")
    pipeline.store(channel, [PostRecord(4, T0, "بيان", "export")])
    with console.sessions.begin() as s:
        post = s.scalars(select(Post).where(Post.message_id == 4)).one()
        image = "بيان <b>عاجل</b> من سماحة الشيخ قيس الخزعلي"
        s.add(MediaFile(post_id=post.id, kind="photo", origin="export", status="done",
                        ocr_text=image))  # fmt: skip
        s.flush()
        pipeline.relayer(s, s.get_one(Channel, channel), [post])
    page = signed_in(console, "analyst").get("/actors/people/qais-al-khazali").text
    assert "سماحة الشيخ قيس الخزعلي (in the image&#39;s text)" in page
    assert "<b>" not in page
