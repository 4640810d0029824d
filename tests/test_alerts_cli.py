"""`monitor subscribers …` and `monitor alerts send` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.alert_receivers import WebhookReceiver, webhook
from tests.conftest import SAMPLE, CliRunner
from tests.telegram_preview import Preview, serve

__all__ = ["webhook"]  # fixture


@pytest.fixture
def preview() -> Iterator[Preview]:
    yield from serve()


EXPECTED = json.loads((SAMPLE.parent / "expected.json").read_text(encoding="utf-8"))


def test_subscribe_import_send(run_cli: CliRunner, webhook: WebhookReceiver) -> None:
    assert run_cli("db", "upgrade").code == 0
    added = run_cli(
        "subscribers", "add", "desk", "--url", webhook.url, "--min-severity", "high",
        "--kind", "threat", "--kind", "attack_claim", "--kind", "allegiance",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert "json://127.0.0.1" in added.out
    imported = run_cli("import", str(SAMPLE), "--channel", "sarayat_alfajr",
                       MONITOR_ALERT_GROUP_SECONDS="0")  # fmt: skip
    assert imported.code == 0, imported.err
    sent = run_cli("alerts", "send", "--once")
    assert sent.code == 0, sent.err
    assert "0 failed" in sent.out
    titles = [h.body["title"] for h in webhook.received]
    assert titles and all(t.startswith(("[HIGH]", "[CRITICAL]")) for t in titles)
    assert any("threat" in t for t in titles) and any("attack_claim" in t for t in titles)
    listing = run_cli("subscribers", "list")
    assert "desk" in listing.out and "sent" in listing.out
    again = run_cli("alerts", "send", "--once")
    assert again.out.startswith("0 messages")
    assert run_cli("import", str(SAMPLE), "--channel", "sarayat_alfajr").code == 0
    assert run_cli("alerts", "send", "--once").out.startswith("0 messages")


def test_subscriber_test_message(run_cli: CliRunner, webhook: WebhookReceiver) -> None:
    run_cli("db", "upgrade")
    run_cli("subscribers", "add", "desk", "--url", webhook.url)
    ok = run_cli("subscribers", "test", "desk")
    assert ok.code == 0 and "test message delivered" in ok.out
    assert webhook.received[0].body["title"] == "[TEST] monitor alert subscription"
    webhook.stop()
    down = run_cli("subscribers", "test", "desk")
    assert down.code == 1 and "failed" in down.err


def test_bad_subscriptions_are_refused(run_cli: CliRunner) -> None:
    run_cli("db", "upgrade")
    bad_url = run_cli("subscribers", "add", "x", "--url", "nonsense://whatever")
    assert bad_url.code == 2 and "--url: not a notification URL" in bad_url.err
    bad_kind = run_cli("subscribers", "add", "x", "--url", "json://127.0.0.1/h", "--kind", "vibes")
    assert bad_kind.code == 2 and "--kind: unknown signal kind 'vibes'" in bad_kind.err
    bad_quiet = run_cli("subscribers", "add", "x", "--url", "json://127.0.0.1/h",
                        "--quiet-hours", "late")  # fmt: skip
    assert bad_quiet.code == 2 and "--quiet-hours" in bad_quiet.err
    bad_sev = run_cli("subscribers", "add", "x", "--url", "json://127.0.0.1/h",
                      "--min-severity", "apocalyptic")  # fmt: skip
    assert bad_sev.code == 2
    assert run_cli("subscribers", "remove", "nobody").code == 2
    assert "no subscriptions" in run_cli("subscribers", "list").out


def test_secrets_in_urls_are_not_listed(run_cli: CliRunner) -> None:
    run_cli("db", "upgrade")
    url = "tgram://123456789:AAHsecretTOKENvalue/-100987654321"
    added = run_cli("subscribers", "add", "bot", "--url", url)
    assert added.code == 0, added.err
    listing = run_cli("subscribers", "list")
    assert "AAHsecret" not in added.out + listing.out and "tgram://…" in listing.out


def test_run_once_collects_matches_and_alerts(
    run_cli: CliRunner, webhook: WebhookReceiver, preview: Preview
) -> None:
    """The whole service in one cycle: web preview → store → match → outbox → webhook."""
    ch = preview.channel("kahf_news", "أصحاب الكهف")
    ch.add("صباح الخير يا أهل العراق")
    ch.add("نعلن جاهزيتنا لقتال العدو الأمريكي في العراق وساحات أخرى")
    env = {"MONITOR_TELEGRAM_WEB_BASE": preview.base, "MONITOR_ALERT_GROUP_SECONDS": "0"}
    assert run_cli("db", "upgrade").code == 0
    run_cli("channels", "add", "kahf_news", "--source", "web", "--group", "Ashab al-Kahf")
    run_cli("subscribers", "add", "desk", "--url", webhook.url, "--min-severity", "medium")
    result = run_cli("run", "--once", **env)
    assert result.code == 0, result.err
    assert "1 of 1 channels collected" in result.out
    assert "alerts: 1 messages, 1 delivered" in result.out
    [hook] = webhook.received
    assert hook.body["title"].startswith("[HIGH] Ashab al-Kahf / kahf_news: readiness")
    again = run_cli("run", "--once", **env)
    assert "alerts: 0 messages" in again.out and len(webhook.received) == 1
