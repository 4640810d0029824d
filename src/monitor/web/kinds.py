"""The seven signal kinds as the console names and paints them (#14: one palette).

The colours are CSS variables in static/console.css (``--kind-<name>``, ``--kind-<name>-bg``)
set by the class ``kind-<name>``: a badge, a highlight (``<mark>``), a chart mark (SVG ``fill``)
and the legend (templates/_kinds.html) all take the same class, so they cannot disagree.
"""

from __future__ import annotations

from monitor.match.rules import KINDS

__all__ = ["KINDS", "KIND_HELP", "KIND_LABELS", "kind_label"]

KIND_LABELS = {
    "verse_cue": "cue verse",
    "verse_quote": "Quran quote",
    "readiness": "readiness",
    "threat": "threat",
    "allegiance": "allegiance",
    "attack_claim": "attack claim",
    "target": "target",
}

KIND_HELP = {
    "verse_cue": "a verse on the cue list: posted to signal or celebrate an attack",
    "verse_quote": "any other Quran quote: never flags a post on its own",
    "readiness": "declared readiness or alert for a fight",
    "threat": "a threat to act against someone",
    "allegiance": "a pledge of allegiance or support to a leader",
    "attack_claim": "a claim of an attack carried out",
    "target": "a named target: a base, site or enemy force",
}

assert tuple(KIND_LABELS) == KINDS and tuple(KIND_HELP) == KINDS


def kind_label(kind: str) -> str:
    """The kind in words ("attack claim"); an unknown one as it is."""
    return KIND_LABELS.get(kind, kind)
