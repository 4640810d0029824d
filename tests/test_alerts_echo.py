"""Echoed statements in alerts (#15): one alert names every channel that posted the statement,
each channel picking it up later is a follow-up, and a channel reposting itself is silent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitor.collect.records import PostRecord
from monitor.store.models import EchoMember, utcnow
from tests.alert_receivers import WebhookReceiver, smtp, webhook
from tests.network.test_echo_score import ECHO, STATEMENT
from tests.test_alerts import World, matcher, world

__all__ = ["matcher", "smtp", "webhook", "world"]  # fixtures

T0 = utcnow() - timedelta(hours=12)


def store(world: World, channel_id: int, mid: int, text: str, hours: float) -> None:
    world.pipeline.store(channel_id, [PostRecord(mid, T0 + timedelta(hours=hours), text, "web")])


def deliver(world: World) -> None:
    world.clock.advance(seconds=61)  # past the grouping window
    world.sender().send_due()


def test_echoes_are_follow_ups_naming_every_channel(world: World, webhook: WebhookReceiver) -> None:
    nujaba = world.channel("nujaba", "Nujaba")
    kahf = world.channel("ashab_alkahf", "Ashab al-Kahf", parent="Nujaba")
    awliya = world.channel("awliya_aldam", "Awliya al-Dam", parent="Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    store(world, nujaba, 10, STATEMENT, 0)
    deliver(world)
    [first] = webhook.received
    assert "nujaba" in first.body["title"] and "ECHOED" not in first.body["message"]

    store(world, kahf, 77, ECHO, 3)
    deliver(world)
    echo = webhook.received[1].body
    assert (
        echo["title"]
        .split("] ", 1)[1]
        .startswith("Echoed by ashab_alkahf: statement now on 2 channels")
    )
    assert "(first nujaba #10)" in echo["title"]
    assert (
        "ECHOED: the statement you were alerted about is now posted by 2 channels"
        in (echo["message"])
    )
    assert "  - nujaba #10 first https://t.me/nujaba/10" in echo["message"]
    assert "  - ashab_alkahf #77 +3 h 00 min https://t.me/ashab_alkahf/77" in echo["message"]

    for i in range(3):  # the first publisher reposting its statement hourly
        store(world, nujaba, 11 + i, STATEMENT, 4 + i)
    store(world, kahf, 78, ECHO, 5)  # and the echo channel repeating its copy
    deliver(world)
    assert len(webhook.received) == 2

    store(world, awliya, 5, ECHO, 8)
    deliver(world)
    assert len(webhook.received) == 3
    third = webhook.received[2].body
    assert "statement now on 3 channels" in third["title"]
    for handle in ("nujaba #10", "ashab_alkahf #77", "awliya_aldam #5 +8 h 00 min"):
        assert f"  - {handle}" in third["message"]
    kinds = [r.kind for r in world.outbox()]
    assert kinds.count("echo") == 2 and kinds.count("flag") == 1


def test_a_subscriber_who_never_heard_of_it_gets_one_alert_with_the_cluster(
    world: World, webhook: WebhookReceiver
) -> None:
    nujaba = world.channel("nujaba", "Nujaba")
    kahf = world.channel("ashab_alkahf", "Ashab al-Kahf", parent="Nujaba")
    world.subscribe("kahf desk", webhook.url, min_severity="medium", groups=["Ashab al-Kahf"])
    store(world, nujaba, 10, STATEMENT, 0)
    store(world, kahf, 77, ECHO, 2)
    deliver(world)
    [alert] = webhook.received
    assert alert.body["title"].split("] ", 1)[1].startswith("Ashab al-Kahf / ashab_alkahf")
    assert "The same statement on 2 channels, first publisher first:" in alert.body["message"]
    assert "  - nujaba #10 first" in alert.body["message"]
    assert [r.kind for r in world.outbox()] == ["flag"]


def test_echoes_arriving_together_are_one_follow_up(world: World, webhook: WebhookReceiver) -> None:
    nujaba = world.channel("nujaba", "Nujaba")
    fronts = [world.channel(f"front_{i}", f"Front {i}", parent="Nujaba") for i in range(3)]
    world.subscribe("desk", webhook.url, min_severity="medium")
    store(world, nujaba, 10, STATEMENT, 0)
    deliver(world)
    for i, cid in enumerate(fronts):
        store(world, cid, 20 + i, ECHO, 1 + i / 10)
    deliver(world)
    assert len(webhook.received) == 2
    title = webhook.received[1].body["title"]
    named, _, rest = title.split("] ", 1)[1].partition(": ")
    assert named.startswith("Echoed by ")
    assert set(named.removeprefix("Echoed by ").split(", ")) == {"front_0", "front_1", "front_2"}
    assert rest.startswith("statement now on 4 channels (first nujaba #10)")


# The statement again, now claiming a strike on a named base: the same cluster (it only adds
# a site), but it says more than what the subscriber was sent.
WORSE = (
    "تحذر المقاومة الإسلامية في العراق قوات الاحتلال الأمريكي من مغبة الاستمرار في انتهاك "
    "سيادة العراق وإن صبرنا قد نفد وقد استهدفنا قاعدة عين الأسد بطائرة مسيرة وسيكون ردنا في "
    "الزمان والمكان المناسبين على كل من يعتدي على أبناء شعبنا"
)


def test_a_repost_that_says_more_is_alerted(world: World, webhook: WebhookReceiver) -> None:
    nujaba = world.channel("nujaba", "Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    store(world, nujaba, 10, STATEMENT, 0)
    deliver(world)
    store(world, nujaba, 11, STATEMENT, 1)  # the same again: nothing
    deliver(world)
    assert len(webhook.received) == 1
    store(world, nujaba, 12, WORSE, 2)
    deliver(world)
    with world.db.sessions() as s:
        assert len(s.scalars(select(EchoMember.cluster_id).distinct()).all()) == 1
    flags = [r for r in world.outbox() if r.kind == "flag"]
    assert [r.payload["message_id"] for r in flags] == [10, 12]
    assert all(r.status == "sent" for r in flags)
    [alert] = [h.body for h in webhook.received if flags[1].dedup_key in h.body["alert_keys"]]
    assert "Echoed" not in alert["title"] and "https://t.me/nujaba/12" in alert["message"]


def test_echo_follow_ups_keep_the_subscribers_filters_and_come_once_a_channel(
    world: World, webhook: WebhookReceiver
) -> None:
    nujaba = world.channel("nujaba", "Nujaba")
    relay = world.channel("relay_news", "Relay")  # not a group the subscriber follows
    kahf = world.channel("ashab_alkahf", "Ashab al-Kahf", parent="Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium", groups=["Nujaba", "Ashab al-Kahf"])
    store(world, nujaba, 10, STATEMENT, 0)
    deliver(world)
    store(world, relay, 1, ECHO, 1)
    deliver(world)
    assert len(webhook.received) == 1  # outside the filters: no follow-up
    store(world, kahf, 5, ECHO, 2)
    deliver(world)
    assert len(webhook.received) == 2
    for i in range(3):  # the echo edited away from the statement and posted again
        edit = PostRecord(5 + i, T0 + timedelta(hours=2), "صباح الخير", "web", edited_at=utcnow())
        world.pipeline.store(kahf, [edit])
        store(world, kahf, 6 + i, ECHO, 3 + i)
        deliver(world)
    assert len(webhook.received) == 2
