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

from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from ..files import load_cached, save_cached
from .normalize import normalize
from .screen import Screen

__all__ = ["Alignment", "QuranIndex", "Screen", "load_index", "verse_text"]

_FORMAT = 4  # bump when the pickled layout changes


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
        # Tuples: 65 000 lists would be walked by every full pass of the garbage collector.
        self.grams: dict[tuple[str, str, str], tuple[int, ...]] = {
            g: tuple(ps) for g, ps in grams.items()
        }

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
        short: list[Alignment] | None = None,
    ) -> list[Alignment]:
        """Non-overlapping quoted runs in ``toks`` (already canonical), best first by
        position.  ``prefer`` holds ayah indexes that win ties (the cue catalog: an
        ambiguous fragment is more likely the famous cue than its twin).  ``seeds``:
        ``self.seeds(toks)``, when the caller has them already.  ``short``, when given,
        collects the exact runs too short to count (for the short-quote checks, #12)."""
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
            elif short is not None and not best.errors:
                short.append(best)
        return out

    def _whole_ayah(self, al: Alignment) -> bool:
        """Short ayahs (e.g. 54:45, four words) count when quoted entirely."""
        k = self.ayah_index(al.q0)
        q0, q1 = self.ayah_span(self.ayah_keys[k])
        return al.q0 <= q0 and al.q1 >= q1 and q1 - q0 >= 3


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
    cached = load_cached(path, lambda c: isinstance(c, QuranIndex))
    if isinstance(cached, QuranIndex):
        return cached
    index = _build()
    save_cached(path, index)
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
