"""Quran quote identification over the imla'i word layer of ``quran-text``.

The whole text is one stream of folded words, and every word 3-gram of the stream is
a key in a dict.  Most posts quote nothing, so the matcher finds a post's 3-grams in
C with a :class:`Screen`: each token becomes one character, and an Aho-Corasick
automaton over the 3-grams written the same way reports where they occur.  Hits are
seeds that are extended word by word in both directions, tolerating a one-letter
typo per word, a dropped Quran word or an extra post word, so partial verses,
quotes running over two ayahs and slightly misspelt quotes are all found.
"""

from __future__ import annotations

import pickle
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from itertools import product
from operator import itemgetter
from pathlib import Path
from typing import Any

import ahocorasick_rs
from rapidfuzz.distance import Levenshtein

from .normalize import normalize

__all__ = ["Alignment", "QuranIndex", "Screen", "load_index", "verse_text"]

_FORMAT = 3  # bump when the pickled layout changes


@dataclass(frozen=True)
class Alignment:
    """A quoted run: post tokens ``[p0, p1)`` against stream words ``[q0, q1)``."""

    p0: int
    p1: int
    q0: int
    q1: int
    matched: int
    errors: float

    @property
    def score(self) -> float:
        return self.matched / (self.matched + self.errors)


def _close(a: str, b: str) -> bool:
    """Same word up to one edit, for words long enough that one edit is a typo."""
    if a == b:
        return True
    if len(a) < 4 or len(b) < 4:
        return False
    return Levenshtein.distance(a, b, score_cutoff=1) <= 1


class QuranIndex:
    """Folded Quran word stream, its ayah boundaries and a 3-gram index."""

    def __init__(
        self,
        words: list[str],
        ayah_starts: list[int],
        ayah_keys: list[str],
        canon: dict[str, str],
    ) -> None:
        self.words = words
        self.ayah_starts = ayah_starts
        self.ayah_keys = ayah_keys
        self.canon = canon
        self.key_to_ayah = {k: i for i, k in enumerate(ayah_keys)}
        grams: dict[tuple[str, str, str], list[int]] = {}
        for p, g in enumerate(zip(words, words[1:], words[2:], strict=False)):
            grams.setdefault(g, []).append(p)
        self.grams = grams

    # -- lookup helpers ---------------------------------------------------------

    def ayah_index(self, position: int) -> int:
        return bisect_right(self.ayah_starts, position) - 1

    def refs(self, q0: int, q1: int) -> list[str]:
        first = self.ayah_index(q0)
        last = self.ayah_index(max(q0, q1 - 1))
        return self.ayah_keys[first : last + 1]

    def ayah_span(self, key: str) -> tuple[int, int]:
        k = self.key_to_ayah[key]
        end = self.ayah_starts[k + 1] if k + 1 < len(self.ayah_starts) else len(self.words)
        return self.ayah_starts[k], end

    def canonical(self, tokens: list[str]) -> list[str]:
        return list(map(self.canon.get, tokens, tokens))

    def find_run(self, tokens: list[str], key: str) -> bool:
        """Whether ``tokens`` (folded) occur inside ayah ``key``; validates catalog text."""
        q0, q1 = self.ayah_span(key)
        toks = self.canonical(tokens)
        n = len(toks)
        return any(self.words[p : p + n] == toks for p in range(q0, q1 - n + 1))

    # -- matching ---------------------------------------------------------------

    def seeds(self, toks: list[str]) -> list[tuple[int, tuple[str, str, str]]]:
        """Post positions whose 3-gram occurs in the Quran, in post order."""
        grams = list(zip(toks, toks[1:], toks[2:], strict=False))
        hits = self.grams.keys() & set(grams)
        if not hits:
            return []
        return [(i, g) for i, g in enumerate(grams) if g in hits]

    def _extend(self, toks: list[str], i: int, p: int, n: int) -> Alignment:
        words = self.words
        budget_errors = 0.0
        # right
        a, b = i + n, p + n
        matched = n
        end_a, end_b = a, b
        while a < len(toks) and b < len(words):
            if toks[a] == words[b]:
                a, b = a + 1, b + 1
                matched += 1
            elif _close(toks[a], words[b]) and budget_errors + 0.5 <= 1 + matched / 6:
                a, b = a + 1, b + 1
                matched += 1
                budget_errors += 0.5
            elif (
                b + 1 < len(words) and toks[a] == words[b + 1] and budget_errors + 1 <= matched / 5
            ):
                a, b = a + 1, b + 2  # the post dropped a Quran word
                matched += 1
                budget_errors += 1
            elif a + 1 < len(toks) and toks[a + 1] == words[b] and budget_errors + 1 <= matched / 5:
                a, b = a + 2, b + 1  # the post inserted a word
                matched += 1
                budget_errors += 1
            else:
                break
            end_a, end_b = a, b
        # left
        a, b = i - 1, p - 1
        start_a, start_b = i, p
        while a >= 0 and b >= 0:
            if toks[a] == words[b]:
                a, b = a - 1, b - 1
                matched += 1
            elif _close(toks[a], words[b]) and budget_errors + 0.5 <= 1 + matched / 6:
                a, b = a - 1, b - 1
                matched += 1
                budget_errors += 0.5
            elif b >= 1 and toks[a] == words[b - 1] and budget_errors + 1 <= matched / 5:
                a, b = a - 1, b - 2
                matched += 1
                budget_errors += 1
            elif a >= 1 and toks[a - 1] == words[b] and budget_errors + 1 <= matched / 5:
                a, b = a - 2, b - 1
                matched += 1
                budget_errors += 1
            else:
                break
            start_a, start_b = a + 1, b + 1
        return Alignment(start_a, end_a, start_b, end_b, matched, budget_errors)

    def align(
        self,
        toks: list[str],
        *,
        min_words: int,
        prefer: frozenset[int] = frozenset(),
        max_candidates: int = 64,
        seeds: list[tuple[int, tuple[str, str, str]]] | None = None,
    ) -> list[Alignment]:
        """Non-overlapping quoted runs in ``toks`` (already canonical), best first by
        position.  ``prefer`` holds ayah indexes that win ties (the cue catalog: an
        ambiguous fragment is more likely the famous cue than its twin).  ``seeds``:
        ``self.seeds(toks)``, when the caller has them already."""
        out: list[Alignment] = []
        covered_to = 0
        for i, g in self.seeds(toks) if seeds is None else seeds:
            if i < covered_to:
                continue
            best: Alignment | None = None
            best_key: tuple[float, int, int] = (-1.0, 0, 0)
            for p in self.grams[g][:max_candidates]:
                al = self._extend(toks, i, p, 3)
                cue = 1 if self.ayah_index(al.q0) in prefer else 0
                key = (al.matched - al.errors, cue, -al.q0)
                if key > best_key:
                    best, best_key = al, key
            if best is None:
                continue
            if best.matched >= min_words or self._whole_ayah(best):
                out.append(best)
                covered_to = best.p1
        return out

    def _whole_ayah(self, al: Alignment) -> bool:
        """Short ayahs (e.g. 54:45, four words) count when quoted entirely."""
        k = self.ayah_index(al.q0)
        q0, q1 = self.ayah_span(self.ayah_keys[k])
        return al.q0 <= q0 and al.q1 >= q1 and q1 - q0 >= 3


