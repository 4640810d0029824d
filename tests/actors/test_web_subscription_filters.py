"""The console's subscription form and list with the #16 filters: a subscription made there
with a site, a person or an incident status is the CLI's, and the incident alerts go to it
when they pass those filters and not otherwise; what it names is escaped on the page."""

from __future__ import annotations

from collections import Counter

from markupsafe import escape
from sqlalchemy import select

from monitor.store.models import AuditLog, Subscription
from tests.actors.test_incident_alerts import events, store
from tests.actors.test_incidents import CLAIM, ECHO, OWN
from tests.alert_receivers import WebhookReceiver, webhook
from tests.test_alerts import World, matcher, world
from tests.test_web_alerts import create
from tests.web_support import TestClient, login, make_client, make_users

__all__ = ["matcher", "webhook", "world"]  # fixtures

HOSTILE = "<script>alert(1)</script>\u202e"


def signed_in(world: World, who: str = "analyst") -> TestClient:
    make_users(world.db.sessions)
    # The webhook receiver listens on 127.0.0.1, which the console refuses unless allowed.
    client = make_client(world.db.sessions, alert_private_hosts="127.0.0.1")
    assert login(client, who) == 303
    return client


def subs(world: World) -> dict[str, Subscription]:
    with world.db.sessions() as s:
        return {sub.name: sub for sub in s.scalars(select(Subscription))}


def test_console_subscriptions_filter_incident_alerts_by_site_person_and_status(
    world: World, webhook: WebhookReceiver
) -> None:
    nujaba = world.channel("nujaba", "Harakat al-Nujaba")
    kahf = world.channel("ashab_alkahf", "Ashab al-Kahf")
    kh = world.channel("kataib_hezbollah", "Kataib Hezbollah")
    client = signed_in(world)
    made = {
        "harir": {"sites": "harir"},
        "asad": {"sites": "ain-al-asad, al-tanf"},
        "sure": {"incident_statuses": ["corroborated"]},
        "kaabi": {"persons": "akram-al-kaabi"},
        "harir-sure": {"sites": "harir", "incident_statuses": ["corroborated", "claimed"]},
    }
    for name, fields in made.items():
        page = create(client, name, webhook.url, min_severity="medium", **fields)
        assert f"added subscription {name}" in page, page

    stored = subs(world)
    assert stored["harir"].sites == ["harir"] and stored["asad"].sites == ["ain-al-asad", "al-tanf"]
    assert stored["sure"].incident_statuses == ["corroborated"] and stored["sure"].sites == []
    assert stored["kaabi"].persons == ["akram-al-kaabi"]
    assert stored["harir-sure"].incident_statuses == ["corroborated", "claimed"]

    # The list shows each one's filters, as `monitor subscribers list` does.
    listing = client.get("/subscriptions").text
    assert "sites: ain-al-asad, al-tanf" in listing and "people: akram-al-kaabi" in listing
    assert "incidents: corroborated, claimed" in listing
    # The audit entry of each names its filters.
    with world.db.sessions() as s:
        audit = {
            a.target: a.detail
            for a in s.scalars(select(AuditLog).where(AuditLog.action == "subscription.add"))
        }
    assert audit["asad"]["sites"] == ["ain-al-asad", "al-tanf"] and "persons" not in audit["asad"]
    assert audit["kaabi"]["persons"] == ["akram-al-kaabi"]
    assert audit["sure"]["incident_statuses"] == ["corroborated"]
    assert audit["harir"]["min_severity"] == "medium"
    assert all(a["url"].endswith("/…") for a in audit.values())  # redacted, as before

    # A claim on Harir, its echo, then another group's own claim: an incident, corroborated.
    store(world, nujaba, 10, CLAIM, 0)
    store(world, kahf, 77, ECHO, 3)
    store(world, kh, 5, OWN, 5)
    got: Counter[tuple[int, str]] = events(world)
    ids = {name: sub.id for name, sub in stored.items()}
    assert got[(ids["harir"], "incident")] == 1 and got[(ids["harir"], "corroborated")] == 1
    assert got[(ids["harir-sure"], "incident")] == 1
    assert got[(ids["harir-sure"], "corroborated")] == 1
    assert not got[(ids["sure"], "incident")] and got[(ids["sure"], "corroborated")] == 1
    for other_site_or_person in ("asad", "kaabi"):
        sub_id = ids[other_site_or_person]
        assert not got[(sub_id, "incident")] and not got[(sub_id, "corroborated")]
        assert not [r for r in world.outbox() if r.subscription_id == sub_id]


def test_an_unknown_site_is_refused_and_the_form_keeps_the_rest(world: World) -> None:
    client = signed_in(world)
    typed = {
        "min_severity": "critical",
        "refs": "3:139",
        "sites": "harir, atlantis",
        "persons": "akram-al-kaabi",
        "incident_statuses": ["corroborated"],
        "quiet_hours": "22:00-06:00",
    }
    page = create(client, "desk", "json://user:PWsecret9@127.0.0.1:9/hook", **typed)
    assert "not added: sites: no such site: &#39;atlantis&#39; (registry ids: " in page, page
    for field in ("refs", "sites", "persons"):
        assert f'name="{field}" maxlength="2000" value="{escape(typed[field])}"' in page
    assert 'name="incident_statuses" value="corroborated" checked' in page
    assert 'name="incident_statuses" value="claimed">' in page  # not ticked
    assert "<option selected>critical</option>" in page and 'value="22:00-06:00"' in page
    assert "PWsecret9" not in page  # the URL is not put back
    page = create(client, "desk", "json://127.0.0.1:9/hook", persons="nobody-at-all")
    assert "not added: people: no such person: &#39;nobody-at-all&#39;" in page
    assert subs(world) == {}
    with world.db.sessions() as s:
        assert list(s.scalars(select(AuditLog).where(AuditLog.action == "subscription.add"))) == []


def test_what_channels_and_typists_control_is_escaped(
    world: World, webhook: WebhookReceiver
) -> None:
    # A group named by its channel's title, and a site typed as markup.
    world.channel("evil_channel", f"Group {HOSTILE}")
    client = signed_in(world)
    page = create(client, "evil", webhook.url, groups=f"Group {HOSTILE}", sites="harir")
    assert "added subscription evil" in page, page
    assert str(escape(f"groups: Group {HOSTILE}")) in page and "sites: harir" in page
    refused = create(client, "evil2", webhook.url, sites=HOSTILE, persons=HOSTILE)
    assert str(escape(f"no such site: {HOSTILE!r}")) in refused
    assert f'value="{escape(HOSTILE)}"' in refused
    forged = create(client, "evil3", webhook.url, incident_statuses=[HOSTILE])
    assert "not added:" in forged
    for shown in (page, refused, forged, client.get("/subscriptions").text):
        assert "<script>alert(1)" not in shown
