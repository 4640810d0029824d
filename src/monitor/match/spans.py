"""The matcher's spans, and how they become signals: token ranges turned into offsets of the
original text, the analysts' suppressions applied, named targets joined (split from engine.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

from ..signals import Role, Signal, Suppressed
from .intervals import NearIndex
from .normalize import Normalized

# Order in which signals are listed: by position, then this order.
KIND_ORDER = {
    k: i
    for i, k in enumerate(
        ("verse_cue", "verse_quote", "readiness", "threat", "allegiance", "attack_claim", "target")
    )
}


@dataclass
class Span:
    """A signal before it is placed in the original text: token ranges of the post."""

    kind: str
    rule: str
    t0: int  # token range in the post, end-exclusive
    t1: int
    score: float
    weight: float
    ref: str | None = None
    refs: list[str] = field(default_factory=list)
    note: str = ""
    roles: dict[str, tuple[int, int]] = field(default_factory=dict)  # token ranges


def to_signals(
    norm: Normalized, toks: list[str], spans: list[Span], layer: str = "text"
) -> tuple[list[Signal], list[str]]:
    """The signals of ``spans`` with offsets into ``norm.original``, and a line of the
    explanation for each; ``layer`` names the text they were found in (#13)."""
    ends = list(accumulate(map((1).__add__, map(len, toks))))  # ends[i]: token i+1 start
    signals: list[Signal] = []
    lines: list[str] = []
    spans.sort(key=lambda s: (s.t0, KIND_ORDER[s.kind], -s.t1))
    for sp in spans:
        c0 = ends[sp.t0 - 1] if sp.t0 > 0 else 0
        c1 = ends[sp.t1 - 1] - 1
        start, end = norm.to_original(c0, c1)
        matched = norm.original[start:end]
        roles = {}
        for name, (r0, r1) in sp.roles.items():
            a, b = norm.to_original(ends[r0 - 1] if r0 > 0 else 0, ends[r1 - 1] - 1)
            roles[name] = Role(a, b, norm.original[a:b])
        signals.append(
            Signal(
                sp.kind,
                sp.rule,
                start,
                end,
                matched,
                sp.score,
                sp.ref,
                list(sp.refs),
                roles,
                layer,
            )
        )
        where = f" [{', '.join(sp.refs)}]" if sp.refs else ""
        if layer == "ocr":
            where += " in the image"
        lines.append(
            f"{sp.kind} {sp.rule}{where}: {matched!r} — {sp.note}; weight {sp.weight:g}"
            f" x match {sp.score:g}"
        )
    return signals, lines


def join_named_targets(
    roles: dict[str, tuple[int, int]], starts: dict[int, list[tuple[int, int]]]
) -> None:
    # "قاعدة عين الأسد": the role is the base named, not the word "base" before the name.
    # ``starts``: the targets by start, as (position in the target list, end); the first in
    # list order wins. Looked up, not scanned: a 1 MB post has thousands of targets (#11).
    for role, (a, b) in roles.items():
        if role not in ("target", "addressee"):
            continue
        found = [(i, t1) for t0 in (b, b + 1) for i, t1 in starts.get(t0, ()) if t1 - a <= 8]
        if found:
            roles[role] = (a, min(found)[1])


def near_index(
    cache: dict[str, NearIndex], ranges: dict[str, list[tuple[int, int]]], name: str
) -> NearIndex:
    found = cache.get(name)
    if found is None:
        found = cache[name] = NearIndex(ranges.get(name, ()))
    return found


def suppress(
    spans: list[Span], toks: list[str], rulings: tuple[Suppressed, ...]
) -> tuple[list[Span], list[str]]:
    """Drop the spans analysts ruled out, before scoring."""
    kept, why = [], []
    for sp in spans:
        words = " ".join(toks[sp.t0 : sp.t1])
        hit = next((r for r in rulings if r.applies(sp.kind, sp.rule, words)), None)
        if hit is None:
            kept.append(sp)
        else:
            why.append(f"suppressed {sp.kind} {sp.rule}: {words!r} (analyst ruling {hit.phrase!r})")
    return kept, why
