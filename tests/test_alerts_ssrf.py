"""The console's alert destinations cannot reach inside the network (#11, finding 1).

Every test points alerts at real servers on 127.0.0.1 that an analyst must not be able to reach:
a bare TCP listener counts connections, so "received nothing" means not even a TCP handshake.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from monitor.alerts.destinations import Policy, check_destination, endpoints_of, is_public
from monitor.alerts.endpoints import TABLE
from monitor.alerts.guard import DestinationRefused, guarded
from monitor.alerts.render import Message
from monitor.alerts.sender import apprise_notify, notify_checked, with_keys
from monitor.alerts.subscriptions import add_subscription
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.store.models import Subscription, User

from .alert_receivers import Listener, Redirector, free_port, listener  # noqa: F401  (fixture)
from .conftest import Database
from .test_alerts import READY, World, matcher, world  # noqa: F401  (fixtures)
from .test_web_alerts import act, create, flash
from .web_support import TestClient, login, make_client, make_users

NSEC = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
ZULIP = "zulip://bot@org.localhost/" + "a" * 32
MESSAGE = Message(title="t", body="b", keys=["k"])


def table_urls(port: int) -> dict[str, str]:
    """A URL of each scheme in the table, every endpoint of it at 127.0.0.1:``port``."""
    at = f"127.0.0.1:{port}"
    return {
        "json": f"json://{at}/hook",
        "xml": f"xml://{at}/hook",
        "form": f"form://{at}/hook",
        "mailto": f"mailto://{at}?mode=insecure&from=a@example.org&to=b@example.org",
        "mailto-smtp": f"mailto://u:p@example.org?smtp=127.0.0.1&port={port}&mode=insecure",
        "ntfy": f"ntfy://{at}/alerts",
        "gotify": f"gotify://{at}/Aabcdefghijklmno",
        "mmost": f"mmost://{at}/abcdefghijklmnopqrstuvwxyz",
        "rocket": f"rocket://user:pass@{at}/room",
        "apprise": f"apprise://{at}/token",
        # The URL's host is the key; the endpoint hides in relay=.
        "nostr": f"nostr://{NSEC}?relay=ws://{at}/path",
    }


SCHEMES = list(table_urls(0))


def client(db: Database, **settings: Any) -> TestClient:
    c = make_client(db.sessions, **settings)
    assert login(c, "analyst") == 303
    return c


def subscription(db: Database, name: str) -> Subscription | None:
    with db.sessions() as s:
        return s.scalar(select(Subscription).where(Subscription.name == name))


def test_the_table_is_the_plugins_it_names() -> None:
    """Each table entry is what apprise loads for its scheme, so a rename in apprise turns
    into a refusal (not in the table) rather than an unchecked plugin."""
    urls = table_urls(9)
    for scheme in ("json", "xml", "form", "mailto", "ntfy", "gotify", "mmost", "rocket"):
        assert endpoints_of(urls[scheme]) == [("127.0.0.1", 9)], scheme
    assert endpoints_of(urls["nostr"]) == [("127.0.0.1", 9)]
    assert endpoints_of("ntfy://alerts") == []  # ntfy.sh, a constant of the plugin
    assert endpoints_of("jsons://hooks.example.org/x") == [("hooks.example.org", 443)]
    assert endpoints_of("mailto://u:p@gmail.com") == [("smtp.gmail.com", 587)]
    assert endpoints_of(f"nostr://{NSEC}/alice@example.org?relay=wss://relay.example.org") == [
        ("relay.example.org", 443),
        ("example.org", 443),  # the NIP-05 lookup
    ]
    assert {e.service for e in TABLE.values()} >= {"Telegram", "Discord", "Slack", "Pushover"}
    assert endpoints_of("https://discord.com/api/webhooks/1234/abcd") == []  # native form


@pytest.mark.parametrize("scheme", SCHEMES)
def test_console_refuses_each_scheme_pointed_inside(
    sqlite_db: Database,
    listener: Listener,  # noqa: F811
    scheme: str,
) -> None:
    make_users(sqlite_db.sessions)
    page = create(client(sqlite_db), "probe", table_urls(listener.port)[scheme])
    assert "not a public host" in page and "MONITOR_ALERT_PRIVATE_HOSTS" in page
    assert subscription(sqlite_db, "probe") is None
    assert listener.connections == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_connect_guard_alone_stops_each_scheme(
    listener: Listener,  # noqa: F811
    scheme: str,
) -> None:
    """Even with the check before delivery out of the way (a name that resolved outside when
    checked, and inside when apprise connects), no connection is opened: every plugin's
    traffic, in whatever thread apprise sends it from, passes the guard."""
    ok, error = notify_checked(apprise_notify, table_urls(listener.port)[scheme], MESSAGE, Policy())
    assert listener.connections == 0
    assert not ok
    assert error is not None and "refused by the alert destination check" in error
    # The guard only holds the delivery it wraps: this process may still connect.
    apprise_notify(table_urls(listener.port)["json"], MESSAGE)
    assert listener.connections >= 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_redirect_from_an_allowed_host_is_not_followed_inside(
    sqlite_db: Database,
    listener: Listener,  # noqa: F811
    host: str,
) -> None:
    """The operator allowed one internal webhook (that port only); it answers 307 to another
    port of the same machine, which must receive nothing, through the console and the sender."""
    make_users(sqlite_db.sessions)
    hop = Redirector(free_port(), f"http://127.0.0.1:{listener.port}/hook")
    hop.start()
    try:
        analyst = client(sqlite_db, alert_private_hosts=f"{host}:{hop.port}")
        page = create(analyst, "lan-hook", f"json://{host}:{hop.port}/hook")
        assert "added subscription lan-hook" in page
        sub = subscription(sqlite_db, "lan-hook")
        assert sub is not None and sub.check_destination
        _, location = act(analyst, sub.id, "test")
        assert hop.requests == 1  # the allowed host was reached
        assert listener.connections == 0  # the address it pointed to was not
        assert "refused by the alert destination check" in flash(location)
    finally:
        hop.stop()


def test_an_allowance_for_one_port_is_not_one_for_another(listener: Listener) -> None:  # noqa: F811
    url = f"json://127.0.0.1:{listener.port}/hook"
    with pytest.raises(ConfigError, match=f"127.0.0.1:{listener.port} is not a public host"):
        check_destination(url, f"127.0.0.1:{listener.port + 1}")
    policy = check_destination(url, f"127.0.0.1:{listener.port}")
    _, error = notify_checked(apprise_notify, url, MESSAGE, policy)
    assert listener.connections == 1  # allowed, and reached
    assert "destination check" not in (error or "")


def test_unknown_schemes_are_refused_unless_an_operator_allows_them(sqlite_db: Database) -> None:
    make_users(sqlite_db.sessions)
    page = create(client(sqlite_db), "zulip", ZULIP)
    assert "&#39;zulip&#39;" in page or "'zulip'" in page
    assert "MONITOR_ALERT_SCHEMES" in page
    assert subscription(sqlite_db, "zulip") is None
    page = create(client(sqlite_db, alert_schemes="zulip, acs"), "zulip", ZULIP)
    assert "added subscription zulip" in page


def test_a_scheme_no_longer_allowed_is_refused_at_delivery(
    sqlite_db: Database,
    listener: Listener,  # noqa: F811
) -> None:
    """And an allowed extra scheme still gets the generic host check and the guard."""
    matrix = f"matrix://user:pass@127.0.0.1:{listener.port}/#room"
    with pytest.raises(ConfigError, match="'matrix'"):
        check_destination(matrix, "", "")
    with pytest.raises(ConfigError, match="not a public host"):
        check_destination(matrix, "", "matrix")
    make_users(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as s:
        owner = s.scalar(select(User.id).where(User.username == "analyst"))
        add_subscription(s, "zulip", ZULIP, owner_id=owner, check_destination=True)
    sub = subscription(sqlite_db, "zulip")
    assert sub is not None
    _, location = act(client(sqlite_db), sub.id, "test")
    assert "not sent" in flash(location) and "MONITOR_ALERT_SCHEMES" in flash(location)


def test_the_new_settings_are_validated() -> None:
    for bad in ("ntfy.lan:99999", "10.0.0.1:x", "host/with/slash"):
        with pytest.raises(ValidationError, match="alert_private_hosts"):
            Settings(alert_private_hosts=bad)
    with pytest.raises(ValidationError, match="alert_schemes"):
        Settings(alert_schemes="zu lip")
    assert Settings(alert_private_hosts="ntfy.lan:8080, [fd00::5]:443, 10.0.0.5:25, ::1")
    assert Settings(alert_schemes="zulip, matrixs://").alert_schemes


def test_the_sender_holds_console_subscriptions_to_the_check(
    world: World,  # noqa: F811
    listener: Listener,  # noqa: F811
) -> None:
    """At delivery: a redirect from the allowed webhook is not followed, and a scheme an
    operator has since stopped allowing is refused by name; both are retried like failures."""
    hop = Redirector(free_port(), f"http://127.0.0.1:{listener.port}/hook")
    hop.start()
    try:
        world.settings = world.settings.model_copy(
            update={"alert_private_hosts": f"127.0.0.1:{hop.port}"}
        )
        cid = world.channel("nujaba_main", "Harakat al-Nujaba")
        world.subscribe(
            "lan-hook",
            f"json://127.0.0.1:{hop.port}/hook",
            min_severity="medium",
            check_destination=True,
        )
        world.subscribe("zulip", ZULIP, min_severity="medium", check_destination=True)
        world.post(cid, READY)
        summary = world.sender().send_due()
        assert (summary.sent, summary.retrying) == (0, 2)
        assert hop.requests == 1 and listener.connections == 0
        errors = sorted(row.last_error or "" for row in world.outbox())
        assert "refused by the alert destination check" in errors[0]
        assert "'zulip'" in errors[1] and "MONITOR_ALERT_SCHEMES" in errors[1]
    finally:
        hop.stop()


def test_one_console_subscription_is_one_destination(
    sqlite_db: Database,
    listener: Listener,  # noqa: F811
) -> None:
    """Apprise splits a URL string at commas and spaces and sends to every URL in it, so the
    check loads it the same way: a second URL cannot ride past it on the first one's plugin."""
    inside = f"json://127.0.0.1:{listener.port}/x"
    tgram = "tgram://123456789:AAH" + "b" * 32 + "/-100123"
    for url in (f"ntfy://topic,{inside}", f"{tgram}, {ZULIP}", "ntfy://a ntfy://b"):
        with pytest.raises(ConfigError, match="one destination per subscription"):
            check_destination(url, "", "")
    with pytest.raises(ConfigError, match="apprise can load"):
        check_destination("notascheme://AAHsecret@host/x", "", "")
    make_users(sqlite_db.sessions)
    page = create(client(sqlite_db), "two", f"ntfy://topic,{inside}")
    assert "one destination per subscription" in page
    assert subscription(sqlite_db, "two") is None and listener.connections == 0
    # The CLI's (trusted) strings may name several; each plugin's hosts are still checked.
    assert check_destination("ntfy://a, ntfy://b", "", "", console=False) == Policy()
    with pytest.raises(ConfigError, match="not a public host"):
        check_destination(f"ntfy://topic,{inside}", "", "", console=False)
    # The keys a delivery adds to a webhook URL are quoted whole: never a second URL.
    hostile = ["a, json://127.0.0.1/y", "b json://10.0.0.1/z;c"]
    assert len(apprise_urls(with_keys("json://hooks.example.org/x", hostile))) == 1


