"""Short Quran quotes (issue #12, deliverable 4): 2-4 words count when quote marks or a
quoting formula surround them, or when they are distinctive; everyday phrases never."""

from __future__ import annotations

import random
import shutil
from bisect import bisect_left
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.match import MatchContext, Matcher, Signal, load_rules, normalize
from monitor.match.quotetext import Offsets

from .conftest_match import RULES_DIR, shared_matcher

VERSE_KINDS = ("verse_cue", "verse_quote")


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def verses(matcher: Matcher, text: str) -> list[Signal]:
    sigs = [s for s in matcher.match(text).signals if s.kind in VERSE_KINDS]
    for s in sigs:
        assert text[s.start : s.end] == s.matched  # spans index the original text
    return sigs


@pytest.mark.parametrize(
    ("text", "kind", "ref", "quoted"),
    [
        ("﴿ومنهم من ينتظر﴾", "verse_cue", "33:23", "ومنهم من ينتظر"),
        ("المقاومة تقول (إن الله معنا) دائما", "verse_quote", "9:40", "إن الله معنا"),
        ("«فتح قريب» بإذن الله", "verse_cue", "61:13", "فتح قريب"),  # 61:13 has وفتح
        ('"ادعوني أستجب لكم" 🤲', "verse_quote", "40:60", "ادعوني أستجب لكم"),
        ("“والعاقبة للمتقين”", "verse_quote", "7:128", "والعاقبة للمتقين"),
        ("{ولتعلن علوا كبيرا}", "verse_quote", "17:4", "ولتعلن علوا كبيرا"),
        # a verse of the new catalog, its opening shared with 17:104
        ("«فإذا جاء وعد الآخرة»", "verse_cue", "17:7", "فإذا جاء وعد الآخرة"),
        # marks in either order; harakat inside
        ("﴾وَأَنْتُمُ الْأَعْلَوْنَ﴿", "verse_cue", "3:139", "وَأَنْتُمُ الْأَعْلَوْنَ"),
    ],
)
def test_short_quote_in_each_kind_of_mark(
    matcher: Matcher, text: str, kind: str, ref: str, quoted: str
) -> None:
    sigs = verses(matcher, text)
    assert [(s.kind, s.rule, s.ref, s.refs, s.matched) for s in sigs] == [
        (kind, f"quran:{ref}", ref, [ref], quoted)
    ]
    assert matcher.match(text).flagged == (kind == "verse_cue")


@pytest.mark.parametrize(
    ("text", "ref", "quoted"),
    [
        ("قال تعالى: لا تحزن", "9:40", "لا تحزن"),
        ("قال الله تعالى ﴿ادْعُونِي أَسْتَجِبْ لَكُمْ﴾ 🤲", "40:60", "ادْعُونِي أَسْتَجِبْ لَكُمْ"),
        ("يقول الله عز وجل: ولتعلن علوا كبيرا", "17:4", "ولتعلن علوا كبيرا"),
        ("قال تـعـالى ولتعلن علوا كبيرا وهذا وعد", "17:4", "ولتعلن علوا كبيرا"),
        ("والعاقبة للمتقين صدق الله العلي العظيم", "7:128", "والعاقبة للمتقين"),
        ("يا أخي.. لا تحزن صدق الله العظيم", "9:40", "لا تحزن"),
    ],
)
def test_short_quote_after_or_before_a_quoting_formula(
    matcher: Matcher, text: str, ref: str, quoted: str
) -> None:
    sigs = verses(matcher, text)
    assert [(s.kind, s.ref, s.matched) for s in sigs] == [("verse_quote", ref, quoted)]


def test_two_words_after_a_formula_must_stand_apart(matcher: Matcher) -> None:
    # "لا تحزن" runs on into the writer's own words: no quote of 9:40.
    assert verses(matcher, "قال تعالى لا تحزن يا أخي") == []
    assert [s.ref for s in verses(matcher, "قال تعالى لا تحزن، يا أخي")] == ["9:40"]
    # Before a closer, likewise: they must start apart from the writer's words.
    assert verses(matcher, "يا أخي لا تحزن صدق الله العظيم") == []


