from __future__ import annotations

import pytest

from monitor.match import SEVERITIES, MatchContext, Matcher, Suppressed

from .conftest_match import shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def kinds(matcher: Matcher, text: str, ctx: MatchContext | None = None) -> set[str]:
    result = matcher.match(text, ctx)
    for s in result.signals:
        assert text[s.start : s.end] == s.matched
    return {s.kind for s in result.signals}


SEED = [
    ("وَلَا تَهِنُوا وَلَا تَحْزَنُوا وَأَنتُمُ الْأَعْلَوْنَ إِن كُنتُم مُّؤْمِنِينَ", {"verse_cue"}),
    (
        "The Islamic Resistance in Iraq decided to liberate Iraq militarily. The matter has been "
        "settled. The next is going to be greater",
        {"threat"},
    ),
    (
        "قررت المقاومة الإسلامية في العراق تحرير العراق عسكريا. وقد حسم الأمر. والقادم أعظم",
        {"threat"},
    ),
    (
        "We in the Islamic Resistance Ashab al-Kahf send an unequivocal message that we are ready "
        "and will continue to strike American bases until our land is liberated from this brutal "
        "enemy...We are at the disposal of the leader...Akram Kaabi",
        {"allegiance", "readiness", "threat", "target"},
    ),
    (
        "نحن في المقاومة الإسلامية أصحاب الكهف جاهزون وسنواصل ضرب القواعد الأمريكية حتى تحرير "
        "أرضنا من هذا العدو الغاشم... نحن رهن إشارة القائد الشيخ أكرم الكعبي",
        {"allegiance", "readiness", "threat", "target"},
    ),
    ("We declare our readiness to fight the enemy in Iraq and other theaters", {"readiness"}),
    ("نعلن جاهزيتنا لقتال العدو في العراق وساحات أخرى", {"readiness"}),
]


@pytest.mark.parametrize(("text", "expected"), SEED)
def test_seed_statements_flag_with_right_kinds(
    matcher: Matcher, text: str, expected: set[str]
) -> None:
    result = matcher.match(text)
    assert result.flagged
    assert expected <= {s.kind for s in result.signals}
    assert result.explanation


@pytest.mark.parametrize(
    "text",
    [
        "تم تحديث قاعدة البيانات",
        "أعلنت وزارة الصحة جاهزية المستشفيات لاستقبال الزائرين",
        "الطلاب على أهبة الاستعداد للامتحانات",
        "The team's attack was strong and they struck twice",
        "إنا لله وإنا إليه راجعون، تعازينا لآل الفقيد",
        "بسم الله الرحمن الرحيم",
        "قل هو الله أحد الله الصمد لم يلد ولم يولد",
        "القادم أعظم بإذن الله لفريقنا في الدوري",
    ],
)
def test_ordinary_posts_not_flagged(matcher: Matcher, text: str) -> None:
    result = matcher.match(text)
    assert not result.flagged
    assert result.severity == "none"


def test_variants_diacritics_tatweel_emoji_persian(matcher: Matcher) -> None:
    for text in [
        "نُعلِنُ جَاهِزِيَّتَنَا لِقِتَالِ العَدُوّ",
        "نعلــــن جاهزيتنــا 🔥🔥 لقتال العدو",
        "#نعلن_جاهزيتنا لقتال العدو الامریکی",
        "تعلن كتائب المقاومة جاهزيتها لمواجهة الاحتلال",
        "مجاهدونا على أهبة الاستعداد لضرب القواعد الأمريكية",
    ]:
        assert "readiness" in kinds(matcher, text), text


def test_context_decides_for_base(matcher: Matcher) -> None:
    assert "target" in kinds(matcher, "استهدفنا القاعدة الأمريكية")
    assert "target" not in kinds(matcher, "قاعدة بيانات أمريكية جديدة للطلاب")


