"""Subscription URLs are credentials: no token of any plugin is shown or logged (#11, finding 3).

Each URL below is one apprise accepts, for a plugin whose secret sits somewhere the old
redaction did not look (host, userinfo, path). The tokens share one run of characters (BASE),
so "no 8 characters of BASE anywhere" also catches a token shown in part.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from urllib.parse import unquote

import apprise
import pytest
from sqlalchemy import select

from monitor.alerts.render import Message
from monitor.alerts.subscriptions import add_subscription, redact
from monitor.config import Settings
from monitor.logs import add_url_secrets, configure_logging
from monitor.redaction import url_secrets
from monitor.store.models import AuditLog, Delivery, Subscription
from tests.conftest import SAMPLE, CliRunner, Database
from tests.offline import offline
from tests.test_alerts import READY, World, matcher, world
from tests.web_support import csrf, login, make_client, make_users

__all__ = ["matcher", "offline", "world"]  # fixtures

BASE = "k7rq2mw9pl4vt8nb3cy6hjx5zd1fg0"
NSEC = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"


def tok(seed: str, n: int = 30) -> str:
    return (seed + BASE)[:n]


# scheme: (URL, the secrets in it)
URLS: dict[str, tuple[str, list[str]]] = {
    "pbul": (f"pbul://o.{tok('pb', 28)}", [f"o.{tok('pb', 28)}"]),
    "pover": (f"pover://{tok('pu')}@{tok('pa')}", [tok("pu"), tok("pa")]),
    "psafer": (f"psafer://{tok('ps', 20)}", [tok("ps", 20)]),
    "pagerduty": (f"pagerduty://{tok('pi', 32)}@{tok('pk', 20)}", [tok("pi", 32), tok("pk", 20)]),
    "spush": (f"spush://{tok('sp', 24)}", [tok("sp", 24)]),
    "flock": (f"flock://{tok('fl', 24)}", [tok("fl", 24)]),
    "line": (f"line://{tok('ln', 24)}/U{tok('lu', 20)}", [tok("ln", 24), f"U{tok('lu', 20)}"]),
    "opsgenie": (f"opsgenie://{tok('op', 24)}/@analyst", [tok("op", 24)]),
    "nostr": (f"nostr://{NSEC}", [NSEC]),
}


def assert_no_secret(text: str) -> None:
    text += "\n" + unquote(text)
    assert BASE[2:10] not in text and BASE[-8:] not in text
    assert NSEC[5:13] not in text and NSEC[-8:] not in text
    for _, secrets in URLS.values():
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def log_lines() -> Iterator[Callable[[], str]]:
    """The process's log handler (as `monitor run` installs it), writing to a buffer."""
    buf = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(Settings(log_level="INFO"), stream=buf)
    yield buf.getvalue
    root.removeHandler(handler)
    root.setLevel(level)


def test_every_test_url_is_one_apprise_accepts() -> None:
    for url, _ in URLS.values():
        assert apprise.Apprise.instantiate(url) is not None, url


def test_only_the_scheme_is_shown_unless_the_host_is_a_server_the_user_chose() -> None:
    for scheme, (url, _) in URLS.items():
        assert redact(url) == f"{scheme}://…"
    assert redact("tgram://123456789:AAHsecret/-100123") == "tgram://…"
    assert redact("json://alice:PWsecret99@127.0.0.1:8080/hook") == "json://127.0.0.1:8080/…"
    assert redact("mailtos://me:app-pass@smtp.example.org") == "mailtos://smtp.example.org/…"
    assert redact("jsons://hooks.example.org") == "jsons://hooks.example.org"
    # ntfy's host is the private topic on ntfy.sh; an unencoded "?" in a password must not
    # turn the user name and password into a "host".
    assert redact("ntfy://my-private-topic") == "ntfy://…"
    assert redact("json://alice:12?x@example.org/h") == "json://…"
    assert redact("not a url") == "(not a URL)"


def test_the_log_registry_masks_every_part_of_a_url(log_lines: Callable[[], str]) -> None:
    url = "json://alice:PWsecret99@hooks.example.org/Tk9x2LmQ/route?apikey=Qz81mnB7&to=desk"
    add_url_secrets(url)
    log = logging.getLogger("apprise")
    log.warning("invalid key %s for %s", "Qz81mnB7", "hooks.example.org/Tk9x2LmQ")
    log.warning("login as %s refused", "PWsecret99")
    for scheme, (url, secrets) in URLS.items():
        add_url_secrets(url)
        for secret in secrets:
            log.warning("An invalid %s token (%s) was specified.", scheme, secret)
    lines = log_lines()
    assert "hooks.example.org" in lines  # the host the user chose stays readable
    for piece in ("Qz81mnB7", "Tk9x2LmQ", "PWsecret99"):
        assert piece not in lines
    assert_no_secret(lines)


