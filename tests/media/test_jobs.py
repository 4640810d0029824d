"""Media jobs (#13): a post's image is fetched, hashed and read later, and the post is matched
again with the text of its image; whatever goes wrong with an image, the text verdict stands."""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from monitor.collect.records import MediaInfo, PostRecord
from monitor.config import Settings, load_settings
from monitor.match import Matcher, load_rules
from monitor.media.fetch import FetchError
from monitor.media.jobs import MediaSummary, MediaWorker
from monitor.media.ocr import OcrResult, OcrWord
from monitor.media.store import MediaStore
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.export import iter_posts
from monitor.store.models import Job, Match, MediaFile, Post
from monitor.store.search import match_clause
from tests.conftest import CONFIG, CliRunner, Database, add_channel

T0 = datetime(2024, 1, 28, 9, 0, tzinfo=UTC)
CLAIM = (
    "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة حرير "
    "في أربيل بطائرة مسيرة وحققت إصابة مباشرة"
)


def jpeg(color: str = "white", size: tuple[int, int] = (320, 200)) -> bytes:
    out = io.BytesIO()
    img = Image.new("RGB", size, color)
    for x in range(40, 280, 7):  # some structure, so the perceptual hash is not all zeros
        img.putpixel((x, 100), (0, 0, 0))
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class FakeFetcher:
    """Speaks MediaFetcher's interface: answers by URL from a table, or raises what it is told."""

    files: dict[str, bytes | FetchError] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def fetch(
        self, *, origin: str, url: str | None, path: str | None, channel: str, message_id: int
    ) -> bytes:
        key = url or path or f"{channel}/{message_id}"
        self.calls.append(key)
        answer = self.files.get(key, FetchError(f"not found: {key}", permanent=True))
        if isinstance(answer, FetchError):
            raise answer
        return answer

    async def aclose(self) -> None:
        pass


def reader_of(text: str) -> Callable[[Image.Image], OcrResult]:
    """An OCR reader that reads ``text`` off any image, with one box per word."""

    def read(img: Image.Image) -> OcrResult:
        words, pos = [], 0
        for i, w in enumerate(text.split(" ")):
            words.append(OcrWord(w, pos, pos + len(w), 20 + 30 * i, 40, 28, 20, 91.0))
            pos += len(w) + 1
        return OcrResult(
            text, 0.91, "tesseract", "5.3.0", "ara+eng", 6, img.width, img.height, tuple(words)
        )

    return read


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return Matcher(load_rules(CONFIG / "rules"), cache_dir=tmp_path_factory.getbasetemp() / "mc")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(media_dir=tmp_path / "media", media_attempts=3)


@pytest.fixture
def pipeline(db: Database, matcher: Matcher, settings: Settings) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, settings, matcher=matcher)


def photo_post(mid: int, caption: str, url: str, date: datetime | None = None) -> PostRecord:
    media = MediaInfo("photo", "image/jpeg", url=url)
    when = date or T0 + timedelta(minutes=mid)
    return PostRecord(mid, when, caption, "web", media=media)


def worker(
    pipeline: Pipeline, settings: Settings, fetcher: FakeFetcher, text: str | None = CLAIM
) -> MediaWorker:
    reader = reader_of(text) if text is not None else None
    return MediaWorker(pipeline, settings, fetcher, reader=reader)


def run(w: MediaWorker) -> MediaSummary:
    return asyncio.run(w.run_once())


def state(db: Database, mid: int) -> tuple[MediaFile, Job, Match]:
    with db.sessions() as s:
        post = s.scalars(select(Post).where(Post.message_id == mid)).one()
        media = s.scalars(select(MediaFile).where(MediaFile.post_id == post.id)).one()
        job = s.scalars(select(Job).where(Job.media_id == media.id)).one()
        match = s.scalars(select(Match).where(Match.post_id == post.id)).one()
        s.expunge_all()
        return media, job, match


