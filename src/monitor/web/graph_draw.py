"""The channel graph as marks for the SVG template (#15): numbers, colours and channel text.

Nothing here writes markup: the template does, and Jinja escapes every handle, title and
forward name in it (all of them the adversary's). Colours and widths go out as SVG
presentation attributes, which the console's CSP (``default-src 'self'``, no inline style)
leaves alone. Arrows point the way information went (network.graph.flow): from the channel
that published or was forwarded to the one that picked it up, whatever the export's direction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.network.graph import EDGE_KINDS, flow
from monitor.network.layout import Layout, strength

# Okabe–Ito, which colour-blind analysts can tell apart; groups past these share OTHER.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#b8a300")
OTHER_GROUPS = "#555555"
NO_GROUP = "#bbbbbb"
UNMONITORED = "#999999"
EDGE_COLOURS = {
    "forward": "#1f5fa8",
    "echo": "#c0392b",
    "quote": "#7b3fa0",
    "mention": "#8a8a8a",
    "link": "#8a8a8a",
}
EDGE_DASH = {"link": "4 3"}
EDGE_WORDS = {
    "forward": "forwards",
    "mention": "mentions",
    "link": "links to",
    "quote": "quotes",
    "echo": "repeats a statement first published by",
}
SHAPES = {"group": "circle", "leader": "diamond", "media": "square", "news": "triangle"}
FSI, PDI = "\u2068", "\u2069"
_ISOLATES = re.compile("[\u2066-\u2069]")
LABELLED = 80  # more labels than this overlap into a smear: the rest keep their tooltip


@dataclass(frozen=True, slots=True)
class DrawnNode:
    handle: str
    title: str  # the tooltip: every word about the channel, as text
    href: str
    x: float
    y: float
    r: float
    shape: str  # circle | diamond | square | triangle | hollow (not monitored)
    points: str  # the polygon's corners, for the shapes that are one
    fill: str
    stroke: str
    labelled: bool
    # The label's side: toward the middle, so a node near the edge keeps its label in the box.
    label_x: float
    anchor: str  # start | end


@dataclass(frozen=True, slots=True)
class DrawnEdge:
    kind: str
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    colour: str
    dash: str
    title: str


@dataclass(frozen=True, slots=True)
class Swatch:
    name: str
    colour: str


@dataclass(frozen=True, slots=True)
class Drawing:
    width: int
    height: int
    nodes: list[DrawnNode]
    edges: list[DrawnEdge]
    groups: list[Swatch]
    left_out: int


def group_colours(layout: Layout) -> dict[str, str]:
    """Groups by their channels' weight, the heaviest first, each its own colour."""
    weight: dict[str, int] = {}
    for n, data in layout.shown.nodes(data=True):
        if data["monitored"] and data["group"]:
            weight[data["group"]] = weight.get(data["group"], 0) + strength(layout.shown, n)
    ranked = sorted(weight, key=lambda name: (-weight[name], name))
    return {name: PALETTE[i] if i < len(PALETTE) else OTHER_GROUPS for i, name in enumerate(ranked)}


def _isolated(text: str) -> str:
    """The adversary's text in a tooltip, in a bidi isolate of its own: a direction override
    in a title ends at the isolate's end instead of turning the rest of the tooltip around.
    Isolate marks of its own are dropped, or a stray one would close ours early (#11)."""
    return FSI + _ISOLATES.sub("", text) + PDI


def _radius(weight: int) -> float:
    return round(min(16.0, 5.0 + 1.5 * math.sqrt(weight)), 1)


def _corners(shape: str, x: float, y: float, r: float) -> str:
    if shape == "diamond":
        pts = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
    elif shape == "square":
        s = r * 0.85
        pts = [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
    elif shape == "triangle":
        pts = [(x, y - r), (x + r * 0.95, y + r * 0.7), (x - r * 0.95, y + r * 0.7)]
    else:
        return ""
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)