def test_cli_never_shows_a_token(
    run_cli: CliRunner,
    offline: None,
    log_lines: Callable[[], str],
) -> None:
    assert run_cli("db", "upgrade").code == 0
    shown = []
    for scheme, (url, _) in URLS.items():
        added = run_cli(
            "subscribers", "add", f"desk-{scheme}", "--url", url, "--min-severity", "low"
        )
        assert added.code == 0, added.err
        assert f"({scheme}://…, low and above)" in added.out
        tested = run_cli("subscribers", "test", f"desk-{scheme}")
        # Nothing is reachable; opsgenie sends nothing for a test (no alert to add a note to).
        assert f"{scheme}://…" in (tested.err if tested.code else tested.out), tested
        shown += [added.out, added.err, tested.out, tested.err]
    # Apprise's reason for refusing quotes the key ("An invalid Flock Access Key (…)").
    refused = run_cli("subscribers", "add", "bad", "--url", f"flock://{tok('fl', 24)}!!")
    assert refused.code == 2 and "flock://…" in refused.err and "invalid" in refused.err
    listing = run_cli("subscribers", "list")
    assert all(f"{scheme}://…" in listing.out for scheme in URLS)
    imported = run_cli("import", str(SAMPLE), "--channel", "sarayat_alfajr")
    assert imported.code == 0, imported.err
    sent = run_cli("alerts", "send", "--once")
    assert "delivery error" in sent.err
    shown += [refused.err, listing.out, sent.out, sent.err, log_lines()]
    assert_no_secret("\n".join(shown))


def test_console_never_shows_a_token(
    sqlite_db: Database,
    offline: None,
    log_lines: Callable[[], str],
) -> None:
    make_users(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as s:
        # What the old redaction wrote to the audit log for a CLI subscription.
        s.add(
            AuditLog(
                actor="cli",
                action="subscription.add",
                target="old",
                detail={"url": URLS["pbul"][0], "error": f"flock {tok('fl', 24)} refused"},
            )
        )
    admin = make_client(sqlite_db.sessions)
    assert login(admin, "admin") == 303
    shown = []
    for scheme, (url, _) in URLS.items():
        name = f"desk-{scheme}"
        resp = admin.post(
            "/subscriptions", data={"name": name, "url": url, "csrf_token": csrf(admin)}
        )
        if resp.status_code == 303:  # added; otherwise refused by the destination check
            shown += [resp.headers["location"], admin.get(resp.headers["location"]).text]
        else:
            assert resp.status_code == 400
            shown.append(resp.text)
            with sqlite_db.sessions.begin() as s:  # as `monitor subscribers add` would
                add_subscription(s, name, url, actor="cli")
    with sqlite_db.sessions() as s:
        ids = list(s.scalars(select(Subscription.id)))
    assert len(ids) == len(URLS)
    for sub_id in ids:
        resp = admin.post(
            f"/subscriptions/{sub_id}", data={"action": "test", "csrf_token": csrf(admin)}
        )
        assert resp.status_code == 303
        location = resp.headers["location"]
        assert "://…" in unquote(location)  # delivered (opsgenie), failed, or not sent
        shown += [location, admin.get(location).text]
    page = admin.get("/subscriptions").text
    assert all(f"{scheme}://…" in page for scheme in URLS)
    audit = admin.get("/audit").text  # each detail value isolated in the audit log (#14)
    assert "subscription.test" in audit and "url=<bdi>pbul://…</bdi>" in audit
    shown += [page, audit, admin.get("/alerts/failed").text, log_lines()]
    assert_no_secret("\n".join(shown))


def test_a_host_is_shown_only_where_apprise_sends() -> None:
    """rocket://TOKEN/part@host sends to "host": the text before the "/" is half the token."""
    url = "rocket://Xyz12Secret/abcdef@rc.example.com"
    assert apprise.Apprise.instantiate(url) is not None
    assert redact(url) == "rocket://…"
    assert "Xyz12Secret" in url_secrets(url)
    assert redact("rocket://user:pass@rc.example.com/room") == "rocket://rc.example.com/…"


def test_topics_are_masked_in_logs_whatever_their_case_or_length(
    log_lines: Callable[[], str],
) -> None:
    """An ntfy topic is the only secret of its URL, and often a short lowercase word."""
    add_url_secrets("ntfy://opsalerts")
    add_url_secrets("ntfy://ntfy.example.org/deskwatch")
    add_url_secrets("ntfy://abc")
    add_url_secrets("json://hooks.example.org/notify")
    log = logging.getLogger("apprise")
    log.warning("Failed to send ntfy notification to topic 'opsalerts': https://ntfy.sh/opsalerts")
    log.warning("to topic 'deskwatch' at ntfy.example.org")
    log.warning("abc, then notify")
    lines = log_lines()
    assert "opsalerts" not in lines and "deskwatch" not in lines
    # Not a 3-letter topic (single letters, short words), nor a webhook's route name.
    assert "abc, then notify" in lines


def test_delivery_errors_are_scrubbed_before_they_are_stored(world: World) -> None:
    """Apprise's error names the topic; the sender stores and reports it without."""
    topic = "watchdesk"

    def failing(url: str, message: Message) -> tuple[bool, str | None]:
        return (
            False,
            f"Failed to send ntfy notification to topic '{topic}': https://ntfy.sh/{topic}",
        )

    cid = world.channel("nujaba_main", "Harakat al-Nujaba")
    world.subscribe("desk", f"ntfy://{topic}", min_severity="medium")
    world.post(cid, READY)
    summary = world.sender(failing).send_due()
    assert summary.retrying == 1 and summary.errors
    with world.db.sessions() as s:
        stored = [d.error or "" for d in s.scalars(select(Delivery))]
    stored += [row.last_error or "" for row in world.outbox()]
    assert stored and all("Failed to send ntfy" in e for e in stored)
    assert all(topic not in e for e in [*stored, *summary.errors])
