"""The constructions the fifth blind dev batch (dE, #12) showed missing, each checked on
sentences written for this file — not the batch's own — so that a class, not a post, is what
the rules learnt; and the everyday sentences that share their words stay unflagged."""

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
        # the second-person suffix is the addressee: no leader need be named
        "كلنا رهن إشارتكم، ومتى ما قلتم نمشي",
        "نحن طوع أمرك في السلم والحرب",
        # "you command, we carry out", in dialect and in English
        "إنت تأمر واحنا ننفذ بلا نقاش",
        "You say the word and we will march, Sayyid.",
        "We are at your command until the last drop.",
        # a third person's command, the commander named by his title
        "الشباب كلهم تحت أمره وإشارته، الحاج ما يحتاج يعيدها",
    ],
)
def test_pledges_spoken_to_the_leader(matcher: Matcher, text: str) -> None:
    assert "allegiance" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        # a shop and a club say it too
        "فريق خدمة العملاء رهن إشارتكم لأي استفسار عبر الواتساب",
        "كلنا جنودك يا جوية، الدوري إلنا هالموسم",
    ],
)
def test_shops_and_clubs_at_your_command_are_no_pledge(matcher: Matcher, text: str) -> None:
    assert "allegiance" not in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "لن ينعم جنود الاحتلال بالراحة ما داموا على ترابنا",
        "ما راح يناموا بقواعدهم بعد اليوم، هذا وعد",
        "The occupiers will never rest on our land.",
        "Your bases will not know a quiet night again.",
    ],
)
def test_no_rest_for_the_enemy_is_a_threat(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "سيكون ردنا على الاحتلال بما لا يتوقعه",
        "والله راح يشوفون منا شي ما شافوه قبل",
        "They will pay, and it will come when they least expect it.",
    ],
)
def test_a_response_the_enemy_cannot_foresee_is_a_threat(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


def test_the_unexpected_in_sport_and_news_is_no_threat(matcher: Matcher) -> None:
    assert "threat" not in kinds(matcher, "حقق الفريق فوزا لم يتوقعه أحد في الدوري")
    assert "threat" not in kinds(
        matcher, "مصادر: الحكومة ستعلن قرارا لا يتوقعه الشارع", channel_kind="news"
    )


@pytest.mark.parametrize(
    "text",
    [
        "أي اعتداء على مواقعنا سيقابل برد حازم",
        "كل تجاوز على أبناء الحشد سنرد عليه في الميدان",
        "Any attack on our brothers will be answered.",
        "Any aggression against the Hashd will be met with a crushing answer.",
    ],
)
def test_any_aggression_will_be_answered(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        # staying, in a condition, with what follows — words between the condition and the verb
        "إذا بعد هذا الشهر ظلوا على أرضنا فسنضربهم بلا رحمة",
        # leave, or else
        "اخرجوا من العراق وإلا سنخرجكم بالقوة",
        "اطلعوا من بلادنا لو نطلعكم احنا",
        "Leave our land, or we will drive you out.",
    ],
)
def test_stay_or_leave_ultimatums(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


def test_a_protest_telling_the_occupier_to_leave_is_no_threat(matcher: Matcher) -> None:
    # no "or we will": a slogan, not an ultimatum; "راح نطلع بمظاهرات" is politics
    assert "threat" not in kinds(matcher, "المتظاهرون هتفوا: اطلعوا من العراق يا محتلين")
    assert not flagged(matcher, "راح نطلع بمظاهرات سلمية إذا بقوا الأسعار هيج")
    assert not flagged(matcher, "Leave the stadium early or you will miss the bus")


@pytest.mark.parametrize(
    "text",
    [
        # what the enemy's sites will become, back home in coffins, made an example of
        "قواعد الأمريكان راح تصير ركام",
        "سنعيد جنود الاحتلال إلى بلادهم بالتوابيت",
        "سنجعل السفارة الأمريكية عبرة لمن يعتبر",
        "Their bases in Syria are within range of our rockets.",
        "Victory Base is now a target.",
    ],
)
def test_what_the_enemy_sites_will_become(matcher: Matcher, text: str) -> None:
    assert "threat" in kinds(matcher, text)


def test_the_other_senses_of_a_base_are_no_addressee(matcher: Matcher) -> None:
    assert not flagged(matcher, "سنستهدف توسيع قاعدتنا الشعبية في الانتخابات المقبلة")


@pytest.mark.parametrize(
    "text",
    [
        "أيادي الغدر التي تمتد إلى مقراتنا ستقطع",
        "والموعد بيننا وبينكم، الأيام بيننا",
        "هذا الإنذار الأخير للمحتل",
        "Expect us. No red lines this time.",
    ],
)
def test_short_threat_cues_count_on_the_groups_channel(matcher: Matcher, text: str) -> None:
    assert flagged(matcher, text)
    assert not flagged(matcher, text, channel_kind="news")


@pytest.mark.parametrize(
    "text",
    [
        # loanword weapon and an English phrasal verb of striking
        "طيرنا درون على قاعدتهم بالشدادي",
        "Our fighters knocked out their radar at the airport last night.",
        "Resistance fighters blew up a coalition supply convoy near Rutba.",
        # نال من with words between, an operation named with its weapon in hashtags
        "نالت صواريخنا من قاعدة حرير",
        "#عملية_جهادية #بالصواريخ #المقاومة_الإسلامية",
    ],
)
def test_claims_with_other_verbs_and_weapons(matcher: Matcher, text: str) -> None:
    assert "attack_claim" in kinds(matcher, text)


def test_operations_that_are_not_strikes(matcher: Matcher) -> None:
    assert "attack_claim" not in kinds(matcher, "نجاح عملية إنقاذ طفل سقط في بئر")
    assert "attack_claim" not in kinds(
        matcher, "مفارز الهندسة تنفذ عملية تفكيك عبوة ناسفة على طريق المطار"
    )
    assert "attack_claim" not in kinds(matcher, "إحباط عملية تهريب صواريخ على الحدود")


@pytest.mark.parametrize(
    "text",
    [
        # the same verbs in their everyday senses
        "نال الطالب جائزة من وزارة التربية في المطار",
        "He took out a loan to rebuild the checkpoint cafe",
        "The protesters set fire to the embassy gate",
        "Israeli jets took out a Hezbollah depot near Tyre, the army said.",
    ],
)
def test_other_senses_of_the_new_claim_verbs(matcher: Matcher, text: str) -> None:
    assert "attack_claim" not in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "عيوننا شاخصة صوب تحركات العدو",
        "نحن بانتظار إشارتك",
        "Standing by for the order, commander.",
        "#WaitingForTheSignal #IslamicResistance",
    ],
)
def test_readiness_worded_as_eyes_or_standing_by(matcher: Matcher, text: str) -> None:
    assert "readiness" in kinds(matcher, text)


