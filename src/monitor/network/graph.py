"""The channel graph (#15): who forwards, mentions, links and echoes whom, for Gephi.

Nodes are the monitored channels (with their group and kind) and the channels they point at
(monitored false); edges are directed, one per (source, target, kind), weighted by how many
posts make them: ``forward``, ``mention``, ``link`` from channel_refs, ``echo`` from the first
publisher of a cluster to each channel that repeated it, ``quote`` from the quoting channel to
the quoted one. Communities (networkx's greedy
modularity, Louvain, on the undirected weights) are a node attribute, for colouring.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import networkx as nx
from networkx.algorithms.community import louvain_communities
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from monitor.store.models import Channel, ChannelRef, EchoMember, EchoQuote, Group, Post

FORMATS = ("gexf", "graphml", "csv")
EDGE_KINDS = ("forward", "mention", "link", "echo", "quote")
# XML 1.0 cannot carry these at all, and a channel title may hold any of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str | None) -> str:
    # One line: a forward's name with newlines would draw lines of its own in the console's
    # tooltips, as if they were ours.
    return " ".join(_NOT_XML.sub("", text or "").split())[:300]


def _echo_edges(session: Session) -> Counter[tuple[str, str]]:
    rows = session.execute(
        select(EchoMember.cluster_id, Channel.handle)
        .join(Post, Post.id == EchoMember.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .order_by(EchoMember.cluster_id, Post.date, Post.id)
    )
    edges: Counter[tuple[str, str]] = Counter()
    first: dict[int, str] = {}
    seen: set[tuple[int, str]] = set()
    for cluster_id, handle in rows:
        origin = first.setdefault(cluster_id, handle)
        if handle != origin and (cluster_id, handle) not in seen:
            seen.add((cluster_id, handle))
            edges[(origin, handle)] += 1
    return edges


def build_graph(session: Session, *, communities: bool = True) -> nx.DiGraph:
    g = nx.DiGraph()
    for handle, title, kind, group in session.execute(
        select(Channel.handle, Channel.title, Channel.kind, Group.name).outerjoin(
            Group, Group.id == Channel.group_id
        )
    ):
        g.add_node(
            handle,
            label=_clean(title) or handle,
            monitored=True,
            kind=kind or "",
            group=_clean(group),
        )
    weights: Counter[tuple[str, str, str]] = Counter()
    for handle, target, kind, n in session.execute(
        select(Channel.handle, ChannelRef.target, ChannelRef.kind, func.count())
        .join(Channel, Channel.id == ChannelRef.channel_id)
        .group_by(Channel.handle, ChannelRef.target, ChannelRef.kind)
    ):
        weights[(handle, target, kind)] += n
    for (source, target), n in _echo_edges(session).items():
        weights[(source, target, "echo")] += n
    quoter, quoted = aliased(Post), aliased(Post)
    by, of = aliased(Channel), aliased(Channel)
    for source, target, n in session.execute(
        select(by.handle, of.handle, func.count())
        .select_from(EchoQuote)
        .join(quoter, quoter.id == EchoQuote.post_id)
        .join(quoted, quoted.id == EchoQuote.quoted_id)
        .join(by, by.id == quoter.channel_id)
        .join(of, of.id == quoted.channel_id)
        .group_by(by.handle, of.handle)
    ):
        weights[(source, target, "quote")] += n
    for (source, target, kind), n in sorted(weights.items()):
        if target not in g:
            g.add_node(target, label=target, monitored=False, kind="", group="")
        data = g.get_edge_data(source, target)
        if data is None:
            g.add_edge(source, target, weight=0, **{k: 0 for k in EDGE_KINDS})
            data = g.edges[source, target]
        data[kind] += n
        data["weight"] += n
    # The console's pages do not show communities, and Louvain is most of the cost on a graph
    # a spam channel filled with handles (8 of 10 s at 100,000 of them).
    for i, members in enumerate(_communities(g) if communities else []):
        for node in members:
            g.nodes[node]["community"] = i
    return g


def _communities(g: nx.DiGraph) -> list[set[str]]:
    if g.number_of_edges() == 0:
        return [{n} for n in sorted(g.nodes)]
    return sorted(
        # Louvain, seeded: greedy modularity took 10 s on a 5,000-leaf star (spam handles).
        (set(c) for c in louvain_communities(g.to_undirected(), weight="weight", seed=15)),
        key=lambda c: (-len(c), min(c)),
    )


def write_graph(g: nx.DiGraph, fmt: str, out: TextIO) -> None:
    lines: Iterator[str]
    if fmt == "gexf":
        lines = nx.generate_gexf(g)
    elif fmt == "graphml":
        lines = nx.generate_graphml(g)
    else:
        w = csv.writer(out)
        w.writerow(["source", "target", "kind", "weight"])
        for source, target, data in sorted(g.edges(data=True)):
            for kind in EDGE_KINDS:
                if data[kind]:
                    w.writerow([source, target, kind, data[kind]])
        return
    for line in lines:
        out.write(line + "\n")


def flow(source: str, target: str, kind: str) -> tuple[str, str]:
    """(upstream, downstream) of an edge: where the information came from and who picked it up.

    The export keeps each kind's own direction (tests/network/test_graph.py): a forward,
    mention, link or quote edge points from the channel that picks up to the one it picks up
    from; an echo edge from the first publisher to the channel that repeated it. The console's
    picture and the channel page read both through this one function."""
    return (source, target) if kind == "echo" else (target, source)


@dataclass(frozen=True, slots=True)
class Neighbour:
    handle: str
    label: str
    monitored: bool
    kind: str
    weight: int


@dataclass(frozen=True, slots=True)
class Neighbours:
    """A node's neighbours, one row per (neighbour, edge kind), heaviest first.

    ``upstream``: the channels this one forwards, mentions, links, quotes or echoes (they
    published first); ``downstream``: the channels that do so with this one."""

    upstream: list[Neighbour]
    downstream: list[Neighbour]


def neighbours(g: nx.DiGraph, node: str) -> Neighbours:
    up: list[Neighbour] = []
    down: list[Neighbour] = []
    if node not in g:
        return Neighbours(up, down)
    edges = [*g.out_edges(node, data=True), *g.in_edges(node, data=True)]
    for source, target, data in edges:
        if source == target:  # a channel forwarding its own post is nobody's neighbour
            continue
        for kind in EDGE_KINDS:
            if not data[kind]:
                continue
            upstream, downstream = flow(source, target, kind)
            other = upstream if downstream == node else downstream
            attrs = g.nodes[other]
            row = Neighbour(other, attrs["label"], attrs["monitored"], kind, data[kind])
            (up if downstream == node else down).append(row)
    return Neighbours(sorted(up, key=_heaviest), sorted(down, key=_heaviest))


def _heaviest(n: Neighbour) -> tuple[int, str, int]:
    return (-n.weight, n.handle, EDGE_KINDS.index(n.kind))
