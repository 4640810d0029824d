"""Hostile channel text cannot reorder the console's own text, and forms post only here (#11)."""

from __future__ import annotations

import html
import re

from monitor.collect.records import PostRecord
from monitor.store.channels import ensure_channel

from .conftest import Database
from .web_support import NOW, add_match, login, make_client, make_users, store_posts

RLO = "\u202e"
TITLE = f"{RLO}Kataib {RLO}<b>x</b>"
HEADING = re.compile(r"<h1>(.*?)</h1>", re.S)


def test_hostile_titles_sit_in_their_own_bidi_isolate(sqlite_db: Database) -> None:
    make_users(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as s:
        cid = ensure_channel(s, "rlo_chan", source="web", title=TITLE, group=f"{RLO}Group").id
    ids = store_posts(sqlite_db.sessions, cid, [PostRecord(7, NOW, "سنرد على العدوان", "web")])
    add_match(sqlite_db.sessions, ids[7], "high", [("threat", "t", None, "سنرد على العدوان")])
    client = make_client(sqlite_db.sessions)
    assert login(client, "analyst") == 303

    heading = HEADING.search(client.get(f"/posts/{ids[7]}").text)
    assert heading
    title = html.escape(TITLE)
    # The title is isolated, and the handle and message id are outside its isolate: the
    # override inside it ends at </bdi> and cannot turn "@rlo_chan #7" around.
    assert heading.group(1) == (
        f'<bdi dir="auto">{title}</bdi> <small>@<bdi>rlo_chan</bdi> #7</small>'
    )
    queue = client.get("/").text
    assert '<td class="chan"><bdi>rlo_chan</bdi>' in queue
    assert f'<td class="group"><bdi dir="auto">{RLO}Group</bdi></td>' in queue
    overview = client.get("/overview").text
    assert "<bdi>rlo_chan</bdi></a>" in overview
    assert f'<td><bdi dir="auto">{RLO}Group</bdi></td>' in overview


def test_every_response_restricts_form_targets(sqlite_db: Database) -> None:
    client = make_client(sqlite_db.sessions)
    for resp in (
        client.get("/login"),
        client.get("/nowhere"),
        client.post("/login", content=b"x" * 2_000_000),
    ):
        csp = resp.headers["content-security-policy"]
        assert "form-action 'self'" in [part.strip() for part in csp.split(";")], resp.status_code