@pytest.mark.parametrize(
    "text",
    [
        "Prepare against them whatever force you can (8:60).",
        "The truth has come and falsehood has vanished. 17:81",
        "﴿إن الله اشترى من المؤمنين﴾ التوبة ٩:١١١",
    ],
)
def test_a_cue_verse_cited_by_number(matcher: Matcher, text: str) -> None:
    assert "verse_cue" in kinds(matcher, text)


def test_a_clock_time_or_another_verse_is_no_citation(matcher: Matcher) -> None:
    # 22:39 is a cue; at 22:39 o'clock it is a time (only brackets make it a reference)
    assert "verse_cue" not in kinds(matcher, "The match kicks off at 22:39 tonight.")
    assert "verse_cue" in kinds(matcher, "Permission has been given (22:39).")
    assert "verse_cue" not in kinds(matcher, "Read 2:255 every night.")


def test_a_pledge_to_the_leader_is_not_a_news_channels(matcher: Matcher) -> None:
    # no leader named: only the second person says to whom, and a news channel speaks to nobody
    text = "كلنا جنودك وطوع أمرك"
    assert flagged(matcher, text)
    assert not flagged(matcher, text, channel_kind="news")


@pytest.mark.parametrize(
    "text",
    [
        # somebody else's "any attack will be answered", and answers that are no strike
        "البنتاغون: أي هجوم على قواتنا في العراق سيقابل برد حازم",
        "وزير الداخلية: أي تجاوز على المتظاهرين سيقابل بإجراءات قانونية",
        "كل اعتداء على الصحفيين مرفوض ونطالب بالرد القانوني",
        "أي تأخير في صرف الرواتب سيقابل بتظاهرات",
    ],
)
def test_other_voices_answering_aggression_are_no_threat(matcher: Matcher, text: str) -> None:
    assert "threat" not in kinds(matcher, text, channel_kind="news")
    assert not flagged(matcher, text, channel_kind="news")
