"""Matching runs on every stored post, in the post's own transaction; rematch replaces verdicts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher, load_rules
from monitor.match.persist import ensure_rule_set, normalise_phrase, rematch
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.channels import get_group
from monitor.store.export import signal_dicts
from monitor.store.models import Match, Post, RuleSetVersion, SignalRow, Suppression
from tests.conftest import CONFIG, SAMPLE_POSTS, CliRunner, Database, add_channel

T0 = datetime(2023, 11, 1, 6, 0, tzinfo=UTC)
CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return Matcher(
        load_rules(CONFIG / "rules"), cache_dir=tmp_path_factory.getbasetemp() / "match-cache"
    )


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def post(mid: int, text: str, minutes: int = 0, **kw: object) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(minutes=minutes), text, "telethon", **kw)  # type: ignore[arg-type]


def verdict(db: Database, channel_id: int, mid: int) -> Match:
    with db.sessions() as s:
        match = s.scalar(
            select(Match)
            .join(Post, Post.id == Match.post_id)
            .where(Post.channel_id == channel_id, Post.message_id == mid)
            .options(selectinload(Match.signals))
        )
    assert match is not None, f"no verdict for message {mid}"
    return match


def test_every_stored_post_gets_a_verdict_with_the_rule_set(
    db: Database, pipeline: Pipeline, matcher: Matcher
) -> None:
    cid = add_channel(db, "khazali")
    pipeline.store(cid, [post(1, CUE), post(2, "صباح الخير يا أهل العراق")])
    cue = verdict(db, cid, 1)
    assert cue.flagged and [s.ref for s in cue.signals] == ["3:139"]
    assert not verdict(db, cid, 2).flagged
    with db.sessions() as s:
        version = s.scalars(select(RuleSetVersion.version)).one()
    assert version == matcher.rules.version


def test_an_edit_is_matched_again(db: Database, pipeline: Pipeline) -> None:
    cid = add_channel(db, "c1")
    pipeline.store(cid, [post(1, "صباح الخير")])
    assert not verdict(db, cid, 1).flagged
    pipeline.store(cid, [post(1, "نعلن جاهزيتنا لقتال العدو الأمريكي", edited_at=T0)])
    edited = verdict(db, cid, 1)
    assert edited.flagged and "readiness" in {s.kind for s in edited.signals}
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == 1


def test_deleted_soon_after_posting_raises_the_score(db: Database, pipeline: Pipeline) -> None:
    cid = add_channel(db, "c2")
    pipeline.store(cid, [post(1, CUE), post(2, CUE, minutes=1)])
    before = verdict(db, cid, 1).score
    pipeline.store(cid, [post(1, "", deleted=True)], now=T0 + timedelta(minutes=30))
    pipeline.store(cid, [post(2, "", deleted=True)], now=T0 + timedelta(days=3))
    soon, late = verdict(db, cid, 1), verdict(db, cid, 2)
    assert soon.score > before
    assert any("deleted soon after posting" in line for line in soon.explanation)
    assert late.score == before


def test_affiliated_channels_posting_the_same_cue_raise_it(
    db: Database, pipeline: Pipeline
) -> None:
    # Groups without configured weights, so only the affiliation changes the score.
    leader = add_channel(db, "faction_main", "Faction")
    front = add_channel(db, "faction_front", "Faction Front", parent="Faction")
    stranger = add_channel(db, "unrelated", "Someone Else")
    late = add_channel(db, "faction_late", "Faction")
    pipeline.store(leader, [post(1, CUE)])
    pipeline.store(stranger, [post(1, CUE, minutes=5)])
    pipeline.store(front, [post(1, CUE, minutes=10)])
    pipeline.store(late, [post(1, CUE, minutes=60 * 24)])  # a day later: outside the window
    alone, echoed = verdict(db, stranger, 1), verdict(db, front, 1)
    assert echoed.score == alone.score + 8  # affiliated_per_channel in severity.yaml
    assert any("1 affiliated channel(s)" in line for line in echoed.explanation)
    assert verdict(db, late, 1).score == alone.score
    # the cue that was echoed rises too, without waiting for a rematch
    first = verdict(db, leader, 1)
    assert first.score == alone.score + 8
    assert any("1 affiliated channel(s)" in line for line in first.explanation)


def test_suppression_is_honoured_from_then_on(db: Database, pipeline: Pipeline) -> None:
    cid = add_channel(db, "c3")
    pipeline.store(cid, [post(1, CUE)])
    with db.sessions.begin() as s:
        s.add(
            Suppression(channel_id=cid, phrase="وأنتم الأعلون", phrase_norm=normalise_phrase(CUE))
        )
    pipeline.store(cid, [post(2, CUE)])
    assert not verdict(db, cid, 2).flagged
    assert verdict(db, cid, 1).flagged  # history changes only on rematch
    other = add_channel(db, "c4")
    pipeline.store(other, [post(1, CUE)])
    assert verdict(db, other, 1).flagged  # the ruling was for one channel


def test_rematch_replaces_verdicts_without_duplicates(
    db: Database, pipeline: Pipeline, matcher: Matcher, tmp_path: Path
) -> None:
    cid = add_channel(db, "c5")
    pipeline.store(cid, [post(i, CUE if i % 2 else "خبر عادي", minutes=i) for i in range(1, 21)])
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for f in (CONFIG / "rules").glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        if f.name == "severity.yaml":
            text = text.replace("flag_at: low", "flag_at: high")
        (rules_dir / f.name).write_text(text, encoding="utf-8")
    stricter = Matcher(load_rules(rules_dir), cache_dir=tmp_path / "cache")
    assert stricter.rules.version != matcher.rules.version
    summary = rematch(
        db.sessions, stricter, settings=load_settings(), since=T0 + timedelta(minutes=11)
    )
    assert (summary.posts, summary.changed, summary.flagged) == (10, 5, 0)
    again = rematch(db.sessions, stricter, settings=load_settings())
    assert (again.posts, again.changed) == (20, 5)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Match)) == 20
        assert s.scalar(select(func.count()).select_from(Match).where(Match.flagged)) == 0
        assert s.scalar(select(func.count()).select_from(RuleSetVersion)) == 2
        assert s.scalar(select(func.count()).select_from(SignalRow)) == 10


def test_rematch_command(run_cli: CliRunner) -> None:
    assert run_cli("demo", "--once").code == 0
    result = run_cli("rematch")
    assert result.code == 0, result.err
    # Every sample post the demo stored (tests/conftest.py counts them) is matched again.
    assert f"rematched {SAMPLE_POSTS} posts" in result.out, result.out
    assert "0 verdicts changed" in result.out


def test_a_claim_keeps_its_roles_and_exports_them_as_scan_prints_them(
    db: Database, pipeline: Pipeline, matcher: Matcher
) -> None:
    # Tatweel and diacritics: the roles index the original text, as the signal does (#12).
    text = "بيان | استهدفنـــا قاعدةَ عين الأسد بطائرة مسيرة فجر اليوم"
    cid = add_channel(db, "c1")
    pipeline.store(cid, [post(1, text)])
    stored = verdict(db, cid, 1)
    claim = next(s for s in stored.signals if s.kind == "attack_claim" and s.roles)
    assert claim.roles is not None
    assert {k: text[v["start"] : v["end"]] for k, v in claim.roles.items()} == {
        k: v["text"] for k, v in claim.roles.items()
    }
    assert claim.roles["claimant"]["text"] == "استهدفنـــا"
    assert claim.roles["target"]["text"] == "قاعدةَ عين الأسد"  # the base named, not "base"
    assert claim.roles["weapon"]["text"] == "بطائرة مسيرة"
    # export posts carries the signals exactly as `monitor scan` prints them, roles included
    assert signal_dicts(stored) == matcher.match(text).to_dict(1)["signals"]
    assert not any("roles" in s for s in signal_dicts(stored) if s["kind"] == "target")


def test_the_weight_an_operator_gives_a_group_counts_and_says_so(
    db: Database, pipeline: Pipeline
) -> None:
    plain = add_channel(db, "plain_chan", "Plain Group")
    heavy = add_channel(db, "heavy_chan", "Heavy Group")
    with db.sessions.begin() as s:
        group = get_group(s, "Heavy Group")
        assert group is not None
        group.weight = 1.5  # as the Groups page or channels.yaml sets it
    pipeline.store(plain, [post(1, CUE)])
    pipeline.store(heavy, [post(1, CUE)])
    assert verdict(db, heavy, 1).score == verdict(db, plain, 1).score * 1.5
    assert (
        "x 1.5 group weight of Heavy Group set by an operator" in verdict(db, heavy, 1).explanation
    )


def test_two_workers_first_batches_on_a_fresh_database_share_the_rule_set_row(
    db: Database, matcher: Matcher
) -> None:
    """Both find no row for the rules; the second's insert waits for the first (PostgreSQL)
    or for the write lock (SQLite) and then uses its row: no unique-version error."""
    if db.engine.dialect.name == "sqlite":
        pytest.skip("one writer at a time: the second cannot have read before the first wrote")
    first = db.sessions()
    got: list[int] = []
    errors: list[BaseException] = []
    try:
        mine = ensure_rule_set(first, matcher)  # inserted, not committed yet

        def second() -> None:
            try:
                with db.sessions.begin() as s:
                    got.append(ensure_rule_set(s, matcher))
            except BaseException as exc:  # reported to the test, not lost in the thread
                errors.append(exc)

        worker = threading.Thread(target=second)
        worker.start()
        worker.join(0.5)  # still waiting on the first's uncommitted row
        first.commit()
        worker.join(30)
    finally:
        first.close()
    assert errors == [] and got == [mine]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RuleSetVersion)) == 1
