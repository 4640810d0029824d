"""The channel graph in the console (#15): GET /graph draws it as SVG, GET /channels/{id}
lists a channel's upstream and downstream neighbours, the same edges as `monitor export graph`."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from monitor.collect.records import ForwardInfo
from monitor.config import load_settings
from monitor.network.layout import MAX_NODES
from monitor.network.refs import MAX_REFS
from monitor.pipeline import build_pipeline
from monitor.store.models import Channel
from monitor.web.app import create_app
from tests.conftest import Database, add_channel
from tests.conftest_match import shared_matcher
from tests.network.test_echo import ECHO, STATEMENT
from tests.network.test_graph import rec
from tests.test_web_browser import launched, sign_in
from tests.web_support import login, make_client, make_users, serving, settings

RLO, FSI, PDI = "\u202e", "\u2068", "\u2069"
HOSTILE = f"<script>alert(1)</script>{RLO}"
NODE = re.compile(r'<(a|g)(?: href="([^"]*)")? class="node" data-handle="([^"]+)">')
EDGE = re.compile(
    r'<line class="edge edge-(\w+)" data-kind="\w+" x1="[^"]+" y1="[^"]+" x2="[^"]+" y2="[^"]+"'
    r"[^>]*><title>([^<]*)</title>"
)
ROW = re.compile(r'<tr class="neighbour" data-handle="([^"]+)" data-kind="(\w+)">(.*?)</tr>')


@dataclass
class World:
    db: Database
    nujaba: int
    kahf: int


def build_world(db: Database, tmp_path_factory: pytest.TempPathFactory) -> World:
    """nujaba publishes first; kahf_media (hostile title) forwards it twice, echoes its
    statement, and forwards a channel nobody monitors whose forward name is hostile."""
    make_users(db.sessions)
    nujaba = add_channel(db, "nujaba", group="Harakat al-Nujaba")
    kahf = add_channel(db, "kahf_media", group="Ashab al-Kahf")
    with db.sessions.begin() as s:
        ch = s.get_one(Channel, kahf)
        ch.title, ch.kind = HOSTILE, "media"
    matcher = shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")
    pipe = build_pipeline(db.sessions, load_settings(), matcher=matcher)
    pipe.store(nujaba, [rec(1, STATEMENT), rec(2, "بيان ثان")])
    pipe.store(
        kahf,
        [
            rec(5, ECHO, hours=3),
            rec(6, "", hours=4, fwd=ForwardInfo("nujaba", 1, "النجباء")),
            rec(7, "", hours=5, fwd=ForwardInfo("nujaba", 2, "النجباء")),
            rec(8, "", hours=6, fwd=ForwardInfo("hidden_chan", 3, HOSTILE)),
        ],
    )
    return World(db, nujaba, kahf)


@pytest.fixture
def world(db: Database, tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(db, tmp_path_factory)


def signed_in(db: Database, role: str = "analyst") -> TestClient:
    client = make_client(db.sessions)
    assert login(client, role) == 303
    return client


def test_the_graph_draws_both_channels_and_their_edges_by_kind(world: World) -> None:
    page = signed_in(world.db).get("/graph")
    assert page.status_code == 200, page.text
    svg = page.text[page.text.index("<svg viewBox") :]
    nodes = {handle: href for _, href, handle in NODE.findall(svg)}
    assert nodes == {
        "nujaba": f"/channels/{world.nujaba}",
        "kahf_media": f"/channels/{world.kahf}",
        "hidden_chan": "",  # analysts have no discovered page to go to
    }
    edges = set(EDGE.findall(svg))
    assert ("forward", "@kahf_media forwards @nujaba: 2 post(s)") in edges
    assert ("echo", "@kahf_media repeats a statement first published by @nujaba: 1 post(s)") in (
        edges
    )
    assert ("forward", "@kahf_media forwards @hidden_chan: 1 post(s)") in edges
    assert 'marker-end="url(#arrow-echo)"' in svg and '<marker id="arrow-echo"' in svg
    # The operator may open the discovered page from a channel nobody monitors.
    svg = signed_in(world.db, "operator").get("/graph").text
    assert '<a href="/discovered" class="node" data-handle="hidden_chan">' in svg


def test_hostile_titles_and_forward_names_are_escaped_and_isolated(world: World) -> None:
    client = signed_in(world.db)
    for path in ("/graph", f"/channels/{world.kahf}", f"/channels/{world.nujaba}"):
        text = client.get(path).text
        assert "<script>alert" not in text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, path
        # an override ends where the hostile text does: at its </bdi>, or in a tooltip at the
        # isolate mark closing it, before the console's own words (" · @kahf_media")
        for m in re.finditer(RLO, text):
            assert text[m.end() :].startswith(("</bdi>", PDI)), (path, text[m.end() : 60])
        assert FSI + html.escape(HOSTILE) + PDI in text, path  # the tooltips
    heading = re.search(r"<h1>(.*?)</h1>", client.get(f"/channels/{world.kahf}").text)
    assert heading and heading.group(1) == (
        f'<bdi dir="auto">{html.escape(HOSTILE)}</bdi> <small>@<bdi>kahf_media</bdi></small>'
    )


def test_the_channel_page_lists_upstream_and_downstream_neighbours(world: World) -> None:
    client = signed_in(world.db)
    kahf = client.get(f"/channels/{world.kahf}").text
    up, down = kahf.split("<h2>Downstream</h2>")
    assert "This channel forwards, echoes, quotes or mentions them." in up
    assert [(h, k) for h, k, _ in ROW.findall(up)] == [
        ("nujaba", "forward"),
        ("hidden_chan", "forward"),
        ("nujaba", "echo"),
    ]
    echo = dict(((h, k), cells) for h, k, cells in ROW.findall(up))[("nujaba", "echo")]
    assert "they published first" in echo and "<td>1</td>" in echo
    assert ROW.findall(down) == []
    assert '<td class="posts">4</td>' in kahf

    nujaba = client.get(f"/channels/{world.nujaba}").text
    # its statement is an attack claim, flagged; the second post is not
    assert '<td class="posts">2</td>' in nujaba and '<td class="flagged">1</td>' in nujaba
    up, down = nujaba.split("<h2>Downstream</h2>")
    assert ROW.findall(up) == []
    rows = {(h, k): cells for h, k, cells in ROW.findall(down)}
    assert set(rows) == {("kahf_media", "forward"), ("kahf_media", "echo")}
    assert "this channel published first" in rows[("kahf_media", "echo")]
    assert (
        f'<a href="/channels/{world.kahf}">@<bdi>kahf_media</bdi></a>'
        in rows[("kahf_media", "forward")]
    )
    assert "<td>2</td>" in rows[("kahf_media", "forward")]
    # the operators' channel list opens each channel's page
    listed = signed_in(world.db, "operator").get("/channels").text
    assert f'<a href="/channels/{world.nujaba}"><bdi class="handle">nujaba</bdi></a>' in listed


def test_filters_narrow_the_picture(world: World) -> None:
    client = signed_in(world.db)
    svg = client.get("/graph?kind=echo").text
    assert {k for k, _ in EDGE.findall(svg)} == {"echo"}
    assert "hidden_chan" not in {h for _, _, h in NODE.findall(svg)}
    svg = client.get("/graph?min_weight=2").text
    assert {k for k, _ in EDGE.findall(svg)} == {"forward"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=retweet", "Bad parameter &#39;kind&#39;: expected one of forward, mention"),
        ("min_weight=zero", "Bad parameter &#39;min_weight&#39;: expected a whole number"),
        ("min_weight=0", "Bad parameter &#39;min_weight&#39;"),
        ("min_weight=99999999999999999999999", "Bad parameter &#39;min_weight&#39;"),
        ("group=999999", "Bad parameter &#39;group&#39;: no group has this id"),
        ("group=x", "Bad parameter &#39;group&#39;"),
    ],
)
def test_a_bad_filter_is_refused_by_name(world: World, query: str, message: str) -> None:
    resp = signed_in(world.db).get(f"/graph?{query}")
    assert resp.status_code == 400 and message in resp.text, resp.text
    assert "Traceback" not in resp.text


def test_an_unknown_channel_is_a_404_and_signing_in_comes_first(world: World) -> None:
    client = signed_in(world.db)
    assert client.get("/channels/123456").status_code == 404
    assert client.get("/channels/abc").status_code == 404
    anonymous = make_client(world.db.sessions)
    for path in ("/graph", f"/channels/{world.kahf}"):
        resp = anonymous.get(path)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login"), path


@pytest.mark.browser
def test_the_graph_renders_in_chromium_under_the_csp(
    sqlite_db: Database, tmp_path_factory: pytest.TempPathFactory
) -> None:
    world = build_world(sqlite_db, tmp_path_factory)
    problems: list[str] = []
    with serving(create_app(settings(), sqlite_db.sessions)) as base, launched() as browser:
        page = browser.new_page()
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: problems.append("dialog: " + d.message))
        sign_in(page, base, "analyst")
        page.goto(base + "/graph")
        drawn: Any = page.evaluate(DRAWN_JS)
        assert drawn["nodes"] == 3 and drawn["edges"] == 3, drawn
        assert drawn["width"] > 300 and drawn["height"] > 200, drawn  # laid out, not collapsed
        # presentation attributes applied: the group's colour, the echo's red
        assert drawn["kahf"] == "rgb(0, 114, 178)" and drawn["echo"] == "rgb(192, 57, 43)"
        page.click('a.node[data-handle="kahf_media"]')
        page.wait_for_url(f"{base}/channels/{world.kahf}")
        assert page.locator("tr.neighbour").count() == 3
    assert not problems, problems


DRAWN_JS = """() => {
  const svg = document.querySelector("svg.channel-graph");
  const box = svg.getBoundingClientRect();
  const shape = document.querySelector('a.node[data-handle="kahf_media"] polygon');
  return {nodes: svg.querySelectorAll(".node").length,
          edges: svg.querySelectorAll("line.edge").length, width: box.width,
          height: box.height, kahf: getComputedStyle(shape).fill,
          echo: getComputedStyle(svg.querySelector("line.edge-echo")).stroke};
}"""


def test_a_graph_past_the_limit_says_how_many_channels_it_left_out(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    matcher = shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")
    pipe = build_pipeline(world.db.sessions, load_settings(), matcher=matcher)
    # 16 posts of 20 mentions each: 320 handles nobody monitors, one post each
    posts = [
        rec(100 + p, " ".join(f"@spam{p:02d}x{i:02d}" for i in range(MAX_REFS)), hours=10 + p)
        for p in range(16)
    ]
    pipe.store(world.nujaba, posts)
    text = signed_in(world.db).get("/graph").text
    assert len(NODE.findall(text)) == MAX_NODES
    left_out = 3 + 16 * MAX_REFS - MAX_NODES
    assert f"<strong>{left_out} more channels left out</strong>" in text
    drawn = {h for _, _, h in NODE.findall(text)}
    assert {"nujaba", "kahf_media"} <= drawn  # the heaviest stay
