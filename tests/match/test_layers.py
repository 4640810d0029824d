"""The caption and the text read from the image are one statement to the matcher (#13): matched
apart, scored together, each signal with offsets into the text of its own layer."""

from __future__ import annotations

import pytest

from monitor.match import Matcher, load_rules
from monitor.signals import MatchContext
from tests.conftest import CONFIG

CLAIM = (
    "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة حرير "
    "في أربيل بطائرة مسيرة وحققت إصابة مباشرة"
)
CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return Matcher(load_rules(CONFIG / "rules"), cache_dir=tmp_path_factory.getbasetemp() / "mc")


def check_offsets(text: str, ocr: str, result: object) -> None:
    for s in result.signals:  # type: ignore[attr-defined]
        layer = ocr if s.layer == "ocr" else text
        assert layer[s.start : s.end] == s.matched, s
        for role in s.roles.values():
            assert layer[role.start : role.end] == role.text, (s, role)


def test_a_claim_in_the_image_under_a_one_word_caption_is_a_claim(matcher: Matcher) -> None:
    ctx = MatchContext(channel="statements")
    caption_only = matcher.match("بيان", ctx)
    assert not caption_only.flagged
    result = matcher.match("بيان", ctx, ocr=CLAIM)
    assert result.flagged
    claims = [s for s in result.signals if s.kind == "attack_claim"]
    assert claims and {s.layer for s in claims} == {"ocr"}
    assert claims[0].to_dict()["layer"] == "ocr"
    check_offsets("بيان", CLAIM, result)


def test_signals_of_both_layers_keep_their_own_offsets(matcher: Matcher) -> None:
    ctx = MatchContext(channel="statements")
    caption = f"{CUE} (آل عمران: 139)"
    result = matcher.match(caption, ctx, ocr=CLAIM)
    layers = {(s.kind, s.layer) for s in result.signals}
    assert ("verse_cue", "text") in layers and ("attack_claim", "ocr") in layers
    check_offsets(caption, CLAIM, result)
    text_only = [s for s in result.signals if s.layer == "text"]
    assert all("layer" not in s.to_dict() for s in text_only)  # unchanged output for text


def test_an_image_alone_and_no_image_at_all(matcher: Matcher) -> None:
    ctx = MatchContext(channel="statements")
    alone = matcher.match("", ctx, ocr=CLAIM)
    assert alone.flagged and all(s.layer == "ocr" for s in alone.signals)
    check_offsets("", CLAIM, alone)
    plain = matcher.match(CLAIM, ctx)
    # An image of everyday words, or of nothing, leaves the caption's verdict as it was.
    assert matcher.match(CLAIM, ctx, ocr="صباح الخير يا أهل العراق") == plain
    assert matcher.match(CLAIM, ctx, ocr=" \n ") == plain


def test_no_phrase_is_made_of_the_end_of_the_caption_and_the_start_of_the_image(
    matcher: Matcher,
) -> None:
    """ "نحن رهن" ending the caption and "إشارة القائد" opening the image are not a pledge."""
    ctx = MatchContext(channel="statements")
    joined = matcher.match("نحن رهن إشارة القائد", ctx)
    assert any(s.kind == "readiness" or s.kind == "allegiance" for s in joined.signals)
    split = matcher.match("نحن رهن", ctx, ocr="إشارة القائد")
    assert not [s for s in split.signals if s.kind in ("readiness", "allegiance")]
