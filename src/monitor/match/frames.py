"""Frames: a signal is an action with its roles filled nearby, not a listed sentence (#12).

The phrase set has already found every lexicon class in the post (``lex``/``trigger`` hits, one
per form, tagged ``class.feature``). For each frame and each hit of one of its actions this
fills the roles with the nearest hit of their classes within the frame's window, then decides:
a required role missing, an excluded class near (hospital readiness, sport), or a veto near
(somebody else's voice: an agency, a condemnation, another army's aircraft) without the group's
own voice filling a ``veto_unless`` role — no signal. Roles are token ranges; the engine maps
them to the original text as it does for every span.

Cost: about half of all posts hold an action word (الامطار is a form of أمطر, حول one of حوّل),
but few hold a required role anywhere, so a frame is first tested against the classes present
at all (``Frame.possible``) and the index sorts a class's hits only when a frame asks for it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from .frame_rules import SELF, Frame, FrameRef
from .phrases import Hit

__all__ = ["FrameHit", "FrameIndex", "Possible", "any_possible", "find_frames"]

_FIRST_PERSON = ("past1", "pres1", "fut1")
_MARKER_BEFORE = 3  # "راح نضرب", "we will strike": the marker is at most three words before
_LONGEST = 8  # no lexicon phrase is longer than this many words

Range = tuple[int, int]


@dataclass(frozen=True)
class FrameHit:
    frame: Frame
    t0: int
    t1: int
    action: Range
    roles: dict[str, Range]


class FrameIndex:
    """The post's lexicon hits, by class and by ``class.feature``; a key's hits are sorted
    by position (and deduplicated) the first time a frame looks them up."""

    def __init__(
        self,
        lex: list[tuple[str, int, int]],
        contexts: dict[str, list[Range]],
        targets: list[Range],
    ) -> None:
        self._lex, self._contexts, self._targets = lex, contexts, targets
        # the names with at least one hit
        self.present = _present({name for name, _, _ in lex}, contexts, bool(targets))
        self._raw_by: dict[str, list[Range]] | None = None
        self._by: dict[str, list[Range]] = {}
        self._starts: dict[str, list[int]] = {}
        self._sets: dict[str, frozenset[Range]] = {}

    @property
    def _raw(self) -> dict[str, list[Range]]:
        # Grouped on first use: most posts with an action word have no frame ``possible``.
        raw = self._raw_by
        if raw is None:
            raw = self._raw_by = {}
            for name, a, b in self._lex:
                r = (a, b)
                raw.setdefault(name, []).append(r)
                cls, dot, _ = name.partition(".")
                if dot:
                    raw.setdefault(cls, []).append(r)
            for name, ranges in self._contexts.items():
                raw[f"context:{name}"] = list(ranges)
            raw["kind:target"] = list(self._targets)
        return raw

    def _sorted(self, key: str) -> list[Range]:
        found = self._by.get(key)
        if found is None:
            found = self._by[key] = sorted(set(self._raw.get(key, ())))
            self._starts[key] = [a for a, _ in found]
        return found

    def ranges(self, ref: FrameRef) -> list[Range]:
        return self._sorted(ref.key)

    def has(self, key: str, r: Range) -> bool:
        """Whether ``r`` is a hit of ``key``."""
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = frozenset(self._raw.get(key, ()))
        return r in found

    def within(self, key: str, lo: int, hi: int) -> list[Range]:
        """Ranges of ``key`` that start before ``hi`` and end after ``lo``."""
        if key not in self.present:
            return []
        found = self._sorted(key)
        starts = self._starts[key]
        # Bisected at both ends: slicing to the end of the list made a 1 MB post quadratic.
        i = bisect_left(starts, lo - _LONGEST)
        j = bisect_left(starts, hi, i)
        return [r for r in found[i:j] if r[1] > lo]

    def any_near(self, classes: Iterable[str], lo: int, hi: int, skip: Range) -> bool:
        for c in classes:
            for r in self.within(c, lo, hi):
                if not (skip[0] <= r[0] and r[1] <= skip[1]):
                    return True
        return False


def _present(lex: set[str], contexts: dict[str, list[Range]], targets: bool) -> frozenset[str]:
    names = lex | {name.partition(".")[0] for name in lex if "." in name}
    # A context's and the targets' own ranges stand for those names (FrameIndex._raw).
    names -= {f"context:{name}" for name in contexts}
    names.discard("kind:target")
    names |= {f"context:{name}" for name, ranges in contexts.items() if ranges}
    if targets:
        names.add("kind:target")
    return frozenset(names)


def any_possible(frames: list[Frame], hits: Iterable[Hit]) -> bool:
    """Whether any frame is ``possible`` in a post whose hits are only lexicon and context
    words: no rule made a target span there, so these are the names ``FrameIndex`` would
    see. Half of all posts have an action word; few have a frame possible."""
    lex: set[str] = set()
    contexts: dict[str, list[Range]] = {}
    for h in hits:
        role, name = h.tag
        if role == "context":
            contexts.setdefault(name, []).append((h.start, h.end))
        elif role == "lex" or role == "trigger":
            lex.add(name)
    present = _present(lex, contexts, False)
    return any(f.possible(present) for f in frames)


class Possible:
    """``any_possible`` for one rule set's frames, remembered per set of hit tags: posts differ
    in their words far more than in which lexicon classes they hold."""

    def __init__(self, frames: list[Frame]) -> None:
        self._frames = frames
        self._seen: dict[frozenset[tuple[str, str]], bool] = {}
        self._among: dict[frozenset[str], list[Frame]] = {}

    def __call__(self, hits: list[Hit]) -> bool:
        # The answer depends on the tags alone (which names have a hit), not on positions.
        key = frozenset([h.tag for h in hits])
        got = self._seen.get(key)
        if got is None:
            if len(self._seen) >= 50_000:
                self._seen = {}
            got = self._seen[key] = any_possible(self._frames, hits)
        return got

    def among(self, present: frozenset[str]) -> list[Frame]:
        """The frames ``possible`` for a post whose hits go by the names ``present``: asked of
        every frame for every post with an action word, it was a twentieth of all matching."""
        got = self._among.get(present)
        if got is None:
            if len(self._among) >= 50_000:
                self._among = {}
            got = self._among[present] = [f for f in self._frames if f.possible(present)]
        return got


def _nearest(
    index: FrameIndex, refs: list[FrameRef], act: Range, first: bool, w: int
) -> Range | None:
    best: tuple[int, Range] | None = None
    for ref in refs:
        if ref.cls == SELF:
            if first:
                return act
            found = index.within("we", act[0] - w, act[1] + w)
        else:
            found = index.within(ref.key, act[0] - w, act[1] + w)
        for r in found:
            if r[0] >= act[0] and r[1] <= act[1]:
                continue  # the action's own words fill none of its roles
            d = r[0] - act[1] if r[0] >= act[1] else act[0] - r[1]
            if best is None or d < best[0]:
                best = (d, r)
    return best[1] if best else None


def _first_person(index: FrameIndex, ref: FrameRef, act: Range) -> bool:
    # The first-person features are what "self" asks; the hit's own tag says which it had.
    if ref.feature in _FIRST_PERSON:
        return True
    return any(index.has(f"{ref.cls}.{feat}", act) for feat in _FIRST_PERSON)


def find_frames(frames: list[Frame], index: FrameIndex) -> list[FrameHit]:
    out: list[FrameHit] = []
    present = index.present
    for frame in frames:
        if not frame.possible(present):
            continue  # no hit could fill a required role: the common case
        w = frame.window
        seen: set[Range] = set()
        for ref in frame.action:
            for act in index.ranges(ref):
                if act in seen:
                    continue
                if ref.marker and not index.within(ref.marker, act[0] - _MARKER_BEFORE, act[0]):
                    continue
                if frame.not_after and any(
                    r[1] <= act[0]
                    for nref in frame.not_after
                    for r in index.within(nref.key, act[0] - _MARKER_BEFORE, act[0])
                ):
                    continue
                lo, hi = act[0] - w, act[1] + w
                if frame.exclude and index.any_near(frame.exclude, lo, hi, act):
                    continue
                first = _first_person(index, ref, act)
                roles: dict[str, Range] = {}
                for role, refs in frame.roles.items():
                    got = _nearest(index, refs, act, first, w)
                    if got is not None:
                        roles[role] = got
                if any(r not in roles for r in frame.require):
                    continue
                if (
                    frame.veto
                    and not any(r in roles for r in frame.veto_unless)
                    and index.any_near(frame.veto, lo, hi, act)
                ):
                    continue
                seen.add(act)
                spans = [act, *(roles[r] for r in frame.require)]
                out.append(
                    FrameHit(
                        frame,
                        min(a for a, _ in spans),
                        max(b for _, b in spans),
                        act,
                        roles,
                    )
                )
    # One action is one statement: "we will strike them" is a threat, not also a claim.
    threats = {h.action for h in out if h.frame.kind == "threat"}
    return [h for h in out if h.frame.kind != "attack_claim" or h.action not in threats]
