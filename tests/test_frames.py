"""Frames (#12): the lemma generator, loading frames from the rule files, frame hits' roles, and
the indexes that make frames cheap (their answers must be those of a plain scan)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.match import Matcher, load_rules, normalize
from monitor.match.frame_rules import Frame, FrameRef
from monitor.match.frames import FrameIndex, any_possible, find_frames
from monitor.match.intervals import Overlaps
from monitor.match.lemmas import verb_forms
from monitor.match.phrases import Hit

from .conftest_match import shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


# -- the lemma generator ---------------------------------------------------------------------


def test_verb_forms_cover_persons_tenses_and_clitics() -> None:
    forms = verb_forms("استهدف يستهدف استهداف")
    assert "استهدفنا" in forms["past1"]  # we targeted
    assert "استهدفناهم" in forms["past1"]  # with an object pronoun
    assert "واستهدفوا" in forms["past"]  # و + they targeted
    assert "ضربوهم" in verb_forms("ضرب يضرب ضرب")["past"]  # وا drops its alif before هم
    assert "سنستهدف" in forms["fut1"]  # we will target
    assert "حنستهدف" in forms["fut1"]  # dialect future ح
    assert "تستهدف" in forms["pres"]
    assert "نستهدفهم" in forms["pres1"]
    assert "باستهدافها" in forms["noun"]


def test_a_hollow_verb_drops_its_alif_before_a_consonant_ending() -> None:
    # "وأصبنا الهدف" (we hit the target) was not a claim: only أصابنا ("it hit us") was made.
    forms = verb_forms("أصاب يصيب")
    assert "اصبنا" in forms["past1"] and "اصابنا" not in forms["past1"]
    assert "اصابنا" in forms["past"]  # it hit us: third person with an object pronoun
    assert {"اصابت", "اصبت"} <= forms["past"]  # she hit / I or you hit
    assert "عدنا" in verb_forms("عاد يعود")["past1"]
    assert "هاجمنا" in verb_forms("هاجم يهاجم")["past1"]  # not hollow: the ا is not the middle


def test_a_claim_in_the_first_person_of_a_hollow_verb(matcher: Matcher) -> None:
    result = matcher.match("فرّغنا صواريخنا على الشدادي وأصبنا الهدف بدقة")
    assert result.flagged and "attack_claim" in {s.kind for s in result.signals}


def test_purpose_is_not_a_verbal_noun() -> None:
    # ل + verbal noun is "to strike", not a strike carried out.
    forms = verb_forms("استهدف يستهدف استهداف")
    assert "لاستهداف" in forms["purpose"]
    assert "لاستهداف" not in forms["noun"]
    assert "استهداف" in forms["noun"]


def test_forms_are_folded() -> None:
    # Hamza and ة folded as normalize() folds the post: أطلق -> اطلق, ضربة -> ضربه.
    assert "اطلقنا" in verb_forms("أطلق يطلق إطلاق")["past1"]
    assert "ضربه" in verb_forms("ضرب يضرب ضربة")["noun"]
    assert all(f == normalize(f).text for fs in verb_forms("أمطر يمطر إمطار").values() for f in fs)


# -- loading ------------------------------------------------------------------------------


def _rules_dir(tmp_path: Path, frames_yaml: str) -> Path:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "frames.yaml").write_text(frames_yaml, encoding="utf-8")
    return d


_GOOD = """\
lemmas:
  strike:
    verbs:
      - استهدف يستهدف استهداف
  asset:
    nouns: [قاعدة]
frames:
  - id: attack_claim:test
    kind: attack_claim
    action: [strike.past1]
    roles:
      claimant: [self]
      target: [asset]
    require: [target]