def test_caption_plus_claim_in_the_image_is_a_flagged_claim(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    pipeline.store(cid, [photo_post(10, "بيان", "https://cdn4.telesco.pe/file/a.jpg")])
    media, job, match = state(db, 10)
    assert (media.status, job.state, match.flagged) == ("pending", "queued", False)

    fetcher = FakeFetcher({"https://cdn4.telesco.pe/file/a.jpg": jpeg()})
    summary = run(worker(pipeline, settings, fetcher))
    assert summary.read == 1 and summary.failed == 0
    media, job, match = state(db, 10)
    assert (media.status, job.state) == ("done", "done")
    assert media.sha256 and (settings.media_dir / media.sha256[:2] / media.sha256).is_file()
    assert media.phash and len(media.phash) == 16 and media.mime == "image/jpeg"
    assert media.ocr_text == CLAIM and media.ocr_engine == "tesseract"

    with db.sessions() as s:
        row = next(iter_posts(s))
        assert row["ocr"] == {"text": CLAIM, "confidence": 0.91, "engine": "tesseract 5.3.0"}
        assert row["media"]["phash"] == media.phash
        assert row["flagged"], row
        claims = [x for x in row["signals"] if x["kind"] == "attack_claim"]
        assert claims and all(x["layer"] == "ocr" for x in claims)
        for x in row["signals"]:
            layer = CLAIM if x.get("layer") == "ocr" else row["text"]
            assert layer[x["start"] : x["end"]] == x["matched"]
            for role in (x.get("roles") or {}).values():
                assert layer[role["start"] : role["end"]] == role["text"]
        # Search finds the post by a word that is only in its image.
        clause = match_clause(db.engine.dialect.name, ["حرير"])
        assert s.scalars(select(Post.message_id).where(clause)).all() == [10]


def test_a_bad_image_is_recorded_on_its_media_and_the_text_verdict_stands(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    threat = "نحذر قوات الاحتلال الأمريكي من أن قواعدها أصبحت أهدافا مشروعة لنا"
    pipeline.store(
        cid,
        [
            photo_post(1, threat, "https://cdn4.telesco.pe/file/empty.jpg"),
            photo_post(2, "صورة", "https://cdn4.telesco.pe/file/html.jpg"),
            photo_post(3, "صورة", "https://cdn4.telesco.pe/file/good.jpg"),
        ],
    )
    before = state(db, 1)[2]
    fetcher = FakeFetcher(
        {
            "https://cdn4.telesco.pe/file/empty.jpg": b"",
            "https://cdn4.telesco.pe/file/html.jpg": b"<html><script>alert(1)</script>",
            "https://cdn4.telesco.pe/file/good.jpg": jpeg(),
        }
    )
    w = worker(pipeline, settings, fetcher)
    summary = run(w)
    assert (summary.failed, summary.read) == (2, 1)
    failures = "\n".join(summary.failures)
    assert "message 1" in failures and "empty" in failures
    assert "message 2" in failures and "not an image" in failures
    media, job, match = state(db, 1)
    assert (media.status, job.state) == ("failed", "failed") and "empty" in (media.error or "")
    assert (match.flagged, match.severity, match.score) == (
        before.flagged,
        before.severity,
        before.score,
    )
    assert state(db, 3)[0].status == "done"  # the bad ones held nothing up
    assert run(w).failed == 0  # failed jobs are not tried again


def test_a_failed_download_is_retried_later_then_given_up(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    url = "https://cdn4.telesco.pe/file/slow.jpg"
    pipeline.store(cid, [photo_post(5, "بيان", url)])
    now = [T0]
    fetcher = FakeFetcher({url: FetchError("timed out after 20 s", permanent=False)})
    w = MediaWorker(pipeline, settings, fetcher, reader=reader_of(CLAIM), clock=lambda: now[0])
    now[0] = datetime.now(UTC)
    assert run(w).retrying == 1
    media, job, _ = state(db, 5)
    assert (media.status, job.state, job.attempts) == ("pending", "queued", 1)
    assert "timed out" in (media.error or "")
    assert run(w).retrying == 0  # not due yet: it waits
    now[0] += timedelta(hours=2)
    fetcher.files[url] = jpeg()
    assert run(w).read == 1
    media, job, match = state(db, 5)
    assert (media.status, job.state, match.flagged) == ("done", "done", True)
    assert media.error is None

    pipeline.store(cid, [photo_post(6, "بيان", "https://cdn4.telesco.pe/file/never.jpg")])
    fetcher.files["https://cdn4.telesco.pe/file/never.jpg"] = FetchError("503", permanent=False)
    results = []
    for _ in range(settings.media_attempts):
        now[0] += timedelta(hours=2)
        results.append(run(w))
    assert [r.failed for r in results] == [0, 0, 1]
    media, job, _ = state(db, 6)
    assert job.state == "failed" and "gave up after 3 attempts" in (media.error or "")


def test_without_tesseract_images_are_hashed_and_wait_for_ocr(
    db: Database, pipeline: Pipeline, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = add_channel(db, "muqawama_statements")
    url = "https://cdn4.telesco.pe/file/b.jpg"
    pipeline.store(cid, [photo_post(7, "بيان", url)])
    off = settings.model_copy(update={"ocr_enabled": False})
    w = MediaWorker(pipeline, off, FakeFetcher({url: jpeg()}))
    assert w.ocr_off_reason() == "OCR is off (setting ocr_enabled)"
    assert run(w).hashed == 1
    media, job, match = state(db, 7)
    assert media.phash and media.sha256 and media.ocr_text is None and media.status == "pending"
    assert job.state == "queued" and job.attempts == 0 and not match.flagged
    # Once it can read, the image already in the store is read; nothing is fetched again.
    fetcher = FakeFetcher()
    on = MediaWorker(
        pipeline,
        settings,
        fetcher,
        reader=reader_of(CLAIM),
        clock=lambda: datetime.now(UTC) + timedelta(hours=2),
    )
    assert run(on).read == 1 and fetcher.calls == []
    assert state(db, 7)[2].flagged


def test_two_workers_never_read_the_same_image(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    pipeline.store(
        cid, [photo_post(i, "بيان", f"https://cdn4.telesco.pe/file/{i}.jpg") for i in range(1, 7)]
    )
    fetcher = FakeFetcher({f"https://cdn4.telesco.pe/file/{i}.jpg": jpeg() for i in range(1, 7)})
    a = MediaWorker(pipeline, settings, fetcher, worker="a", reader=reader_of(CLAIM))
    b = MediaWorker(pipeline, settings, fetcher, worker="b", reader=reader_of(CLAIM))
    first, second = a.lease(4), b.lease(4)
    assert len(first) == 4 and len(second) == 2
    assert not {x.job_id for x in first} & {x.job_id for x in second}
    assert b.lease(4) == []  # all leased: nothing left until a lease runs out


def test_media_process_once_from_the_command_line(run_cli: CliRunner, tmp_path: Path) -> None:
    """The Done-when path without the network: a Desktop export with a photo, imported, read."""
    from tests.media.ocr_support import require_ocr

    require_ocr()
    export = tmp_path / "export"
    (export / "photos").mkdir(parents=True)
    sample = CONFIG / "sample" / "exports" / "images" / "claim.jpg"
    (export / "photos" / "claim.jpg").write_bytes(sample.read_bytes())
    (export / "result.json").write_text(
        json.dumps(
            {
                "name": "Statements",
                "type": "public_channel",
                "id": 1234567,
                "messages": [
                    {
                        "id": 41,
                        "type": "message",
                        "date": "2024-01-28T09:00:00",
                        "date_unixtime": "1706432400",
                        "photo": "photos/claim.jpg",
                        "width": 1000,
                        "height": 600,
                        "text": "بيان",
                        "text_entities": [{"type": "plain", "text": "بيان"}],
                    }
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    env = {"MONITOR_MEDIA_DIR": str(tmp_path / "media")}
    cli = run_cli
    assert cli("db", "upgrade", **env).code == 0
    assert cli("import", str(export), "--channel", "statements", **env).code == 0
    out = cli("media", "process", "--once", **env)
    assert out.code == 0, out.err
    assert "1 read" in out.out
    exported = cli("export", "posts", "--format", "jsonl", **env)
    row = json.loads(exported.out.splitlines()[0])
    assert row["ocr"]["engine"].startswith("tesseract") and "حرير" in row["ocr"]["text"]
    assert row["flagged"] and any(
        s["kind"] == "attack_claim" and s.get("layer") == "ocr" for s in row["signals"]
    )


def test_an_image_flag_is_alerted_once_quoting_the_text_of_the_image(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    from monitor.alerts.render import Renderer
    from monitor.alerts.subscriptions import add_subscription
    from monitor.store.models import AlertOutbox, utcnow

    with db.sessions.begin() as s:
        add_subscription(s, "claims", "json://127.0.0.1:9/hook", min_severity="low")
    cid = add_channel(db, "muqawama_statements")
    url = "https://cdn4.telesco.pe/file/c.jpg"
    # Posted an hour ago: an incident of old history is not alerted (#16, alerts/incidents.py).
    pipeline.store(cid, [photo_post(8, "بيان", url, utcnow() - timedelta(hours=1))])
    with db.sessions() as s:
        assert s.scalars(select(AlertOutbox)).all() == []  # "بيان" alone is nothing
    w = worker(pipeline, settings, FakeFetcher({url: jpeg()}))
    assert run(w).read == 1
    with db.sessions() as s:
        rows = s.scalars(select(AlertOutbox).order_by(AlertOutbox.id)).all()
        # The flag, and the incident its claim opens (#16): one alert each.
        assert [r.kind for r in rows] == ["flag", "incident"]
        payload = rows[0].payload
    assert payload["ocr_text"] == CLAIM and payload["spans"] == []
    for start, end, *_ in payload["ocr_spans"]:
        assert CLAIM[start:end]
    body = Renderer(CONFIG).render("flag", [("k", payload)]).body
    assert "Read from the image:" in body and "«" in body.split("Read from the image:")[1]
    # Read again (a re-run, or a rematch): the same alert is not queued twice.
    with db.sessions.begin() as s:
        s.execute(update(Job).values(state="queued", lease_until=None, attempts=0))
    assert run(w).read == 1
    with db.sessions() as s:
        assert len(s.scalars(select(AlertOutbox)).all()) == 2


def test_images_seen_only_over_telegram_wait_for_a_worker_with_the_account(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    media = MediaInfo("photo", "image/jpeg")  # Telethon could not download it during the pass
    pipeline.store(cid, [PostRecord(20, T0, "بيان", "telethon", media=media)])
    fetcher = FakeFetcher({"muqawama_statements/20": jpeg()})
    alone = MediaWorker(pipeline, settings, fetcher, reader=reader_of(CLAIM))
    assert alone.lease(4) == [] and fetcher.calls == []
    with_account = MediaWorker(pipeline, settings, fetcher, reader=reader_of(CLAIM), telegram=True)
    assert run(with_account).read == 1 and fetcher.calls == ["muqawama_statements/20"]


def test_an_image_that_crashes_the_reader_fails_alone_and_the_batch_goes_on(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    urls = [f"https://cdn4.telesco.pe/file/{i}.jpg" for i in range(1, 4)]
    pipeline.store(cid, [photo_post(i, "بيان", u) for i, u in enumerate(urls, 1)])
    fetcher = FakeFetcher({u: jpeg(size=(320 + 10 * i, 200)) for i, u in enumerate(urls)})
    claim = reader_of(CLAIM)

    def reader(img: Image.Image) -> OcrResult:
        if img.width == 330:  # the second post's image
            raise struct.error("unpack requires a buffer of 4 bytes")
        return claim(img)

    now = [datetime.now(UTC)]
    w = MediaWorker(pipeline, settings, fetcher, reader=reader, clock=lambda: now[0])
    summary = run(w)
    assert (summary.read, summary.retrying, summary.failed) == (2, 1, 0)
    media, job, _ = state(db, 2)
    assert (media.status, job.state) == ("pending", "queued")
    assert "unexpected error: error: unpack requires" in (media.error or "")
    for _ in range(settings.media_attempts - 1):
        now[0] += timedelta(hours=2)
        summary = run(w)
    assert summary.failed == 1 and "gave up after 3 attempts" in summary.failures[0]
    assert state(db, 2)[1].state == "failed"


def test_a_job_whose_worker_died_in_its_last_attempt_fails_instead_of_looping(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    url = "https://cdn4.telesco.pe/file/killer.jpg"
    pipeline.store(cid, [photo_post(1, "بيان", url)])
    now = [datetime.now(UTC)]
    fetcher = FakeFetcher({url: jpeg()})
    for attempt in range(1, settings.media_attempts + 1):
        # Each worker leases the job and is killed before it finishes (OOM, SIGKILL).
        dying = MediaWorker(pipeline, settings, fetcher, worker=f"w{attempt}", clock=lambda: now[0])
        assert [x.attempts for x in dying.lease(4)] == [attempt]
        now[0] += timedelta(minutes=11)
    survivor = MediaWorker(
        pipeline, settings, fetcher, reader=reader_of(CLAIM), clock=lambda: now[0]
    )
    assert survivor.lease(4) == [] and fetcher.calls == []
    media, job, _ = state(db, 1)
    assert (media.status, job.state) == ("failed", "failed")
    assert "worker stopped during the attempt (gave up after 3 attempts)" in (media.error or "")


def test_a_worker_does_not_read_a_job_another_worker_took_over(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    url = "https://cdn4.telesco.pe/file/slow.jpg"
    pipeline.store(cid, [photo_post(1, "بيان", url)])
    now = [datetime.now(UTC)]
    fetcher = FakeFetcher({url: jpeg()})
    slow = MediaWorker(pipeline, settings, fetcher, worker="slow", clock=lambda: now[0])
    (held,) = slow.lease(4)
    now[0] += timedelta(minutes=11)  # its lease ran out while earlier images were read
    fast = MediaWorker(
        pipeline, settings, fetcher, worker="fast", reader=reader_of(CLAIM), clock=lambda: now[0]
    )
    assert run(fast).read == 1
    assert not slow.queue.renew(held)
    assert fetcher.calls == [url]  # read once


def telethon_photo(mid: int, caption: str, sha: str, edited: datetime | None = None) -> PostRecord:
    media = MediaInfo("photo", "image/jpeg", sha256=sha)
    date = T0 + timedelta(minutes=mid)
    return PostRecord(mid, date, caption, "telethon", media=media, edited_at=edited)


def reader_by_width(texts: dict[int, str]) -> Callable[[Image.Image], OcrResult]:
    def read(img: Image.Image) -> OcrResult:
        return reader_of(texts[img.width])(img)

    return read


def test_a_post_edited_to_another_image_is_read_again_and_loses_the_old_text(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    store = MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes)
    claim_sha, banner_sha = store.put(jpeg(size=(320, 200))), store.put(jpeg(size=(400, 200)))
    fetcher = FakeFetcher()
    reader = reader_by_width({320: CLAIM, 400: "تهنئة بمناسبة المولد النبوي الشريف"})
    w = MediaWorker(pipeline, settings, fetcher, reader=reader)
    pipeline.store(cid, [telethon_photo(1, "بيان", claim_sha)])
    assert run(w).read == 1
    media, _, match = state(db, 1)
    assert match.flagged and media.sha256 == claim_sha

    # Telegram lets a message's photo be replaced with its caption kept.
    edited = telethon_photo(1, "بيان", banner_sha, edited=T0 + timedelta(hours=1))
    assert pipeline.store(cid, [edited]).edited == 1
    media, job, match = state(db, 1)
    assert (media.status, media.sha256, media.ocr_text, media.phash) == (
        "pending",
        banner_sha,
        None,
        None,
    )
    assert (job.state, job.attempts) == ("queued", 0)
    assert not match.flagged  # scored at once without the claim that is no longer shown
    assert run(w).read == 1
    media, job, match = state(db, 1)
    assert media.ocr_text and "المولد" in media.ocr_text and not match.flagged
    assert fetcher.calls == []  # both images were kept by the collector

    # Seen again unchanged: nothing is read again.
    pipeline.store(cid, [edited])
    assert run(w).read == 0


def test_a_reading_of_the_old_image_finishing_after_the_edit_is_dropped(
    db: Database, pipeline: Pipeline, settings: Settings
) -> None:
    cid = add_channel(db, "muqawama_statements")
    store = MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes)
    claim_sha, banner_sha = store.put(jpeg(size=(320, 200))), store.put(jpeg(size=(400, 200)))
    pipeline.store(cid, [telethon_photo(1, "بيان", claim_sha)])
    reader = reader_by_width({320: CLAIM, 400: "تهنئة بمناسبة المولد النبوي الشريف"})
    slow = MediaWorker(pipeline, settings, FakeFetcher(), worker="slow", reader=reader)
    (held,) = slow.lease(4)
    edited = telethon_photo(1, "بيان", banner_sha, edited=T0 + timedelta(hours=1))
    pipeline.store(cid, [edited])  # while the old image is being read
    assert asyncio.run(slow.process(held, None)) == "superseded"
    media, job, match = state(db, 1)
    assert (media.status, media.sha256, media.ocr_text) == ("pending", banner_sha, None)
    assert job.state == "queued" and not match.flagged
    summary = run(MediaWorker(pipeline, settings, FakeFetcher(), reader=reader))
    assert summary.read == 1
    assert not state(db, 1)[2].flagged
