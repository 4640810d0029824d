"""Phrase-family matching over folded tokens.

A pattern is a sequence of slots.  Each slot is a set of accepted word forms, expanded
at load time from the operator's pattern with clitics (و ف ب ل ال …) and, for a
trailing ``*``, the configured suffixes (pronouns, plural endings), so matching is a
dict/set lookup.  ``...`` is a gap of up to three arbitrary words.  Each pattern is
anchored on its most distinctive slot (longest forms); the anchors of all patterns are
intersected with the post's word set in C, and only hits are verified in Python.
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
        self._fuzzy_cache: dict[str, tuple[int, ...]] = {}

    def find(self, toks: list[str], fuzzy: bool = True) -> list[Hit]:
        hits: list[Hit] = []
        distinct = set(toks)
        exact = self.anchors.keys() & distinct
        if not exact:
            return hits
        tried: set[tuple[int, int]] = set()
        for j, tok in enumerate(toks):
            if tok in exact:
                for k in self.anchors[tok]:
                    tried.add((j, k))
                    self._verify(toks, j, k, False, hits)
        if not fuzzy:
            return hits
        # Only posts that already share a distinctive word with some pattern pay for the
        # typo search, once per distinct word, and its result per word is cached: post
        # vocabulary is Zipfian, so nearly every word has been seen before.
        cache = self._fuzzy_cache
        typo_hits: dict[str, tuple[int, ...]] = {}
        for tok in distinct - exact:
            if len(tok) < FUZZY_MIN_LEN:
                continue
            ks = cache.get(tok)
            if ks is None:
                ks = self._fuzzy_candidates(tok)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[tok] = ks
            if ks:
                typo_hits[tok] = ks
        if typo_hits:
            for j, tok in enumerate(toks):
                for k in typo_hits.get(tok, ()):
                    if (j, k) not in tried:
                        self._verify(toks, j, k, True, hits)
        return hits

    def _fuzzy_candidates(self, tok: str) -> tuple[int, ...]:
        cands: set[int] = set()
        for stripped in _strip_clitics(tok, self.clitics):
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

    def _verify(self, toks: list[str], j: int, k: int, fuzzy: bool, hits: list[Hit]) -> None:
        p = self.patterns[k]
        right = self._walk(toks, p.slots[p.anchor + 1 :], j + 1, 1)
        if right < 0:
            return
        left = self._walk(toks, p.slots[: p.anchor][::-1], j - 1, -1)
        if left < -1 and p.anchor > 0:
            return
        start = left + 1 if p.anchor > 0 else j
        hits.append(Hit(p.tag, start, right, fuzzy, p.text))

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
        if head.accepts(toks[pos], self.clitics, True):
            return self._walk(toks, slots[1:], pos + step, step)
        return -2


def _deletions(word: str) -> list[str]:
    return [word[:i] + word[i + 1 :] for i in range(len(word))]