"""


def test_frames_load(tmp_path: Path) -> None:
    rs = load_rules(_rules_dir(tmp_path, _GOOD))
    (frame,) = rs.frames
    assert frame.id == "attack_claim:test"
    assert frame.action == [FrameRef("strike", "past1")]
    assert "past1" in rs.lemmas.features["strike"]


@pytest.mark.parametrize(
    ("yaml_text", "line", "words"),
    [
        # the present of a verb entry must start with ي (line 4)
        (_GOOD.replace("استهدف يستهدف استهداف", "استهدف ستهدف"), 4, "must start with"),
        # an unknown lemma field (line 6)
        (_GOOD.replace("nouns: [قاعدة]", "stems: [قاعدة]"), 6, "unknown lemma field"),
        # an unknown frame field (line 15)
        (
            _GOOD.replace("    require: [target]\n", "    require: [target]\n    windw: 5\n"),
            15,
            "unknown frame field",
        ),
        # a required role that is not a role (line 14)
        (_GOOD.replace("require: [target]", "require: [weapon]"), 14, "not in roles"),
    ],
)
def test_frame_load_errors_name_file_and_line(
    tmp_path: Path, yaml_text: str, line: int, words: str
) -> None:
    d = _rules_dir(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as err:
        load_rules(d)
    assert words in err.value.message
    assert err.value.file == str(d / "frames.yaml")
    assert err.value.line == line


def test_unknown_class_in_a_frame_is_an_error(tmp_path: Path) -> None:
    d = _rules_dir(tmp_path, _GOOD.replace("target: [asset]", "target: [assets]"))
    with pytest.raises(ConfigError) as err:
        load_rules(d)
    assert "unknown class" in err.value.message
    assert err.value.file is not None and err.value.file.endswith("frames.yaml")


# -- frame hits carry roles in the original text ----------------------------------------------


def test_frame_roles_index_the_original_text(matcher: Matcher) -> None:
    # Harakat, shadda and tatweel are folded away for matching; roles still slice the post.
    text = "🔴 استهدَفَ مجاهدو المقاومـــة قاعدةَ عين الأسد بطائرةٍ مسيّرة"
    result = matcher.match(text)
    with_roles = [s for s in result.signals if s.roles]
    assert with_roles, result.signals
    sig = with_roles[0]
    assert sig.kind == "attack_claim"
    for role in sig.roles.values():
        assert text[role.start : role.end] == role.text
    assert normalize(sig.roles["target"].text).text.startswith("قاعده")
    assert sig.roles["weapon"].text == "بطائرةٍ مسيّرة"
    assert sig.to_dict()["roles"]["weapon"] == {
        "start": text.index("بطائرة"),
        "end": len(text),
        "text": "بطائرةٍ مسيّرة",
    }


def test_action_word_without_its_roles_is_no_signal(matcher: Matcher) -> None:
    # الامطار is a form of أمطر (strike), حول one of حوّل (harm): everyday news, no frame.
    assert not matcher.match("أفادت مصادر محلية بأن الأمطار الغزيرة تسببت بقطع الطرق").signals
    assert not matcher.match("بيان صادر عن المكتب الإعلامي حول الأوضاع السياسية").signals


# -- the indexes answer as a plain scan would ---------------------------------------------------


def _ranges(rng: random.Random, n: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(n):
        a = rng.randrange(200)
        out.append((a, a + rng.randint(1, 8)))
    return out


def test_frame_index_within_is_a_filter() -> None:
    rng = random.Random(5)
    lex = [("strike.past", a, b) for a, b in _ranges(rng, 120)]
    index = FrameIndex(lex, {"enemy": _ranges(rng, 40)}, _ranges(rng, 10))
    assert index.present == {"strike.past", "strike", "context:enemy", "kind:target"}
    for key, ranges in (
        ("strike", [(a, b) for _, a, b in lex]),
        ("context:enemy", index.ranges(FrameRef("context:enemy"))),
    ):
        for _ in range(300):
            lo = rng.randrange(-10, 210)
            hi = lo + rng.randint(0, 25)
            want = sorted({r for r in ranges if r[0] < hi and r[1] > lo})
            assert index.within(key, lo, hi) == want
    assert index.within("weapon", 0, 100) == []


def test_overlaps_answer_in_list_order() -> None:
    rng = random.Random(9)
    ranges = _ranges(rng, 150)
    ov = Overlaps(ranges)
    for _ in range(300):
        a = rng.randrange(-5, 210)
        b = a + rng.randint(1, 12)
        assert ov.overlapping(a, b) == [i for i, (t0, t1) in enumerate(ranges) if t0 < b and t1 > a]


def _frame(require: list[str]) -> Frame:
    return Frame(
        "attack_claim:t",
        "attack_claim",
        [FrameRef("strike", "past")],
        {"claimant": [FrameRef("self")], "target": [FrameRef("asset")]},
        require,
    )


def test_possible_is_a_necessary_condition() -> None:
    strike = Hit(("trigger", "strike.past"), 0, 1, False, "strike")
    asset = Hit(("lex", "asset.noun"), 30, 31, False, "asset")  # present, far away
    assert not any_possible([_frame(["target"])], [strike])
    assert any_possible([_frame(["target"])], [strike, asset])
    assert any_possible([_frame(["claimant"])], [strike])  # self: the action's own person
    # Possible yet out of the window: find_frames still decides by position.
    frame = _frame(["target"])
    index = FrameIndex([("strike.past", 0, 1), ("asset.noun", 30, 31)], {}, [])
    assert frame.possible(index.present)
    assert find_frames([frame], index) == []
    near = FrameIndex([("strike.past", 0, 1), ("asset.noun", 2, 3)], {}, [])
    (hit,) = find_frames([frame], near)
    assert hit.roles == {"target": (2, 3)}
