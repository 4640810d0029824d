"""The matcher's cost is linear in the text (#11, finding 14: a 1 MB post took 74 s).

Wall time is no test on a shared machine, so these count deterministic things instead: Python
calls made (which the quadratic loops multiplied) and bytes allocated.
"""

from __future__ import annotations

import sys
import tracemalloc
from types import FrameType
from typing import Any

import pytest

from monitor.match import Matcher

from .conftest_match import shared_matcher

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
THREAT = "نعلن جاهزيتنا لقتال العدو الأمريكي في قاعدة عين الأسد"
# Everyday news: no signal, but words (Iraq, base, forces) the phrase rules look at.
FILLER = (
    "أفادت مصادر محلية بأن الأمطار الغزيرة تسببت بقطع عدد من الطرق في محافظة ذي قار. "
    "The ministry announced new electricity schedules for the summer months in Baghdad. "
    "عقد مجلس المحافظة اجتماعا لمناقشة الخطة الاستثمارية للعام المقبل 🇮🇶 "
)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def _calls(matcher: Matcher, text: str) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        count += 1

    sys.setprofile(profile)
    try:
        matcher.match(text)
    finally:
        sys.setprofile(None)
    return count


def test_signals_planted_at_the_end_of_a_1mb_post_keep_their_offsets(matcher: Matcher) -> None:
    tail = f"{CUE} … {THREAT}"
    assert not matcher.match(FILLER * 3).signals
    filler = FILLER * (1_000_000 // len(FILLER))
    alone, planted = matcher.match(tail), matcher.match(filler + tail)
    assert alone.signals and planted.severity == alone.severity
    shifted = [(s.kind, s.rule, s.start + len(filler), s.end + len(filler)) for s in alone.signals]
    assert [(s.kind, s.rule, s.start, s.end) for s in planted.signals] == shifted
    assert all((filler + tail)[s.start : s.end] == s.matched for s in planted.signals)


@pytest.mark.parametrize(
    "unit",
    [
        CUE + " ",  # a cue verse over and over: alignments, cue fragments, formulas
        THREAT + " ",  # phrase hits, each needing context: contexts near every hit
        "والقادم أعظم على قوات الاحتلال الأمريكي قاعدة حرير ",  # threats, targets, contexts
    ],
    ids=["cue", "threat", "claims"],
)
def test_work_grows_linearly_with_a_text_dense_with_signals(matcher: Matcher, unit: str) -> None:
    small = _calls(matcher, unit * (20_000 // len(unit)))
    large = _calls(matcher, unit * (80_000 // len(unit)))
    # Four times the text: four times the calls (before the fix: 14-16 times).
    assert large < 4.5 * small, (small, large)


def test_one_enormous_word_is_not_expanded_into_all_its_typos(matcher: Matcher) -> None:
    # Each of its letters deleted in turn was a copy of the word: n² bytes (a minute at 100 KB).
    tracemalloc.start()
    try:
        result = matcher.match("ب" * 5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.signals == []
    assert peak < 1_000_000, f"peak {peak} bytes for a 5000-letter word"
