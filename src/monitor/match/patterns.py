"""Phrase patterns: the operator's pattern syntax compiled to slots of word forms.

Split from ``phrases.py`` (the phrase set that matches them), which still exports these names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .normalize import normalize

__all__ = [
    "FUZZY_MIN_LEN",
    "GAP_WORDS",
    "Gap",
    "Pattern",
    "PatternError",
    "Slot",
    "compile_pattern",
]

GAP_WORDS = 3
_VOCATIVE = re.compile(r"(?<!\S)يا\s+(?=\S)")
FUZZY_MIN_LEN = 6


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
