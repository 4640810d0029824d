"""What the short-quote finder (shortquote.py, #12) reads around a run of Quran words:
its settings (``quran.short_quotes`` of the rules), quote marks, where tokens sit in the
original text, and how common a word is in ordinary Arabic (``wordfreq``)."""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import load_cached, save_cached
from .normalize import Normalized, normalize
from .quran import Alignment

if TYPE_CHECKING:
    import yaml

    from .rules import _Reader

__all__ = [
    "MARK",
    "MARKED",
    "Offsets",
    "ShortQuoteRules",
    "Taken",
    "joined",
    "load_zipf",
    "sura_names",
]

# Content of a pair of quote marks; either order, since RTL text is typed both ways.
MARKED = re.compile(
    r"[﴾﴿]([^﴾﴿\n]{1,160})[﴾﴿]|\(([^()\n]{1,160})\)|\{([^{}\n]{1,160})\}"
    r"|[«»]([^«»\n]{1,160})[«»]|\"([^\"\n]{1,160})\"|[“”]([^“”\n]{1,160})[“”]"
)
MARK = re.compile(r"[﴾﴿(){}«»\"“”]")


@dataclass
class ShortQuoteRules:
    """``quran.short_quotes``; the phrases are folded word tuples."""

    max_words: int = 4
    marked_max_ayahs: int = 4
    rare_zipf: float = 4.0
    min_rarity: float = 1.0
    openers: list[tuple[str, ...]] = field(default_factory=list)
    closers: list[tuple[str, ...]] = field(default_factory=list)
    everyday: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def read(cls, reader: _Reader, node: yaml.Node, min_words: int) -> ShortQuoteRules:
        """From the rule file's node; errors name its file and line."""
        m = reader.mapping(node, "short_quotes")
        sq = cls(max_words=min_words - 1)
        for key, (knode, v) in m.items():
            if key == "max_words":
                sq.max_words = int(reader.number(v, key, 0, min_words - 1))
            elif key == "marked_max_ayahs":
                sq.marked_max_ayahs = int(reader.number(v, key, 1, 100))
            elif key in ("rare_zipf", "min_rarity"):
                setattr(sq, key, reader.number(v, key, 0, 9))
            elif key in ("openers", "closers", "everyday"):
                phrases = [tuple(normalize(s).text.split()) for s in reader.strings(v, key)]
                if not all(phrases):
                    raise reader.fail(v, f"{key} entries must have words")
                setattr(sq, key, phrases)
            else:
                raise reader.fail(knode, f"unknown short_quotes field {key!r}")
        return sq


ABSENT_ZIPF = 2.5  # a word missing from wordfreq's list (every listed word is >= 3.0)


def load_zipf(cache_dir: Path | None, key: str, vocab: Iterable[str]) -> dict[str, float]:
    """Zipf frequency (log10 per billion words) of each word of ``vocab`` (folded) that
    wordfreq's "small" Arabic list holds, summed over the spellings that fold to it
    (أكبر and اكبر are one word to the matcher); the list has every word of at least
    one per million (Zipf 3).  Building takes about 0.3 s, so the table is kept in
    ``cache_dir`` beside the Quran index, under the same ``key``."""
    path = cache_dir / f"quran-zipf-{key}.pickle" if cache_dir is not None else None
    if path is not None:
        cached = load_cached(path, lambda c: isinstance(c, dict))
        if cached is not None:
            return dict(cached)
    from wordfreq import get_frequency_dict

    wanted = set(vocab)
    freqs: dict[str, float] = {}
    for word, f in get_frequency_dict("ar", wordlist="small").items():
        folded = normalize(word).text
        if folded in wanted:
            freqs[folded] = freqs.get(folded, 0.0) + f
    table = {w: math.log10(f) + 9 for w, f in freqs.items()}
    if path is not None:
        save_cached(path, table)
    return table


@cache
def sura_names() -> frozenset[tuple[str, ...]]:
    """Folded surah names, alone and after سورة: "(آل عمران: 139)" cites, it does not
    quote 3:33 "وآل عمران"."""
    from quran_text import Mushaf

    names = {tuple(normalize(s.name_ar).text.split()) for s in Mushaf.hafs().surahs}
    return frozenset(names | {("سوره", *n) for n in names})