@pytest.mark.parametrize(
    ("text", "kind", "ref", "quoted"),
    [
        (
            "الدعاء سلاح المؤمن، ادعوني أستجب لكم يا عباد الله",
            "verse_quote",
            "40:60",
            "ادعوني أستجب لكم",
        ),
        ("يا شباب انفروا خفافا وثقالا", "verse_cue", "9:41", "انفروا خفافا وثقالا"),
        ("وقل رب زدني علما", "verse_quote", "20:114", "وقل رب زدني علما"),
    ],
)
def test_distinctive_unmarked_ngram_is_found(
    matcher: Matcher, text: str, kind: str, ref: str, quoted: str
) -> None:
    sigs = verses(matcher, text)
    assert [(s.kind, s.ref, s.matched) for s in sigs] == [(kind, ref, quoted)]
    assert "distinctive" in " ".join(matcher.match(text).explanation)


@pytest.mark.parametrize(
    "text",
    [
        "أكد الوزير أن القوات ستبقى في سبيل الله والوطن حتى النهاية",
        "قتل ثلاثة مدنيين في قصف قالت الفصائل إنه في سبيل الله",
        "ننتظر يوم القيامة",
        "الله أكبر الله أكبر",
        "قال المحافظ إن محمد رسول الله قدوتنا في العمل",  # 48:29, but every word is common
        "لا حول ولا قوة إلا بالله العلي العظيم",
        # common phrases in marks: a term of 40-odd ayahs, everyday formulas
        "«في سبيل الله»",
        "(يوم القيامة)",
        "(الله أكبر)",
        "«الحمد لله»",
        '"ما شاء الله"',
        "قال تعالى: الله أكبر",
        # brackets that cite or praise, not quote
        "﴿وأنتم الأعلون﴾ (آل عمران: 139)",
        "الله (سبحانه وتعالى) يقول",
        "أعلنت الوزارة (في بيان) أن الدوام (يوم الأحد)",
    ],
)
def test_common_phrases_and_formulas_are_no_short_quote(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    short = [e for e in result.explanation if "-word quote" in e or "distinctive" in e]
    if text.startswith("﴿وأنتم"):
        assert [(s.kind, s.ref) for s in verses(matcher, text)] == [("verse_cue", "3:139")]
    else:
        assert short == []
        assert not result.flagged
        assert all(s.rule.startswith("formula:") for s in verses(matcher, text))


def test_a_phrase_of_common_words_is_a_quote_only_in_marks(matcher: Matcher) -> None:
    assert verses(matcher, "قال القائد إن الله معنا في هذه المعركة") == []
    (sig,) = verses(matcher, "قال القائد (إن الله معنا) في هذه المعركة")
    assert (sig.kind, sig.ref, sig.matched) == ("verse_quote", "9:40", "إن الله معنا")


def test_formulas_in_marks_stay_formulas(matcher: Matcher) -> None:
    for text in ("﴿حسبنا الله ونعم الوكيل﴾", "«إنا لله وإنا إليه راجعون»"):
        result = matcher.match(text)
        assert [s.rule.split(":")[0] for s in result.signals] == ["formula"]
        assert not result.flagged


def test_short_quote_spans_index_the_original_with_marks_and_tatweel(matcher: Matcher) -> None:
    text = "🔴 عاجل | قال تعالى: «ومنهـــم من ينتظـر» .. والأيام بيننا"
    (sig,) = verses(matcher, text)
    assert (sig.kind, sig.ref) == ("verse_cue", "33:23")
    assert sig.matched == "ومنهـــم من ينتظـر"
    assert text.index("ومنه") == sig.start


def test_short_cue_with_an_enemy_scores_as_a_cue(matcher: Matcher) -> None:
    alone = matcher.match("«ومنهم من ينتظر»")
    with_enemy = matcher.match("«ومنهم من ينتظر» والاحتلال الأمريكي إلى زوال")
    assert alone.flagged and with_enemy.score > alone.score


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("فإن حزب الله هم الغالبون", "5:56"),
        ("عبادا لنا أولي بأس شديد", "17:5"),
        ("إنهم يرونه بعيدا ونراه قريبا", "70:6"),
        ("ألا تقاتلون قوما نكثوا أيمانهم", "9:13"),
        ("حرض المؤمنين على القتال", "8:65"),
        ("ولا تهنوا في ابتغاء القوم", "4:104"),
        ("قاتلوا الذين يلونكم من الكفار وليجدوا فيكم غلظة", "9:123"),
        ("كتب عليكم القتال وهو كره لكم", "2:216"),
    ],
)
def test_new_fighting_and_victory_cues(matcher: Matcher, text: str, ref: str) -> None:
    result = matcher.match(text)
    assert [(s.kind, s.ref) for s in result.signals if s.kind in VERSE_KINDS] == [
        ("verse_cue", ref)
    ]
    assert result.flagged


