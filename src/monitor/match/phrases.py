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

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .normalize import normalize

__all__ = ["Gap", "Hit", "Pattern", "PatternError", "PhraseSet", "Slot", "compile_pattern"]

GAP_WORDS = 3
_VOCATIVE = re.compile(r"(?<!\S)يا\s+(?=\S)")
FUZZY_MIN_LEN = 6
_CACHE_MAX = 200_000


class PatternError(ValueError):
    """A pattern string that cannot be compiled (reported with its YAML line)."""


@dataclass(frozen=True)
class Slot:
    forms: frozenset[str]
    bases: tuple[str, ...]  # suffix-expanded forms without clitics, for fuzzy checks

    def accepts(self, tok: str, clitics: Sequence[str], fuzzy: bool) -> bool:
        if tok in self.forms:
            return True
        if not fuzzy or len(tok) < FUZZY_MIN_LEN:
            return False
        return self.accepts_typo(tok, clitics)

    def accepts_typo(self, tok: str, clitics: Sequence[str]) -> bool:
        """A one-letter typo of a form (``tok`` not a form, six letters or more)."""
        for cand in _strip_clitics(tok, clitics):
            if len(cand) < FUZZY_MIN_LEN - 1:
                continue
            best = process.extractOne(cand, self.bases, scorer=Levenshtein.distance, score_cutoff=1)
            if best is not None and len(best[0]) >= FUZZY_MIN_LEN - 1:
                return True
        return False


@dataclass(frozen=True)
class Gap:
    max_words: int


@dataclass(frozen=True)
class Pattern:
    tag: tuple[str, str]  # (role, name): ("rule", id) / ("context", class) / ...
    slots: tuple[Slot | Gap, ...]
    anchor: int
    text: str


@dataclass(frozen=True)
class Hit:
    tag: tuple[str, str]
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    fuzzy: bool
    pattern: str


def _strip_clitics(tok: str, clitics: Sequence[str]) -> list[str]:
    out = [tok]
    for c in clitics:
        if tok.startswith(c) and len(tok) - len(c) >= 3:
            out.append(tok[len(c) :])
    return out


def _is_latin(word: str) -> bool:
    return word[:1].isascii()


def compile_pattern(
    raw: str,
    tag: tuple[str, str],
    clitics: Sequence[str],
    suffixes: Sequence[str],
    latin_suffixes: Sequence[str],
) -> Pattern:
    slots: list[Slot | Gap] = []
    # The fold joins a free-standing vocative يا to the next word; do the same to the
    # pattern before splitting it into slots, or "لبيك يا قائد" could never match.
    raw = _VOCATIVE.sub("يا", raw)
    for part in raw.split():
        if part == "...":
            if not slots or isinstance(slots[-1], Gap):
                raise PatternError(f"pattern {raw!r}: '...' must follow a word")
            slots.append(Gap(GAP_WORDS))
            continue
        alts = part.split("|")
        pieces: list[tuple[str, bool]] = []
        for alt in alts:
            star = alt.endswith("*")
            base = normalize(alt.rstrip("*")).text
            if not base:
                raise PatternError(f"pattern {raw!r}: empty word in {part!r}")
            pieces.append((base, star))
        if len(alts) == 1 and " " in pieces[0][0]:
            words = pieces[0][0].split()
            for w in words[:-1]:
                slots.append(_slot([(w, False)], clitics, suffixes, latin_suffixes))
            slots.append(_slot([(words[-1], pieces[0][1])], clitics, suffixes, latin_suffixes))
            continue
        if any(" " in b for b, _ in pieces):
            raise PatternError(f"pattern {raw!r}: alternative in {part!r} is several words")
        slots.append(_slot(pieces, clitics, suffixes, latin_suffixes))
    if not slots:
        raise PatternError("empty pattern")
    if isinstance(slots[-1], Gap):
        raise PatternError(f"pattern {raw!r}: '...' must be followed by a word")
    anchor = max(
        (k for k, s in enumerate(slots) if isinstance(s, Slot)),
        key=lambda k: min(len(b) for b in _bases(slots[k])),
    )
    return Pattern(tag, tuple(slots), anchor, raw)


def _bases(s: Slot | Gap) -> tuple[str, ...]:
    return s.bases if isinstance(s, Slot) else ("",)


def _slot(
    pieces: list[tuple[str, bool]],
    clitics: Sequence[str],
    suffixes: Sequence[str],
    latin_suffixes: Sequence[str],
) -> Slot:
    bases: list[str] = []
    forms: set[str] = set()
    for base, star in pieces:
        latin = _is_latin(base)
        expanded = [base]
        if star:
            expanded += [base + s for s in (latin_suffixes if latin else suffixes)]
        bases.extend(expanded)
        forms.update(expanded)
        if not latin:
            forms.update(c + e for c in clitics for e in expanded)
    return Slot(frozenset(forms), tuple(dict.fromkeys(bases)))


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
        self.anchors = anchors
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
        self._loud: dict[frozenset[str], dict[str, tuple[int, ...]]] = {}
        self._typo_cache: dict[str, tuple[int, ...]] = {}
        self._typo_ok: dict[tuple[int, str], bool] = {}

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
        anchors = self.anchors
        found: list[tuple[bool, int, Sequence[int]]] = [(False, j, anchors[toks[j]]) for j in exact]
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
                if any(self._verify(toks, j, k, fuzzy) for k in lks):
                    break
            else:
                return []
        # Exact anchors by position, then typos by position, patterns in anchor order:
        # the order hits were always reported in.
        hits = (self._verify(toks, j, k, fuzzy) for fuzzy, j, ks in found for k in ks)
        return [h for h in hits if h is not None]

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
