"""The post's Quran quotes, short ones included (#12).

``QuranIndex.align`` reports runs of at least ``min_words`` words.  A shorter run, 2 to
``max_words`` words, is most of the time ordinary Arabic ("في سبيل الله", "يوم القيامة",
"الله أكبر"), so it counts only with evidence that it is a quote:

* **marked**: it is the whole content of a pair of quote marks (﴿﴾ () {} «» "" “”), and
  its n-gram stands in at most ``marked_max_ayahs`` ayahs (a phrase found all over the
  Quran is a term, not a quote of one verse);
* **introduced**: it starts right after a quoting formula (قال تعالى…, ``openers``) or ends
  right before a closing one (صدق الله العظيم, ``closers``), same ayah limit; a 2-word run
  must also end (start) at punctuation, a mark, a formula or the end of the post;
* **distinctive**: 3+ words found with no mark, exact, unique to one ayah, and made of words
  rare in ordinary Arabic: ``sum(max(0, rare_zipf - zipf(w)))`` over its words reaches
  ``min_rarity`` (``quotetext.load_zipf``: wordfreq's Arabic frequencies, folded).

A marked or introduced quote may drop the conjunction of its first word ("فتح قريب" for
61:13 "وفتح قريب").  ``everyday`` phrases (الله أكبر, الحمد لله, ما شاء الله…) are never a
short quote; the rules' ``formulas`` stay formulas (the matcher drops a short run that
overlaps one).  A short quote is a ``verse_cue`` when its ayah is a cue and it is in at
most one other ayah (a twin) or all its ayahs are cues, else a ``verse_quote``.

Cost: a post with no quote mark, no formula and no Quran 3-gram pays one regex search and
one Aho-Corasick scan; token offsets are computed only for posts with a candidate.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import ahocorasick_rs

from .. import __version__
from .normalize import Normalized, normalize
from .quotetext import (
    ABSENT_ZIPF,
    MARK,
    MARKED,
    Offsets,
    Taken,
    joined,
    load_zipf,
    sura_names,
)
from .quran import Alignment, QuranIndex
from .rules import RuleSet

__all__ = ["ShortQuote", "ShortQuotes"]

Seeds = list[tuple[int, tuple[str, str, str]]]
Cues = tuple[bool, list[tuple[int, int, int]]]


@dataclass(frozen=True)
class ShortQuote(Alignment):
    """An accepted short quote; ``q0``/``q1`` are its run in the chosen ayah ``ref``."""

    ref: str
    cue: bool
    why: str


class ShortQuotes:
    def __init__(
        self, index: QuranIndex, rules: RuleSet, cue_ayahs: frozenset[int], cache: Path | None
    ) -> None:
        self.index = index
        self.rules = rules.short_quotes
        self.cue_ayahs = cue_ayahs
        self.min_words = rules.min_words
        self.max_words = min(self.rules.max_words, self.min_words - 1)
        # Set up here rather than on first use, so no post waits for them (about 0.1 s).
        self._zipf = load_zipf(cache, f"{rules.version}-{__version__}", index.words)
        bigrams: dict[tuple[str, str], list[int]] = {}
        for p, g in enumerate(pairwise(index.words)):
            bigrams.setdefault(g, []).append(p)
        # Tuples, which the garbage collector's full passes skip (as QuranIndex.grams).
        self._bigrams = {g: tuple(ps) for g, ps in bigrams.items()}
        self._suras = sura_names()
        everyday = {tuple(index.canonical(list(e))) for e in self.rules.everyday}
        self._everyday = everyday
        self._inside_everyday = {
            e[i:j] for e in everyday for i in range(len(e)) for j in range(i + 1, len(e) + 1)
        }
        phrases = [" ".join(p) for p in self.rules.openers + self.rules.closers]
        self._n_openers = len(self.rules.openers)
        self._formulas = ahocorasick_rs.AhoCorasick(phrases) if phrases else None

    def quotes(
        self, toks: list[str], seeds: Seeds, norm: Normalized
    ) -> tuple[list[Alignment], list[int]]:
        """The quotes of the post (``toks``, ``seeds`` from the matcher's screen), long and
        short, by position, and ``qmap``: their positions skip ayah numbers ("... مؤمنين
        (139) إن يمسسكم"), ``qmap[p]`` is the token of position ``p``."""
        cues = self.cues(norm)
        if not seeds and not cues:
            return [], []
        if any(map(str.isdigit, toks)):
            qmap = [i for i, t in enumerate(toks) if not t.isdigit()]
            qtoks = [toks[i] for i in qmap]
        else:
            qmap, qtoks = list(range(len(toks))), toks
        canon = self.index.canonical(qtoks)
        short: list[Alignment] = []
        found = self.index.align(
            canon, min_words=self.min_words, prefer=self.cue_ayahs, seeds=seeds, short=short
        )
        if self.max_words >= 2 and (cues or short):
            found = self.add(found, short, cues, canon, qmap, norm)
        return found, qmap

    def cues(self, norm: Normalized) -> Cues | None:
        """Whether the post has quote marks, and where its quoting formulas are; None for
        neither (most posts)."""
        if self.max_words < 2:
            return None
        marked = MARK.search(norm.original) is not None
        found: list[tuple[int, int, int]] = []
        if self._formulas is not None:
            text = norm.text
            for k, a, b in self._formulas.find_matches_as_indexes(text, overlapping=True):
                if (a == 0 or text[a - 1] == " ") and (b == len(text) or text[b] == " "):
                    found.append((k, a, b))
        return (marked, found) if marked or found else None

    def add(
        self,
        found: list[Alignment],
        short: list[Alignment],
        cues: Cues | None,
        canon: list[str],
        qmap: list[int],
        norm: Normalized,
    ) -> list[Alignment]:
        """``found`` (the long quotes) with the accepted short quotes added, by position.
        ``canon``: the post's canonical tokens without ayah numbers; ``short``: the exact
        runs ``align`` found too short."""
        offsets = Offsets(norm)
        taken = Taken([(a.p0, a.p1) for a in found])
        extra: list[Alignment] = []
        limit = self.rules.marked_max_ayahs

        def accept(p0: int, p1: int, max_ayahs: int, why: str, clitic: bool = True) -> bool:
            gram = tuple(canon[p0:p1])
            if not taken.free(p0, p1) or self._is_everyday(gram):
                return False
            sq = self._quote(gram, p0, max_ayahs, why, clitic)
            if sq is None:
                return False
            extra.append(sq)
            taken.add(p0, p1)
            return True

        runs = joined(short)
        for al in runs:  # joined into a long quote: reported as ``align`` would
            if al.matched >= self.min_words and taken.free(al.p0, al.p1):
                extra.append(al)
                taken.add(al.p0, al.p1)
        marked, formulas = cues if cues else (False, [])
        if marked:
            for p0, p1, mark in self._marked(canon, qmap, norm, offsets):
                accept(p0, p1, limit, f"{p1 - p0}-word quote in {mark}")
        edges = self._edges(formulas, norm.text, qmap)
        stops = {q for _, _, q in edges}  # a formula next to a run sets it apart too
        for opener, name, q in edges:
            nearest = (q, q + 1) if opener else (q - 1, q)
            if not taken.free(*nearest):
                continue  # a long quote is there already
            for n in range(self.max_words, 1, -1):
                p0, p1 = (q, q + n) if opener else (q - n, q)
                if p0 < 0 or p1 > len(canon):
                    continue
                # Two words must stand apart from what follows (precedes) them.
                x = p1 if opener else p0
                if n == 2 and x not in stops and not offsets.apart(qmap, x):
                    continue
                where = "after" if opener else "before"
                if accept(p0, p1, limit, f"{n}-word quote {where} {name!r}"):
                    break
        for al in runs:
            n = al.p1 - al.p0
            if al.errors or n > self.max_words or not taken.free(al.p0, al.p1):
                continue
            rarity = self._rarity(tuple(canon[al.p0 : al.p1]))
            if rarity >= self.rules.min_rarity:
                why = f"{n} distinctive words of the Quran (rarity {rarity:.1f})"
                accept(al.p0, al.p1, 1, why, clitic=False)
        if not extra:
            return found
        return sorted(found + extra, key=lambda al: al.p0)

    # -- helpers ----------------------------------------------------------------

    def _edges(
        self, formulas: list[tuple[int, int, int]], text: str, qmap: list[int]
    ) -> list[tuple[bool, str, int]]:
        """Per formula: opener or closer, its words, and the run position where it leaves
        off (an opener) or takes up (a closer).  Token numbers are counted once along
        the text, not per formula (a 1 MB post may hold thousands)."""
        out: list[tuple[bool, str, int]] = []
        spaces = last = 0
        for k, a, b in sorted(formulas, key=lambda f: f[1]):
            opener = k < self._n_openers
            at = b if opener else a
            if at < last:
                spaces, last = text.count(" ", 0, at), at
            spaces += text.count(" ", last, at)
            last = at
            out.append((opener, text[a:b], bisect_left(qmap, spaces + 1 if opener else spaces)))
        return out

    def _marked(
        self, canon: list[str], qmap: list[int], norm: Normalized, offsets: Offsets
    ) -> list[tuple[int, int, str]]:
        """Runs of ``canon`` that are the whole content of a pair of quote marks and a
        Quran n-gram of 2..max_words words."""
        out: list[tuple[int, int, str]] = []
        for m in MARKED.finditer(norm.original):
            g = m.lastindex or 0
            words = [w for w in normalize(m.group(g)).text.split() if not w.isdigit()]
            if not 2 <= len(words) <= self.max_words:
                continue
            gram = tuple(self.index.canonical(words))
            if not self._find(gram, True) or tuple(words) in self._suras:
                continue  # most bracketed text is no Quran n-gram
            t0, t1 = offsets.tokens(m.start(g), m.end(g))
            p0, p1 = bisect_left(qmap, t0), bisect_left(qmap, t1)
            if tuple(canon[p0:p1]) == gram:
                out.append((p0, p1, m.group(0)[0] + m.group(0)[-1]))
        return out

    def _quote(
        self, gram: tuple[str, ...], p0: int, max_ayahs: int, why: str, clitic: bool
    ) -> ShortQuote | None:
        idx = self.index
        by_ayah: dict[int, int] = {}
        for q in self._find(gram, clitic):
            by_ayah.setdefault(idx.ayah_index(q), q)
        if not by_ayah or len(by_ayah) > max_ayahs:
            return None
        k = min(by_ayah, key=lambda k: (k not in self.cue_ayahs, by_ayah[k]))
        # A cue with one twin is taken for the famous cue, as ``align`` does; a phrase of
        # three or four ayahs only when they are all cues.
        cue = k in self.cue_ayahs and (
            len(by_ayah) <= 2 or all(o in self.cue_ayahs for o in by_ayah)
        )
        q0, n = by_ayah[k], len(gram)
        if len(by_ayah) > 1:
            why += f"; also in {', '.join(idx.ayah_keys[o] for o in sorted(by_ayah) if o != k)}"
        return ShortQuote(p0, p0 + n, q0, q0 + n, n, 0.0, idx.ayah_keys[k], cue, why)

    def _find(self, gram: tuple[str, ...], clitic: bool) -> list[int]:
        """``_positions``, or else (``clitic``) those of the gram with a conjunction on its
        first word: a quote from inside a verse often drops it."""
        found = self._positions(gram)
        if found or not clitic:
            return found
        return [q for c in ("و", "ف") for q in self._positions((c + gram[0], *gram[1:]))]

    def _positions(self, gram: tuple[str, ...]) -> list[int]:
        """Stream positions where ``gram`` (canonical words) occurs in the Quran."""
        words, n = self.index.words, len(gram)
        if n >= 3:
            starts = self.index.grams.get((gram[0], gram[1], gram[2]), ())
            return [p for p in starts if tuple(words[p : p + n]) == gram]
        if n != 2:
            return []
        return list(self._bigrams.get((gram[0], gram[1]), ()))

    def _is_everyday(self, gram: tuple[str, ...]) -> bool:
        """Inside an everyday phrase, or one with at most one word more."""
        every = self._everyday
        return gram in self._inside_everyday or gram[1:] in every or gram[:-1] in every

    def _rarity(self, gram: tuple[str, ...]) -> float:
        zipf, top = self._zipf, self.rules.rare_zipf
        return sum(max(0.0, top - zipf.get(w, ABSENT_ZIPF)) for w in gram)