def apprise_urls(url: str) -> list[object]:
    import apprise

    ap = apprise.Apprise()
    assert ap.add(url)
    return list(ap)


@pytest.mark.parametrize("host", ["::127.0.0.1", "::a9fe:a9fe", "::ffff:0:7f00:1", "fec0::1"])
def test_deprecated_ipv6_forms_are_not_public(host: str) -> None:
    """IPv4-compatible and IPv4-translated addresses carry an IPv4 address a kernel may route
    to; site-local is a private network. Python calls all three global."""
    assert not is_public(ipaddress.ip_address(host))
    with pytest.raises(ConfigError, match="not a public host"):
        check_destination(f"json://[{ipaddress.ip_address(host).compressed}]:9/x", "")
    assert not Policy().permits(ipaddress.ip_address(host), 9)


def test_the_guard_vets_sendmsg() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.3)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with guarded(Policy()) as watch, pytest.raises(DestinationRefused):
            sender.sendmsg([b"probe"], [], 0, receiver.getsockname())
        assert watch.refused == 1
        with pytest.raises(TimeoutError):
            receiver.recv(16)  # nothing was sent
        sender.sendmsg([b"outside"], [], 0, receiver.getsockname())  # unguarded: sent
        assert receiver.recv(16) == b"outside"
    finally:
        sender.close()
        receiver.close()
