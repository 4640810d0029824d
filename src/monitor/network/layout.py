"""Where the console draws the channel graph (#15): which edges, which nodes, and where.

A picture of thousands of spam handles helps nobody and costs the request seconds, so at most
``MAX_NODES`` are drawn, the heaviest by weighted degree, and the rest are counted, not hidden.
Positions come from networkx's spring layout with a fixed seed over a graph rebuilt in sorted
order: the database hands rows back in no particular order, and the same data must give the
same picture on every request, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import networkx as nx

from monitor.network.graph import EDGE_KINDS

MAX_NODES = 300
SEED = 15


@dataclass(frozen=True, slots=True)
class Layout:
    """``positions`` in the box's own units (0..width, 0..height) for the nodes of ``shown``;
    ``left_out``: how many nodes of the graph given were not drawn."""

    shown: nx.DiGraph
    positions: dict[str, tuple[float, float]]
    left_out: int
    width: int
    height: int


def strength(g: nx.DiGraph, node: str) -> int:
    """The node's weighted degree: every post that makes one of its edges, either way."""
    return int(g.in_degree(node, weight="weight") + g.out_degree(node, weight="weight"))


def selected(
    g: nx.DiGraph,
    kinds: Collection[str] = EDGE_KINDS,
    group: str | None = None,
    min_weight: int = 1,
) -> nx.DiGraph:
    """The part of ``g`` the console's filters keep: edges of ``kinds`` (a kind of an edge
    counts only if at least ``min_weight`` posts make it), the monitored channels and the
    channels those edges reach; with ``group``, only that group's channels and their
    neighbours. Node attributes are kept; each edge carries only the kept kinds."""
    out = nx.DiGraph()
    members = {
        n
        for n, d in g.nodes(data=True)
        if d["monitored"] and (group is None or d["group"] == group)
    }
    out.add_nodes_from((n, g.nodes[n]) for n in members)
    for source, target, data in g.edges(data=True):
        if group is not None and source not in members and target not in members:
            continue
        kept = {k: data[k] for k in kinds if data[k] >= min_weight}
        if not kept or source == target:
            continue
        for node in (source, target):
            if node not in out:
                out.add_node(node, **g.nodes[node])
        out.add_edge(
            source,
            target,
            weight=sum(kept.values()),
            **{k: kept.get(k, 0) for k in EDGE_KINDS},
        )
    return out


def heaviest(g: nx.DiGraph, limit: int = MAX_NODES) -> tuple[nx.DiGraph, int]:
    """The ``limit`` nodes to draw: the monitored channels first, then the others of most
    weight (ties by handle), and the edges among them; and how many nodes were left out.
    Monitored first: a channel mentioning hundreds of made-up handles must not push the
    channels analysts watch out of the picture."""
    ranked = sorted(g.nodes, key=lambda n: (not g.nodes[n]["monitored"], -strength(g, n), n))
    keep = ranked[:limit]
    return g.subgraph(keep).copy(), len(ranked) - len(keep)


def place(
    g: nx.DiGraph,
    *,
    limit: int = MAX_NODES,
    width: int = 900,
    height: int = 600,
    margin: int = 40,
) -> Layout:
    shown, left_out = heaviest(g, limit)
    # Undirected, in sorted order, on log weights: a pair forwarding each other 2,000 times
    # would otherwise pull everything else into a ring around it.
    canonical = nx.Graph()
    canonical.add_nodes_from(sorted(shown.nodes))
    pull: dict[tuple[str, str], float] = {}
    for source, target, w in shown.edges(data="weight"):
        pair = (min(source, target), max(source, target))
        pull[pair] = pull.get(pair, 0.0) + w
    canonical.add_weighted_edges_from(
        (a, b, 1.0 + math.log(w)) for (a, b), w in sorted(pull.items())
    )
    if canonical.number_of_nodes() == 0:
        return Layout(shown, {}, left_out, width, height)
    raw = nx.spring_layout(canonical, seed=SEED, weight="weight")
    span_x, span_y = (width - 2 * margin) / 2, (height - 2 * margin) / 2
    positions = {
        str(n): (
            round(margin + (float(x) + 1) * span_x, 1),
            round(margin + (float(y) + 1) * span_y, 1),
        )
        for n, (x, y) in raw.items()
    }
    return Layout(shown, positions, left_out, width, height)
