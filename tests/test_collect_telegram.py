"""The Telethon source and the collector, driven through the recording fake client."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from telethon import errors

from monitor.collect.collector import Collector
from monitor.collect.fake import FakeTelegramClient, photo, video, voice
from monitor.collect.session import SessionLock
from monitor.collect.source import PassResult
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.media.store import MediaStore
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.ingest import Changed
from monitor.store.models import Account, Channel, Post, PostVersion, utcnow
from tests.conftest import CliRunner, Database


class Harness:
    def __init__(self, db: Database, tmp_path: Path, **cfg: object) -> None:
        self.db = db
        self.fake = FakeTelegramClient()
        self.settings = Settings(var_dir=tmp_path, **cfg)  # type: ignore[arg-type]
        self.slept: list[float] = []
        self.pipeline = build_pipeline(db.sessions, self.settings)

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def add(self, *handles: str) -> None:
        with self.db.sessions.begin() as s:
            for h in handles:
                ensure_channel(s, h, source="telethon")

    def collector(self, **kw: object) -> Collector:
        source = TelethonSource(
            self.fake,
            flood_sleep_max=self.settings.telegram_flood_sleep_max,
            max_posts=self.settings.collect_max_posts,
            initial_posts=self.settings.collect_initial_posts,
            sleep=self._sleep,
            **kw,  # type: ignore[arg-type]
        )
        return Collector(self.pipeline, self.settings, {"telethon": source})

    def cycle(self, collector: Collector | None = None) -> dict[str, PassResult]:
        c = collector or self.collector()
        return {r.handle: r for r in asyncio.run(c.collect_many(c.channel_ids()))}

    def posts(self, handle: str) -> dict[int, Post]:
        with self.db.sessions() as s:
            ch = s.scalars(select(Channel).where(Channel.handle == handle)).one()
            rows = s.scalars(select(Post).where(Post.channel_id == ch.id))
            return {p.message_id: p for p in rows}

    def channel(self, handle: str) -> Channel:
        with self.db.sessions() as s:
            return s.scalars(select(Channel).where(Channel.handle == handle)).one()


@pytest.fixture
def h(db: Database, tmp_path: Path) -> Harness:
    return Harness(db, tmp_path)


def test_records_carry_forwards_replies_counts_and_media(h: Harness) -> None:
    h.fake.add_channel("sabereen", "صابرين نيوز")
    h.fake.add_channel("kataib", "كتائب")
    h.fake.post("kataib", "بيان رقم ١", views=5400, forwards=12, media=photo(200_000))
    h.fake.service("kataib")  # a pin: not a post
    h.fake.post("kataib", "", media=video(65.0, 9_000_000), forward_from=("sabereen", 4521))
    h.fake.post("kataib", "ردا على", reply_to=1, media=voice(7))
    h.add("kataib")
    assert h.cycle()["kataib"].new == 3
    posts = h.posts("kataib")
    assert sorted(posts) == [1, 3, 4]
    first = posts[1]
    assert (first.text, first.views, first.forwards) == ("بيان رقم ١", 5400, 12)
    assert (first.media_type, first.media_mime, first.media_size) == (
        "photo",
        "image/jpeg",
        200_000,
    )
    fwd = posts[3]
    assert (fwd.fwd_channel, fwd.fwd_message_id, fwd.fwd_name) == ("sabereen", 4521, "صابرين نيوز")
    assert (fwd.media_type, fwd.media_mime, fwd.media_duration) == ("video", "video/mp4", 65.0)
    assert posts[4].reply_to == 1 and posts[4].media_type == "voice"
    assert h.channel("kataib").cursor == 4 and h.channel("kataib").title == "كتائب"


def test_media_download_is_capped_and_hashed(h: Harness, tmp_path: Path) -> None:
    h.fake.add_channel("kataib")
    h.fake.post("kataib", "صورة", media=photo(1000))
    h.fake.post("kataib", "فيديو كبير", media=video(10, 50_000_000))
    h.add("kataib")
    h.cycle(h.collector(files=MediaStore(tmp_path / "media", max_bytes=10_000)))
    posts = h.posts("kataib")
    assert posts[1].media_sha256 is not None and posts[2].media_sha256 is None
    assert h.fake.downloads == 1
    assert (tmp_path / "media" / posts[1].media_sha256[:2] / posts[1].media_sha256).exists()


def test_idle_channels_cost_one_request_and_resolve_once(h: Harness) -> None:
    for name in ("a", "b", "c"):
        h.fake.add_channel(f"chan_{name}")
        for i in range(5):
            h.fake.post(f"chan_{name}", f"منشور {i}")
    h.add("chan_a", "chan_b", "chan_c")
    h.cycle()
    assert h.fake.resolves == 3
    for _ in range(3):
        h.fake.history_calls.clear()
        requests = h.fake.requests
        results = h.cycle(h.collector())  # a fresh process each time: ids come from the DB
        assert all(r.outcome == "ok" and r.new == 0 for r in results.values())
        assert h.fake.requests - requests == 3
        assert dict(h.fake.history_calls) == {"chan_a": 1, "chan_b": 1, "chan_c": 1}
    assert h.fake.resolves == 3


def test_edits_and_deletions_in_recent_window(h: Harness) -> None:
    h.fake.add_channel("nujaba")
    for i in range(6):
        h.fake.post("nujaba", f"نص {i}")
    h.add("nujaba")
    h.cycle()
    h.fake.edit("nujaba", 2, "نص معدل")
    h.fake.delete("nujaba", 5)
    result = h.cycle()["nujaba"]
    assert (result.new, result.edited, result.deleted) == (0, 1, 1)
    posts = h.posts("nujaba")
    assert posts[2].text == "نص معدل" and posts[2].edited_at is not None
    assert posts[5].deleted_at is not None and posts[5].text == "نص 4"
    with h.db.sessions() as s:
        texts = s.scalars(select(PostVersion.text).where(PostVersion.post_id == posts[2].id))
        assert sorted(texts) == ["نص 1", "نص معدل"]


def test_posts_outside_the_window_are_not_reread(db: Database, tmp_path: Path) -> None:
    h = Harness(db, tmp_path, recent_window_hours=1)
    h.fake.add_channel("old")
    h.fake.post("old", "قديم", date=utcnow() - timedelta(days=3))
    h.add("old")
    h.cycle()
    h.fake.delete("old", 1)
    assert h.cycle()["old"].deleted == 0  # beyond the window: kept as it was


def test_short_flood_wait_is_slept_through(h: Harness) -> None:
    h.fake.add_channel("kataib")
    for i in range(3):
        h.fake.post("kataib", f"منشور {i}")
    h.add("kataib")
    h.fake.fail("history", errors.FloodWaitError(request=None, capture=12))
    assert h.cycle()["kataib"].new == 3
    assert h.slept == [12]


def test_long_flood_wait_cools_the_channel_down_others_continue(h: Harness) -> None:
    for name in ("hot", "calm"):
        h.fake.add_channel(name)
        h.fake.post(name, "أول")
    h.add("hot", "calm")
    h.cycle()
    h.fake.post("hot", "ثان")
    h.fake.post("calm", "ثان")
    h.fake.fail("history", errors.FloodWaitError(request=None, capture=3600), handle="hot")
    results = h.cycle()
    assert results["hot"].outcome == "cooldown" and not results["hot"].failed
    assert results["calm"].new == 1
    hot = h.channel("hot")
    assert hot.cooldown_until is not None
    assert timedelta(minutes=59) < hot.cooldown_until - utcnow() <= timedelta(hours=1)
    assert "flood wait of 3600s" in (hot.last_error or "")
    with h.db.sessions() as s:
        account = s.scalars(select(Account)).one()
        assert account.status == "cooldown" and account.cooldown_until is not None
    h.fake.history_calls.clear()
    again = h.cycle()
    assert again["hot"].outcome == "cooldown" and "hot" not in h.fake.history_calls
    assert h.slept == []


def test_revoked_session_stops_every_channel_of_the_account(h: Harness) -> None:
    for name in ("one", "two", "three"):
        h.fake.add_channel(name)
        h.fake.post(name, "أول")
    h.add("one", "two", "three")
    h.cycle()
    h.fake.fail("history", errors.AuthKeyUnregisteredError(request=None))
    collector = h.collector()
    results = asyncio.run(collector.collect_many(collector.channel_ids()[:1]))
    assert results[0].status == "revoked" and "monitor login" in results[0].message
    h.fake.history_calls.clear()
    rest = asyncio.run(collector.collect_many(collector.channel_ids()[1:]))
    assert all(r.status == "revoked" for r in rest)
    assert not h.fake.history_calls  # no further calls on a dead session
    for name in ("one", "two", "three"):
        assert h.channel(name).status == "revoked"
    with h.db.sessions() as s:
        assert s.scalars(select(Account.status)).one() == "revoked"


def test_private_and_unknown_channels_are_recorded_run_continues(h: Harness) -> None:
    h.fake.add_channel("secret", private=True)
    h.fake.add_channel("open")
    h.fake.post("open", "مفتوح")
    h.add("secret", "nobody_here", "open")
    results = h.cycle()
    assert results["secret"].status == "private" and results["secret"].failed
    assert results["nobody_here"].status == "missing"
    assert "no Telegram channel is called @nobody_here" in results["nobody_here"].message
    assert results["open"].new == 1
    assert h.channel("secret").last_error == results["secret"].message


def test_stale_access_hash_is_resolved_again(h: Harness) -> None:
    h.fake.add_channel("moved")
    h.fake.post("moved", "أول")
    h.add("moved")
    h.cycle()
    with h.db.sessions.begin() as s:
        s.scalars(select(Channel).where(Channel.handle == "moved")).one().access_hash = 1
    assert h.cycle()["moved"].status == "stale"
    assert h.cycle()["moved"].outcome == "ok"
    assert h.fake.resolves == 2


class Killed(BaseException):
    """The process dying mid-run: nothing below the pipeline gets to clean up."""


def test_restart_after_a_kill_mid_run_stores_every_post_exactly_once(
    db: Database, tmp_path: Path
) -> None:
    h = Harness(db, tmp_path, ingest_batch_size=10, collect_max_posts=100)
    h.fake.add_channel("busy")
    for i in range(5):
        h.fake.post("busy", f"قبل {i}")
    h.add("busy")
    h.cycle()
    for i in range(250):
        h.fake.post("busy", f"أثناء الغياب {i}", skip_ids=1 if i % 37 == 0 else 0)
    batches = 0

    def kill_after_seven(session: Session, channel: Channel, changed: list[Changed]) -> None:
        nonlocal batches
        batches += 1
        if batches == 7:
            raise Killed

    h.pipeline.hooks.append(kill_after_seven)
    with pytest.raises(Killed):
        h.cycle()
    h.pipeline.hooks.remove(kill_after_seven)
    partial = h.posts("busy")
    assert 5 < len(partial) < 255
    for _ in range(4):
        h.cycle(h.collector())
    posts = h.posts("busy")
    expected = sorted(h.fake.channels["busy"].messages)
    assert sorted(posts) == expected and len(expected) == 255
    assert [posts[m].text for m in expected[:6]] == [
        *(f"قبل {i}" for i in range(5)),
        "أثناء الغياب 0",
    ]
    assert h.channel("busy").gaps == [] and h.channel("busy").cursor == expected[-1]
    with db.sessions() as s:
        assert len(s.scalars(select(PostVersion.id)).all()) == 255  # none stored twice


def test_backlog_beyond_the_budget_becomes_a_gap_and_is_backfilled(
    db: Database, tmp_path: Path
) -> None:
    h = Harness(db, tmp_path, collect_max_posts=100)
    h.fake.add_channel("flood")
    h.fake.post("flood", "أول")
    h.add("flood")
    h.cycle()
    for i in range(400):
        h.fake.post("flood", f"رقم {i}")
    # Newest 100 and oldest 100 of the backlog; the 200 between them are a gap, of which
    # the same pass back-fills another 100.
    h.cycle()
    assert h.channel("flood").gaps == [[201, 301]]
    assert len(h.posts("flood")) == 300
    h.cycle()
    assert h.channel("flood").gaps == [[301, 301]]
    h.cycle()
    assert h.channel("flood").gaps == []
    assert sorted(h.posts("flood")) == list(range(1, 402))


def test_session_file_is_used_by_one_process_at_a_time(tmp_path: Path) -> None:
    session = tmp_path / "telegram.session"
    with SessionLock(session), pytest.raises(ConfigError) as err:
        SessionLock(session).acquire()
    assert err.value.exit_code == 2 and "in use by another monitor process" in str(err.value)
    with SessionLock(session):  # released: usable again
        pass


def test_login_and_telethon_channels_without_credentials(run_cli: CliRunner, db: Database) -> None:
    login = run_cli("login", db_url=db.url)
    assert login.code == 2 and "MONITOR_TELEGRAM_API_ID" in login.err
    run_cli("channels", "add", "kataib", "--source", "telethon", db_url=db.url)
    result = run_cli("collect", "--once", db_url=db.url)
    assert result.code == 1
    assert "Telethon source is not configured" in result.err
