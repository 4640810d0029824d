"""Arabic morphology shared by search and highlighting (the matcher may adopt it later).

Only the proclitics for now (#14): a word is written joined to the conjunctions و ف, the
prepositions ب ل ك and the article ال, in that order, so one word has some two dozen written
forms (المقاومة, والمقاومة, بالمقاومة, للمقاومة, فالمقاومة …). Search found only the form typed.

Everything here works on *folded* text (``normalize(...).text``): hamza, harakat and tatweel
are already gone, so the forms are exact strings that the folded index holds as tokens.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product

from .normalize import normalize

__all__ = ["MIN_STEM", "PROCLITICS", "proclitic_forms", "strip_proclitics"]

ARTICLE = "ال"
_CONJUNCTIONS = ("", "و", "ف")
_PREPOSITIONS = ("", "ب", "ل", "ك")
_ARTICLES = ("", ARTICLE)

# A stem shorter than this is not stripped: بيت, لبن, وجه, الم would lose a root letter.
# Three letters is the shortest Arabic root, so no real stem is ever refused.
MIN_STEM = 3


def _join(conj: str, prep: str, article: str, stem: str) -> str:
    """One written form. ل before the article drops its alif (ل + المقاومة = للمقاومة,
    ل + الله = لله), which is how the words are spelled and so how the index holds them."""
    rest = article + stem
    if prep == "ل" and rest.startswith(ARTICLE):
        rest = rest[1:]
    return conj + prep + rest


# Every proclitic string, longest first, as it is written before a stem that does not itself
# start with ل: و ف ب ل ك ال وال فال بال كال لل ولل فلل وب فب ول فل وك فك وبال …
PROCLITICS: tuple[str, ...] = tuple(
    sorted(
        {
            _join(c, p, a, "x")[:-1]
            for c, p, a in product(_CONJUNCTIONS, _PREPOSITIONS, _ARTICLES)
            if c or p or a
        },
        key=len,
        reverse=True,
    )
)


def strip_proclitics(word: str) -> str:
    """The stem of a folded word: its longest proclitic prefix removed, as long as at least
    ``MIN_STEM`` letters remain (else the word is returned as it is).

    Longest first, so والمقاومه → مقاومه rather than المقاومه. A word whose first letters only
    look like a proclitic (لبنان → بنان) is over-stripped; its forms still include the word
    itself, so search finds a superset of what was typed, never less.
    """
    for prefix in PROCLITICS:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            return word[len(prefix) :]
    return word


@lru_cache(maxsize=1024)
def proclitic_forms(stem: str) -> tuple[str, ...]:
    """Every written form of a (folded) stem with the proclitics, the stem itself first.

    A stem that already carries the article (الله, kept whole by ``MIN_STEM``) takes only the
    conjunctions and prepositions (والله, بالله, لله)."""
    if not "\u0621" <= stem[:1] <= "\u064a":
        return (stem,)  # a Latin or numeric word takes no Arabic proclitics
    articles = ("",) if stem.startswith(ARTICLE) else _ARTICLES
    # Folded again: the normaliser keeps two of a run of lams (لل + لحم reads للحم), and a
    # form must be spelled exactly as the folded index holds it.
    forms = dict.fromkeys(
        _refold(_join(c, p, a, stem)) for c, p, a in product(_CONJUNCTIONS, _PREPOSITIONS, articles)
    )
    return tuple(forms)


# What joining folded pieces can create that the normaliser folds again: a run of three of a
# letter (لل + لحم; stage two of normalize()) or a vocative يا before an alif. Anything else is
# already folded, and skipping normalize() there makes building the lexicons (#12: a quarter of
# a million forms) several times faster.
_REFOLD = re.compile(r"(.)\1\1|^يا+ا")


def _refold(form: str) -> str:
    return normalize(form).text if _REFOLD.search(form) else form
