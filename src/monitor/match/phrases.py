"""Phrase-family matching over folded tokens.

A pattern is a sequence of slots.  Each slot is a set of accepted word forms, expanded
at load time from the operator's pattern with clitics (و ف ب ل ال …) and, for a
trailing ``*``, the configured suffixes (pronouns, plural endings), so matching is a
dict/set lookup.  ``...`` is a gap of up to three arbitrary words.  Each pattern is
anchored on its most distinctive slot (longest forms); the matcher finds the anchors in a
post in C (``quran.Screen``; ``find`` intersects sets), and only those are verified in
Python, the patterns that could not fire alone only once another pattern has hit.
A one-letter typo in a word of six letters or more is accepted (rapidfuzz) because
long words are where typos happen and where a one-letter slip does not change meaning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .patterns import (
    FUZZY_MIN_LEN,
    Gap,
    Pattern,
    PatternError,
    Slot,
    _strip_clitics,
    compile_pattern,
)

__all__ = ["Gap", "Hit", "Pattern", "PatternError", "PhraseSet", "Slot", "compile_pattern"]

_CACHE_MAX = 200_000


class Hit(NamedTuple):
    # A tuple, not a frozen dataclass: a post makes dozens and a frozen __init__ costs
    # four times as much.
    tag: tuple[str, str]
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    fuzzy: bool
    pattern: str


class PhraseSet:
    """All patterns of a rule set, indexed by anchor form."""

    def __init__(self, patterns: list[Pattern], clitics: Sequence[str]) -> None:
        self.patterns = patterns
        self.clitics = tuple(sorted(clitics, key=len, reverse=True))
        anchors: dict[str, list[int]] = {}
        fuzzy_keys: dict[str, set[int]] = {}
        for k, p in enumerate(patterns):
            slot = p.slots[p.anchor]
            assert isinstance(slot, Slot)
            for f in slot.forms:
                anchors.setdefault(f, []).append(k)
            for b in slot.bases:
                if len(b) >= FUZZY_MIN_LEN:
                    for d in _deletions(b):
                        fuzzy_keys.setdefault(d, set()).add(k)
        # Shared tuples, not a list per form: the lexicons' quarter of a million forms share a
        # few thousand pattern lists, and tuples of ints are no work for the garbage collector,
        # whose full passes over a quarter of a million lists made a 1 MB post a second slower.
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}
        self.anchors: dict[str, tuple[int, ...]] = {
            f: shared.setdefault(t := tuple(ks), t) for f, ks in anchors.items()
        }
        self.fuzzy_keys = fuzzy_keys
        # A token longer than this is no one-letter typo of any anchor: skipping it spares
        # building its len² deletions (a 100 K-letter "word" took a minute, #11).
        self._longest_key = max(map(len, fuzzy_keys), default=0)
        # For each gap-free pattern, its other slots as (offset from the anchor, slot),
        # nearest first: the anchor's neighbour rejects almost every candidate at once.
        self._fixed: list[tuple[tuple[int, Slot], ...] | None] = []
        # For the others, the nearest slot on each side with the offsets it can sit at
        # (a gap widens them): a candidate with no acceptable word there cannot match.
        self._near: list[tuple[tuple[int, int, Slot], ...]] = []
        for p in patterns:
            near: list[tuple[int, int, Slot]] = []
            for side, step in ((p.slots[p.anchor + 1 :], 1), (p.slots[: p.anchor][::-1], -1)):
                gap = side[0].max_words if side and isinstance(side[0], Gap) else 0
                first = side[1 if gap else 0] if side else None
                if isinstance(first, Slot):
                    near.append((min(step, step * (1 + gap)), max(step, step * (1 + gap)), first))
            self._near.append(tuple(near))
            if any(isinstance(sl, Gap) for sl in p.slots):
                self._fixed.append(None)
                continue
            others = [(i - p.anchor, sl) for i, sl in enumerate(p.slots) if i != p.anchor]
            others.sort(key=lambda o: abs(o[0]))
            self._fixed.append(tuple((d, sl) for d, sl in others if isinstance(sl, Slot)))
        self._roles = [p.tag[0] for p in patterns]
        # One exact slot (every generated lexicon form, #12): found is matched, no walk.
        self._single = [len(p.slots) == 1 for p in patterns]
        # The anchor lookups posts make, kept apart from ``anchors`` (a quarter of a million
        # forms, too big for the CPU cache) like the screen's codes.
        self._seen: dict[str, tuple[int, ...]] = {}
        self._loud: dict[frozenset[str], dict[str, tuple[int, ...]]] = {}
        self._typo_cache: dict[str, tuple[int, ...]] = {}
        self._typo_ok: dict[tuple[int, str], bool] = {}

    def __getstate__(self) -> dict[str, object]:
        # Pickled in the matcher's cache (compiled.py): ``_typo_ok`` is keyed by object ids,
        # which the unpickled slots do not keep; the token-keyed caches stay valid.
        state = self.__dict__.copy()
        state["_typo_ok"] = {}
        return state

    def find(
        self, toks: list[str], fuzzy: bool = True, unless_only: frozenset[str] = frozenset()
    ) -> list[Hit]:
        """Hits in post order; see :meth:`find_at` for ``unless_only``."""
        distinct = set(toks)
        exact = self.anchors.keys() & distinct
        if not exact:
            return []
        typos = {t for t in distinct - exact if self.is_typo(t)} if fuzzy else set()
        return self.find_at(
            toks,
            [j for j, t in enumerate(toks) if t in exact],
            [j for j, t in enumerate(toks) if t in typos],
            unless_only,
        )

    def find_at(
        self,
        toks: list[str],
        exact: list[int],
        typos: list[int],
        unless_only: frozenset[str] = frozenset(),
    ) -> list[Hit]:
        """Hits in post order, given the ascending positions of the anchor forms and of
        the typos of one (never an anchor form).  ``unless_only``: roles whose hits the
        caller discards when they are all it gets; if no pattern of another role hits,
        ``[]`` is returned without verifying those (most posts: a context word)."""
        # A typo of an anchor counts only in a post that has an exact anchor too.
        if not exact:
            return []
        single = self._single
        seen = self._seen
        if len(seen) > _CACHE_MAX:
            seen = self._seen = {}
        found: list[tuple[bool, int, Sequence[int]]] = []
        for j in exact:
            tok = toks[j]
            pks = seen.get(tok)
            if pks is None:
                pks = seen[tok] = self.anchors[tok]
            found.append((False, j, pks))
        found += [(True, j, self.typo_candidates(toks[j])) for j in typos]
        if unless_only:
            loud = self._loud.get(unless_only)
            if loud is None or len(loud) > _CACHE_MAX:
                loud = self._loud[unless_only] = {}  # per token: its patterns of other roles
            roles = self._roles
            for fuzzy, j, ks in found:
                lks = loud.get(toks[j])
                if lks is None:
                    lks = loud[toks[j]] = tuple(k for k in ks if roles[k] not in unless_only)
                # Most anchors are context words, with no pattern of another role.
                if lks and any(single[k] or self._verify(toks, j, k, fuzzy) for k in lks):
                    break
            else:
                return []
        # Exact anchors by position, then typos by position, patterns in anchor order:
        # the order hits were always reported in.
        patterns = self.patterns
        out: list[Hit] = []
        for fuzzy, j, ks in found:
            for k in ks:
                if single[k]:
                    p = patterns[k]
                    out.append(Hit(p.tag, j, j + 1, fuzzy, p.text))
                else:
                    h = self._verify(toks, j, k, fuzzy)
                    if h is not None:
                        out.append(h)
        return out

    def typo_candidates(self, tok: str) -> tuple[int, ...]:
        """Patterns whose anchor ``tok`` is a one-letter typo of (cached per token)."""
        if len(tok) < FUZZY_MIN_LEN:
            return ()
        ks = self._typo_cache.get(tok)
        if ks is None:
            ks = self._fuzzy_candidates(tok)
            if len(self._typo_cache) >= _CACHE_MAX:
                self._typo_cache.clear()
            self._typo_cache[tok] = ks
        return ks

    def is_typo(self, tok: str) -> bool:
        """Whether ``tok``, no anchor form, is a one-letter typo of an anchor."""
        return bool(self.typo_candidates(tok))

    def _fuzzy_candidates(self, tok: str) -> tuple[int, ...]:
        cands: set[int] = set()
        for stripped in _strip_clitics(tok, self.clitics):
            if len(stripped) > self._longest_key + 1:
                continue
            for d in (stripped, *_deletions(stripped)):
                ks = self.fuzzy_keys.get(d)
                if ks:
                    cands |= ks
        out: list[int] = []
        for k in sorted(cands):
            slot = self.patterns[k].slots[self.patterns[k].anchor]
            if isinstance(slot, Slot) and slot.accepts(tok, self.clitics, True):
                out.append(k)
        return tuple(out)

    def _verify(self, toks: list[str], j: int, k: int, fuzzy: bool) -> Hit | None:
        p = self.patterns[k]
        fixed = self._fixed[k]
        if fixed is not None:
            # Same result as the walk below for a pattern without gaps, without recursion.
            start = j - p.anchor
            end = start + len(p.slots)
            if start < 0 or end > len(toks):
                return None
            for d, slot in fixed:
                tok = toks[j + d]
                if tok not in slot.forms and not (
                    len(tok) >= FUZZY_MIN_LEN and self._typo_of(slot, tok)
                ):
                    return None
            return Hit(p.tag, start, end, fuzzy, p.text)
        last = len(toks) - 1
        for lo, hi, slot in self._near[k]:
            for tok in toks[max(j + lo, 0) : min(j + hi, last) + 1]:
                if tok in slot.forms or (len(tok) >= FUZZY_MIN_LEN and self._typo_of(slot, tok)):
                    break
            else:
                return None
        right = self._walk(toks, p.slots[p.anchor + 1 :], j + 1, 1)
        if right < 0:
            return None
        left = self._walk(toks, p.slots[: p.anchor][::-1], j - 1, -1)
        if left < -1 and p.anchor > 0:
            return None
        start = left + 1 if p.anchor > 0 else j
        return Hit(p.tag, start, right, fuzzy, p.text)

    def _walk(self, toks: list[str], slots: Sequence[Slot | Gap], pos: int, step: int) -> int:
        """Match ``slots`` from ``pos`` going ``step``; return the position after the
        last matched token (exclusive, in walking direction), or a sentinel < -1."""
        if not slots:
            return pos
        head = slots[0]
        if isinstance(head, Gap):
            for skip in range(head.max_words + 1):
                r = self._walk(toks, slots[1:], pos + step * skip, step)
                if r > -2:
                    return r
            return -2
        if not 0 <= pos < len(toks):
            return -2
        if self._accepts(head, toks[pos]):
            return self._walk(toks, slots[1:], pos + step, step)
        return -2

    def _accepts(self, slot: Slot, tok: str) -> bool:
        """``slot.accepts(tok, self.clitics, True)``, with the typo check cached."""
        if tok in slot.forms:
            return True
        return len(tok) >= FUZZY_MIN_LEN and self._typo_of(slot, tok)

    def _typo_of(self, slot: Slot, tok: str) -> bool:
        # Cached per (slot, token): the same neighbours of the same anchors come back post
        # after post, and each check is a rapidfuzz call per clitic reading.
        key = (id(slot), tok)  # slots live as long as self.patterns
        ok = self._typo_ok.get(key)
        if ok is None:
            ok = slot.accepts_typo(tok, self.clitics)
            if len(self._typo_ok) >= _CACHE_MAX:
                self._typo_ok.clear()
            self._typo_ok[key] = ok
        return ok


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]
