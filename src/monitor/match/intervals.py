"""Token-interval queries the matcher asks once per hit, each in O(log n) instead of O(hits).

A 1 MB post has tens of thousands of hits, contexts and spans; the engine used to compare every
one with every other ("is a context near?", "is it inside a kept span?"), and a 1 MB post took
74 s to scan (#11, finding 14). These structures answer the same questions with the same
answers, so the result of a normal post does not change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["Containers", "Coverage", "NearIndex", "Overlaps", "dedupe"]


class _Ranged(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def t0(self) -> int: ...
    @property
    def t1(self) -> int: ...
    @property
    def weight(self) -> float: ...


S = TypeVar("S", bound=_Ranged)


class NearIndex:
    """Token ranges (context or exclude hits) asked "is one within ``window`` of this hit?"."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        self._ranges = sorted(ranges)
        self._starts = [a for a, _ in self._ranges]
        # A range can only reach back as far as its own length from its start.
        self._longest = max((b - a for a, b in self._ranges), default=0)

    def near(self, start: int, end: int, window: int, *, outside: bool) -> bool:
        """Whether some range (a, b) has a < end + window and b > start - window.

        With ``outside``, ranges inside [start, end) do not count: a rule's own words are not
        its context.
        """
        lo = bisect_left(self._starts, start - window - self._longest + 1)
        hi = bisect_left(self._starts, end + window)
        ranges = self._ranges
        for i in range(lo, hi):
            a, b = ranges[i]
            if b <= start - window:
                continue
            if outside and start <= a and b <= end:
                continue
            return True
        return False


class Overlaps:
    """Token ranges asked "which of you overlap ``[a, b)``?", answered in list order."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self._ranges = ranges
        self._order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        self._starts = [ranges[i][0] for i in self._order]
        self._longest = max((b - a for a, b in ranges), default=0)

    def overlapping(self, a: int, b: int) -> list[int]:
        """Indexes, ascending, of the ranges with ``t0 < b`` and ``t1 > a``."""
        lo = bisect_left(self._starts, a - self._longest + 1)
        hi = bisect_left(self._starts, b, lo)
        ranges = self._ranges
        return sorted(i for i in self._order[lo:hi] if ranges[i][1] > a)


class Containers:
    """Token ranges added one by one, asked "does an added range contain [start, end)?".

    A Fenwick tree over start positions keeps the furthest end of the ranges starting at or
    before each position, so each add and each query costs O(log n).
    """

    def __init__(self, size: int) -> None:
        self._size = size + 1
        self._tree = [-1] * (self._size + 1)

    def add(self, start: int, end: int) -> None:
        i = min(max(start, 0), self._size - 1) + 1
        tree = self._tree
        while i <= self._size:
            if tree[i] < end:
                tree[i] = end
            i += i & -i

    def contains(self, start: int, end: int) -> bool:
        """Whether an added (a, b) has a <= start and end <= b."""
        i = min(max(start, 0), self._size - 1) + 1
        tree, furthest = self._tree, -1
        while i > 0:
            if tree[i] > furthest:
                furthest = tree[i]
            i -= i & -i
        return furthest >= end


class Coverage:
    """How many tokens of [start, end) at least one of some ranges covers (prefix sums)."""

    def __init__(self, size: int, ranges: Iterable[tuple[int, int]]) -> None:
        marks = [0] * (size + 1)
        for a, b in ranges:
            a, b = max(a, 0), min(b, size)
            if a < b:
                marks[a] += 1
                marks[b] -= 1
        self._prefix = [0] * (size + 1)
        depth = covered = 0
        for i in range(size):
            depth += marks[i]
            covered += depth > 0
            self._prefix[i + 1] = covered

    def count(self, start: int, end: int) -> int:
        size = len(self._prefix) - 1
        start, end = max(start, 0), min(end, size)
        return self._prefix[end] - self._prefix[start] if start < end else 0


def dedupe(spans: list[S], size: int) -> list[S]:
    """Per kind, drop spans inside a longer (or equal and heavier) span (sorts ``spans``)."""
    spans.sort(key=lambda s: (s.t0 - s.t1, -s.weight, s.t0))
    kept: list[S] = []
    by_kind: dict[str, Containers] = {}
    for s in spans:
        seen = by_kind.get(s.kind)
        if seen is None:
            seen = by_kind[s.kind] = Containers(size)
        elif seen.contains(s.t0, s.t1):
            continue
        seen.add(s.t0, s.t1)
        kept.append(s)
    return kept
