from __future__ import annotations

import pytest

from monitor.match import Matcher, Signal

from .conftest_match import shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


VERSE_KINDS = ("verse_cue", "verse_quote")


def verse_signals(matcher: Matcher, text: str) -> list[Signal]:
    sigs = [s for s in matcher.match(text).signals if s.kind in VERSE_KINDS]
    for s in sigs:
        assert text[s.start : s.end] == s.matched
    return sigs


@pytest.mark.parametrize(
    ("text", "ref", "refs"),
    [
        ("ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين", "3:139", ["3:139"]),
        # one-letter typo
        ("ولا تهنو ولا تحزنوا وانتم الاعلون ان كنتم مؤمنين", "3:139", ["3:139"]),
        # a dropped word
        ("ولا تهنوا ولا تحزنوا الأعلون إن كنتم مؤمنين", "3:139", ["3:139"]),
        # two ayahs with the ayah number between
        (
            "وأنتم الأعلون إن كنتم مؤمنين (١٣٩) إن يمسسكم قرح فقد مس القوم قرح مثله",
            "3:139",
            ["3:139", "3:140"],
        ),
        ("يأيها الذين ءامنوا إن تنصروا الله ينصركم", "47:7", ["47:7"]),
    ],
)
def test_cue_quotes_are_found_with_refs(
    matcher: Matcher, text: str, ref: str, refs: list[str]
) -> None:
    sigs = verse_signals(matcher, text)
    assert [(s.kind, s.rule, s.ref, s.refs) for s in sigs] == [
        ("verse_cue", f"quran:{ref}", ref, refs)
    ]


def test_ordinary_verse_is_a_quote_with_ref(matcher: Matcher) -> None:
    text = "قال تعالى: يا أيها الناس اتقوا ربكم الذي خلقكم من نفس واحدة"
    sigs = verse_signals(matcher, text)
    assert [(s.kind, s.ref) for s in sigs] == [("verse_quote", "4:1")]
    assert sigs[0].matched.startswith("يا أيها")
    assert not matcher.match(text).flagged


def test_uthmani_style_spellings(matcher: Matcher) -> None:
    sigs = verse_signals(matcher, "وأقيموا الصلوة وآتوا الزكوة واركعوا مع الراكعين")
    assert [s.ref for s in sigs] == ["2:43"]
    sigs = verse_signals(matcher, "إن في خلق السماوات والأرض واختلاف الليل والنهار لآيات")
    assert sigs and sigs[0].ref == "3:190"


@pytest.mark.parametrize(
    ("text", "rule", "refs"),
    [
        ("بسم الله الرحمن الرحيم", "formula:basmala", ["1:1"]),
        ("إنا لله وإنا إليه راجعون", "formula:istirja", ["2:156"]),
        ("حسبنا الله ونعم الوكيل", "formula:hasbala", ["3:173"]),
        ("وقالوا حسبنا الله ونعم الوكيل", "formula:hasbala", ["3:173"]),
    ],
)
def test_formulas_recognised_never_flagged(
    matcher: Matcher, text: str, rule: str, refs: list[str]
) -> None:
    result = matcher.match(text)
    assert [(s.kind, s.rule, s.refs) for s in result.signals] == [("verse_quote", rule, refs)]
    assert not result.flagged
    assert result.severity == "none"


def test_substantial_quote_of_3_173_beyond_formula_is_cue(matcher: Matcher) -> None:
    text = (
        "الذين قال لهم الناس إن الناس قد جمعوا لكم فاخشوهم فزادهم إيمانا"
        " وقالوا حسبنا الله ونعم الوكيل"
    )
    result = matcher.match(text)
    assert [(s.kind, s.ref) for s in result.signals] == [("verse_cue", "3:173")]
    assert result.flagged


@pytest.mark.parametrize(
    ("text", "ref"),
    [("أليس الصبح بقريب", "11:81"), ("نصر من الله وفتح قريب", "61:13"), ("وأنتم الأعلون", "3:139")],
)
def test_short_cue_fragments(matcher: Matcher, text: str, ref: str) -> None:
    result = matcher.match("🔴 " + text + " 🔴")
    assert [(s.kind, s.ref, s.matched) for s in result.signals] == [("verse_cue", ref, text)]
    assert result.flagged


def test_prose_is_not_a_quote(matcher: Matcher) -> None:
    assert verse_signals(matcher, "استشهد في سبيل الله دفاعا عن الوطن") == []
    assert verse_signals(matcher, "وزارة الكهرباء تعلن جدولا جديدا لتوزيع الطاقة") == []
