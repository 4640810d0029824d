"""What the matcher produces and what it is told: signals, their roles, a post's result, the
context of a post and the analysts' suppressions.

These types are shared by the matcher, the store (match/persist.py), the console, alerts and
exports, so they live below all of those stages rather than inside the engine (#12).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["MatchContext", "MatchResult", "Role", "Signal", "Suppressed"]


@dataclass(frozen=True)
class Role:
    """A part of the text that filled a frame's role; offsets in the original text."""

    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Signal:
    """One detected signal.  ``start``/``end`` index the ORIGINAL text (end-exclusive).

    ``to_dict`` always includes ``ref`` and ``refs``: the verse kinds carry the first
    ayah and all ayahs covered; the other kinds carry ``null`` and ``[]``, so every
    signal object has the same keys."""

    kind: str
    rule: str
    start: int
    end: int
    matched: str
    score: float
    ref: str | None = None
    refs: list[str] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)  # frame kinds (#12)
    # "ocr": found in the text read from the post's image; offsets then index that text (#13).
    layer: str = "text"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "rule": self.rule,
            "ref": self.ref,
            "refs": list(self.refs),
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
            "score": self.score,
        }
        if self.roles:
            out["roles"] = {k: r.to_dict() for k, r in self.roles.items()}
        if self.layer != "text":
            out["layer"] = self.layer
        return out


@dataclass(frozen=True)
class Suppressed:
    """An analyst's ruling (issue #5) that a phrase is not a signal, optionally only for one
    signal kind or rule. ``phrase`` is normalised; it must occur as whole words."""

    phrase: str
    kind: str | None = None
    rule: str | None = None

    def applies(self, kind: str, rule: str, folded: str) -> bool:
        """Whether it silences a signal of ``kind``/``rule`` whose span folds to ``folded``."""
        if (self.kind and self.kind != kind) or (self.rule and self.rule != rule):
            return False
        return f" {self.phrase} " in f" {folded} "


@dataclass
class MatchContext:
    channel: str | None = None
    group: str | None = None
    # The group's weight set by an operator (channels.yaml, the console's groups page); it
    # multiplies the rules' own weight for the group (severity.yaml `groups`).
    group_weight: float = 1.0
    channel_kind: str | None = None  # monitor.channel_kinds; None: a group's own (#12)
    affiliated_same_cue: int = 0  # OTHER affiliated channels posting the same cue verse
    # OTHER affiliated channels echoing the statement (its echo cluster, #15), not already
    # counted in affiliated_same_cue.
    affiliated_echoes: int = 0
    deleted_soon: bool = False
    suppressed: tuple[Suppressed, ...] = ()


@dataclass
class MatchResult:
    flagged: bool
    severity: str
    score: float
    signals: list[Signal]
    explanation: list[str]

    def to_dict(self, id: object) -> dict[str, Any]:
        return {
            "id": id,
            "flagged": self.flagged,
            "severity": self.severity,
            "score": self.score,
            "signals": [s.to_dict() for s in self.signals],
        }