# Screen characters of tokens that are no Quran word: an anchor of a phrase pattern, a
# typo of one, anything else, an ayah number (dropped: the matcher skips those).
_ANCHOR, _TYPO, _OTHER, _NUMBER = "\x02", "\x03", " ", ""
_FIRST = 0x100  # Quran words are code points from here on
_SEEN_MAX = 200_000  # tokens classified beyond the Quran vocabulary


class Screen:
    """One character per post token, so that a post's Quran 3-grams and its phrase
    anchors are found in C, in one dict lookup per token.

    A Quran word (spelling variants included) is a code point that says both which
    word it is, for the 3-gram automaton, and whether it is an anchor of a phrase
    pattern or a one-letter typo of one; those two kinds are contiguous blocks, so one
    regex character class finds them.  A variant whose kind differs from its
    canonical word's gets its own code point, and the automaton holds each 3-gram in
    every combination of its words' code points.  Other tokens are classified on first
    sight and kept (the typo search is costly; post vocabulary is Zipfian)."""

    def __init__(
        self,
        index: QuranIndex,
        anchors: Iterable[str],
        is_typo: Callable[[str], bool],
    ) -> None:
        anchor_set = set(anchors)
        self._is_typo = is_typo

        def kind(tok: str) -> int:
            return 1 if tok in anchor_set else 2 if is_typo(tok) else 0

        wid: dict[str, int] = {}
        for w in index.words:
            wid.setdefault(w, len(wid))
        spellings = {w: (kind(w), wid[w]) for w in wid}
        spellings |= {v: (kind(v), wid[w]) for v, w in index.canon.items()}
        chars = {p: chr(_FIRST + n) for n, p in enumerate(sorted(set(spellings.values())))}
        blocks = [[c for p, c in chars.items() if p[0] == k] for k in (1, 2)]
        self._anchor_re, self._typo_re = (
            re.compile(f"[{mark}{b[0]}-{b[-1]}]" if b else f"[{mark}]")
            for mark, b in zip((_ANCHOR, _TYPO), blocks, strict=True)
        )
        forms: dict[int, list[str]] = {}
        for p, c in chars.items():
            forms.setdefault(p[1], []).append(c)
        patterns: list[str] = []
        self._owner: list[tuple[str, str, str]] = []
        for g in index.grams:
            for combo in product(*(forms[wid[w]] for w in g)):
                patterns.append("".join(combo))
                self._owner.append(g)
        self._ac = ahocorasick_rs.AhoCorasick(patterns)
        self._base = {t: chars[p] for t, p in spellings.items()}
        # An all-digit anchor stays "" like any ayah number; the matcher then takes the
        # slow path, as for every post whose line is shorter than its tokens.
        self._base |= {a: _ANCHOR for a in anchor_set - self._base.keys() if not a.isdigit()}
        self._codes = _Codes(self._base, is_typo)

    def line(self, toks: list[str]) -> str:
        """The post as screen characters; ayah numbers are dropped, so offsets are
        token indexes only when the line is as long as ``toks``."""
        codes = self._codes
        if len(codes) > len(self._base) + _SEEN_MAX:
            # Replaced, not cleared, so a concurrent caller never sees a half-built map.
            codes = self._codes = _Codes(self._base, self._is_typo)
        return "".join(map(codes.__getitem__, toks))

    def seeds(self, line: str) -> list[tuple[int, tuple[str, str, str]]]:
        """``QuranIndex.seeds`` of the canonical tokens without the ayah numbers."""
        found = self._ac.find_matches_as_indexes(line, overlapping=True)
        if not found:
            return []
        owner = self._owner
        return [(i, owner[k]) for k, i, _ in sorted(found, key=itemgetter(1))]

    def anchors(self, line: str) -> list[int]:
        """Offsets of the tokens that are an anchor of a phrase pattern."""
        return [m.start() for m in self._anchor_re.finditer(line)]

    def typos(self, line: str) -> list[int]:
        """Offsets of the tokens that are a one-letter typo of an anchor (and no anchor)."""
        return [m.start() for m in self._typo_re.finditer(line)]