def draw(
    layout: Layout,
    hrefs: Mapping[str, str],
    names: Mapping[str, str] | None = None,
    discovered: str = "",
) -> Drawing:
    """``hrefs``: each monitored handle's page; ``names``: the display names forwards gave
    channels nobody monitors (the adversary's text, for the tooltip only); ``discovered``:
    where those link to, none when the user's role does not reach the discovered page."""
    g, names = layout.shown, names or {}
    colours = group_colours(layout)
    # Analysts know their own channels by handle: those are labelled before the others.
    ranked = sorted(g.nodes, key=lambda n: (not g.nodes[n]["monitored"], -strength(g, n), n))
    labelled = set(ranked[:LABELLED])
    nodes: list[DrawnNode] = []
    radius: dict[str, float] = {}
    for n in sorted(g.nodes):
        data, (x, y) = g.nodes[n], layout.positions[n]
        weight = strength(g, n)
        r = radius[n] = _radius(weight)
        if data["monitored"]:
            shape = SHAPES.get(data["kind"], "circle")
            fill = colours.get(data["group"], NO_GROUP)
            group = _isolated(data["group"]) if data["group"] else "no group"
            words = [_isolated(data["label"]), f"@{n}", group, data["kind"] or "?"]
            href = hrefs.get(n, "/channels")
        else:
            shape, fill = "hollow", "#ffffff"
            words = [f"@{n}", "not monitored"]
            if names.get(n):
                words.insert(0, _isolated(names[n]))
            href = discovered
        title = " · ".join([*words, f"{weight} post(s) on its edges"])
        stroke = UNMONITORED if shape == "hollow" else "#333333"
        corners = _corners(shape, x, y, r)
        left = x > layout.width / 2
        label_x = round(x - r - 3 if left else x + r + 3, 1)
        anchor = "end" if left else "start"
        nodes.append(
            DrawnNode(
                n,
                title,
                href,
                x,
                y,
                r,
                shape,
                corners,
                fill,
                stroke,
                n in labelled,
                label_x,
                anchor,
            )
        )
    edges = _edges(layout, radius)
    swatches = [Swatch(name, colour) for name, colour in colours.items() if colour != OTHER_GROUPS]
    if OTHER_GROUPS in colours.values():
        swatches.append(Swatch("other groups", OTHER_GROUPS))
    return Drawing(layout.width, layout.height, nodes, edges, swatches, layout.left_out)


def _edges(layout: Layout, radius: Mapping[str, float]) -> list[DrawnEdge]:
    flows: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for source, target, data in layout.shown.edges(data=True):
        for kind in EDGE_KINDS:
            if data[kind]:
                flows.setdefault(flow(source, target, kind), []).append((kind, data[kind]))
    out: list[DrawnEdge] = []
    for (up, down), kinds in sorted(flows.items()):
        (x1, y1), (x2, y2) = layout.positions[up], layout.positions[down]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        start, end = radius[up] + 1, radius[down] + 2
        for slot, (kind, weight) in enumerate(sorted(kinds, key=lambda k: EDGE_KINDS.index(k[0]))):
            # Side by side, to the right of the arrow: the kinds of one pair, and the pair's
            # two directions, stay apart instead of drawing over each other.
            shift = 2.5 * (2 * slot + 1)
            ox, oy = -uy * shift, ux * shift
            out.append(
                DrawnEdge(
                    kind,
                    round(x1 + ux * start + ox, 1),
                    round(y1 + uy * start + oy, 1),
                    round(x2 - ux * end + ox, 1),
                    round(y2 - uy * end + oy, 1),
                    round(min(8.0, 1.0 + 1.5 * math.log2(weight)), 1),
                    EDGE_COLOURS[kind],
                    EDGE_DASH.get(kind, ""),
                    f"@{down} {EDGE_WORDS[kind]} @{up}: {weight} post(s)",
                )
            )
    return out
