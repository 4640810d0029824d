"""The one ingest path: idempotent, versioned, atomic; on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.pipeline import Pipeline
from monitor.store.channels import ensure_channel
from monitor.store.ingest import Changed
from monitor.store.models import Channel, CollectionRun, Post, PostVersion
from tests.conftest import Database

T0 = datetime(2023, 11, 1, 6, 0, tzinfo=UTC)


def rec(mid: int, text: str = "", **kw: object) -> PostRecord:
    return PostRecord(
        message_id=mid,
        date=T0 + timedelta(minutes=mid),
        text=text or f"منشور رقم {mid}",
        source="telethon",
        **kw,  # type: ignore[arg-type]
    )


def counts(db: Database) -> tuple[int, int]:
    with db.sessions() as s:
        posts = s.scalar(select(func.count()).select_from(Post)) or 0
        versions = s.scalar(select(func.count()).select_from(PostVersion)) or 0
    return posts, versions


@pytest.fixture
def channel_id(db: Database) -> int:
    with db.sessions.begin() as s:
        return ensure_channel(s, "@Test_Channel", source="telethon").id


def test_reingest_changes_nothing(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    records = [
        rec(
            i,
            views=100 + i,
            forwarded_from=ForwardInfo("1500", 77, "قناة المصدر") if i == 3 else None,
            media=MediaInfo("video", "video/mp4", 1_000_000, 12.5) if i == 4 else None,
            reply_to=1 if i == 5 else None,
        )
        for i in range(1, 11)
    ]
    first = pipe.store(channel_id, records)
    assert (first.new, first.edited) == (10, 0)
    with db.sessions() as s:
        before = [
            (p.id, p.text, p.text_sha256, p.first_seen_at, p.edited_at, p.views, p.fwd_name)
            for p in s.scalars(select(Post).order_by(Post.id))
        ]
    again = pipe.store(channel_id, records)
    assert (again.new, again.edited, again.deleted, again.unchanged) == (0, 0, 0, 10)
    assert again.changed == []
    with db.sessions() as s:
        after = [
            (p.id, p.text, p.text_sha256, p.first_seen_at, p.edited_at, p.views, p.fwd_name)
            for p in s.scalars(select(Post).order_by(Post.id))
        ]
        post = s.scalar(select(Post).where(Post.message_id == 4))
        assert post is not None and post.media_duration == 12.5 and post.media_mime == "video/mp4"
        fwd = s.scalar(select(Post).where(Post.message_id == 3))
        assert fwd is not None and (fwd.fwd_channel, fwd.fwd_message_id) == ("1500", 77)
    assert before == after
    assert counts(db) == (10, 10)


def test_edit_keeps_both_texts(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    pipe.store(channel_id, [rec(1, "نعلن جاهزيتنا")])
    edited_at = T0 + timedelta(hours=2)
    result = pipe.store(channel_id, [rec(1, "نعلن جاهزيتنا التامة", edited_at=edited_at)])
    assert result.edited == 1 and [c.status for c in result.changed] == ["edited"]
    with db.sessions() as s:
        post = s.scalars(select(Post)).one()
        assert post.text == "نعلن جاهزيتنا التامة"
        assert post.edited_at == edited_at
        assert [v.text for v in post.versions] == ["نعلن جاهزيتنا", "نعلن جاهزيتنا التامة"]
    # Reverting to the first text sets edited_at again but keeps two versions, not three.
    pipe.store(channel_id, [rec(1, "نعلن جاهزيتنا", edited_at=edited_at + timedelta(hours=1))])
    assert counts(db) == (1, 2)


def test_deletion_keeps_the_text(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    pipe.store(channel_id, [rec(1, "سنضرب قواعد الاحتلال"), rec(2)])
    now = T0 + timedelta(days=1)
    result = pipe.store(channel_id, [rec(1, "", deleted=True)], now=now)
    assert result.deleted == 1
    again = pipe.store(channel_id, [rec(1, "", deleted=True)], now=now + timedelta(hours=1))
    assert again.deleted == 0
    with db.sessions() as s:
        post = s.scalar(select(Post).where(Post.message_id == 1))
        assert post is not None
        assert post.deleted_at == now
        assert post.text == "سنضرب قواعد الاحتلال"


def test_batch_is_atomic_with_its_hooks(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    pipe.store(channel_id, [rec(1)])

    def failing_hook(session: Session, channel: Channel, changed: list[Changed]) -> None:
        raise RuntimeError("matcher crashed")

    pipe.hooks.append(failing_hook)
    with pytest.raises(RuntimeError):
        pipe.store(channel_id, [rec(1, "نص معدل"), rec(2), rec(3)])
    assert counts(db) == (1, 1)
    with db.sessions() as s:
        assert s.scalars(select(Post.text)).one() == "منشور رقم 1"
        assert s.get_one(Channel, channel_id).cursor == 1


def test_last_sighting_in_a_batch_wins_and_cursor_advances(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    result = pipe.store(channel_id, [rec(7, "أولى"), rec(9), rec(7, "ثانية")])
    assert result.new == 2
    with db.sessions() as s:
        assert s.scalar(select(Post.text).where(Post.message_id == 7)) == "ثانية"
        channel = s.get_one(Channel, channel_id)
        assert channel.cursor == 9
        assert channel.newest_post_at == T0 + timedelta(minutes=9)
    pipe.store(channel_id, [rec(3)])  # an older post never moves the cursor back
    with db.sessions() as s:
        assert s.get_one(Channel, channel_id).cursor == 9


def test_same_message_id_in_two_channels_are_two_posts(db: Database, channel_id: int) -> None:
    with db.sessions.begin() as s:
        other = ensure_channel(s, "other_channel").id
    pipe = Pipeline(db.sessions)
    pipe.store(channel_id, [rec(1)])
    pipe.store(other, [rec(1)])
    assert counts(db) == (2, 2)


def test_view_counts_update_without_a_new_version(db: Database, channel_id: int) -> None:
    pipe = Pipeline(db.sessions)
    pipe.store(channel_id, [rec(1, views=10)])
    result = pipe.store(channel_id, [rec(1, views=250)])
    assert result.unchanged == 1 and result.changed == []
    with db.sessions() as s:
        assert s.scalars(select(Post.views)).one() == 250
    assert counts(db) == (1, 1)


def test_a_pass_that_never_recorded_its_end_is_marked_interrupted(
    db: Database, channel_id: int
) -> None:
    with db.sessions.begin() as s:
        other = ensure_channel(s, "@Other_Channel", source="telethon").id
        # What a SIGKILL (or the database going away) in the middle of a pass leaves behind.
        s.add_all(
            [
                CollectionRun(channel_id=channel_id, source="telethon", status="running"),
                CollectionRun(channel_id=channel_id, source="import", status="running"),
                CollectionRun(channel_id=other, source="telethon", status="running"),
            ]
        )
    Pipeline(db.sessions).run(channel_id, [rec(1)], source="telethon")
    with db.sessions() as s:
        runs = s.execute(
            select(CollectionRun.channel_id, CollectionRun.source, CollectionRun.status).order_by(
                CollectionRun.id
            )
        ).all()
        stale = s.scalars(select(CollectionRun).where(CollectionRun.status == "interrupted")).one()
    assert [tuple(r) for r in runs] == [
        (channel_id, "telethon", "interrupted"),
        (channel_id, "import", "running"),  # another source may still be at it
        (other, "telethon", "running"),  # another channel's pass is not this one's business
        (channel_id, "telethon", "ok"),
    ]
    assert stale.finished_at is not None and "process killed" in (stale.error or "")
