"""The console and channel kinds (#12): operators set a channel's kind on the channels page;
analysts see it on the post page and in the queue, and cannot change it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.store.models import AuditLog, Channel

from .conftest import Database
from .web_support import Seeded, csrf, login, make_client, make_users, seed


@pytest.fixture
def console(sqlite_db: Database) -> tuple[Database, Seeded]:
    make_users(sqlite_db.sessions)
    return sqlite_db, seed(sqlite_db.sessions)


def _signed_in(db: Database, role: str) -> TestClient:
    client = make_client(db.sessions)
    assert login(client, role) == 303
    return client


def _kind(db: Database, channel_id: int) -> str:
    with db.sessions() as s:
        return s.get_one(Channel, channel_id).kind


def test_an_operator_sets_a_channel_s_kind(console: tuple[Database, Seeded]) -> None:
    db, seeded = console
    client = _signed_in(db, "operator")
    page = client.get("/channels").text
    assert '<select name="kind" aria-label="kind">' in page and "<th>Kind</th>" in page
    token = csrf(client, "/channels")
    url = f"/channels/{seeded.channel_id}"
    resp = client.post(url, data={"kind": "news", "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert _kind(db, seeded.channel_id) == "news"
    with db.sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "channel.update")).one()
    assert audit.actor == "operator" and audit.detail["kind"] == {"from": "group", "to": "news"}
    bad = client.post(url, data={"kind": "newspaper", "csrf_token": token})
    assert bad.status_code == 400 and _kind(db, seeded.channel_id) == "news"
    added = client.post(
        "/channels",
        data={"handle": "agency_z", "kind": "media", "csrf_token": token},
        follow_redirects=False,
    )
    assert added.status_code == 303
    with db.sessions() as s:
        assert s.scalars(select(Channel.kind).where(Channel.handle == "agency_z")).one() == "media"


def test_an_analyst_cannot_set_a_kind_but_sees_it(console: tuple[Database, Seeded]) -> None:
    db, seeded = console
    with db.sessions.begin() as s:
        s.get_one(Channel, seeded.channel_id).kind = "leader"
    client = _signed_in(db, "analyst")
    token = csrf(client)
    resp = client.post(f"/channels/{seeded.channel_id}", data={"kind": "news", "csrf_token": token})
    assert resp.status_code == 403 and _kind(db, seeded.channel_id) == "leader"
    post = client.get(f"/posts/{seeded.posts['verse']}").text
    assert 'channel kind: <span class="chkind chkind-leader">leader</span>' in post
    queue = client.get("/").text
    assert '<bdi>sarayat_test</bdi> <small class="chkind chkind-leader">leader</small>' in queue
    assert '<bdi>other_chan</bdi> <small class="chkind chkind-group">group</small>' in queue
