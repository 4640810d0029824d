"""Context-dependent undoing of takedown obfuscation, for ``normalize()`` (#12).

Channels dodge keyword takedowns by splitting a word into letters (``ا.س.ت.ه.د.ا.ف``,
``ا س ت ه د ا ف``) or by swapping a letter for a Latin look-alike (``اللo``, ``جlهزون``).
Both depend on a character's neighbours, so ``str.translate`` cannot do them; they are found
here on the *original* text and returned as per-position overrides of the fold table: a
separator folds to ``""`` and a look-alike to its Arabic letter.  Overrides are
position-for-position, so the offset map only has to patch those positions' lengths.

Zero-width/format characters (Cf), hashtag underscores (Pc) and tatweel need no context and
are handled by the fold table itself; repeated letters are collapsed on the folded text by
``normalize``'s second stage.
"""

from __future__ import annotations

import re

__all__ = ["overrides"]

# Arabic letters (the base block, Persian/Urdu extensions), without tatweel U+0640.
_LETTER = "\u0621-\u063a\u0641-\u064a\u066e\u066f\u0671-\u06d3\u06d5\u06ee\u06ef\u06fa-\u06fc"
# What may sit on a letter without making it a second letter: harakat, Quranic marks,
# tatweel and invisible format characters.
_MARK = (
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640"
    "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
_INVISIBLE = "\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# One char splitting a word into letters.  The same char must separate every letter of a
# run (backreference), so "ع.ي.ن ا.ل.أ.س.د" stays two words, and a single space only joins
# letters when no other separator is used; a double space ends a run.
_SEPARATORS = " .\\-_*/+\u00b7\u2010-\u2015\u2022\u2027\u2219\u22c5\u30fb"

# A run of >= 3 single letters, each split from the next by the same one separator char.
# Three, not two: a lone و or ب written apart from its word, or two-letter abbreviations,
# occur in ordinary text; three single letters in a row practically never do (#12).
_ONE = f"[{_LETTER}][{_MARK}]*"
_SPLIT_RUN = re.compile(
    f"(?<![{_LETTER}\u064b-\u065f\u0670\u0640]){_ONE}"
    f"(?P<sep>[{_SEPARATORS}])[{_INVISIBLE}\u0640]*{_ONE}"
    f"(?:(?P=sep)[{_INVISIBLE}\u0640]*{_ONE})+"
    f"(?![{_LETTER}{_MARK}])"
)

# A separator with tatweel beside it (``اسـ*ـتهـ*ـدفنا``, ``جـ.ـنـ.ـود``, ``رمـ.ـيت``): the pieces
# are several letters long, so the run above does not see them, but tatweel only ever joins
# letters of one word, so a separator it touches is inside a word (#12, dev dE). Not a space:
# "الله ـ تعالى ـ" sets off a phrase with tatweel-dashes.
_TATWEEL_SPLIT = re.compile(
    f"(?<=[{_LETTER}])(?:\u0640+[{_SEPARATORS[1:]}]\u0640*|[{_SEPARATORS[1:]}]\u0640+)"
    f"(?=[{_LETTER}])"
)

# Latin look-alikes, only where the reading is unambiguous: a single Latin o/O (the shape of
# an isolated or final ه) after an Arabic letter, and a single l/I (the shape of ا) touching
# an Arabic letter, the other side an Arabic letter or a word boundary.  A lone Latin letter
# glued to an Arabic word does not occur in genuine text; longer Latin runs, digits (ب5,
# ١ may be a number) and '|' (a common headline separator) are left alone.
# The pattern starts with a plain char class so the regex engine skips to candidates in C.
_LOOKALIKE = re.compile(
    f"[oOlI](?:(?<=[{_LETTER}\u0640].)(?=[{_LETTER}\u0640]|[^\\w\u0640]|$)"
    f"|(?<=[lI])(?<![\\w\u0640].)(?=[{_LETTER}\u0640]))"
)
_LOOKALIKE_TO = {"o": "\u0647", "O": "\u0647", "l": "\u0627", "I": "\u0627"}

# Cyrillic look-alikes typed into English words ("lеgitimаtе tаrgеts", #12): a Cyrillic letter
# with a Latin twin, touching a Latin letter, folds to that twin (lower case, as the fold table
# folds Latin). Russian text never glues a Latin letter to its words, so it is left alone.
_CYRILLIC_TO = dict(
    zip(
        "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u0501\u051b\u051d"
        "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0406",
        "aeopcyxijsdqwabekmhopctxi",
        strict=True,
    )
)
_CYRILLIC_CLASS = "".join(_CYRILLIC_TO)

# English hashtags are written in camel case (#LegitimateTargets, #USOut): a capital that
# starts a word inside one folds to a space and its lower case, so the words are words again.
# The tag runs on over underscores: "#DroneStrike_on_AinAlAsad" is one tag of five words.
_HASHTAG = re.compile(r"#[A-Za-z][A-Za-z0-9_]*")
_CAMEL = re.compile(r"(?<=[a-z0-9])[A-Z]|(?<=[A-Z])[A-Z](?=[a-z])")
_CYRILLIC = re.compile(
    f"[{_CYRILLIC_CLASS}](?:(?<=[A-Za-z].)|(?=[A-Za-z]))"
    f"|(?<=[A-Za-z{_CYRILLIC_CLASS}])[{_CYRILLIC_CLASS}](?=[A-Za-z{_CYRILLIC_CLASS}]*[A-Za-z])"
)


def overrides(text: str) -> dict[int, str]:
    """Positions of ``text`` whose fold must differ from the table's, and what they fold to.

    Empty for nearly every post, so the caller's common path is one dict check.
    """
    out: dict[int, str] = {}
    for m in _SPLIT_RUN.finditer(text):
        sep = m.group("sep")
        base = m.start()
        for i, c in enumerate(m.group()):
            if c == sep:
                out[base + i] = ""
    if "\u0640" in text:
        for m in _TATWEEL_SPLIT.finditer(text):
            for i, c in enumerate(m.group()):
                if c != "\u0640":
                    out[m.start() + i] = ""
    for m in _LOOKALIKE.finditer(text):
        out[m.start()] = _LOOKALIKE_TO[m.group()]
    if "#" in text:
        for tag in _HASHTAG.finditer(text):
            for m in _CAMEL.finditer(tag.group()):
                out[tag.start() + m.start()] = " " + m.group().lower()
    if not text.isascii():
        for m in _CYRILLIC.finditer(text):
            out[m.start()] = _CYRILLIC_TO[m.group()]
    return out
