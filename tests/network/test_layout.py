"""Where the console draws the channel graph (#15): the same picture for the same data, at
most MAX_NODES nodes with the rest counted, and neighbours that agree with the export."""

from __future__ import annotations

import csv
import io
import random

import networkx as nx

from monitor.network.graph import EDGE_KINDS, flow, neighbours, write_graph
from monitor.network.layout import MAX_NODES, place, selected


def graph(edges: list[tuple[str, str, str, int]], order: int = 0) -> nx.DiGraph:
    """As network.graph.build_graph makes it; ``order`` shuffles the insertion order, as rows
    come back from the database in any order."""
    rows = list(edges)
    if order:
        random.Random(order).shuffle(rows)
    g = nx.DiGraph()
    for source, target, kind, n in rows:
        for node in (source, target):
            if node not in g:
                monitored = not node.startswith("x")
                g.add_node(
                    node,
                    label=node,
                    monitored=monitored,
                    kind="group" if monitored else "",
                    group="G" if monitored else "",
                )
        if not g.has_edge(source, target):
            g.add_edge(source, target, weight=0, **{k: 0 for k in EDGE_KINDS})
        g.edges[source, target][kind] += n
        g.edges[source, target]["weight"] += n
    return g


EDGES = [
    ("kahf", "nujaba", "forward", 5),
    ("nujaba", "kahf", "echo", 2),
    ("analysis", "nujaba", "quote", 1),
    ("nujaba", "xsabereen", "mention", 3),
    ("kahf", "xsabereen", "link", 1),
]


def test_the_same_data_gives_the_same_picture_whatever_the_row_order() -> None:
    first = place(graph(EDGES))
    for order in (1, 2, 3):
        assert place(graph(EDGES, order)).positions == first.positions
    assert set(first.positions) == {"kahf", "nujaba", "analysis", "xsabereen"}
    assert first.left_out == 0
    for x, y in first.positions.values():
        assert 40 <= x <= 860 and 40 <= y <= 560  # inside the box, margins kept
    assert len(set(first.positions.values())) == 4  # no two channels on one spot


def test_a_graph_past_the_limit_draws_the_heaviest_and_counts_the_rest() -> None:
    # A spam hub mentioning 400 handles once each, and two channels forwarding each other.
    edges = [("hub", f"xspam{i:03d}", "mention", 1) for i in range(400)]
    edges += [("kahf", "nujaba", "forward", 50), ("nujaba", "kahf", "forward", 40)]
    layout = place(graph(edges))
    assert len(layout.positions) == MAX_NODES == layout.shown.number_of_nodes()
    assert layout.left_out == 403 - MAX_NODES
    assert {"hub", "kahf", "nujaba"} <= set(layout.positions)
    assert layout.shown.edges["kahf", "nujaba"]["forward"] == 50
    small = place(graph(edges), limit=10)
    assert (len(small.positions), small.left_out) == (10, 393)


def test_an_empty_graph_has_nothing_to_place() -> None:
    layout = place(nx.DiGraph())
    assert (layout.positions, layout.left_out) == ({}, 0)


def test_filters_keep_edges_of_the_kinds_and_weight_asked_for() -> None:
    g = graph(EDGES)
    echo = selected(g, ("echo",))
    assert list(echo.edges) == [("nujaba", "kahf")]
    assert "xsabereen" not in echo and "analysis" in echo  # monitored channels stay
    heavy = selected(g, EDGE_KINDS, min_weight=3)
    assert {(a, b) for a, b in heavy.edges} == {("kahf", "nujaba"), ("nujaba", "xsabereen")}
    assert heavy.edges["kahf", "nujaba"]["weight"] == 5
    g.nodes["analysis"]["group"] = "Other"
    other = selected(g, group="Other")
    assert set(other.nodes) == {"analysis", "nujaba"} and list(other.edges) == [
        ("analysis", "nujaba")
    ]


def test_neighbours_agree_with_the_exported_edges() -> None:
    g = graph(EDGES)
    out = io.StringIO()
    write_graph(g, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    for node in g.nodes:
        near = neighbours(g, node)
        got = {("up", n.handle, n.kind, n.weight) for n in near.upstream}
        got |= {("down", n.handle, n.kind, n.weight) for n in near.downstream}
        want = set()
        for r in rows:
            up, down = flow(r["source"], r["target"], r["kind"])
            if node == down:
                want.add(("up", up, r["kind"], int(r["weight"])))
            if node == up:
                want.add(("down", down, r["kind"], int(r["weight"])))
        assert got == want, node
    nujaba = neighbours(g, "nujaba")
    # kahf forwards nujaba and echoes it (nujaba first): both make kahf downstream
    assert [(n.handle, n.kind) for n in nujaba.downstream] == [
        ("kahf", "forward"),
        ("kahf", "echo"),
        ("analysis", "quote"),
    ]
    assert [(n.handle, n.kind, n.monitored) for n in nujaba.upstream] == [
        ("xsabereen", "mention", False)
    ]
    nobody = neighbours(g, "nobody")
    assert (nobody.upstream, nobody.downstream) == ([], [])


def test_spam_handles_do_not_push_the_watched_channels_out() -> None:
    # One watched channel mentions 320 made-up handles 12 times each; 40 watched channels
    # forward each other once.
    spam = [("spammer", f"x{i:03d}", "mention", 12) for i in range(320)]
    watched = [(f"c{i:02d}", f"c{(i + 1) % 40:02d}", "forward", 1) for i in range(40)]
    layout = place(graph(spam + watched))
    drawn = set(layout.shown.nodes)
    assert {f"c{i:02d}" for i in range(40)} | {"spammer"} <= drawn
    assert layout.left_out == 361 - MAX_NODES
