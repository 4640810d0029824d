"""Word forms of a lemma, for the frame lexicons (#12 "Frames, not phrase lists").

A frame lexicon lists lemmas, not phrasings: one verb entry ``استهدف يستهدف استهداف`` stands for
استهدفنا، استهدفت، تستهدف، سنستهدف، نستهدفهم، باستهداف، استهدافها … Each generated form carries
the *features* the frames need — tense (past, present, verbal noun), first person plural, the
future prefix — so the frame can tell "we targeted" (a claim) from "we will target" (a threat).

Arabic writes the conjunctions و ف, the future prefix س, the prepositions ب ل ك and the article
joined to the word, and object/possessive pronouns joined after it; Iraqi dialect adds a joined
future ح and the plural endings ـتو/ـتوا. The forms are generated, folded with the one
``normalize()`` and returned as exact strings, so matching stays a set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .morphology import proclitic_forms
from .normalize import normalize

__all__ = ["FEATURES", "LemmaError", "noun_forms", "verb_forms", "word_forms"]

# The features a form may carry; a frame asks for a class with one of them ("strike.past1").
FEATURES = ("past", "past1", "pres", "pres1", "fut", "fut1", "noun", "purpose", "imp")

_CONJ = ("", "و", "ف")
# Pronouns joined to a verb as its object, or to a noun as its possessor.
_ENCLITICS = ("", "ه", "ها", "هم", "هن", "هما", "ك", "كم", "كن", "نا", "ني", "ي")
_NOUN_ENDINGS = ("", "ه", "ها", "هم", "هن", "ك", "كم", "نا", "ي", "ات", "ين", "ون", "ان")
# Subject endings of a past verb, by feature; ـتو/ـتوا is the Iraqi "you (pl.)".
_PAST_SUBJECT = {
    "past": ("", "ت", "وا", "و", "ن", "تم", "تو", "توا", "تي", "ا", "تا"),
    # Not ت: قصفت is "she/it struck" far more often than "I struck" (قصفت طائرات الاحتلال).
    "past1": ("نا",),
}
_PRES_PREFIX = {"pres": ("ي", "ت"), "pres1": ("ن", "ا")}
_PRES_SUBJECT = ("", "ون", "ان", "ين", "وا", "و", "ن")


class LemmaError(ValueError):
    """A lexicon entry that cannot be read (reported with its YAML line)."""


@dataclass(frozen=True)
class _Verb:
    past: str
    present: str  # without the imperfect prefix: يستهدف -> ستهدف
    nouns: tuple[str, ...]


def _fold(word: str) -> str:
    return normalize(word).text


def _parse_verb(entry: str) -> _Verb:
    parts = entry.split()
    if len(parts) not in (2, 3):
        raise LemmaError(
            f"verb entry {entry!r}: write 'past present [noun|noun…]', e.g. 'استهدف يستهدف استهداف'"
        )
    past, present = (_fold(p) for p in parts[:2])
    if not present or present[0] not in "يتنا":
        raise LemmaError(f"verb entry {entry!r}: the present {parts[1]!r} must start with ي")
    nouns = tuple(_fold(n) for n in parts[2].split("|")) if len(parts) == 3 else ()
    if not past or any(not n for n in nouns):
        raise LemmaError(f"verb entry {entry!r}: an empty form")
    return _Verb(past, present[1:], nouns)


def _with_conj(forms: Iterable[str]) -> set[str]:
    return {c + f for f in forms for c in _CONJ}


def _past_stems(past: str, subject: str) -> tuple[str, ...]:
    """A hollow verb's past drops its long alif before a consonant ending: أصاب → أصبنا
    ("we hit"; أصابنا is "it hit us"), عاد → عدنا, اختار → اخترنا (#12). ت and تا are also
    the feminine third person, which keeps it: أصابت أهدافها."""
    if subject[:1] not in ("ت", "ن") or len(past) < 3 or past[-2] != "ا":
        return (past,)
    short = past[:-2] + past[-1]
    return (past, short) if subject in ("ت", "تا") else (short,)


def verb_forms(entry: str) -> dict[str, set[str]]:
    """Folded forms of one verb entry, by feature.

    ``past``: third person and second person past (استهدف، استهدفت، استهدفوا، استهدفتوا) with
    object pronouns; ``past1``: first person (استهدفنا، استهدفناهم); ``pres``/``pres1``: the
    present, third/second and first person (تستهدف، نستهدف) — ``fut``/``fut1`` the same with the
    future prefix س or the dialect's ح (سنستهدف، حنضرب), which a separate سوف/راح/رح also
    gives (the frame checks the word before); ``noun``: the verbal nouns with proclitics and
    possessives (باستهدافها)."""
    verb = _parse_verb(entry)
    out: dict[str, set[str]] = {f: set() for f in FEATURES}
    for feat, subjects in _PAST_SUBJECT.items():
        for subj in subjects:
            for enc in _ENCLITICS:
                # وا drops its alif before a pronoun: ضربوا + هم = ضربوهم
                ending = subj[:-1] if subj.endswith("وا") and enc else subj
                for stem in _past_stems(verb.past, subj):
                    out[feat].add(stem + ending + enc)
    for feat, prefixes in _PRES_PREFIX.items():
        for pre in prefixes:
            for subj in _PRES_SUBJECT:
                for enc in _ENCLITICS:
                    stem = verb.present + (subj[:-1] if subj.endswith("وا") and enc else subj)
                    form = pre + stem + enc
                    out[feat].add(form)
                    fut = "fut1" if feat == "pres1" else "fut"
                    out[fut].add("س" + form)
                    out[fut].add("ح" + form)
    out["imp"] = {"ا" + verb.present + s for s in ("", "وا", "و", "ي")}
    # A form of one feature that is also a form of another (ضربت: she struck / I struck)
    # keeps both; the frame decides. Third-person past is the common case: a form that is
    # also a present or noun stays there too.
    # The pieces are folded already, and joining them makes nothing the fold would change.
    folded = {f: _with_conj(forms) for f, forms in out.items()}
    nouns: set[str] = set()
    purpose: set[str] = set()
    for n in verb.nouns:
        forms = noun_forms(n)
        nouns.update(forms)
        # ل + verbal noun is a purpose ("لضرب قواعد": to strike), not an act done (#12).
        if not n.startswith("ل"):
            purpose.update(f for f in forms if f.startswith(("ل", "ول", "فل")))
    folded["purpose"] = purpose
    folded["noun"] = nouns - purpose
    return folded


def noun_forms(word: str) -> set[str]:
    """A noun (or adjective) with proclitics and possessive/plural endings (folded)."""
    base = _fold(word)
    if not base:
        raise LemmaError(f"empty noun {word!r}")
    if " " in base:
        raise LemmaError(f"noun {word!r} is several words; use a phrase entry")
    stems = {base}
    # ة (folded ه) becomes ت before a suffix: جاهزية -> جاهزيتنا
    root = base[:-1] + "ت" if base.endswith("ه") and len(base) > 2 else base
    stems.update(root + e for e in _NOUN_ENDINGS if e)
    if base.endswith("ه"):
        stems.add(base[:-1] + "ات")
    out: set[str] = set()
    for s in stems:
        out.update(proclitic_forms(s))
    return out


def word_forms(word: str) -> set[str]:
    """An invariable word (a particle, a name, an English word): its proclitic forms for an
    Arabic word, itself for a Latin one."""
    base = _fold(word)
    if not base or " " in base:
        raise LemmaError(f"word {word!r} must be one word")
    return set(proclitic_forms(base))
