"""A cue verse cited by its number: "(3:139)", "61:13", "[8:60]" (#12, dev dE).

Channels posting in English quote a cue verse in translation, which no Arabic index can find,
and give its sura:ayah; the number of a catalogued cue is then the cue, whatever language the
quote is in. The fold turns ":" into a space and every digit into ASCII, so a citation is two
number tokens whose original text holds a colon between them.

A reference that reads as a clock time (sura up to 24, ayah up to 59: "8:30", "22:39") counts
only inside brackets, where a time is not written; anything else that is not a catalogued cue
is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from .normalize import Normalized

__all__ = ["cited_cues"]

_PAIR = re.compile(r"(?<!\S)(\d{1,3}) (\d{1,3})(?!\S)")
_COLON = re.compile(r"^\s?[:\uff1a]\s?$")
_OPEN = "([{\ufd3e\ufd3f"
_CLOSE = ")]}\ufd3e\ufd3f"


def _bracketed(original: str, a: int, b: int) -> bool:
    before = original[:a].rstrip()[-1:]
    after = original[b:].lstrip()[:1]
    return bool(before) and before in _OPEN and bool(after) and after in _CLOSE


def cited_cues(
    norm: Normalized, cues: Collection[str], emit: Callable[[int, int, str], None]
) -> None:
    """Call ``emit(t0, t1, ref)`` for each catalogued cue cited by number in ``norm``
    (token range, end-exclusive)."""
    text = norm.text
    for m in _PAIR.finditer(text):
        sura, ayah = int(m.group(1)), int(m.group(2))
        ref = f"{sura}:{ayah}"
        if ref not in cues:
            continue
        first = norm.to_original(m.start(1), m.end(1))
        second = norm.to_original(m.start(2), m.end(2))
        if not _COLON.match(norm.original[first[1] : second[0]]):
            continue
        if sura <= 24 and ayah <= 59 and not _bracketed(norm.original, first[0], second[1]):
            continue
        t0 = text.count(" ", 0, m.start())
        emit(t0, t0 + 2, ref)
