"""Proclitic stripping and forms (#14): the morphology search and highlighting share."""

from __future__ import annotations

import pytest

from monitor.match.morphology import PROCLITICS, proclitic_forms, strip_proclitics
from monitor.match.normalize import normalize


def fold(s: str) -> str:
    return normalize(s).text


@pytest.mark.parametrize(
    "word",
    [
        "مقاومة",
        "المقاومة",
        "والمقاومة",
        "بالمقاومة",
        "للمقاومة",
        "فالمقاومة",
        "كالمقاومة",
        "ومقاومة",
        "وللمقاومة",
        "فبالمقاومة",
    ],
)
def test_every_proclitic_form_strips_to_the_stem(word: str) -> None:
    assert strip_proclitics(fold(word)) == fold("مقاومة")
    assert fold(word) in proclitic_forms(fold("مقاومة"))


def test_short_words_keep_their_letters() -> None:
    # ب of بيت, و of وجه, ال of الله are not proclitics here: a stem keeps three letters.
    for word in ("بيت", "وجه", "الله", "لبن"):
        assert strip_proclitics(fold(word)) == fold(word)


def test_lam_before_the_article_drops_its_alif() -> None:
    assert fold("للمقاومة") in proclitic_forms(fold("مقاومة"))
    assert fold("لالمقاومة") not in proclitic_forms(fold("مقاومة"))
    assert fold("لله") in proclitic_forms(fold("الله"))
    assert fold("للحم") in proclitic_forms(strip_proclitics(fold("اللحم")))


def test_latin_words_take_no_proclitics() -> None:
    assert proclitic_forms("drone") == ("drone",)


def test_proclitics_are_longest_first() -> None:
    assert [len(p) for p in PROCLITICS] == sorted((len(p) for p in PROCLITICS), reverse=True)
    assert {"و", "ف", "ب", "ل", "ك", "ال", "وال", "بال", "فال", "لل", "كال"} <= set(PROCLITICS)
