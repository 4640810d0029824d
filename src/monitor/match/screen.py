"""The token screen: a post's Quran 3-grams and phrase anchors found in C (#11, #12).

Split from ``quran.py``, whose index it reads; ``quran.Screen`` still names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import product
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import ahocorasick_rs

if TYPE_CHECKING:
    from .quran import QuranIndex

__all__ = ["Screen"]

# Screen characters of tokens that are no Quran word: an anchor of a phrase pattern, a
# typo of one, anything else, an ayah number (dropped: the matcher skips those).
_ANCHOR, _TYPO, _OTHER, _NUMBER = "\x02", "\x03", " ", ""
_FIRST = 0x100  # Quran words are code points from here on
_SEEN_MAX = 200_000  # tokens kept classified (``_Codes``)


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
        self._patterns = patterns
        self._ac = ahocorasick_rs.AhoCorasick(patterns)
        self._base = {t: chars[p] for t, p in spellings.items()}
        # An all-digit anchor stays "" like any ayah number; the matcher then takes the
        # slow path, as for every post whose line is shorter than its tokens.
        self._base |= {a: _ANCHOR for a in anchor_set - self._base.keys() if not a.isdigit()}
        self._codes = _Codes(self._base, is_typo)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled in the matcher's cache (compiled.py) without the automaton, which cannot
        # be, and without the per-process codes; ``_is_typo`` is the phrase set's, pickled
        # with it.
        state = self.__dict__.copy()
        del state["_ac"], state["_codes"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._ac = ahocorasick_rs.AhoCorasick(self._patterns)
        self._codes = _Codes(self._base, self._is_typo)

    def line(self, toks: list[str]) -> str:
        """The post as screen characters; ayah numbers are dropped, so offsets are
        token indexes only when the line is as long as ``toks``."""
        codes = self._codes
        if len(codes) > _SEEN_MAX:
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
    """Token -> screen character; a token first seen is looked up in ``base`` or classified,
    and kept.  Only the tokens posts use are kept here, not a copy of ``base``: that holds
    every Quran spelling and every anchor form (a quarter of a million since the frame
    lexicons, #12), too big for the CPU cache, and its cache misses were a tenth of the
    matcher's time; posts keep using the same few thousand words."""

    def __init__(self, base: dict[str, str], is_typo: Callable[[str], bool]) -> None:
        super().__init__()
        self._base = base
        self._is_typo = is_typo

    def __missing__(self, tok: str) -> str:
        code = self._base.get(tok)
        if code is None:
            code = _NUMBER if tok.isdigit() else _TYPO if self._is_typo(tok) else _OTHER
        self[tok] = code
        return code