def test_dual_use_cue_is_low_alone_and_nothing_on_news(matcher: Matcher) -> None:
    # 2:214 is read in ordinary consolation too: alone on a group's channel it flags only
    # "low", with an enemy it scores more; on a news channel it is not the group speaking.
    alone = matcher.match("ألا إن نصر الله قريب")
    assert [s.kind for s in alone.signals] == ["verse_cue"]
    assert (alone.flagged, alone.severity) == (True, "low")
    enemy = matcher.match("ألا إن نصر الله قريب، والموت لأمريكا وإسرائيل")
    assert enemy.flagged and enemy.score > alone.score
    news = matcher.match("ألا إن نصر الله قريب", MatchContext(channel_kind="news"))
    assert [s.kind for s in news.signals] == ["verse_cue"] and not news.flagged


def test_catalog_entries_have_notes_and_fragments_in_their_ayah(tmp_path: Path) -> None:
    rs = load_rules(RULES_DIR)
    new = {"2:214", "2:216", "3:160", "4:104", "5:56", "8:65", "9:13", "9:123", "17:5", "17:7"}
    new |= {"22:40", "70:6", "70:7"}
    assert new <= set(rs.cues)
    assert all(rs.cues[r].note for r in new)
    m = shared_matcher(tmp_path / "c")
    for cue in rs.cues.values():
        for frag in cue.fragments:
            words = [t.text for t in frag.tokens] if hasattr(frag, "tokens") else None
            if words:
                assert m.index.find_run(words, cue.ref), (cue.ref, words)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("quran:\n  short_quotes: {bogus: 1}\n", "unknown short_quotes field"),
        ("quran:\n  short_quotes: {max_words: 9}\n", "max_words"),
        ("quran:\n  short_quote: {}\n", "unknown quran field"),
    ],
)
def test_bad_short_quote_settings_name_file_and_line(
    tmp_path: Path, content: str, needle: str
) -> None:
    d = tmp_path / "rules"
    shutil.copytree(RULES_DIR, d)
    bad = d / "zz-bad.yaml"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle) as info:
        load_rules(d)
    assert info.value.file == str(bad) and info.value.line == 2


def test_offsets_lookups_in_any_order_agree_with_a_plain_bisection() -> None:
    text = "قال تعالى: «ومنهـــم من ينتظـر» 🔥 وَأَنْتُمُ الْأَعْلَوْنَ (١٣٩) ".replace(" ", "  ", 3) * 5
    norm = normalize(text)
    toks = norm.text.split(" ")
    starts = [sum(len(t) + 1 for t in toks[:i]) for i in range(len(toks))]
    orig = [norm.to_original(c, c + 1)[0] for c in starts]
    offsets = Offsets(norm)
    rng = random.Random(5)
    for _ in range(400):
        o0 = rng.randrange(len(text) + 2)
        o1 = min(len(text) + 2, o0 + rng.randrange(40))
        assert offsets.tokens(o0, o1) == (bisect_left(orig, o0), bisect_left(orig, o1))
