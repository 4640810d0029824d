"""Alerts end to end: flag → outbox (same transaction) → sender → real local receivers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.alerts.render import Message, Renderer
from monitor.alerts.sender import Sender, apprise_notify
from monitor.alerts.subscriptions import add_subscription
from monitor.collect.collector import Collector
from monitor.collect.leases import Leases
from monitor.collect.records import PostRecord
from monitor.config import Settings, load_settings
from monitor.match import Matcher, load_rules
from monitor.pipeline import Pipeline, build_pipeline
from monitor.scheduler import Service
from monitor.store.models import AlertOutbox, Delivery, Subscription, utcnow
from tests.alert_receivers import SmtpReceiver, WebhookReceiver, smtp, webhook
from tests.conftest import CONFIG, Database, add_channel

__all__ = ["smtp", "webhook"]  # fixtures

CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
READY = "نعلن جاهزيتنا لقتال العدو الأمريكي في العراق وساحات أخرى"  # readiness, high with group
THREAT = "ستدفعون الثمن أيها الأمريكان"  # a lone threat: low


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return Matcher(
        load_rules(CONFIG / "rules"), cache_dir=tmp_path_factory.getbasetemp() / "match-cache"
    )


class Clock:
    """Real time, plus however far a test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **kw: float) -> None:
        self.offset += timedelta(**kw)


@dataclass
class World:
    db: Database
    settings: Settings
    pipeline: Pipeline
    clock: Clock
    mid: int = 0

    def channel(self, handle: str, group: str | None = None, parent: str | None = None) -> int:
        return add_channel(self.db, handle, group, parent)

    def post(self, channel_id: int, text: str, mid: int | None = None, **kw: Any) -> int:
        if mid is None:
            self.mid += 1
            mid = self.mid
        rec = PostRecord(mid, utcnow() - timedelta(minutes=1), text, "telethon", **kw)
        self.pipeline.store(channel_id, [rec])
        return mid

    def subscribe(self, name: str, url: str, **kw: Any) -> None:
        with self.db.sessions.begin() as s:
            add_subscription(s, name, url, **kw)

    def sender(
        self, notify: Callable[[str, Message], tuple[bool, str | None]] | None = None
    ) -> Sender:
        return Sender(
            self.db.sessions,
            self.settings,
            Renderer(CONFIG),
            notify=notify or apprise_notify,
            clock=self.clock,
        )

    def outbox(self) -> list[AlertOutbox]:
        with self.db.sessions() as s:
            return list(s.scalars(select(AlertOutbox).order_by(AlertOutbox.id)))


@pytest.fixture
def world(db: Database, matcher: Matcher) -> World:
    settings = load_settings(
        config_dir=CONFIG,
        alert_group_seconds=60,
        alert_retry_initial=10.0,
        alert_retry_max=600.0,
        alert_max_attempts=4,
        alert_lease_seconds=30,
    )
    return World(db, settings, build_pipeline(db.sessions, settings, matcher=matcher), Clock())


def test_filters_decide_who_is_alerted(world: World, webhook: WebhookReceiver) -> None:
    nujaba = world.channel("nujaba_main", "Harakat al-Nujaba")
    other = world.channel("other_news", "News Relay")
    world.subscribe("all-low", webhook.url, min_severity="low")
    world.subscribe("high-only", webhook.url, min_severity="high")
    world.subscribe("nujaba-readiness", webhook.url, min_severity="low", kinds=["readiness"],
                    groups=["harakat al-nujaba"])  # fmt: skip
    world.subscribe("cue-3-139", webhook.url, min_severity="low", refs=["3:139"])
    world.post(nujaba, READY)
    world.post(other, THREAT)
    world.post(other, CUE)
    world.post(other, "صباح الخير يا أهل العراق")
    with world.db.sessions() as s:
        got = sorted(
            (sub, post)
            for sub, post in s.execute(select(AlertOutbox.subscription_id, AlertOutbox.post_id))
        )
    names = {1: "all-low", 2: "high-only", 3: "nujaba-readiness", 4: "cue-3-139"}
    per_sub: dict[str, int] = {}
    for sub, _ in got:
        per_sub[names[sub]] = per_sub.get(names[sub], 0) + 1
    assert per_sub == {"all-low": 3, "high-only": 1, "nujaba-readiness": 1, "cue-3-139": 1}


