"""The frames against the everyday words that share their nouns and verbs (#12): a ministry
launching a database, a crown prince, a news channel naming a leader, somebody else's attacks;
and the short cues and dialect threats that carry no listed phrase."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.match import MatchContext, Matcher, load_rules

from .conftest_match import RULES_DIR, shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def kinds(matcher: Matcher, text: str, channel_kind: str | None = None) -> set[str]:
    return {s.kind for s in matcher.match(text, MatchContext(channel_kind=channel_kind)).signals}


@pytest.mark.parametrize(
    "text",
    [
        # "launched a database": أطلق is also to launch a campaign, قاعدة also a database
        "أطلقت وزارة التخطيط قاعدة بيانات إلكترونية لتسجيل العوائل المستحقة للمنحة",
        "أطلقت الوزارة موقعا إلكترونيا لتسجيل الطلبة",
        # attacks reported, claimed by nobody here
        "أسعار النفط تقفز بعد هجمات الحوثيين على السفن في البحر الأحمر",
    ],
)
def test_everyday_launches_and_reported_attacks_are_not_claims(matcher: Matcher, text: str) -> None:
    assert "attack_claim" not in kinds(matcher, text)


def test_the_group_launching_drones_at_a_base_is_a_claim_with_its_roles(
    matcher: Matcher,
) -> None:
    text = "أطلقنا طائرتين مسيرتين على قاعدة حرير"
    claim = next(s for s in matcher.match(text).signals if s.kind == "attack_claim" and s.roles)
    assert claim.roles["claimant"].text == "أطلقنا"
    assert claim.roles["weapon"].text.startswith("طائرتين")
    assert claim.roles["target"].text == "قاعدة حرير"
    # the group named as the subject of a verbal noun: claimed
    assert "attack_claim" in kinds(matcher, "نفذت المقاومة الإسلامية هجمات على السفن الأمريكية")


@pytest.mark.parametrize(
    "text",
    [
        # ولاء folds to ولا ("and not"), which every verse of 3:139 begins with
        "نشر الأمين العام قيس الخزعلي على تيليغرام الآية: ولا تهنوا ولا تحزنوا",
        "ولي العهد السعودي يجدد العهد مع قائد الجيش",
    ],
)
def test_a_leader_named_near_a_pledge_word_is_not_a_pledge(matcher: Matcher, text: str) -> None:
    assert "allegiance" not in kinds(matcher, text)


def test_a_channel_s_own_pledge_still_is_one(matcher: Matcher) -> None:
    assert "allegiance" in kinds(matcher, "نجدد الولاء لسماحة القائد")
    assert "allegiance" in kinds(matcher, "نحن جنودك يا سيد المقاومة")


@pytest.mark.parametrize(
    "text",
    [
        "القادم أعظم",
        "الـــــقـــــادم أعـــــظـــــم 🔥",  # tatweel against takedowns
        "والجاي أشد عليكم",
        "الرد قادم لا محالة",
        "أيامكم معدودة",
        "One American in Iraq is too many.",
    ],
)
def test_a_short_cue_from_the_group_s_own_channel_flags_without_naming_an_enemy(
    matcher: Matcher, text: str
) -> None:
    own = matcher.match(text, MatchContext(channel_kind="group"))
    assert own.flagged and "threat" in {s.kind for s in own.signals}, text
    assert not matcher.match(text, MatchContext(channel_kind="news")).flagged, text


@pytest.mark.parametrize("text", ["الحلقة القادمة أقوى، انتظرونا", "المباراة القادمة أصعب"])
def test_a_coming_episode_or_match_is_no_short_cue(matcher: Matcher, text: str) -> None:
    assert "threat" not in kinds(matcher, text)


def test_a_dialect_threat_after_the_future_marker(matcher: Matcher) -> None:
    text = "الأمريكان لازم يطلعون، وإذا ما طلعوا راح نطلّعهم بالقوة"
    threat = next(s for s in matcher.match(text).signals if s.kind == "threat" and s.roles)
    assert threat.roles["addressee"].text == "الأمريكان"
    # the same verb without the marker is an everyday sentence
    assert "threat" not in kinds(matcher, "الأمريكان طلعوا من المطار الساعة الثامنة")


def test_a_frame_naming_an_unknown_class_is_an_error_at_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    frames = rules / "frames.yaml"
    text = frames.read_text("utf-8")
    assert "action: [pledge, wali]" in text
    frames.write_text(text.replace("action: [pledge, wali]", "action: [pledgee, wali]"), "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_rules(rules)
    err = caught.value
    assert err.file == str(frames) and "unknown class 'pledgee'" in str(err)
    # the line of the frame that names it, not of the file that was read last
    lines = frames.read_text("utf-8").splitlines()
    assert err.line is not None
    assert "id: allegiance:frame" in lines[err.line - 1]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("رجالنا ينتظرون ساعة الصفر 🔻", "readiness"),  # waiting for zero hour, no enemy named
        ("احنا جاهزين من هسه، ننتظر الأمر وبس", "readiness"),  # dialect
        ("سمعاً وطاعة يا ولي أمر المسلمين", "allegiance"),  # the vocative joined to its noun
        ("نُمهل القوات الأجنبية حتى نهاية الشهر للخروج من البلاد", "threat"),  # an ultimatum
        ("قواعدكم في عين الأسد لن تكون بمأمن من صواريخنا", "threat"),
    ],
)
def test_statements_without_the_listed_phrases(matcher: Matcher, text: str, kind: str) -> None:
    assert kind in kinds(matcher, text, "group")


def test_a_sale_s_zero_hour_is_not_readiness(matcher: Matcher) -> None:
    assert "readiness" not in kinds(matcher, "ساعة الصفر اقتربت ⏰ أكبر تخفيضات الجمعة البيضاء")
