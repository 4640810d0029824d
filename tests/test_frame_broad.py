"""The broad frames added for the sixth blind dev batch (dF, #12): each names a kind of idiom
(the reckoning promised to the enemy, the passive claim, obedience in other words, readiness
as alert or weapons made ready, leaving in coffins) rather than one wording. Checked on
sentences written for this file, not the batch's own; and the everyday sentences that share
their words — with no enemy, leader or fight near, or on a news channel — stay unflagged."""

from __future__ import annotations

import pytest

from monitor.match import Matcher

from .conftest_match import flagged, kinds, shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.mark.parametrize(
    "text",
    [
        "Zionists, the countdown has started.",
        "أيها الأمريكان، لم نبدأ بعد، وما رأيتموه مجرد مقدمة",
        "To the American troops in Erbil: your days here are numbered.",
        "No more warnings for the occupiers. Pack your bags.",
        # the hostile verbs besides striking, in the future
        "سنطارد جنود الاحتلال في كل شارع وزقاق",
        "US forces: we will hunt you down wherever you hide.",
        # the end near, the clock ticking
        "نهايتكم قريبة يا جنود الاحتلال",
        "Your end is near, Zionists.",
    ],
)
def test_the_reckoning_promised_to_the_enemy_is_a_threat(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)
    assert flagged(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        # patience and countdowns with no enemy near
        "الصبر نفد من طوابير البنزين، وشركة التوزيع لم تبدأ بعد بالحل",
        "العد التنازلي لافتتاح كأس آسيا بدأ",
        "The patience of commuters is over, says the transport minister.",
        # an embassy named, but somebody else's statement
        "The countdown to the Iraqi elections has begun, the US embassy said.",
        "The clock is ticking on the budget talks, the minister warned.",
        "نهايتكم قريبة يا فريق الزوراء",
    ],
)
def test_patience_and_countdowns_without_the_enemy_are_no_threat(
    matcher: Matcher, text: str
) -> None:
    assert "threat" not in kinds(matcher, text)


def test_a_ministry_pursuing_culprits_on_the_news_is_not_flagged(matcher: Matcher) -> None:
    text = "وزير الداخلية: سنلاحق المتورطين في استهداف السفارة الأمريكية"
    assert not flagged(matcher, text, "news")


@pytest.mark.parametrize(
    "text",
    [
        "جرى استهداف مقر للعدو بصاروخين",
        "تم استهداف موقع للعدو بطائرة مسيرة قرب الحدود",
        # the nominal claim and the site made rubble, in the group's voice
        "قاعدة فكتوريا حولناها ركام بصواريخنا",
    ],
)
def test_passive_and_nominal_claims(matcher: Matcher, text: str) -> None:
    assert "attack_claim" in kinds(matcher, text)


def test_a_passive_strike_reported_by_news_or_for_charity_is_no_claim(matcher: Matcher) -> None:
    news = "عاجل: تم استهداف قاعدة عين الأسد بطائرة مسيرة، بحسب مصادر أمنية"
    assert not flagged(matcher, news, "news")
    charity = "تم استهداف الأسر المتعففة بالسلال الغذائية في الأحياء الفقيرة"
    assert "attack_claim" not in kinds(matcher, charity)
    airline = "طائراتنا في قلب المعرض الدولي للطيران المدني"
    assert "attack_claim" not in kinds(matcher, airline)


@pytest.mark.parametrize(
    "text",
    [
        "يا سماحة القائد، متى أمرتنا لبينا",
        "سيدنا الخامنئي، أرواحنا وبنادقنا معك",
        "نمشي خلفك يا شيخ قيس ولو إلى النار",
        "الشباب ويا الشيخ أكرم، وين ما يأشر نمشي",
        "We are soldiers of Sayyid Khamenei, and his word is our command.",
    ],
)
def test_obedience_to_the_leader_in_other_words(matcher: Matcher, text: str) -> None:
    assert "allegiance" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "قلوبنا معك يا كابتن، شفاك الله وعافاك",
        "His word is our command, the players say of their new coach.",
    ],
)
def test_hearts_with_a_captain_or_a_coach_are_no_pledge(matcher: Matcher, text: str) -> None:
    assert "allegiance" not in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "شدوا الأحزمة يا أبطال المقاومة، المواجهة مع المحتل قريبة",
        "رجالنا ينتظرون الإذن فقط لضرب قواعد المحتل",
        "يا مجاهدين، تفقدوا سلاحكم وشدوا الأحزمة لمواجهة المحتل",
        "The men wait only the signal, rifles loaded.",
    ],
)
def test_readiness_as_alert_permission_or_weapons_made_ready(matcher: Matcher, text: str) -> None:
    assert "readiness" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "حالة إنذار قصوى في المستشفيات بسبب الفيضانات",
        "شدوا الأحزمة يا ركاب، الطائرة تستعد للهبوط في مطار بغداد",
        "We wait only the command of the court to reopen the road.",
    ],
)
def test_hospital_alerts_and_seatbelts_are_no_readiness(matcher: Matcher, text: str) -> None:
    assert "readiness" not in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "إذا ما تطلعون بالحسنى، راح تطلعون بالنعوش",
        "إن لم ترحلوا اليوم سترحلون جثثا",
        "إذا ما ينسحبون بالتفاوض، نطلعهم بالقوة",
    ],
)
def test_leave_or_leave_in_coffins(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "إذا ما طلعت من الدوام بوقت، الثمن راح يكون خصم من الراتب",
        "إذا ما طلع المستأجر من البيت بالحسنى، نطلعه بالمحكمة",
    ],
)
def test_a_late_shift_or_a_tenant_is_no_ultimatum(matcher: Matcher, text: str) -> None:
    assert "threat" not in kinds(matcher, text)
