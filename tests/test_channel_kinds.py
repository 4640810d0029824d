"""Channel kinds in the score (#12): a news channel's cue verses, short cues and attack claims
do not count; a group's, a leader's and a media outlet's do. The matcher stays text-only: the
kind reaches the scorer through the MatchContext (scan input, pipeline hook)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.match import MatchContext, Matcher, load_rules, scan_jsonl
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import Channel, Match, Post
from tests.conftest import Database, add_channel

from .conftest_match import RULES_DIR, shared_matcher

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
CLAIM = "المقاومة الإسلامية في العراق تعلن استهداف قاعدة عين الأسد بالطائرات المسيرة"
READY = "نعلن جاهزيتنا لقتال العدو الأمريكي"
T0 = datetime(2023, 11, 1, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.mark.parametrize("kind", [None, "group", "leader", "media"])
def test_a_cue_verse_flags_on_a_group_leader_or_media_channel(
    matcher: Matcher, kind: str | None
) -> None:
    result = matcher.match(CUE, MatchContext(channel_kind=kind))
    assert result.flagged and result.score == 35


def test_a_cue_verse_alone_does_not_flag_on_a_news_channel(matcher: Matcher) -> None:
    result = matcher.match(CUE, MatchContext(channel_kind="news"))
    assert not result.flagged and result.severity == "none"
    assert [s.ref for s in result.signals] == ["3:139"]  # still recorded: analysts see it
    assert any(
        line.startswith("news channel: a cue verse alone does not flag")
        for line in result.explanation
    ), result.explanation


def test_a_short_cue_alone_does_not_flag_on_a_news_channel(matcher: Matcher) -> None:
    text = "القادم أعظم يا جنود الاحتلال الأمريكي"  # "what is coming is greater" (#12)
    assert matcher.match(text, MatchContext(channel_kind="media")).flagged
    news = matcher.match(text, MatchContext(channel_kind="news"))
    assert not news.flagged and [s.rule for s in news.signals] == ["threat:settled"]
    assert any(ln.startswith("news channel: a short cue alone") for ln in news.explanation)


def test_an_attack_claim_is_not_credited_to_a_news_channel(matcher: Matcher) -> None:
    own = matcher.match(CLAIM, MatchContext(channel_kind="group"))
    assert own.flagged and "attack_claim" in {s.kind for s in own.signals}
    news = matcher.match(CLAIM, MatchContext(channel_kind="news"))
    assert not news.flagged
    assert "attack_claim" in {s.kind for s in news.signals}
    assert any("not credited to a channel reporting others" in ln for ln in news.explanation)
    # the claim's combination with its target goes with it
    assert not any("combination attack_claim" in ln for ln in news.explanation)


def test_a_news_channel_s_own_readiness_still_counts(matcher: Matcher) -> None:
    group = matcher.match(READY, MatchContext(channel_kind="group"))
    news = matcher.match(READY, MatchContext(channel_kind="news"))
    assert news.flagged and news.score == group.score


def _rules_with(tmp_path: Path, section: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in RULES_DIR.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.name == "severity.yaml":
            head, _, _ = text.partition("  channel_kinds:\n")
            text = head + section
        (folder / f.name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "section, message",
    [
        ("  channel_kinds:\n    newz:\n      cues: [verse_cue]\n", "unknown channel kind 'newz'"),
        ("  channel_kinds:\n    news:\n      cue: [verse_cue]\n", "unknown key 'cue'"),
        ("  channel_kinds:\n    news:\n      cues: [verse]\n", "not a signal kind or a rule id"),
    ],
)
def test_a_wrong_channel_kinds_section_names_file_and_line(
    tmp_path: Path, section: str, message: str
) -> None:
    folder = _rules_with(tmp_path, section)
    lines = (folder / "severity.yaml").read_text(encoding="utf-8").splitlines()
    with pytest.raises(ConfigError) as exc:
        load_rules(folder)
    assert message in str(exc.value)
    assert str(exc.value.file) == str(folder / "severity.yaml")
    assert exc.value.line is not None and exc.value.line > lines.index("  channel_kinds:")


def test_scan_reads_channel_kind_and_refuses_an_unknown_one(matcher: Matcher) -> None:
    lines = [
        json.dumps({"id": 1, "text": CUE}, ensure_ascii=False),
        json.dumps({"id": 2, "text": CUE, "channel_kind": "group"}, ensure_ascii=False),
        json.dumps({"id": 3, "text": CUE, "channel_kind": "news"}, ensure_ascii=False),
        json.dumps({"id": 4, "text": CUE, "channel_kind": "News"}, ensure_ascii=False),
    ]
    out, err = io.StringIO(), io.StringIO()
    assert scan_jsonl(lines, matcher, out, err) == 1
    flagged = {r["id"]: r["flagged"] for r in map(json.loads, out.getvalue().splitlines())}
    assert flagged == {1: True, 2: True, 3: False}
    assert err.getvalue() == "line 4: 'channel_kind' must be one of group, leader, media, news\n"


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def test_the_pipeline_scores_by_the_channel_s_kind(db: Database, pipeline: Pipeline) -> None:
    own, news = add_channel(db, "kh_own"), add_channel(db, "agency_news")
    with db.sessions.begin() as s:
        s.get_one(Channel, news).kind = "news"
    for cid in (own, news):
        pipeline.store(cid, [PostRecord(1, T0, CUE, "telethon")])
    with db.sessions() as s:
        rows = s.execute(
            select(Post.channel_id, Match.flagged, Match.explanation).join(
                Match, Match.post_id == Post.id
            )
        ).all()
    verdicts = {cid: (flagged, explanation) for cid, flagged, explanation in rows}
    assert verdicts[own][0] is True
    assert verdicts[news][0] is False
    assert any("news channel: a cue verse alone does not flag" in ln for ln in verdicts[news][1])
