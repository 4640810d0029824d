"""The one text fold used by the Quran index, the matcher, search and highlighting.

The fold is done in two stages so that the common case stays in C:

1. a per-code-point translation (``str.translate`` with a lazily filled table), which
   drops marks, folds letter shapes and turns punctuation/emoji/controls into spaces;
2. a regex pass that deletes characters depending on their neighbours (runs of
   spaces, and the alif/space after a vocative ``يا``).

The offset map back to the original string is only built when a caller asks for it
(``to_original``), because the great majority of posts never produce a span.

Hamza decisions: hamza on a carrier folds to the carrier (أ إ آ ٱ → ا, ؤ → و,
ئ → ي) and a bare hamza ء is dropped.  Writers place and omit hamza inconsistently
(ءامنوا / آمنوا / امنوا, سماء / سما), so keeping it would split spellings the
reader sees as the same word; the words it merges are rare enough not to matter.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

from .obfuscation import overrides as _find_overrides

__all__ = ["Normalized", "fold_char", "normalize"]

# Letters people type interchangeably; applied after NFKD, so hamza carriers have
# already lost their (combining) hamza.
_LETTERS: dict[str, str] = {
    "\u0671": "\u0627",  # alef wasla
    "\u0649": "\u064a",  # alef maksura -> yeh
    "\u0629": "\u0647",  # teh marbuta -> heh
    "\u0621": "",  # bare hamza, see module docstring
    "\u06cc": "\u064a",  # Persian yeh
    "\u06d0": "\u064a",
    "\u06cd": "\u064a",
    "\u06d2": "\u064a",  # Urdu yeh barree
    "\u06a9": "\u0643",  # keheh
    "\u06af": "\u0643",  # gaf (Iraqi dialect spelling of g)
    "\u06be": "\u0647",  # heh doachashmee
    "\u06c1": "\u0647",  # heh goal
    "\u06c3": "\u0647",
    "\u06d5": "\u0647",  # ae (base of ۀ)
    "\u067e": "\u0628",  # peh
    "\u0686": "\u062c",  # tcheh
    "\u0698": "\u0632",  # jeh
    "\u06a4": "\u0641",  # veh
    "\u06a8": "\u0642",
    "\u0640": "",  # tatweel
    # Hangul fillers render as nothing and are pasted into words to dodge filters (#12);
    # U+3164 and U+FFA0 reach U+1160 through NFKD.
    "\u115f": "",
    "\u1160": "",
}

# Extended Arabic letters (Persian, Urdu, Kurdish, Sindhi...) used as look-alikes of the
# Arabic ones (#12): folded to the letter their Unicode name is built on ("REH WITH SMALL V"
# -> REH), after these renames and prefixes; derived from names rather than listed so the
# whole block is covered.  Lazily, through fold_char, so it costs nothing per post.
_BASE_ALIASES: dict[str, str] = {
    **dict.fromkeys(("TTEH", "TTEHEH", "TEHEH"), "TEH"),
    **dict.fromkeys(("BEEH", "BEHEH", "PEH"), "BEH"),
    **dict.fromkeys(("NYEH", "DYEH", "TCHEH", "TCHEHEH"), "JEEM"),
    **dict.fromkeys(("DDAL", "DAHAL", "DDAHAL", "DUL"), "DAL"),
    "RREH": "REH",
    "JEH": "ZAIN",
    **dict.fromkeys(("NOON GHUNNA", "RNOON"), "NOON"),
    **dict.fromkeys(("NG", "GUEH", "NGOEH", "GAF", "KEHEH"), "KAF"),
    **dict.fromkeys(("OE", "U", "YU", "KIRGHIZ OE", "KIRGHIZ YU", "VE"), "WAW"),
    **dict.fromkeys(("E", "YEH BARREE", "ALEF MAKSURA"), "YEH"),
    **dict.fromkeys(
        ("AE", "HEH GOAL", "HEH DOACHASHMEE", "TEH MARBUTA", "TEH MARBUTA GOAL"), "HEH"
    ),
    **dict.fromkeys(("VEH", "PEHEH"), "FEH"),
    "HIGH HAMZA": "HAMZA",
}
_BASE_PREFIXES = ("DOTLESS ", "SWASH ", "FARSI ", "KASHMIRI ")


def _arabic_base(d: str) -> str | None:
    """The basic Arabic letter an extended one is a variant of, or None."""
    name = unicodedata.name(d, "")
    if not name.startswith("ARABIC LETTER "):
        return None
    base = name[len("ARABIC LETTER ") :].split(" WITH ")[0]
    for prefix in _BASE_PREFIXES:
        base = base.removeprefix(prefix)
    base = _BASE_ALIASES.get(base, base)
    try:
        letter = unicodedata.lookup("ARABIC LETTER " + base)
    except KeyError:
        return None
    if not "\u0621" <= letter <= "\u064a":
        return None
    return _LETTERS.get(letter, letter)


# Ligatures that NFKD does not decompose.
_SPECIAL: dict[str, str] = {
    "\ufdfd": "بسم الله الرحمن الرحيم",
}

_DROP_RANGES = (
    (0x0610, 0x061A),
    (0x064B, 0x065F),
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
    (0x08D3, 0x08FF),
)
_DROP_CATEGORIES = frozenset(("Mn", "Me", "Cf", "Lm", "Sk"))


def _dropped(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _DROP_RANGES)


def fold_char(c: str) -> str:
    """Fold one code point; context-free, so it can drive ``str.translate``."""
    special = _SPECIAL.get(c)
    if special is not None:
        return special
    cp = ord(c)
    if _dropped(cp):
        return ""
    cat = unicodedata.category(c)
    if cat in ("Cs", "Co", "Cn", "Cc") or cat[0] in "ZPS":
        return " "
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", c).casefold())
    out: list[str] = []
    for d in decomposed:
        mapped = _LETTERS.get(d)
        if mapped is not None:
            out.append(mapped)
            continue
        dcat = unicodedata.category(d)
        if dcat in _DROP_CATEGORIES or _dropped(ord(d)):
            continue
        if dcat == "Lo" and not "\u0621" <= d <= "\u064a" and "\u0620" <= d <= "\u08ff":
            base = _arabic_base(d)
            if base is not None:
                out.append(base)
                continue
        if dcat == "Nd":
            out.append(str(unicodedata.decimal(d, 0)))
        elif dcat in ("Cs", "Co", "Cn", "Cc") or dcat[0] in "ZPS":
            out.append(" ")
        else:
            out.append(d)
    return "".join(out)


class _FoldTable(dict[int, str]):
    """Translation table that computes (and caches) each code point on first sight."""

    def __missing__(self, key: int) -> str:
        value = fold_char(chr(key))
        if len(value) != 1:
            _UNEVEN.add(chr(key))
        self[key] = value
        return value


# Chars met so far that fold to no char or to several (marks, tatweel, controls,
# ligatures): the only ones the offset map has to locate.  Grows with _TABLE.
_UNEVEN: set[str] = set()
# (size of _UNEVEN compiled, its character class, offset maps built since it went stale)
_uneven_re: tuple[int, re.Pattern[str], int] = (0, re.compile("(?!)"), 0)
# A stale class is recompiled only after this many maps (built the per-char way in the
# meantime): text full of distinct marks would otherwise recompile it on every post.
_RECOMPILE_AFTER = 64
# Above this many dropped chars (fully vowelled text) a per-char pass is cheaper than
# locating each of them.
_SPARSE_MAX = 24


def _uneven_pattern() -> re.Pattern[str] | None:
    """The character class of _UNEVEN, or None while it is out of date."""
    global _uneven_re
    size, pattern, waited = _uneven_re
    if size != len(_UNEVEN):  # the set only grows, so its size is its version
        if size and waited < _RECOMPILE_AFTER:
            _uneven_re = (size, pattern, waited + 1)
            return None
        chars = sorted(_UNEVEN)
        pattern = re.compile("[" + "".join(map(re.escape, chars)) + "]")
        _uneven_re = (len(chars), pattern, 0)
    return pattern


_TABLE = _FoldTable()
for _cp in range(128):
    _TABLE[_cp]

# Deletions that depend on neighbours.  Alternatives, in order: the spaces and/or
# alif after a free-standing vocative يا (so يا أيها, ياأيها and يأيها all read
# يايها; an elongated ياااا joins the same way, and alone is a letter run: no alif
# may follow, or "يااا" folded to ياا while its alifs alone fold to ا), the extra
# spaces of an inner run, leading spaces, trailing spaces, and
# letters elongated by repetition (#12): a letter written 3+ times keeps one
# (اكبررررر, جاهزووون), lam keeps two so that الللللله still reads الله; ordinary
# spelling never writes a letter three times running.
_STAGE2 = re.compile(
    r"(?<!\S)يا(ا+(?: +ا?)?| +ا?)(?=[^\sا])|(?<=\S) ( +)(?=\S)|^ +| +$"
    r"|لل(ل+)|([\u0621-\u0643\u0645-\u064a])(\4\4+)"
)


@dataclass
class Normalized:
    """Folded text plus what is needed to map folded spans back to the original."""

    original: str
    text: str
    _stage1_len: int
    _deletions: list[tuple[int, int]]
    # Original positions folded by context rather than by _TABLE (obfuscation.py, #12).
    _overrides: dict[int, str] = field(default_factory=dict, repr=False)
    _cum: list[int] | None = field(default=None, repr=False)
    _lens: list[int] | None = field(default=None, repr=False)
    _del_at: list[int] = field(default_factory=list, repr=False)
    _del_cum: list[int] = field(default_factory=list, repr=False)

    def _build_map(self) -> tuple[list[int], list[int]]:
        # Per original char, how many folded chars it produced, and the running total;
        # lookups are then bisections.  Nearly every char folds to exactly one, so in a
        # post with few marks only the uneven chars are located (regex, in C); every
        # char of the post went through _TABLE in normalize(), so _UNEVEN knows them.
        text = self.original
        pattern = _uneven_pattern() if len(text) - self._stage1_len <= _SPARSE_MAX else None
        if pattern is None:
            lens = list(map(len, map(_TABLE.__getitem__, map(ord, text))))
        else:
            lens = [1] * len(text)
            for m in pattern.finditer(text):
                i = m.start()
                lens[i] = len(_TABLE[ord(text[i])])
        for i, folded in self._overrides.items():
            lens[i] = len(folded)
        self._lens, self._cum = lens, list(accumulate(lens))
        total = 0
        for a, b in self._deletions:
            self._del_at.append(a - total)
            total += b - a
            self._del_cum.append(total)
        return self._lens, self._cum

    def _stage1(self, k: int) -> int:
        """Folded index -> index before the neighbour-dependent deletions."""
        m = bisect_right(self._del_at, k)
        return k + (self._del_cum[m - 1] if m else 0)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map ``[start, end)`` of :attr:`text` to ``[start, end)`` of the original."""
        lens, cum = (
            (self._lens, self._cum)
            if self._lens is not None and self._cum is not None
            else self._build_map()
        )
        n = len(self.text)
        start = max(0, min(start, n))
        end = max(start, min(end, n))
        if start == end:
            if start == n:
                return len(self.original), len(self.original)
            pos = bisect_right(cum, self._stage1(start))
            return pos, pos
        first = bisect_right(cum, self._stage1(start))
        last = bisect_right(cum, self._stage1(end - 1)) + 1
        # Dropped marks/tatweel/joiners belong to the letter before them, so a span
        # ending on a letter carries its harakat along.
        # A joined letter separator (#12) is not a mark: the span stops before it.
        while last < len(lens) and lens[last] == 0 and last not in self._overrides:
            last += 1
        return first, last


def normalize(text: str) -> Normalized:
    """Fold ``text`` for matching.  Never raises on any ``str``."""
    found = _find_overrides(text)
    stage1 = _translate(text, found) if found else text.translate(_TABLE)
    deletions: list[tuple[int, int]] = []
    for m in _STAGE2.finditer(stage1):
        if m.lastindex is None:
            deletions.append(m.span())
        else:
            deletions.append(m.span(m.lastindex))
    if not deletions:
        return Normalized(text, stage1, len(stage1), deletions, found)
    pieces: list[str] = []
    prev = 0
    for a, b in deletions:
        pieces.append(stage1[prev:a])
        prev = b
    pieces.append(stage1[prev:])
    return Normalized(text, "".join(pieces), len(stage1), deletions, found)


def _translate(text: str, found: dict[int, str]) -> str:
    """Stage 1 with some positions folded by context instead of by _TABLE."""
    pieces: list[str] = []
    prev = 0
    for i in sorted(found):
        pieces.append(text[prev:i].translate(_TABLE))
        _TABLE[ord(text[i])]  # every char goes through _TABLE, so _UNEVEN knows it
        pieces.append(found[i])
        prev = i + 1
    pieces.append(text[prev:].translate(_TABLE))
    return "".join(pieces)
