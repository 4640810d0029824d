"""Flagging precision and recall on the dev split (tests/eval/README.md) must not fall: the
posts written alongside the rules (ids ``e…``) stay at >= 0.9 as since session 1; the whole
split, with the posts written blind to the rules (ids ``dA…`` to ``dG…``, #12) and scored
by their channel's kind, stays at the floor measured when they were added."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.match import MatchContext, Matcher

from .conftest_match import shared_matcher

EVAL = Path(__file__).resolve().parent / "eval" / "dev.jsonl"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def test_eval_set_is_big_and_well_formed() -> None:
    posts = [json.loads(x) for x in EVAL.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(posts) >= 150
    assert len({p["id"] for p in posts}) == len(posts)
    assert sum(p["flagged"] for p in posts) >= 50
    assert sum(not p["flagged"] for p in posts) >= 50


def _flag_figures(matcher: Matcher, posts: list[dict[str, Any]]) -> tuple[float, float, list[str]]:
    tp = fp = fn = 0
    misses = []
    for post in posts:
        ctx = MatchContext(channel_kind=post.get("channel_kind"))
        got = matcher.match(post["text"], ctx).flagged
        tp += got and post["flagged"]
        fp += got and not post["flagged"]
        fn += (not got) and post["flagged"]
        if got != post["flagged"]:
            misses.append(post["id"])
    return tp / (tp + fp), tp / (tp + fn), misses


def _dev() -> list[dict[str, Any]]:
    return [json.loads(x) for x in EVAL.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_flagging_precision_and_recall(matcher: Matcher) -> None:
    written_with_the_rules = [p for p in _dev() if p["id"].startswith("e")]
    assert len(written_with_the_rules) == 174
    precision, recall, misses = _flag_figures(matcher, written_with_the_rules)
    assert precision >= 0.9, (precision, misses)
    assert recall >= 0.9, (recall, misses)


def test_flagging_on_the_whole_dev_split(matcher: Matcher) -> None:
    # Measured 0.984 / 0.861 when the blind-written dev posts came in, 0.986 / 0.975 after the
    # rules were tuned on them (#12): a floor against regressions, not a measure of quality
    # (the test split is; tests/eval/README.md).
    precision, recall, misses = _flag_figures(
        matcher, [p for p in _dev() if not p["id"].startswith(("dD", "dE", "dF", "dG"))]
    )
    assert precision >= 0.975, (precision, misses)
    assert recall >= 0.96, (recall, misses)


def test_flagging_on_the_fourth_blind_batch(matcher: Matcher) -> None:
    # dD… (2026-12-03): threats in dialect and English, pledges, hard negatives. Measured
    # 0.917 / 0.733 when they came in, 0.932 / 0.920 after tuning on them: the floor.
    batch = [p for p in _dev() if p["id"].startswith("dD")]
    assert len(batch) == 110
    precision, recall, misses = _flag_figures(matcher, batch)
    assert precision >= 0.93, (precision, misses)
    assert recall >= 0.92, (recall, misses)


def test_flagging_on_the_fifth_blind_batch(matcher: Matcher) -> None:
    # dE… (2026-12-04): weighted to what the rules missed (threats, pledges, readiness,
    # claims, cue verses, hard negatives), every form. Measured 0.957 / 0.629 when they came
    # in, 0.990 / 0.971 after tuning on their classes (tests/test_frame_classes.py): the floor.
    batch = [p for p in _dev() if p["id"].startswith("dE")]
    assert len(batch) == 130
    precision, recall, misses = _flag_figures(matcher, batch)
    assert precision >= 0.99, (precision, misses)
    assert recall >= 0.97, (recall, misses)


def test_flagging_on_the_sixth_blind_batch(matcher: Matcher) -> None:
    # dF… (2026-12-04): half the positives avoid the textbook wordings (idioms, rhetorical
    # questions, passive and nominal claims, poetry, countdowns). Measured 0.983 / 0.590 when
    # they came in, 0.989 / 0.920 after the broad frames of tests/test_frame_broad.py: the floor.
    batch = [p for p in _dev() if p["id"].startswith("dF")]
    assert len(batch) == 120
    precision, recall, misses = _flag_figures(matcher, batch)
    assert precision >= 0.98, (precision, misses)
    assert recall >= 0.92, (recall, misses)


def test_flagging_on_the_seventh_blind_batch(matcher: Matcher) -> None:
    # dG… (2026-12-06): threats, pledges, readiness, claims and 40 hard negatives (menacing
    # promos, public-service warnings, civil readiness), no rule changed for it. Measured 0.953
    # / 0.911 when it came in (the rules alone 0.947 / 0.789), 0.957 / 0.978 once the learned
    # model was trained on it too: the floor. dG102 left out: its text is a test-split post.
    batch = [p for p in _dev() if p["id"].startswith("dG")]
    assert len(batch) == 129
    precision, recall, misses = _flag_figures(matcher, batch)
    assert precision >= 0.95, (precision, misses)
    assert recall >= 0.97, (recall, misses)


HELD_OUT = EVAL.with_name("test.jsonl")
KINDS = {"verse_cue", "verse_quote", "readiness", "threat", "allegiance", "attack_claim", "target"}


def test_held_out_split_is_well_formed() -> None:
    """The frozen test split (tests/eval/README.md) stays what its figures were measured on."""
    posts = [json.loads(x) for x in HELD_OUT.read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(posts) == 327 and len({p["id"] for p in posts}) == len(posts)
    for p in posts:
        assert set(p["kinds"]) <= KINDS, p["id"]
        assert p["channel_kind"] in {"group", "leader", "media", "news"}, p["id"]
        assert p["form"] in {"msa", "dialect", "english", "obfuscated", "hashtags"}, p["id"]
        assert p["context"] in {"with", "without"}, p["id"]
        assert not (p["flagged"] and p["channel_kind"] == "news"), p["id"]
    assert sum(p["flagged"] for p in posts) == 194
