"""Incident alerts and the #16 subscription filters: a new incident and its corroboration are
alerted once each, to the subscribers whose site, person, group and status filters pass."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from monitor.alerts.subscriptions import Verdict, wants
from monitor.collect.records import PostRecord
from monitor.store.models import Subscription, utcnow
from tests.actors.test_incidents import CLAIM, ECHO, OWN
from tests.alert_receivers import WebhookReceiver, smtp, webhook
from tests.conftest import CliRunner
from tests.test_alerts import World, matcher, world

__all__ = ["matcher", "smtp", "webhook", "world"]  # fixtures

T0 = utcnow() - timedelta(hours=12)


def store(world: World, channel_id: int, mid: int, text: str, hours: float) -> None:
    world.pipeline.store(channel_id, [PostRecord(mid, T0 + timedelta(hours=hours), text, "web")])


def events(world: World) -> Counter[tuple[int, str]]:
    return Counter(
        (r.subscription_id, r.kind)
        for r in world.outbox()
        if r.kind in ("incident", "corroborated")
    )


def test_a_new_incident_and_its_corroboration_are_alerted_once_each(
    world: World, webhook: WebhookReceiver
) -> None:
    nujaba = world.channel("nujaba", "Harakat al-Nujaba")
    kahf = world.channel("ashab_alkahf", "Ashab al-Kahf")
    kh = world.channel("kataib_hezbollah", "Kataib Hezbollah")
    world.subscribe("desk", webhook.url, min_severity="medium")
    world.subscribe("harir", webhook.url, min_severity="medium", sites=["harir"])
    world.subscribe("asad", webhook.url, min_severity="medium", sites=["ain-al-asad"])
    world.subscribe("sure", webhook.url, min_severity="medium", incident_statuses=["corroborated"])
    world.subscribe("kh", webhook.url, min_severity="medium", groups=["Kataib Hezbollah"])
    ids = _subs(world)
    store(world, nujaba, 10, CLAIM, 0)
    store(world, kahf, 77, ECHO, 3)
    store(world, kh, 5, OWN, 5)
    store(world, nujaba, 10, CLAIM + " .", 0)  # edited, and imported again: nothing new
    store(world, kahf, 77, ECHO, 3)
    got = events(world)
    assert got[(ids["desk"], "incident")] == 1 and got[(ids["desk"], "corroborated")] == 1
    assert got[(ids["harir"], "incident")] == 1 and got[(ids["harir"], "corroborated")] == 1
    assert not got[(ids["asad"], "incident")] and not got[(ids["asad"], "corroborated")]
    # Only claims of a corroborated incident: not the new one, its corroboration yes.
    assert not got[(ids["sure"], "incident")] and got[(ids["sure"], "corroborated")] == 1
    # A group's subscriber hears of its corroboration of another group's claim, and of the
    # incident's corroboration, but not of the incident it did not claim when it was new.
    assert not got[(ids["kh"], "incident")] and got[(ids["kh"], "corroborated")] == 1

    world.clock.advance(seconds=61)
    world.sender().send_due()
    titles = [m.body["title"] for m in webhook.received]
    messages = [m.body["message"] for m in webhook.received]
    assert any("New incident: drone on Harir air base" in t for t in titles)
    assert any("Corroborated: drone on Harir air base" in t for t in titles)
    new = next(m for m in messages if "NEW INCIDENT #" in m)
    assert "Claimed by Harakat al-Nujaba" in new and "/incidents/" in new
    assert "(36.54, 44.35)" in new


def test_a_claim_edited_to_another_site_and_back_opens_no_second_alert(
    world: World, webhook: WebhookReceiver
) -> None:
    nujaba = world.channel("nujaba", "Harakat al-Nujaba")
    world.subscribe("desk", webhook.url, min_severity="medium")
    asad = CLAIM.replace("قاعدة حرير في أربيل", "قاعدة عين الأسد")
    for text in (CLAIM, asad, CLAIM, asad, CLAIM):  # each edit opens a new incident
        world.pipeline.store(nujaba, [PostRecord(10, T0, text, "web", edited_at=utcnow())])
    got = events(world)
    # One alert a site the claim named, however often it went back and forth.
    assert got[(_subs(world)["desk"], "incident")] == 2


def _subs(world: World) -> dict[str, int]:
    from sqlalchemy import select

    with world.db.sessions() as s:
        return {sub.name: sub.id for sub in s.scalars(select(Subscription))}


def test_flag_alerts_pass_the_site_person_and_status_filters() -> None:
    sub = Subscription(
        name="s", url="json://x", min_severity="low", kinds=[], groups=[], channels=[], refs=[],
        sites=["harir"], persons=[], incident_statuses=[], enabled=True,
    )  # fmt: skip
    base = Verdict("high", frozenset({"attack_claim"}), frozenset(), "nujaba", "Harakat al-Nujaba")
    from dataclasses import replace

    assert not wants(sub, base)
    assert wants(sub, replace(base, sites=frozenset({"harir"})))
    sub.sites, sub.persons = [], ["akram-al-kaabi"]
    assert not wants(sub, base) and wants(sub, replace(base, persons=frozenset({"akram-al-kaabi"})))
    sub.persons, sub.incident_statuses = [], ["corroborated"]
    assert not wants(sub, replace(base, incident_status="claimed"))
    assert wants(sub, replace(base, incident_status="corroborated"))
    sub.incident_statuses, sub.groups = [], ["kataib hezbollah"]
    assert not wants(sub, base)
    assert wants(sub, replace(base, claimants=frozenset({"Kataib Hezbollah"})))


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--site", "atlantis"], "--site"),
        (["--person", "nobody"], "--person"),
        (["--incident-status", "rumoured"], "--incident-status"),
    ],
)
def test_subscribers_add_refuses_filters_that_cannot_match(
    run_cli: CliRunner, args: list[str], option: str
) -> None:
    cli = run_cli
    assert cli("db", "upgrade").code == 0
    out = cli("subscribers", "add", "desk", "--url", "json://127.0.0.1:9/x", *args)
    assert out.code == 2 and option in out.err
    ok = cli("subscribers", "add", "desk", "--url", "json://127.0.0.1:9/x", "--site", "harir",
             "--person", "akram-al-kaabi", "--incident-status", "corroborated")  # fmt: skip
    assert ok.code == 0, ok.err
    listed = cli("subscribers", "list")
    assert "site=harir person=akram-al-kaabi incident=corroborated" in listed.out