class _Codes(dict[str, str]):
    """Token -> screen character; a token first seen is classified and kept."""

    def __init__(self, base: dict[str, str], is_typo: Callable[[str], bool]) -> None:
        super().__init__(base)
        self._is_typo = is_typo

    def __missing__(self, tok: str) -> str:
        code = _NUMBER if tok.isdigit() else _TYPO if self._is_typo(tok) else _OTHER
        self[tok] = code
        return code


def _build() -> QuranIndex:
    from quran_text import Mushaf

    mushaf = Mushaf.hafs()
    words: list[str] = []
    ayah_starts: list[int] = []
    ayah_keys: list[str] = []
    uthmani: list[str] = []
    for ayah in mushaf.ayahs:
        imlai = ayah.rasm_imlai or []
        raw = ayah.words
        ayah_starts.append(len(words))
        ayah_keys.append(str(ayah.key))
        for k, uth in enumerate(raw):
            w = imlai[k] if k < len(imlai) and imlai[k] else uth
            for part in normalize(w).text.split():
                words.append(part)
                uthmani.append(uth)
    vocab = set(words)
    canon: dict[str, str] = {}
    # Uthmani spellings survive in posts (الصلوة, السموات vs السماوات, ءامنوا):
    # the Uthmani word with the dagger alif dropped or written out gives both.
    for w, uth in zip(words, uthmani, strict=True):
        for variant in (uth, uth.replace("\u0670", "\u0627")):
            v = normalize(variant).text
            if v and " " not in v and v != w and v not in vocab:
                canon.setdefault(v, w)
    return QuranIndex(words, ayah_starts, ayah_keys, canon)


def load_index(cache_dir: Path | None, version: str) -> QuranIndex:
    """Build the index, or load it from ``cache_dir`` when the key matches."""
    if cache_dir is None:
        return _build()
    path = cache_dir / f"quran-index-{_FORMAT}-{version}.pickle"
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
        if isinstance(cached, QuranIndex):
            return cached
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        pass
    index = _build()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache dir only costs the rebuild
    return index


@cache
def _mushaf() -> Any:
    from quran_text import Mushaf

    return Mushaf.hafs()


@cache
def verse_text(ref: str) -> str:
    """An ayah ("3:139") in the modern imla'i spelling people read and fonts render; the
    Uthmani script needs the mushaf's own font. Empty for a ref that is not an ayah."""
    try:
        surah, number = (int(x) for x in ref.split(":"))
        ayah = _mushaf().ayah(surah, number)
    except (ValueError, IndexError):
        return ""
    words = ayah.rasm_imlai or []
    return " ".join(w for w in words if w) or str(ayah.text)