def test_ranking(matcher: Matcher) -> None:
    cue_target = matcher.match("وأنتم الأعلون. القواعد الأمريكية في عين الأسد")
    lone_threat = matcher.match("ستدفعون الثمن أيها الأمريكان")
    readiness_militia = matcher.match(
        "نعلن جاهزيتنا لقتال العدو", MatchContext(channel="x", group="Harakat al-Nujaba")
    )
    assert cue_target.score > lone_threat.score
    assert readiness_militia.score > lone_threat.score
    assert SEVERITIES.index(cue_target.severity) > SEVERITIES.index(lone_threat.severity)


def test_context_raises_score(matcher: Matcher) -> None:
    text = "وأنتم الأعلون"
    base = matcher.match(text).score
    assert matcher.match(text, MatchContext(affiliated_same_cue=3)).score > base
    assert matcher.match(text, MatchContext(deleted_soon=True)).score > base
    assert matcher.match(text, MatchContext(channel="@Example_Nujaba_Channel")).score > base
    assert matcher.match(text, MatchContext(channel="news_relay_example")).score < base
    assert matcher.match(text, MatchContext(group="ashab al-kahf")).score > base
    # an analyst's suppression removes the signal before scoring
    suppressed = matcher.match(text, MatchContext(suppressed=(Suppressed("وانتم الاعلون"),)))
    assert (suppressed.flagged, suppressed.signals) == (False, [])
    assert any("suppressed verse_cue" in line for line in suppressed.explanation)
    other_kind = Suppressed("وانتم الاعلون", kind="threat")
    assert matcher.match(text, MatchContext(suppressed=(other_kind,))).flagged
    part_of_a_word = Suppressed("الاعل")  # whole words only
    assert matcher.match(text, MatchContext(suppressed=(part_of_a_word,))).flagged
    # a deleted condolence stays out of the queue
    assert not matcher.match("إنا لله وإنا إليه راجعون", MatchContext(deleted_soon=True)).flagged


def test_result_dict_is_the_scan_contract(matcher: Matcher) -> None:
    d = matcher.match("أليس الصبح بقريب").to_dict("p1")
    assert list(d) == ["id", "flagged", "severity", "score", "signals"]
    sig = d["signals"][0]
    assert sig["kind"] == "verse_cue" and sig["rule"] == "quran:11:81"
    assert sig["ref"] == "11:81" and sig["refs"] == ["11:81"]
    assert set(sig) == {"kind", "rule", "ref", "refs", "start", "end", "matched", "score"}


def test_weird_input_does_not_raise(matcher: Matcher) -> None:
    for text in ["", " ", "\ud800", "ا" + "\u0651" * 10000, "نعلن جاهزيتنا " * 5000]:
        matcher.match(text)


# Obfuscation against takedowns (#12): the same statements, split, padded with invisible
# characters or elongated, still flag, and every span indexes the original text.
@pytest.mark.parametrize(
    ("text", "kind", "matched_has"),
    [
        (
            "ولا تهنوا ولا تحزنوا وأنتم\u200b الأعل\u200cون\u200f إن كنتم مؤمنين",
            "verse_cue",
            "الأعل\u200cون",
        ),
        ("#وأنتم_الأعلون", "verse_cue", "الأعلون"),
        ("ا.س.ت.ه.د.ف.ن.ا قاعدة عين الأسد الأمريكية", "attack_claim", "ا.س.ت.ه.د.ف.ن.ا"),
        ("ق-ص-ف-ن-ا قاعدة عين الأسد الأمريكية", "attack_claim", "ق-ص-ف-ن-ا"),
        # the span ends on the word's last kept letter; the repeats after it are not text
        # the rule matched
        ("نعلن جاهزيتنااااا لقتال العدو الأمريكي", "readiness", "جاهزيتنا"),
    ],
)
def test_obfuscated_statements_flag_with_exact_spans(
    matcher: Matcher, text: str, kind: str, matched_has: str
) -> None:
    result = matcher.match(text)
    assert result.flagged
    hits = [s for s in result.signals if s.kind == kind]
    assert hits, {s.kind for s in result.signals}
    for s in result.signals:
        assert text[s.start : s.end] == s.matched
    assert any(matched_has in s.matched for s in hits), [s.matched for s in hits]
