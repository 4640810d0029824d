"""The web preview source: parsing t.me/s markup, and collecting over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.collect.collector import Collector
from monitor.collect.source import MarkupChanged, PassResult
from monitor.collect.web import WebSource, count, parse_page
from monitor.config import Settings
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.models import Channel, Post, PostVersion
from tests.conftest import CliRunner, Database
from tests.telegram_preview import FIXTURES, Preview, serve


@pytest.fixture
def preview() -> Iterator[Preview]:
    yield from serve()


def settings(tmp_path: Path, preview: Preview, **kw: object) -> Settings:
    return Settings(
        telegram_web_base=preview.base,
        var_dir=tmp_path,
        **kw,  # type: ignore[arg-type]
    )


def collect(db: Database, cfg: Settings, *handles: str, **web: object) -> list[PassResult]:
    with db.sessions.begin() as s:
        ids = [ensure_channel(s, h, source="web").id for h in handles]

    async def go() -> list[PassResult]:
        src = WebSource(
            cfg.telegram_web_base,
            max_pages=cfg.web_max_pages,
            retries=cfg.web_retries,
            backoff=0.001,
            **web,  # type: ignore[arg-type]
        )
        try:
            collector = Collector(build_pipeline(db.sessions, cfg), cfg, {"web": src})
            return await collector.collect_many(ids)
        finally:
            await src.aclose()

    return asyncio.run(go())


def stored(db: Database, handle: str) -> dict[int, Post]:
    with db.sessions() as s:
        ch = s.scalars(select(Channel).where(Channel.handle == handle)).one()
        return {p.message_id: p for p in s.scalars(select(Post).where(Post.channel_id == ch.id))}


def channel(db: Database, handle: str) -> Channel:
    with db.sessions() as s:
        return s.scalars(select(Channel).where(Channel.handle == handle)).one()


def test_parse_real_markup_fields() -> None:
    seen = datetime(2024, 3, 2, tzinfo=UTC)
    page = parse_page(
        (FIXTURES / "channel.html").read_text(encoding="utf-8"), "muqawama_iq", seen_at=seen
    )
    assert page.title == "المقاومة الإسلامية في العراق"
    assert page.listed == [100, 101, 103, 104, 105, 106, 107]  # the service post is listed
    posts = {r.message_id: r for r in page.records}
    assert sorted(posts) == [101, 103, 104, 105, 106, 107]  # ...but not stored
    first = posts[101]
    assert first.text == ("بيان عاجل 🔥\n﴿وَأَنتُمُ الْأَعْلَوْنَ إِن كُنتُم مُّؤْمِنِينَ﴾\n\n@muqawama_iq 🇮🇶")
    assert first.date == datetime(2024, 3, 1, 9, 15, 30, tzinfo=UTC)
    assert first.views == 1200 and first.edited_at == seen
    assert first.forwarded_from is not None
    assert (first.forwarded_from.channel, first.forwarded_from.message_id) == (
        "sabereen_news",
        4521,
    )
    assert first.forwarded_from.name == "صابرين نيوز"
    assert first.media is not None and first.media.type == "photo"
    reply = posts[103]
    assert reply.reply_to == 101 and reply.text == "مشاهد من استهداف القاعدة"  # not the quote
    assert reply.views == 3_400_000 and reply.edited_at is None
    assert reply.media is not None and (reply.media.type, reply.media.duration) == ("video", 65.0)
    assert posts[104].media is not None and posts[104].media.type == "voice"
    assert posts[104].media.duration == 7.0 and posts[104].text == ""
    doc = posts[105].media
    assert doc is not None and (doc.type, doc.size) == ("document", 1_500_000)
    assert posts[106].media is not None and posts[106].media.type == "poll"
    assert posts[107].media is not None and posts[107].media.type == "sticker"


@pytest.mark.parametrize(
    ("text", "value"),
    [("987", 987), ("1.2K", 1200), ("15K", 15000), ("3.4M", 3_400_000), ("", None), ("n/a", None)],
)
def test_view_counters(text: str, value: int | None) -> None:
    assert count(text) == value


@pytest.mark.parametrize("fixture", ["changed_markup.html", "no_time.html"])
def test_changed_markup_is_a_clear_error(fixture: str) -> None:
    with pytest.raises(MarkupChanged, match="muqawama_iq"):
        parse_page((FIXTURES / fixture).read_text(encoding="utf-8"), "muqawama_iq")


def test_collect_pages_back_to_cursor_then_one_request_when_idle(
    db: Database, preview: Preview, tmp_path: Path
) -> None:
    ch = preview.channel("kahf_news", "أصحاب الكهف")
    for i in range(30):
        ch.add(f"خبر رقم {i}\nسطر ثان")
    cfg = settings(tmp_path, preview)
    [first] = collect(db, cfg, "kahf_news")
    assert first.outcome == "ok" and first.new == 30
    assert channel(db, "kahf_news").title == "أصحاب الكهف"
    assert stored(db, "kahf_news")[1].text == "خبر رقم 0\nسطر ثان"

    for i in range(45):  # more than two pages while we were away
        ch.add(f"خبر جديد {i}", skip=1 if i == 10 else 0)  # one id never shown (deleted)
    preview.requests.clear()
    [second] = collect(db, cfg, "kahf_news")
    assert second.new == 45 and len(stored(db, "kahf_news")) == 75
    assert channel(db, "kahf_news").gaps == []
    # Back to the cursor (30), and on to post 1: all 30 old posts are in the 48-hour window.
    assert len(preview.requests) == 4

    preview.requests.clear()
    [idle] = collect(db, cfg, "kahf_news")
    assert (idle.new, idle.edited, idle.deleted) == (0, 0, 0)
    assert len(preview.requests) == 3  # the recent window: 50 posts = three pages


def test_edit_and_delete_in_recent_window(db: Database, preview: Preview, tmp_path: Path) -> None:
    ch = preview.channel("nujaba")
    for i in range(10):
        ch.add(f"منشور {i}")
    cfg = settings(tmp_path, preview)
    collect(db, cfg, "nujaba")
    ch.posts[4].text, ch.posts[4].edited = "منشور معدل", True
    del ch.posts[6]
    [result] = collect(db, cfg, "nujaba")
    assert (result.edited, result.deleted) == (1, 1)
    posts = stored(db, "nujaba")
    assert posts[4].text == "منشور معدل" and posts[4].edited_at is not None
    assert posts[6].deleted_at is not None and posts[6].text == "منشور 5"  # original kept
    with db.sessions() as s:
        versions = s.scalars(select(PostVersion.text).where(PostVersion.post_id == posts[4].id))
        assert sorted(versions) == ["منشور 3", "منشور معدل"]


def test_gap_recorded_when_backfill_fails_then_filled(
    db: Database, preview: Preview, tmp_path: Path
) -> None:
    ch = preview.channel("hezb")
    for i in range(5):
        ch.add(f"قديم {i}")
    cfg = settings(tmp_path, preview, web_max_pages=2, web_retries=2)
    collect(db, cfg, "hezb")
    for i in range(100):
        ch.add(f"جديد {i}")  # ids 6..105; two pages reach down to 66
    preview.fail_before["hezb"] = 66  # older pages answer 500
    [result] = collect(db, cfg, "hezb")
    assert result.outcome == "error" and result.status == "network"
    assert channel(db, "hezb").gaps == [[6, 65]]
    assert sorted(stored(db, "hezb")) == [*range(1, 6), *range(66, 106)]

    del preview.fail_before["hezb"]
    [result] = collect(db, cfg, "hezb")
    assert result.outcome == "ok"
    assert channel(db, "hezb").gaps == [[6, 25]]  # back-filling is bounded by web_max_pages
    collect(db, cfg, "hezb")
    assert channel(db, "hezb").gaps == []
    assert sorted(stored(db, "hezb")) == list(range(1, 106))


def test_missing_restricted_markup_and_network_errors_per_channel(
    db: Database, preview: Preview, tmp_path: Path
) -> None:
    preview.channel("good").add("سليم")
    preview.redirects["kataib_private"] = "landing_channel.html"
    preview.redirects["nosuch_channel"] = "landing_nobody.html"
    preview.files["redesigned"] = "changed_markup.html"
    cfg = settings(tmp_path, preview)
    results = {
        r.handle: r
        for r in collect(db, cfg, "good", "kataib_private", "nosuch_channel", "redesigned", "gone")
    }
    assert results["good"].outcome == "ok"
    assert results["kataib_private"].status == "no preview"
    assert "no public web preview" in results["kataib_private"].message
    assert results["nosuch_channel"].status == "missing"
    assert results["gone"].status == "missing"  # a 404
    assert results["redesigned"].status == "markup"
    assert "parser needs updating" in results["redesigned"].message
    assert channel(db, "redesigned").last_error == results["redesigned"].message


def test_unreachable_preview_is_a_network_error(db: Database, tmp_path: Path) -> None:
    # A port nobody listens on: connection refused, retried, then reported.
    cfg = Settings(telegram_web_base="http://127.0.0.1:9", var_dir=tmp_path, web_retries=2)
    with db.sessions.begin() as s:
        cid = ensure_channel(s, "offline", source="web").id

    async def go() -> PassResult:
        src = WebSource(cfg.telegram_web_base, retries=2, backoff=0.001)
        try:
            return await Collector(
                build_pipeline(db.sessions, cfg), cfg, {"web": src}
            ).collect_channel(cid)
        finally:
            await src.aclose()

    result = asyncio.run(go())
    assert result.status == "network" and "after 2 attempts" in result.message
    assert channel(db, "offline").status == "network"


def test_cli_collect_once_exit_codes_and_health(
    run_cli: CliRunner, db: Database, preview: Preview
) -> None:
    ch = preview.channel("kahf_news")
    for i in range(3):
        ch.add(f"بيان {i}")
    env = {"MONITOR_TELEGRAM_WEB_BASE": preview.base}
    assert run_cli("channels", "add", "kahf_news", db_url=db.url, **env).code == 0
    done = run_cli("collect", "--once", db_url=db.url, **env)
    assert done.code == 0, done.err
    assert "kahf_news: 3 new" in done.out

    run_cli("channels", "add", "nosuch_channel", db_url=db.url, **env)
    failed = run_cli("collect", "--once", db_url=db.url, **env)
    assert failed.code == 1
    assert "nosuch_channel: error: no Telegram channel is called @nosuch_channel" in failed.err
    listed = run_cli("channels", "list", db_url=db.url, **env)
    assert listed.code == 0, listed.err
    listing = listed.out
    assert "missing: no Telegram channel is called @nosuch_channel" in listing
    line = next(row for row in listing.splitlines() if row.startswith("kahf_news"))
    assert line.endswith(" ok")

    one = run_cli("collect", "--once", "--channel", "kahf_news", db_url=db.url, **env)
    assert one.code == 0 and "1 channels collected" not in one.err
    unknown = run_cli("collect", "--once", "--channel", "nobody", db_url=db.url, **env)
    assert unknown.code == 2 and "--channel" in unknown.err