class Offsets:
    """Where the post's tokens sit in the original text, looked up on demand: a
    bisection over the folded token starts, each probe one ``to_original``.  Lookups
    made in text order gallop from the last one (a 1 MB post can hold hundreds of
    marked quotes: a few probes each, not two dozen)."""

    def __init__(self, norm: Normalized) -> None:
        self.norm = norm
        self._starts: list[int] | None = None
        self._last = 0  # token where the previous lookup ended

    def _folded(self) -> list[int]:
        if self._starts is None:
            toks = self.norm.text.split(" ") if self.norm.text else []
            lens = map((1).__add__, map(len, toks[:-1]))
            self._starts = [0, *accumulate(lens)] if toks else []
        return self._starts

    def _orig_start(self, c: int) -> int:
        return self.norm.to_original(c, c + 1)[0]

    def tokens(self, o0: int, o1: int) -> tuple[int, int]:
        """Tokens ``[t0, t1)`` that start inside original ``[o0, o1)``."""
        t0 = self._first_from(o0)
        self._last = t1 = self._first_from(o1, t0)
        return t0, t1

    def _first_from(self, o: int, lo: int | None = None) -> int:
        """The first token starting at or after original offset ``o``: galloping from
        ``lo`` (the last lookup's end) when ``o`` is past it, else a plain bisection."""
        starts, key = self._folded(), self._orig_start
        n = len(starts)
        lo = self._last if lo is None else lo
        if lo >= n or (lo > 0 and key(starts[lo - 1]) >= o):
            return bisect_left(starts, o, 0, min(lo, n), key=key)
        step, hi = 1, lo
        while hi < n and key(starts[hi]) < o:
            lo, hi, step = hi + 1, hi + step, step * 2
        return bisect_left(starts, o, lo, min(hi, n), key=key)

    def apart(self, qmap: list[int], x: int) -> bool:
        """Whether run positions ``x - 1`` and ``x`` (``qmap`` maps them to tokens) are
        apart: punctuation, a symbol, a line break or an ayah number between them, or
        one of them past an end."""
        if x <= 0 or x >= len(qmap):
            return True
        t = qmap[x - 1]
        if qmap[x] != t + 1:
            return True
        starts = self._folded()
        end = self.norm.to_original(starts[t], starts[t + 1] - 1)[1]
        gap = self.norm.original[end : self._orig_start(starts[t + 1])]
        return any(c == "\n" or unicodedata.category(c)[0] in "PS" for c in gap)


class Taken:
    """Disjoint ``[p0, p1)`` ranges; overlap tests by bisection (posts can be 1 MB)."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self._ranges = sorted(ranges)

    def free(self, p0: int, p1: int) -> bool:
        i = bisect_left(self._ranges, (p1, -1))  # ranges starting before p1
        return i == 0 or self._ranges[i - 1][1] <= p0

    def add(self, p0: int, p1: int) -> None:
        insort(self._ranges, (p0, p1))


def joined(short: list[Alignment]) -> list[Alignment]:
    """The exact short runs by position, overlaps dropped, and two runs of one verse with
    one word dropped, added or replaced between them joined ("ولا تهنوا ولا تحزنوا
    [وأنتم] الأعلون إن كنتم مؤمنين"): ``align``'s error budget is too small so early in a
    run to step over the gap."""
    out: list[Alignment] = []
    for al in sorted(short, key=lambda a: (a.p0, -a.p1)):
        prev = out[-1] if out else None
        if prev is None:
            out.append(al)
        elif al.p0 < prev.p1:
            continue  # the same run again, from a later seed
        elif (al.p0 - prev.p1, al.q0 - prev.q1) in ((0, 1), (1, 0), (1, 1)):
            # As align counts them: 1 a dropped or an extra word, 2 a replaced one.
            errors = prev.errors + al.errors + (al.p0 - prev.p1) + (al.q0 - prev.q1)
            out[-1] = Alignment(prev.p0, al.p1, prev.q0, al.q1, prev.matched + al.matched, errors)
        else:
            out.append(al)
    return out