def test_webhook_alert_says_why_and_carries_its_key(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("nujaba_main", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.post(cid, READY)
    summary = world.sender().send_due()
    assert (summary.messages, summary.sent) == (1, 1)
    [hook] = webhook.received
    title, body = hook.body["title"], hook.body["message"]
    assert title.startswith("[HIGH] Harakat al-Nujaba / nujaba_main: readiness")
    assert "«نعلن جاهزيتنا» [readiness readiness:declare]" in body
    assert "https://t.me/nujaba_main/1" in body and "/posts/" in body
    assert "group weight of Harakat al-Nujaba" in body  # the explanation
    [row] = world.outbox()
    assert row.status == "sent" and hook.body["alert_keys"] == row.dedup_key
    assert hook.headers["X-Monitor-Alert-Keys"] == row.dedup_key
    assert world.sender().send_due().messages == 0  # never twice


def test_cue_echoed_by_affiliated_channels_is_one_alert(
    world: World, webhook: WebhookReceiver
) -> None:
    a = world.channel("faction_main", "Faction")
    b = world.channel("faction_front", "Faction Front", parent="Faction")
    c = world.channel("faction_youth", "Faction Youth", parent="Faction")
    world.subscribe("desk", webhook.url, min_severity="medium")
    for cid in (a, b, c):
        world.post(cid, CUE)
    assert world.sender().send_due().messages == 0  # held for the grouping window
    world.clock.advance(seconds=61)
    summary = world.sender().send_due()
    assert (summary.messages, summary.sent) == (1, 3)
    [hook] = webhook.received
    assert "in 3 posts" in hook.body["title"]
    for handle in ("faction_main", "faction_front", "faction_youth"):
        assert f"https://t.me/{handle}/" in hook.body["message"]
    assert "Quran 3:139:" in hook.body["message"]
    assert len(webhook.keys()) == 3


def test_digest_collects_flags_until_its_time(world: World, smtp: SmtpReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("daily", smtp.url, min_severity="low", digest_minutes=30)
    world.post(cid, READY)
    world.post(cid, THREAT)
    assert world.sender().send_due().messages == 0
    world.clock.advance(minutes=31)
    summary = world.sender().send_due()
    assert (summary.messages, summary.sent) == (1, 2)
    [mail] = smtp.box.messages
    assert mail["Subject"].startswith("[DIGEST] 2 flagged posts, highest HIGH")
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "نعلن جاهزيتنا" in text and "ستدفعون الثمن" in text


def test_retries_with_backoff_then_delivers(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.post(cid, READY)
    webhook.fail_next = 2
    first = world.sender().send_due()
    assert (first.sent, first.retrying) == (0, 1) and first.errors
    [row] = world.outbox()
    wait1 = row.next_attempt_at - world.clock()
    assert timedelta(seconds=10) <= wait1 <= timedelta(seconds=21)
    assert world.sender().send_due().messages == 0  # not due yet
    world.clock.advance(seconds=25)
    world.sender().send_due()
    [row] = world.outbox()
    wait2 = row.next_attempt_at - world.clock()
    assert wait2 > wait1 and row.attempts == 2
    world.clock.advance(seconds=60)
    assert world.sender().send_due().sent == 1
    with world.db.sessions() as s:
        results = [d.ok for d in s.scalars(select(Delivery).order_by(Delivery.id))]
    assert results == [False, False, True]
    assert len(webhook.received) == 1


def test_gives_up_after_max_attempts(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.post(cid, READY)
    webhook.fail_next = 100
    for _ in range(4):
        world.sender().send_due()
        world.clock.advance(seconds=700)
    [row] = world.outbox()
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error
    world.clock.advance(days=1)
    assert world.sender().send_due().messages == 0


def test_receiver_down_for_a_while(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    webhook.stop()
    world.post(cid, READY)
    world.post(cid, "نحن على أهبة الاستعداد لضرب قواعد الاحتلال الأمريكي")
    down = world.sender().send_due()
    assert down.sent == 0 and down.retrying == 2
    webhook.start()
    world.clock.advance(seconds=30)
    assert world.sender().send_due().sent == 2
    assert sorted(webhook.keys()) == sorted(r.dedup_key for r in world.outbox())


def test_restart_between_send_and_mark_resends_once(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.post(cid, READY)

    def send_then_die(url: str, message: Message) -> tuple[bool, str | None]:
        apprise_notify(url, message)
        raise KeyboardInterrupt  # the process is killed before it can mark the row

    with pytest.raises(KeyboardInterrupt):
        world.sender(send_then_die).send_due()
    [row] = world.outbox()
    assert row.status == "sending"
    assert world.sender().send_due().messages == 0  # the dead sender's lease still holds
    world.clock.advance(seconds=31)
    assert world.sender().send_due().sent == 1
    # The documented crash window: one resend, with the same key for the receiver to drop.
    assert webhook.keys() == [row.dedup_key, row.dedup_key]
    assert world.sender().send_due().messages == 0


def test_grouped_message_lost_before_its_mark_is_resent_whole(
    world: World, webhook: WebhookReceiver
) -> None:
    world.subscribe("desk", webhook.url, min_severity="medium")
    for handle in ("faction_main", "faction_front"):
        world.post(world.channel(handle, "Faction"), CUE)
    world.clock.advance(seconds=61)

    def send_then_die(url: str, message: Message) -> tuple[bool, str | None]:
        apprise_notify(url, message)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        world.sender(send_then_die).send_due()
    world.clock.advance(seconds=31)
    summary = world.sender().send_due()
    # One resend of the same two-alert message, not one message per alert.
    assert (summary.messages, summary.sent) == (1, 2)
    first, again = (set(h.body["alert_keys"].split(",")) for h in webhook.received)
    assert first == again == {r.dedup_key for r in world.outbox()}


def test_follow_ups_on_edit_and_delete_keep_the_original(
    world: World, webhook: WebhookReceiver
) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    mid = world.post(cid, READY)
    world.sender().send_due()
    world.post(cid, "تم تأجيل البيان", mid=mid, edited_at=utcnow())
    world.sender().send_due()
    world.post(cid, "", mid=mid, deleted=True)
    world.sender().send_due()
    _flag, edited, deleted = webhook.received
    assert edited.body["title"].startswith("[HIGH] Edited after alert")
    assert READY in edited.body["message"] and "تم تأجيل البيان" in edited.body["message"]
    assert deleted.body["title"].startswith("[HIGH] Deleted after alert")
    assert READY in deleted.body["message"]
    assert [r.kind for r in world.outbox()] == ["flag", "edited", "deleted"]


def test_quiet_hours_hold_all_but_critical(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    now = datetime.now(UTC)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=2)).strftime("%H:%M")
    world.subscribe("night", webhook.url, min_severity="medium", quiet_hours=f"{start}-{end}")
    world.post(cid, READY)
    [row] = world.outbox()
    assert row.next_attempt_at - now > timedelta(hours=1, minutes=50)
    assert world.sender().send_due().messages == 0


def test_rate_limit_defers_a_busy_destination(world: World, webhook: WebhookReceiver) -> None:
    world.settings = load_settings(config_dir=CONFIG, alert_rate_per_minute=2)
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    for i in range(3):
        world.post(cid, READY + f" {i}")
    summary = world.sender().send_due()
    assert (summary.messages, summary.deferred) == (2, 1)
    world.clock.advance(seconds=61)
    assert world.sender().send_due().messages == 1
    assert len(webhook.received) == 3


def test_reingest_queues_nothing_new(world: World, webhook: WebhookReceiver) -> None:
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.post(cid, READY, mid=7)
    world.post(cid, READY, mid=7)
    assert len(world.outbox()) == 1


def test_concurrent_senders_never_deliver_twice(world: World, webhook: WebhookReceiver) -> None:
    if world.db.dialect != "postgresql":
        pytest.skip("row locking between senders is PostgreSQL's; SQLite has one writer")
    cid = world.channel("c1", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.settings = load_settings(config_dir=CONFIG, alert_rate_per_minute=1000)
    for i in range(40):
        world.post(cid, READY + f" رقم {i}")
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        world.sender().send_due()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = webhook.keys()
    assert len(keys) == len(set(keys)) == 40
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AlertOutbox).where(
            AlertOutbox.status == "sent")) == 40  # fmt: skip


def test_a_stop_waits_for_the_delivery_in_hand(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM while a message is on the wire: the service marks it sent before it exits."""
    cid = world.channel("nujaba_main", "Harakat al-Nujaba")
    world.subscribe("desk", "json://127.0.0.1:9/hook", min_severity="medium")
    world.post(cid, READY)
    on_the_wire, answered = threading.Event(), threading.Event()

    def slow(url: str, message: Message) -> tuple[bool, str | None]:
        on_the_wire.set()
        return answered.wait(10), None

    settings = world.settings.model_copy(update={"alert_poll_seconds": 0.1})
    sender = Sender(world.db.sessions, settings, Renderer(CONFIG), notify=slow, clock=world.clock)
    leases = Leases(world.db.sessions, "w1", ttl=60)
    collector = Collector(world.pipeline, settings, {}, leases=leases)
    service = Service(collector, leases, sender)

    async def go() -> bool:
        stop = asyncio.Event()
        task = asyncio.create_task(service.serve(stop))
        for _ in range(200):
            if on_the_wire.is_set():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.sleep(0.5)
        waited = not task.done()
        answered.set()
        await asyncio.wait_for(task, 10)
        return waited

    assert asyncio.run(go()), "the service exited with a delivery in hand"
    [row] = world.outbox()
    assert row.status == "sent"
    assert not [r for r in caplog.records if r.exc_info]


def test_a_console_subscription_is_checked_again_at_delivery(
    world: World, webhook: WebhookReceiver
) -> None:
    """DNS rebinding: a name public when the console saved it may resolve inside the network
    later. Here the receiver is on 127.0.0.1 all along, and no private host is allowed."""
    cid = world.channel("nujaba_main", "Harakat al-Nujaba")
    world.subscribe("console-hook", webhook.url, min_severity="medium", check_destination=True)
    world.subscribe("cli-hook", webhook.url, min_severity="medium")  # the CLI's: trusted
    world.post(cid, READY)
    summary = world.sender().send_due()
    assert (summary.sent, summary.retrying) == (1, 1)
    by_sub = {row.subscription_id: row for row in world.outbox()}
    with world.db.sessions() as s:
        ids = dict(s.execute(select(Subscription.name, Subscription.id)).all())
    refused, sent = by_sub[ids["console-hook"]], by_sub[ids["cli-hook"]]
    assert [h.body["alert_keys"] for h in webhook.received] == [sent.dedup_key]
    assert refused.status == "pending"
    assert refused.last_error is not None
    assert "127.0.0.1 is not a public host" in refused.last_error
    # Once the host is public again, or an operator allows it, the retry goes out.
    world.settings = world.settings.model_copy(update={"alert_private_hosts": "127.0.0.1"})
    world.clock.advance(hours=1)
    assert world.sender().send_due().sent == 1
    assert {row.status for row in world.outbox()} == {"sent"}
    assert sorted(webhook.keys()) == sorted([sent.dedup_key, refused.dedup_key])
