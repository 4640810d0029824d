"""Where each source says a post's image can be got (#13), and the media job's fetcher getting it:
the web preview over real HTTP on 127.0.0.1, an export's folder, and Telethon's fake client."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from telethon import errors
from telethon.tl import types

from monitor.collect.collector import Collector
from monitor.collect.export_message import message_to_record
from monitor.collect.fake import FakeTelegramClient, document, photo
from monitor.collect.records import PostRecord
from monitor.collect.source import ChannelState
from monitor.collect.telegram import TelegramClientLike, TelethonSource, best_thumb
from monitor.collect.web import WebSource, css_url, parse_page
from monitor.collect.wiring import telethon_source
from monitor.config import Settings
from monitor.media.fetch import FetchError, MediaFetcher, media_fetcher
from monitor.media.store import MediaStore
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.models import Channel, MediaFile, Post
from tests.conftest import Database
from tests.telegram_preview import Preview, jpeg, photo_path, serve


@pytest.fixture
def preview() -> Iterator[Preview]:
    yield from serve()


def fetcher(preview: Preview | None = None, **kw: Any) -> MediaFetcher:
    kw.setdefault("max_bytes", 1_000_000)
    kw.setdefault("backoff", 0.001)
    return MediaFetcher(web_base=preview.base if preview else "https://t.me", **kw)


def fetch(f: MediaFetcher, **where: Any) -> bytes:
    """One fetch with a fresh event loop, the fetcher closed after it like the job does."""
    where = {"url": None, "path": None, "channel": "c", "message_id": 1} | where

    async def go() -> bytes:
        try:
            return await f.fetch(**where)
        finally:
            await f.aclose()

    return asyncio.run(go())


def fetch_url(f: MediaFetcher, url: str) -> bytes:
    return fetch(f, origin="web", url=url)


def web_records(base: str, handle: str) -> list[PostRecord]:
    async def go() -> list[PostRecord]:
        src = WebSource(base, backoff=0.001)
        try:
            return [
                r
                async for batch in src.fetch(ChannelState(1, handle, 0), 0, 0)
                for r in batch.records
            ]
        finally:
            await src.aclose()

    return asyncio.run(go())


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request should have been made, got {request.url}")


# -- the web preview -----------------------------------------------------------------------


def test_web_photo_url_points_at_the_server_and_fetches_those_bytes(preview: Preview) -> None:
    image = jpeg()
    ch = preview.channel("kataib")
    ch.add("بيان رقم ١", photo=image)
    ch.add("نص فقط")
    posts = {r.message_id: r for r in web_records(preview.base, "kataib")}
    media = posts[1].media
    assert media is not None and media.type == "photo" and media.mime == "image/jpeg"
    assert media.url == preview.base + photo_path("kataib", 1)
    assert posts[2].media is None

    data = fetch_url(media_fetcher(Settings(telegram_web_base=preview.base)), media.url)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(image).hexdigest()
    assert data[:3] == b"\xff\xd8\xff"  # a JPEG, as served


def test_web_collector_stores_the_address_the_fetcher_then_gets(
    db: Database, tmp_path: Path, preview: Preview
) -> None:
    image = jpeg((64, 64))
    preview.channel("kataib").add("بيان رقم ٢", photo=image)
    settings = Settings(
        telegram_web_base=preview.base, var_dir=tmp_path, media_dir=tmp_path / "media"
    )
    with db.sessions.begin() as s:
        ids = [ensure_channel(s, "kataib", source="web").id]

    async def collect() -> None:
        src = WebSource(preview.base, backoff=0.001)
        try:
            collector = Collector(build_pipeline(db.sessions, settings), settings, {"web": src})
            (result,) = await collector.collect_many(ids)
            assert result.outcome == "ok", result.message
        finally:
            await src.aclose()

    asyncio.run(collect())
    with db.sessions() as s:
        row = s.scalars(select(MediaFile)).one()
        post = s.get(Post, row.post_id)
        assert post is not None and post.text == "بيان رقم ٢" and post.media_type == "photo"
        assert (row.origin, row.url, row.sha256) == (
            "web",
            preview.base + photo_path("kataib", 1),
            None,
        )
    data = fetch(media_fetcher(settings), origin=row.origin, url=row.url)
    assert hashlib.sha256(data).digest() == hashlib.sha256(image).digest()


def test_web_video_keeps_its_still_and_an_album_its_first_photo() -> None:
    page = """<section class="tgme_channel_history">
    <div class="tgme_widget_message" data-post="c/1">
      <a class="tgme_widget_message_video_player">
        <i class="tgme_widget_message_video_thumb"
           style="background-image:url('https://cdn1.telesco.pe/file/still.jpg')"></i>
        <time class="message_video_duration">0:42</time></a>
      <a class="tgme_widget_message_date"><time datetime="2024-03-01T09:00:00+00:00"></time></a>
    </div>
    <div class="tgme_widget_message" data-post="c/2">
      <div class="tgme_widget_message_grouped_wrap">
        <a class="tgme_widget_message_photo_wrap"
           style="background-image:url(&quot;https://cdn4.cdn-telegram.org/file/a.jpg&quot;)"></a>
        <a class="tgme_widget_message_photo_wrap"
           style="background-image:url('https://cdn4.cdn-telegram.org/file/b.jpg')"></a>
      </div>
      <a class="tgme_widget_message_date"><time datetime="2024-03-01T09:01:00+00:00"></time></a>
    </div></section>"""
    posts = {r.message_id: r for r in parse_page(page, "c").records}
    video, album = posts[1].media, posts[2].media
    assert video is not None and video.type == "video" and video.duration == 42.0
    assert video.url == "https://cdn1.telesco.pe/file/still.jpg"
    assert album is not None and album.url == "https://cdn4.cdn-telegram.org/file/a.jpg"


@pytest.mark.parametrize(
    "style",
    [
        "background-image:url('javascript:alert(1)')",
        "background-image:url(JavaScript:alert(1))",
        "background-image:url('data:image/jpeg;base64,/9j/4AAQ')",
        "background-image:url('file:///etc/passwd')",
        "background-image:url('https://cdn4.telesco.pe/file/a\\').jpg')",  # a CSS escape
        "background-image:url('https://cdn4.telesco.pe/fi le.jpg')",
        "background-image:url('https://t.me@169.254.169.254/latest')",  # userinfo
        "background-image:url('//cdn4.telesco.pe/file/a.jpg')",  # no scheme
        "background-image:url('/file/a.jpg')",
        "background-image:url('https://cdn4.telesco.pe:99999/a.jpg')",
        "background-image:url('https://cdn4.telesco.pe/\u202efile.jpg')",
        "background-image:url('https://cdn4.telesco.pe/" + "a" * 3000 + "')",
        "background-image:url()",
        "color:red",
        None,
    ],
)
def test_hostile_css_url_gives_no_address(style: str | None) -> None:
    assert css_url(style) is None


def test_hostile_page_url_is_kept_out_of_the_record() -> None:
    page = """<section class="tgme_channel_history">
    <div class="tgme_widget_message" data-post="c/1">
      <a class="tgme_widget_message_photo_wrap" style="background-image:url('javascript:x()')"></a>
      <a class="tgme_widget_message_date"><time datetime="2024-03-01T09:00:00+00:00"></time></a>
    </div></section>"""
    (rec,) = parse_page(page, "c").records
    assert rec.media is not None and rec.media.type == "photo" and rec.media.url is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x.jpg",
        "https://cdn4.telesco.pe.evil.example/x.jpg",
        "https://nottelesco.pe/x.jpg",
        "http://cdn4.telesco.pe/x.jpg",  # Telegram's hosts over https only
        "https://cdn4.telesco.pe:8443/x.jpg",
        "https://t.me@127.0.0.1/x.jpg",
        "https://127.0.0.1/x.jpg",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x.jpg",
        "ftp://t.me/x.jpg",
        "javascript:alert(1)",
        "https://t.me\\@evil.example/x.jpg",
    ],
)
def test_fetcher_refuses_other_hosts_without_asking(url: str) -> None:
    f = fetcher(transport=httpx.MockTransport(no_network))
    with pytest.raises(FetchError) as caught:
        fetch_url(f, url)
    assert caught.value.permanent and "refused image address" in str(caught.value)
    assert f.requests == 0


def test_fetcher_asks_telegram_cdn_hosts() -> None:
    asked: list[str] = []

    def cdn(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, content=b"img", headers={"Content-Type": "image/jpeg"})

    for url in (
        "https://cdn4.telesco.pe/file/a.jpg",
        "https://telesco.pe/file/a.jpg",
        "https://cdn5.cdn-telegram.org/file/a.jpg",
        "https://t.me/i/userpic/320/x.jpg",
        "https://telegram.me/x.jpg",
        "https://web.telegram.org/x.jpg",
    ):
        assert fetch_url(fetcher(transport=httpx.MockTransport(cdn)), url) == b"img"
    assert len(asked) == 6


def test_fetcher_allows_the_preview_base_host_and_port_only(preview: Preview) -> None:
    preview.media["/file/x.jpg"] = b"\xff\xd8data"
    assert fetch_url(fetcher(preview), preview.base + "/file/x.jpg") == b"\xff\xd8data"
    port = int(preview.base.rsplit(":", 1)[1])
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/file/x.jpg"
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview), other)
    assert caught.value.permanent


@pytest.mark.parametrize("with_length", [True, False])
def test_response_over_the_cap_is_cut_off(preview: Preview, with_length: bool) -> None:
    path = "/file/big.jpg"
    preview.media[path] = b"\xff" * 300_000
    if not with_length:
        preview.media_no_length.add(path)  # only counting the body can catch this one
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview, max_bytes=100_000), preview.base + path)
    assert caught.value.permanent and "media_max_bytes" in str(caught.value)
    # And just under the cap, the same file comes through whole.
    preview.media[path] = b"\xff" * 100_000
    assert len(fetch_url(fetcher(preview, max_bytes=100_000), preview.base + path)) == 100_000


def test_503_then_200_is_retried(preview: Preview) -> None:
    path = "/file/flaky.jpg"
    preview.media[path] = jpeg()
    preview.media_status[path] = [503, 502]
    assert fetch_url(fetcher(preview, retries=3), preview.base + path) == preview.media[path]
    assert preview.requests.count(path) == 3


def test_server_errors_past_the_retries_are_worth_another_attempt(preview: Preview) -> None:
    path = "/file/down.jpg"
    preview.media[path] = jpeg()
    preview.media_status[path] = [503, 503]
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview, retries=2), preview.base + path)
    assert not caught.value.permanent and "after 2 attempts" in str(caught.value)


def test_timeouts_and_refused_connections_are_retried_then_not_permanent() -> None:
    calls = 0

    def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(transport=httpx.MockTransport(slow), retries=3), "https://t.me/a.jpg")
    assert not caught.value.permanent and calls == 3


def test_a_server_dripping_bytes_runs_into_the_deadline() -> None:
    async def drip() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.02)
            yield b"\xff"

    def slow(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "image/jpeg"}, content=drip())

    f = fetcher(transport=httpx.MockTransport(slow), retries=2, timeout=1.0, deadline=0.2)
    with pytest.raises(FetchError) as caught:
        fetch_url(f, "https://t.me/a.jpg")
    assert not caught.value.permanent and "within 0.2s" in str(caught.value)
    assert f.requests == 2


def test_missing_image_is_permanent(preview: Preview) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview), preview.base + "/file/nothing.jpg")
    assert caught.value.permanent and "HTTP 404" in str(caught.value)


def test_html_instead_of_an_image_is_refused(preview: Preview) -> None:
    preview.channel("kataib").add("x")
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview), preview.base + "/s/kataib")
    assert caught.value.permanent and "not an image" in str(caught.value)


def test_redirects_stay_on_the_same_host(preview: Preview) -> None:
    preview.media["/file/real.jpg"] = b"\xff\xd8ok"
    preview.media_redirects["/file/moved.jpg"] = "/file/real.jpg"
    preview.media_redirects["/file/away.jpg"] = "http://169.254.169.254/latest/meta-data"
    assert fetch_url(fetcher(preview), preview.base + "/file/moved.jpg") == b"\xff\xd8ok"
    with pytest.raises(FetchError) as caught:
        fetch_url(fetcher(preview), preview.base + "/file/away.jpg")
    assert caught.value.permanent and "another host" in str(caught.value)
    assert not any("latest" in r for r in preview.requests)


# -- exports -------------------------------------------------------------------------------


def exported(mid: int = 1, **fields: Any) -> dict[str, Any]:
    return {"id": mid, "type": "message", "date_unixtime": "1709280000", "text": "بيان", **fields}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "p.jpg").write_bytes(jpeg())
    (root / "video_files").mkdir()
    (root / "video_files" / "v.mp4").write_bytes(b"not really a video")
    (root / "video_files" / "v.mp4_thumb.jpg").write_bytes(jpeg((16, 16)))
    (root / "files").mkdir()
    (root / "files" / "scan.png").write_bytes(b"\x89PNG fake")
    (tmp_path / "secret.jpg").write_bytes(b"outside the export")
    return root


def test_export_photo_gives_path_and_sha256(export: Path) -> None:
    rec = message_to_record(exported(photo="photos/p.jpg"), media_root=export)
    assert rec is not None and rec.media is not None
    expected = (export / "photos" / "p.jpg").resolve()
    assert rec.media.path == str(expected) and os.path.isabs(rec.media.path)
    assert rec.media.sha256 == hashlib.sha256(expected.read_bytes()).hexdigest()

    data = fetch(fetcher(), origin="export", path=rec.media.path)
    assert hashlib.sha256(data).hexdigest() == rec.media.sha256


def test_export_video_path_is_its_thumbnail_and_image_files_their_own(export: Path) -> None:
    video = message_to_record(
        exported(
            file="video_files/v.mp4",
            thumbnail="video_files/v.mp4_thumb.jpg",
            media_type="video_file",
            mime_type="video/mp4",
        ),
        media_root=export,
    )
    assert video is not None and video.media is not None and video.media.type == "video"
    assert video.media.path == str((export / "video_files" / "v.mp4_thumb.jpg").resolve())
    assert video.media.sha256 == hashlib.sha256(b"not really a video").hexdigest()

    scan = message_to_record(
        exported(file="files/scan.png", mime_type="image/png"), media_root=export
    )
    assert scan is not None and scan.media is not None
    assert scan.media.path == str((export / "files" / "scan.png").resolve())

    pdf = message_to_record(
        exported(file="files/scan.png", mime_type="application/pdf"), media_root=export
    )
    assert pdf is not None and pdf.media is not None and pdf.media.path is None


@pytest.mark.parametrize(
    "relative",
    [
        "../secret.jpg",
        "photos/../../secret.jpg",
        "photos/link.jpg",  # a symlink inside pointing outside
        "photos/dirlink/secret.jpg",  # a linked folder leading outside
        "photos/missing.jpg",
        "(File not included. Change data exporting settings to download.)",
        "photos",  # a folder
        "photos/loop.jpg",
        "/etc/passwd",
        "photos/p.jpg\0.png",
        "",
    ],
)
def test_export_photo_outside_the_folder_gives_no_path(export: Path, relative: str) -> None:
    (export / "photos" / "link.jpg").symlink_to(export.parent / "secret.jpg")
    (export / "photos" / "dirlink").symlink_to(export.parent, target_is_directory=True)
    (export / "photos" / "loop.jpg").symlink_to(export / "photos" / "loop.jpg")
    rec = message_to_record(exported(photo=relative), media_root=export)
    assert rec is not None and rec.media is not None
    assert rec.media.path is None and rec.media.sha256 is None
    assert rec.text == "بيان"  # the post itself is read all the same


def test_export_symlink_inside_the_folder_is_followed(export: Path) -> None:
    (export / "photos" / "alias.jpg").symlink_to(export / "photos" / "p.jpg")
    rec = message_to_record(exported(photo="photos/alias.jpg"), media_root=export)
    assert rec is not None and rec.media is not None
    assert rec.media.path == str((export / "photos" / "p.jpg").resolve())


def test_export_file_gone_or_swapped_for_a_link_is_permanent(export: Path) -> None:
    rec = message_to_record(exported(photo="photos/p.jpg"), media_root=export)
    assert rec is not None and rec.media is not None and rec.media.path is not None
    path = Path(rec.media.path)

    def again() -> bytes:
        return fetch(fetcher(), origin="export", path=str(path))

    path.unlink()
    path.symlink_to(export.parent / "secret.jpg")
    with pytest.raises(FetchError) as caught:
        again()
    assert caught.value.permanent and "symlink" in str(caught.value)
    path.unlink()
    with pytest.raises(FetchError) as caught:
        again()
    assert caught.value.permanent and str(caught.value) == f"export file gone: {path}"


def test_export_file_over_the_cap_is_permanent(export: Path) -> None:
    big = export / "photos" / "big.jpg"
    big.write_bytes(b"\xff" * 5000)
    with pytest.raises(FetchError) as caught:
        fetch(fetcher(max_bytes=4096), origin="export", path=str(big))
    assert caught.value.permanent and "media_max_bytes" in str(caught.value)


def test_export_without_the_file_is_permanent() -> None:
    with pytest.raises(FetchError) as caught:
        fetch(fetcher(), origin="export")
    assert caught.value.permanent


# -- Telethon ------------------------------------------------------------------------------


def telethon_records(source: TelethonSource, handle: str) -> list[PostRecord]:
    async def go() -> list[PostRecord]:
        return [
            r
            async for batch in source.fetch(ChannelState(1, handle, 0), 0, 0)
            for r in batch.records
        ]

    return asyncio.run(go())


def video_with_still(size: int = 5_000_000) -> types.MessageMediaDocument:
    media = document("video/mp4", size, types.DocumentAttributeVideo(30, 1280, 720))
    assert isinstance(media.document, types.Document)
    media.document.thumbs = [
        types.PhotoStrippedSize("i", b"\x01\x28\x28"),
        types.PhotoSize("m", 320, 180, 9_000),
    ]
    return media


@pytest.mark.parametrize(("cap", "size"), [(250_000, "y"), (150_000, "m"), (60_000, "m")])
def test_photo_is_downloaded_at_its_largest_size_under_the_cap(
    tmp_path: Path, cap: int, size: str
) -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "بيان", media=photo(200_000))  # sizes: m 50 kB, y up to 200 kB
    store = MediaStore(tmp_path / "media", max_bytes=cap)
    (rec,) = telethon_records(TelethonSource(fake, media=store), "kataib")
    assert fake.downloaded == [(1, size)]
    expected = f"media of message 1, size {size}".encode()
    assert rec.media is not None and rec.media.sha256 == hashlib.sha256(expected).hexdigest()
    assert store.read(rec.media.sha256) == expected


def test_photo_with_no_size_under_the_cap_is_not_downloaded(tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "بيان", media=photo(200_000))
    store = MediaStore(tmp_path / "media", max_bytes=1_000)
    (rec,) = telethon_records(TelethonSource(fake, media=store), "kataib")
    assert fake.downloads == 0 and rec.media is not None and rec.media.sha256 is None


def test_best_thumb_skips_the_stripped_blur_and_video_sizes() -> None:
    sizes = [
        types.PhotoStrippedSize("i", b"\x01" * 50),
        types.PhotoCachedSize("s", 90, 90, b"\xff" * 900),
        types.VideoSize("u", 640, 640, 100),
        types.PhotoPathSize("j", b"path"),
    ]
    assert best_thumb(sizes, 10_000) == "s"
    assert best_thumb(sizes[:1], 10_000) is None
    assert best_thumb(None, 10_000) is None


def test_video_keeps_its_still_only_unless_files_are_asked_for(tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "فيديو", media=video_with_still())
    fake.post("kataib", "ملف", media=document("image/png", 4_000))
    fake.post("kataib", "صوت", media=document("audio/ogg", 4_000))
    images = MediaStore(tmp_path / "media", max_bytes=100_000)
    video, png, ogg = telethon_records(TelethonSource(fake, media=images), "kataib")
    assert fake.downloaded == [(1, "m"), (2, None)]  # the still, the image file; no video
    assert video.media is not None and video.media.sha256 is None
    still = b"media of message 1, size m"
    assert video.media.thumb_sha256 == hashlib.sha256(still).hexdigest()
    assert png.media is not None and png.media.sha256 is not None
    assert images.has(png.media.sha256)
    assert ogg.media is not None and ogg.media.sha256 is None

    fake.downloaded.clear()
    files = MediaStore(tmp_path / "media", max_bytes=10_000_000)
    video, _, ogg = telethon_records(TelethonSource(fake, media=images, files=files), "kataib")
    assert fake.downloaded == [(1, "m"), (1, None), (2, None), (3, None)]
    assert video.media is not None and video.media.thumb_sha256 is not None
    assert video.media.sha256 == hashlib.sha256(b"media of message 1").hexdigest()
    assert ogg.media is not None and ogg.media.sha256 is not None


@pytest.mark.parametrize(
    "exc",
    [
        OSError("connection reset"),
        errors.FileReferenceExpiredError(request=None),
        RuntimeError("telethon bug"),
    ],
)
def test_failing_download_keeps_the_text_and_no_sha256(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture, exc: Exception
) -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "بيان رقم ٧", media=photo(1_000))
    fake.post("kataib", "بيان رقم ٨", media=photo(1_000))
    fake.fail("download", exc)
    settings = Settings(var_dir=tmp_path, media_dir=tmp_path / "media")
    with db.sessions.begin() as s:
        ids = [ensure_channel(s, "kataib", source="telethon").id]
    source = telethon_source(fake, settings)
    collector = Collector(build_pipeline(db.sessions, settings), settings, {"telethon": source})
    with caplog.at_level(logging.WARNING, logger="monitor.collect.telegram"):
        (result,) = asyncio.run(collector.collect_many(ids))
    assert result.outcome == "ok", result.message
    with db.sessions() as s:
        ch = s.scalars(select(Channel).where(Channel.handle == "kataib")).one()
        posts = {p.message_id: p for p in s.scalars(select(Post).where(Post.channel_id == ch.id))}
    assert posts[1].text == "بيان رقم ٧" and posts[1].media_sha256 is None
    assert posts[2].media_sha256 is not None  # the next download went through
    assert any("media of message 1 not downloaded" in r.getMessage() for r in caplog.records)


def test_long_flood_wait_on_a_download_pauses_downloads_not_the_channel(tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    for n in range(3):
        fake.post("kataib", f"بيان {n}", media=photo(1_000))
    fake.fail("download", errors.FloodWaitError(request=None, capture=3600))
    source = TelethonSource(fake, media=MediaStore(tmp_path, max_bytes=10_000))
    records = telethon_records(source, "kataib")
    assert [r.text for r in records] == ["بيان 0", "بيان 1", "بيان 2"]
    assert all(r.media is not None and r.media.sha256 is None for r in records)
    assert fake.downloads == 1  # the other two waited for the media job


def test_wiring_always_keeps_images_and_other_files_only_when_asked(tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    plain = telethon_source(fake, Settings(media_dir=tmp_path / "m", media_max_bytes=50_000))
    assert plain.media is not None and plain.media.root == tmp_path / "m"
    assert plain.media.max_bytes == 50_000 and plain.files is None
    both = telethon_source(
        fake,
        Settings(
            media_dir=tmp_path / "m", telegram_download_media=True, telegram_media_max_bytes=7_000
        ),
    )
    assert both.files is not None and both.files.max_bytes == 7_000
    assert both.files.root == tmp_path / "m"


def client_factory(fake: FakeTelegramClient) -> Any:
    @asynccontextmanager
    async def open_fake() -> AsyncIterator[TelegramClientLike]:
        yield fake

    return open_fake


def test_fetcher_downloads_a_telethon_image_through_the_account() -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "قبل")
    fake.post("kataib", "بيان", media=photo(200_000))
    fake.post("kataib", "بعد")
    f = fetcher(max_bytes=120_000, telegram=client_factory(fake))
    assert fetch(f, origin="telethon", channel="kataib", message_id=2) == (
        b"media of message 2, size m"
    )
    assert fake.downloaded == [(2, "m")]


def test_fetcher_telethon_failures() -> None:
    fake = FakeTelegramClient()
    fake.add_channel("kataib")
    fake.post("kataib", "نص")
    fake.post("kataib", "بيان", media=photo(1_000))

    def go(f: MediaFetcher, mid: int, channel: str = "kataib") -> bytes:
        return fetch(f, origin="telethon", channel=channel, message_id=mid)

    with pytest.raises(FetchError) as caught:
        go(fetcher(), 2)
    assert caught.value.permanent and str(caught.value).startswith("needs a Telegram account: ")

    with pytest.raises(FetchError) as caught:  # no media on the message (or it was deleted)
        go(fetcher(telegram=client_factory(fake)), 1)
    assert caught.value.permanent

    with pytest.raises(FetchError) as caught:
        go(fetcher(telegram=client_factory(fake)), 2, channel="nosuch")
    assert caught.value.permanent

    fake.fail("download", errors.FloodWaitError(request=None, capture=60))
    with pytest.raises(FetchError) as caught:
        go(fetcher(telegram=client_factory(fake)), 2)
    assert not caught.value.permanent and "flood wait" in str(caught.value)

    fake.fail("download", OSError("reset"))
    with pytest.raises(FetchError) as caught:
        go(fetcher(telegram=client_factory(fake)), 2)
    assert not caught.value.permanent


def test_records_compare_equal_whatever_the_image_address() -> None:
    date = datetime(2024, 3, 1, tzinfo=UTC)
    page = """<section class="tgme_channel_history">
    <div class="tgme_widget_message" data-post="c/1">
      <a class="tgme_widget_message_photo_wrap" style="background-image:url('https://t.me/%s')"></a>
      <a class="tgme_widget_message_date"><time datetime="2024-03-01T09:00:00+00:00"></time></a>
    </div></section>"""
    first = parse_page(page % "a.jpg", "c", seen_at=date).records
    second = parse_page(page % "b.jpg", "c", seen_at=date).records
    assert first == second and first[0].media is not None and first[0].media.url is not None


@pytest.mark.parametrize("location", ["http://[::1", "//[zz]/x.jpg", "https://t.me/x\x00y"])
def test_a_malformed_redirect_is_permanent_and_asked_once(location: str) -> None:
    def moved(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers=[(b"location", location.encode())])

    f = fetcher(transport=httpx.MockTransport(moved))
    with pytest.raises(FetchError) as caught:
        fetch_url(f, "https://t.me/a.jpg")
    assert caught.value.permanent and "malformed address" in str(caught.value)
    assert f.requests == 1
