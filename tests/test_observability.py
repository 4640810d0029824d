"""Observability (issue #7): Prometheus metrics of the collector process, structured logs with
channel and run ids, and no secret in any log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from telethon import errors

from monitor import metrics
from monitor.alerts.render import Message, Renderer
from monitor.alerts.sender import Sender
from monitor.alerts.subscriptions import add_subscription
from monitor.collect.collector import Collector
from monitor.collect.fake import FakeTelegramClient
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.logs import configure_logging
from monitor.match import Matcher, load_rules
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.models import utcnow
from tests.alert_receivers import WebhookReceiver, free_port, webhook
from tests.conftest import CONFIG, CliRunner, Database
from tests.telegram_preview import Preview, serve

__all__ = ["webhook"]  # fixture

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"


@pytest.fixture
def preview() -> Iterator[Preview]:
    yield from serve()


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_collection_pass_counts_posts_flags_flood_waits_and_deliveries(
    db: Database, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path, alert_group_seconds=0)
    fake = FakeTelegramClient()
    fake.add_channel("kahf")
    for i in range(4):
        fake.post("kahf", f"بيان رقم {i}")
    fake.post("kahf", CUE)
    fake.fail("history", errors.FloodWaitError(request=None, capture=7))
    with db.sessions.begin() as s:
        ensure_channel(s, "kahf", source="telethon", group="Ashab al-Kahf")
        add_subscription(s, "desk", "json://127.0.0.1:9/hook", min_severity="low")
    matcher = Matcher(load_rules(CONFIG / "rules"), cache_dir=settings.cache_path)
    pipeline = build_pipeline(db.sessions, settings, matcher=matcher)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    source = TelethonSource(fake, sleep=sleep)
    labels = {"group": "Ashab al-Kahf", "source": "telethon"}
    before = {
        name: value(name, **labels)
        for name in (
            "monitor_posts_collected_total",
            "monitor_posts_ingested_total",
            "monitor_posts_flagged_total",
        )
    }
    passes = value("monitor_collection_duration_seconds_count", source="telethon", outcome="ok")
    flood = value("monitor_flood_wait_seconds_total", action="slept")
    matched = value("monitor_matcher_seconds_count")

    collector = Collector(pipeline, settings, {"telethon": source})
    [result] = asyncio.run(collector.collect_many(collector.channel_ids()))
    assert result.outcome == "ok" and result.new == 5 and slept == [7]

    assert (
        value("monitor_posts_collected_total", **labels) - before["monitor_posts_collected_total"]
        == 5
    )
    assert (
        value("monitor_posts_ingested_total", **labels) - before["monitor_posts_ingested_total"]
        == 5
    )
    assert (
        value("monitor_posts_flagged_total", **labels) - before["monitor_posts_flagged_total"] == 1
    )
    assert (
        value("monitor_collection_duration_seconds_count", source="telethon", outcome="ok")
        == passes + 1
    )
    assert value("monitor_flood_wait_seconds_total", action="slept") == flood + 7
    assert value("monitor_matcher_seconds_count") == matched + 5

    # One alert queued: the outbox depth shows it until a delivery succeeds.
    outcomes = iter([(False, "HTTP 500"), (True, None)])

    def notify(url: str, message: Message) -> tuple[bool, str | None]:
        return next(outcomes)

    cfg = Settings(var_dir=tmp_path, alert_retry_initial=60)
    sender = Sender(db.sessions, cfg, Renderer(CONFIG), notify=notify)
    sent = value("monitor_alert_deliveries_total", result="sent")
    retried = value("monitor_alert_deliveries_total", result="retry")
    sender.send_due()
    assert value("monitor_alert_deliveries_total", result="retry") == retried + 1
    assert value("monitor_alert_outbox_depth", status="pending") == 1
    later = Sender(
        db.sessions,
        cfg,
        Renderer(CONFIG),
        notify=notify,
        clock=lambda: utcnow() + timedelta(hours=2),
    )
    later.send_due()
    assert value("monitor_alert_deliveries_total", result="sent") == sent + 1
    assert value("monitor_alert_outbox_depth", status="pending") == 0


def test_metrics_port_serves_the_process_metrics_on_localhost() -> None:
    port = free_port()
    metrics.serve(port)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for name in (
        "monitor_posts_collected_total",
        "monitor_posts_ingested_total",
        "monitor_posts_flagged_total",
        "monitor_collection_duration_seconds_bucket",
        "monitor_flood_wait_seconds_total",
        "monitor_alert_deliveries_total",
        "monitor_alert_outbox_depth",
        "monitor_matcher_seconds_bucket",
        "monitor_database_up 1.0",
    ):
        assert name in body or name.split(" ")[0] in body.replace("# TYPE ", ""), name


def test_json_logs_carry_channel_and_run_ids(tmp_path: Path) -> None:
    stream = io.StringIO()
    settings = Settings(var_dir=tmp_path, log_format="json", log_level="INFO")
    handler = configure_logging(settings, stream=stream)
    try:
        from monitor.logs import log_context

        with log_context(channel="kahf", collection_run=42):
            logging.getLogger("monitor.test").warning("stored %d posts", 3, extra={"new": 3})
        logging.getLogger("monitor.test").info("no channel here")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "stored 3 posts" and first["level"] == "WARNING"
    assert first["logger"] == "monitor.test" and first["time"].endswith("+00:00")
    assert first["channel"] == "kahf" and first["collection_run"] == 42 and first["new"] == 3
    assert first["run"] == second["run"] and "channel" not in second


def test_no_secret_reaches_a_log_line(
    run_cli: CliRunner, db: Database, preview: Preview, webhook: WebhookReceiver
) -> None:
    api_hash = "0123456789abcdef0123456789abcdef"
    secret_key = "console-signing-key-V3ryS3cret"
    password = "hookPassw0rd-Secret"
    token = "T0kenInThePath1234567890abcdef"
    url = f"json://hookuser:{password}@127.0.0.1:{webhook.port}/hook/{token}"
    ch = preview.channel("kahf_news")
    ch.add(CUE)
    ch.add("بيان عادي")
    env = {
        "MONITOR_TELEGRAM_WEB_BASE": preview.base,
        "MONITOR_TELEGRAM_API_ID": "12345",
        "MONITOR_TELEGRAM_API_HASH": api_hash,
        "MONITOR_SECRET_KEY": secret_key,
        "MONITOR_LOG_FORMAT": "json",
        "MONITOR_LOG_LEVEL": "DEBUG",
        "MONITOR_ALERT_GROUP_SECONDS": "0",
        "MONITOR_ALERT_RETRY_INITIAL": "0",
    }
    for args in (
        ("channels", "add", "kahf_news"),
        ("channels", "add", "nosuch_channel"),
        ("channels", "add", "tg_channel", "--source", "telethon"),
        ("subscribers", "add", "desk", "--url", url, "--min-severity", "low"),
    ):
        done = run_cli(*args, db_url=db.url, **env)
        assert done.code == 0, done.err
    webhook.fail_next = 1  # the first delivery fails: apprise has something to complain about
    first = run_cli("run", "--once", db_url=db.url, **env)
    second = run_cli("alerts", "send", "--once", db_url=db.url, **env)
    try:
        assert first.code == 1  # two channels failed: missing, and no Telegram session
        assert len(webhook.received) >= 1  # the alert went out in the end
        everything = first.out + first.err + second.out + second.err
        for secret in (api_hash, secret_key, password, token):
            assert secret not in everything
        lines = [json.loads(line) for line in first.err.splitlines() if line.startswith("{")]
        assert lines, first.err
        assert all({"time", "level", "logger", "message", "run"} <= set(x) for x in lines)
        failed = [x for x in lines if x.get("channel") == "nosuch_channel"]
        assert any("no Telegram channel" in x["message"] for x in failed), failed
    finally:
        logging.getLogger().handlers[:] = [
            h for h in logging.getLogger().handlers if not getattr(h, "_monitor", False)
        ]
