"""GET /graph, the channel graph drawn, and GET /channels/{id}, one channel with its upstream
and downstream neighbours (#15). Both read network.graph, as `monitor export graph` does, so
the page, the picture and the export agree. Any signed-in user: analysts read the network."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import networkx as nx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.network.graph import EDGE_KINDS, Neighbour, build_graph, neighbours
from monitor.network.layout import place, selected
from monitor.store.models import Channel, ChannelRef, Group, Match, Post
from monitor.web.auth import DB, Analyst, Principal
from monitor.web.graph_draw import EDGE_COLOURS, EDGE_DASH, SHAPES, Drawing, draw
from monitor.web.params import BadParameter, ChannelId, as_id, parse_id
from monitor.web.render import render

router = APIRouter()
MAX_MIN_WEIGHT = 1_000_000
DISCOVERED = "/discovered"
ROWS = 100  # neighbours listed a direction
EGO_NODES = 60  # the channel page's small picture: its neighbours, the heaviest first
# What an edge means, seen from the channel whose page it is (network.graph.flow).
UPSTREAM_WORDS = {
    "forward": "forwards them",
    "mention": "mentions them",
    "link": "links to them",
    "quote": "quotes them",
    "echo": "echoes them: they published first",
}
DOWNSTREAM_WORDS = {
    "forward": "they forward this channel",
    "mention": "they mention this channel",
    "link": "they link to this channel",
    "quote": "they quote this channel",
    "echo": "they echo this channel: this channel published first",
}


@dataclass(frozen=True, slots=True)
class Row:
    handle: str
    label: str
    href: str
    monitored: bool
    kind: str
    words: str
    weight: int


def _kinds(request: Request) -> tuple[str, ...]:
    given = request.query_params.getlist("kind")
    if not given:
        return EDGE_KINDS
    bad = [k for k in given if k not in EDGE_KINDS]
    if bad:
        raise BadParameter("kind", "one of " + ", ".join(EDGE_KINDS))
    return tuple(k for k in EDGE_KINDS if k in given)


def _min_weight(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 1
    value = as_id(raw)
    if value is None or value > MAX_MIN_WEIGHT:
        raise BadParameter("min_weight", f"a whole number from 1 to {MAX_MIN_WEIGHT}")
    return value


def _hrefs(db: Session) -> dict[str, str]:
    return {h: f"/channels/{i}" for i, h in db.execute(select(Channel.id, Channel.handle))}


def _forward_names(db: Session, handles: Collection[str]) -> dict[str, str]:
    """The names forwards gave channels nobody monitors: one each, the same on every request."""
    if not handles:
        return {}
    rows = db.execute(
        select(ChannelRef.target, func.max(ChannelRef.name))
        .where(ChannelRef.target.in_(sorted(handles)), ChannelRef.name.is_not(None))
        .group_by(ChannelRef.target)
    )
    # One line each: a name with line breaks would draw lines of its own in the tooltips.
    return {target: " ".join(name.split()) for target, name in rows if name and name.strip()}


def _discovered(me: Principal) -> str:
    return DISCOVERED if me.can("operator") else ""  # the page is operators' (web/discovered.py)


def _drawing(db: Session, me: Principal, g: nx.DiGraph, **size: int) -> Drawing:
    layout = place(g, **size)
    hidden = [n for n, d in layout.shown.nodes(data=True) if not d["monitored"]]
    return draw(layout, _hrefs(db), _forward_names(db, hidden), _discovered(me))


def _legend() -> dict[str, Any]:
    return {
        "edge_colours": EDGE_COLOURS,
        "edge_dash": EDGE_DASH,
        "shapes": SHAPES,
        "edge_kinds": EDGE_KINDS,
    }


@router.get("/graph")
def graph_page(request: Request, me: Analyst, db: DB) -> Response:
    kinds = _kinds(request)
    min_weight = _min_weight(request.query_params.get("min_weight"))
    group_id = parse_id("group", request.query_params.get("group"))
    groups = list(db.scalars(select(Group).order_by(Group.name)))
    group = next((g for g in groups if g.id == group_id), None)
    if group_id is not None and group is None:
        raise HTTPException(400, "Bad parameter 'group': no group has this id.")
    g = selected(
        build_graph(db, communities=False), kinds, group.name if group else None, min_weight
    )
    drawing = _drawing(db, me, g)
    return render(
        request,
        "graph.html",
        {
            "drawing": drawing,
            "kinds": kinds,
            "groups": groups,
            "group_id": group_id,
            "min_weight": min_weight,
            "edge_count": len(drawing.edges),
            **_legend(),
        },
    )


def _rows(
    rows: list[Neighbour], words: dict[str, str], hrefs: dict[str, str], other: str
) -> list[Row]:
    return [
        Row(
            n.handle,
            n.label,
            hrefs.get(n.handle, other),
            n.monitored,
            n.kind,
            words[n.kind],
            n.weight,
        )
        for n in rows
    ]


@router.get("/channels/{channel_id}")
def channel_page(request: Request, me: Analyst, db: DB, channel_id: ChannelId) -> Response:
    channel = db.get(Channel, channel_id)
    if channel is None:
        raise HTTPException(404, "No such channel.")
    posts = db.scalar(select(func.count()).select_from(Post).where(Post.channel_id == channel.id))
    flagged = db.scalar(
        select(func.count())
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        .where(Post.channel_id == channel.id, Match.flagged.is_(True))
    )
    g = build_graph(db, communities=False)
    near = neighbours(g, channel.handle)
    hrefs = _hrefs(db)
    ego = nx.ego_graph(g, channel.handle, radius=1, undirected=True)
    ego.remove_edges_from([(a, b) for a, b in ego.edges if channel.handle not in (a, b)])
    drawing = _drawing(db, me, ego, limit=EGO_NODES, width=900, height=400)
    return render(
        request,
        "channel.html",
        {
            "channel": channel,
            "group_name": channel.group.name if channel.group else "",
            "posts": posts or 0,
            "flagged": flagged or 0,
            # The heaviest first, bounded: a spam channel can mention 100,000 handles.
            "upstream": _rows(near.upstream[:ROWS], UPSTREAM_WORDS, hrefs, _discovered(me)),
            "downstream": _rows(near.downstream[:ROWS], DOWNSTREAM_WORDS, hrefs, _discovered(me)),
            "upstream_more": max(0, len(near.upstream) - ROWS),
            "downstream_more": max(0, len(near.downstream) - ROWS),
            "drawing": drawing,
            **_legend(),
        },
    )
