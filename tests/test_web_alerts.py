"""Alert subscriptions and failed alerts in the console, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from pydantic import ValidationError
from sqlalchemy import func, select

from monitor.alerts.subscriptions import add_subscription
from monitor.config import Settings
from monitor.store.models import AlertOutbox, AuditLog, Subscription, User, utcnow
from monitor.store.users import add_user

from .alert_receivers import WebhookReceiver, free_port, webhook  # noqa: F401  (fixture)
from .conftest import CliRunner, Database
from .web_support import (
    PASSWORD,
    Seeded,
    TestClient,
    csrf,
    login,
    make_client,
    make_users,
    seed,
)

TGRAM = "tgram://123456789:AAHsecret/-100123"


@dataclass
class Console:
    db: Database
    seeded: Seeded

    # The local receivers tests deliver to are on 127.0.0.1, which the console refuses unless
    # an operator allowed it.
    private_hosts: str = "127.0.0.1"

    def client(self, who: str) -> TestClient:
        client = make_client(self.db.sessions, alert_private_hosts=self.private_hosts)
        assert login(client, who) == 303
        return client

    def sub(self, name: str) -> Subscription | None:
        with self.db.sessions() as s:
            return s.scalar(select(Subscription).where(Subscription.name == name))

    def user_id(self, name: str) -> int:
        with self.db.sessions() as s:
            uid = s.scalar(select(User.id).where(User.username == name))
        assert uid is not None
        return uid

    def audit(self, action: str) -> list[AuditLog]:
        with self.db.sessions() as s:
            return list(
                s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
            )

    def outbox(self, sub_id: int, post: str, status: str, attempts: int, error: str | None) -> int:
        with self.db.sessions.begin() as s:
            row = AlertOutbox(
                subscription_id=sub_id,
                post_id=self.seeded.posts[post],
                dedup_key=f"{sub_id}:{post}:{status}:{attempts}",
                kind="flag",
                status=status,
                payload={},
                attempts=attempts,
                next_attempt_at=utcnow() + timedelta(hours=1),
                last_error=error,
            )
            s.add(row)
            s.flush()
            return row.id


@pytest.fixture
def console(db: Database) -> Console:
    make_users(db.sessions)
    with db.sessions.begin() as s:
        add_user(s, "analyst2", "analyst", PASSWORD, actor="test")
    return Console(db, seed(db.sessions))


def create(client: TestClient, name: str, url: str, **fields: str | list[str]) -> str:
    """POST the add form; returns the page shown afterwards (the redirect target or the error)."""
    data: dict[str, str | list[str]] = {"name": name, "url": url, "csrf_token": csrf(client)}
    data.update(fields)
    resp = client.post("/subscriptions", data=data)
    if resp.status_code == 303:
        return follow(client, resp.headers["location"])
    assert resp.status_code == 400, resp.text[:500]
    return resp.text


def follow(client: TestClient, location: str) -> str:
    page = client.get(location)
    assert page.status_code == 200
    return page.text


def flash(location: str) -> str:
    return parse_qs(urlsplit(location).query)["msg"][0]


def act(client: TestClient, sub_id: int, action: str) -> tuple[int, str]:
    resp = client.post(
        f"/subscriptions/{sub_id}", data={"action": action, "csrf_token": csrf(client)}
    )
    return resp.status_code, resp.headers.get("location", "")


def names_shown(page: str) -> set[str]:
    return set(re.findall(r'<button type="submit" name="action" value="delete">Delete (\S+)', page))


# --- listing and creating ----------------------------------------------------------------------


def test_users_create_and_see_only_their_own(console: Console) -> None:
    analyst, other = console.client("analyst"), console.client("analyst2")
    page = create(
        analyst,
        "desk-a",
        "json://127.0.0.1:9/hook",
        min_severity="critical",
        kinds=["threat", "verse_cue"],
        groups="Kataib Test, Facade Two",
        channels="@Sarayat_Test",
        refs="3:139",
        digest_minutes="15",
        quiet_hours="22:00-06:00",
    )
    assert "added subscription desk-a" in page
    create(other, "desk-b", "json://127.0.0.1:9/other")

    sub = console.sub("desk-a")
    assert sub is not None and sub.owner_id == console.user_id("analyst")
    assert sub.min_severity == "critical" and sub.kinds == ["threat", "verse_cue"]
    assert sub.groups == ["Kataib Test", "Facade Two"] and sub.channels == ["sarayat_test"]
    assert sub.refs == ["3:139"] and sub.digest_minutes == 15 and sub.quiet_hours == "22:00-06:00"
    [entry] = console.audit("subscription.add")[:1]
    assert entry.actor == "analyst" and entry.target == "desk-a"

    mine = analyst.get("/subscriptions").text
    assert names_shown(mine) == {"desk-a"}
    assert "desk-b" not in mine
    for shown in ("critical+", "threat", "verse_cue", "Kataib Test, Facade Two", "sarayat_test"):
        assert shown in mine
    assert "digest every 15 min, quiet 22:00-06:00 UTC" in mine
    assert "json://127.0.0.1:9/…" in mine and "/hook" not in mine
    assert names_shown(other.get("/subscriptions").text) == {"desk-b"}
    # Analysts are not offered an owner field; admins are.
    assert 'name="owner"' not in mine


def test_admin_sees_all_with_owner_and_counts(console: Console) -> None:
    create(console.client("analyst"), "desk-a", "json://127.0.0.1:9/hook")
    admin = console.client("admin")
    page = create(admin, "desk-c", "json://127.0.0.1:9/c", owner="analyst2")
    assert "added subscription desk-c" in page
    sub_c = console.sub("desk-c")
    assert sub_c is not None and sub_c.owner_id == console.user_id("analyst2")
    sub_a = console.sub("desk-a")
    assert sub_a is not None
    console.outbox(sub_a.id, "verse", "sent", 1, None)
    console.outbox(sub_a.id, "threat", "sent", 1, None)
    console.outbox(sub_a.id, "english", "failed", 5, "HTTP 500")

    page = admin.get("/subscriptions").text
    assert names_shown(page) == {"desk-a", "desk-c"}
    assert "<th>Owner</th>" in page and "<td>analyst</td>" in page and "<td>analyst2</td>" in page
    assert "1 failed, 2 sent" in page
    assert 'name="owner"' in page
    # analyst2 sees the one an admin made for them.
    assert names_shown(console.client("analyst2").get("/subscriptions").text) == {"desk-c"}


def test_owner_field_is_admin_only_and_must_name_a_user(console: Console) -> None:
    analyst = console.client("analyst")
    resp = analyst.post(
        "/subscriptions",
        data={
            "name": "x",
            "url": "json://127.0.0.1:9/h",
            "owner": "analyst2",
            "csrf_token": csrf(analyst),
        },
    )
    assert resp.status_code == 403
    page = create(console.client("admin"), "x", "json://127.0.0.1:9/h", owner="nobody")
    assert "no user named &#39;nobody&#39;" in page
    assert console.sub("x") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "notascheme://AAHsecret@host/AAHsecret"}, "not a notification URL apprise"),
        ({"min_severity": "none"}, "must be one of low, medium, high, critical"),
        ({"kinds": ["rumour"]}, "unknown signal kind"),
        ({"refs": "3:139, chapter three"}, "verse refs look like 3:139"),
        ({"digest_minutes": "0"}, "must be at least 1 minute"),
        ({"digest_minutes": "soon"}, "must be at least 1 minute"),
        ({"quiet_hours": "late"}, "quiet hours must look like 22:00-06:00"),
    ],
)
def test_invalid_input_shows_the_error_and_creates_nothing(
    console: Console, fields: dict[str, str], message: str
) -> None:
    analyst = console.client("analyst")
    data = {"url": "json://127.0.0.1:9/hook", "groups": "Kataib Test", **fields}
    page = create(analyst, "broken", **data)
    assert "not added:" in page and message in page, page
    assert "AAHsecret" not in page
    assert 'value="Kataib Test"' in page  # the form keeps what was typed, except the URL
    assert console.sub("broken") is None
    assert console.audit("subscription.add") == []


@pytest.mark.parametrize(
    ("fields", "option", "value", "field"),
    [
        ({"refs": "3:139, 999:1"}, "--ref", "999:1", "verse refs"),
        ({"refs": "2:287"}, "--ref", "2:287", "verse refs"),
        ({"groups": "Kataib Test, No Such Group"}, "--group", "No Such Group", "groups"),
        ({"channels": "@nobody_here"}, "--channel", "@nobody_here", "channels"),
        ({"sites": "harir, atlantis"}, "--site", "atlantis", "sites"),
        ({"persons": "akram-al-kaabi, Akram al-Kaabi"}, "--person", "Akram al-Kaabi", "people"),
    ],
)
def test_filters_that_can_never_match_are_refused_as_the_cli_refuses_them(
    console: Console,
    run_cli: CliRunner,
    fields: dict[str, str],
    option: str,
    value: str,
    field: str,
) -> None:
    """`subscribers add --ref 999:1` exits 2; the form says the same and keeps what was typed."""
    cli = run_cli(
        "subscribers",
        "add",
        "never",
        "--url",
        "json://hooks.example.org/x",
        option,
        value,
        db_url=console.db.url,
    )
    assert cli.code == 2
    reason = cli.err.split(f"{option}: ", 1)[1].split(" (see `monitor", 1)[0].strip()
    analyst = console.client("analyst")
    data = {"url": "json://hooks.example.org/x", "min_severity": "medium", **fields}
    page = create(analyst, "never", **data)
    assert f"not added: {field}: {escape(reason)}" in page, page
    for name, typed in fields.items():
        assert f'name="{name}" maxlength="2000" value="{escape(typed)}"' in page
    assert "<option selected>medium</option>" in page
    assert console.sub("never") is None
    assert console.audit("subscription.add") == []


def test_duplicate_name_is_refused(console: Console) -> None:
    analyst = console.client("analyst")
    create(analyst, "desk", "json://127.0.0.1:9/hook")
    page = create(console.client("analyst2"), "desk", "json://127.0.0.1:9/other")
    assert "already exists" in page
    with console.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Subscription)) == 1


# --- acting on a subscription ------------------------------------------------------------------


def test_only_the_owner_or_an_admin_may_act(console: Console) -> None:
    create(console.client("analyst"), "desk-a", "json://127.0.0.1:9/hook")
    sub = console.sub("desk-a")
    assert sub is not None
    for who in ("analyst2", "operator"):
        client = console.client(who)
        for action in ("disable", "delete", "test"):
            status, _ = act(client, sub.id, action)
            assert status == 403, (who, action)
    assert (console.sub("desk-a") or sub).enabled
    assert console.audit("subscription.update") == []

    status, location = act(console.client("analyst"), sub.id, "disable")
    assert status == 303 and flash(location) == "disabled subscription desk-a"
    assert not (console.sub("desk-a") or sub).enabled
    status, location = act(console.client("admin"), sub.id, "enable")
    assert status == 303 and flash(location) == "enabled subscription desk-a"
    assert (console.sub("desk-a") or sub).enabled
    actors = [(a.actor, a.detail) for a in console.audit("subscription.update")]
    assert actors == [("analyst", {"enabled": False}), ("admin", {"enabled": True})]

    assert act(console.client("admin"), 999999, "disable")[0] == 404
    assert act(console.client("analyst"), sub.id, "explode")[0] == 400


def test_delete_removes_the_subscription_and_its_queue(console: Console) -> None:
    analyst = console.client("analyst")
    create(analyst, "desk-a", "json://127.0.0.1:9/hook")
    sub = console.sub("desk-a")
    assert sub is not None
    console.outbox(sub.id, "verse", "failed", 5, "down")
    status, location = act(analyst, sub.id, "delete")
    assert status == 303 and flash(location) == "removed subscription desk-a"
    assert console.sub("desk-a") is None
    with console.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AlertOutbox)) == 0
    assert [a.actor for a in console.audit("subscription.remove")] == ["analyst"]


def test_send_test_delivers_to_a_real_webhook(
    console: Console,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    analyst = console.client("analyst")
    create(analyst, "desk-hook", webhook.url)
    sub = console.sub("desk-hook")
    assert sub is not None
    status, location = act(analyst, sub.id, "test")
    assert status == 303
    assert (
        flash(location) == f"desk-hook: test message delivered to json://127.0.0.1:{webhook.port}/…"
    )
    [hook] = webhook.received
    assert hook.body["title"] == "[TEST] monitor alert subscription"
    assert "desk-hook" in hook.body["message"] and "analyst" in hook.body["message"]
    assert hook.body["alert_keys"].startswith("test:desk-hook:")
    [entry] = console.audit("subscription.test")
    assert entry.actor == "analyst" and entry.detail == {"ok": True, "error": None}


def test_send_test_reports_a_failure_without_the_secret(console: Console) -> None:
    analyst = console.client("analyst")
    port = free_port()  # nothing listens there
    create(analyst, "desk-down", f"json://user:PWsecret99@127.0.0.1:{port}/hook")
    sub = console.sub("desk-down")
    assert sub is not None
    status, location = act(analyst, sub.id, "test")
    assert status == 303
    msg = flash(location)
    assert msg.startswith(f"desk-down: delivery to json://127.0.0.1:{port}/… failed:")
    page = follow(analyst, location)
    assert "failed" in page
    for text in (location, page, analyst.get("/subscriptions").text):
        assert "PWsecret99" not in text
    [entry] = console.audit("subscription.test")
    assert entry.detail["ok"] is False and "PWsecret99" not in str(entry.detail)


def test_url_secrets_never_appear_in_any_page(console: Console) -> None:
    analyst, admin, operator = (console.client(w) for w in ("analyst", "admin", "operator"))
    after = create(analyst, "desk-tg", TGRAM)
    assert "added subscription desk-tg" in after
    sub = console.sub("desk-tg")
    assert sub is not None and sub.url == TGRAM
    console.outbox(
        sub.id, "verse", "failed", 5, f"Failed to send to {TGRAM}: bot AAHsecret unauthorized"
    )
    console.outbox(sub.id, "threat", "pending", 2, "Telegram 123456789:AAHsecret timed out")
    pages = [
        after,
        analyst.get("/subscriptions").text,
        admin.get("/subscriptions").text,
        operator.get("/alerts/failed").text,
        admin.get("/audit").text,
        create(analyst, "desk-tg", TGRAM),  # the duplicate-name error page
    ]
    assert "tgram://…" in pages[1] and "tgram://…" in pages[3]
    assert "unauthorized" in pages[3] and "timed out" in pages[3]
    for page in pages:
        assert "AAHsecret" not in page
        assert "123456789" not in page


# --- failed alerts -----------------------------------------------------------------------------


def test_failed_alerts_page_lists_failed_and_retrying_rows(console: Console) -> None:
    create(console.client("analyst"), "desk-a", "json://127.0.0.1:9/hook")
    sub = console.sub("desk-a")
    assert sub is not None
    failed = console.outbox(sub.id, "verse", "failed", 5, "HTTP 500 from receiver")
    retrying = console.outbox(sub.id, "threat", "pending", 2, "connection refused")
    sent = console.outbox(sub.id, "english", "sent", 1, None)
    fresh = console.outbox(sub.id, "plain", "pending", 0, None)

    assert console.client("analyst").get("/alerts/failed").status_code == 403
    operator = console.client("operator")
    page = operator.get("/alerts/failed").text
    listed = {int(x) for x in re.findall(r"<tr>\s*<td>(\d+)</td>", page)}
    assert listed == {failed, retrying}, (sent, fresh)
    assert f'href="/posts/{console.seeded.posts["verse"]}"' in page
    assert "HTTP 500 from receiver" in page and "connection refused" in page
    assert "desk-a" in page and "retrying, next in" in page
    assert page.count('/retry"') == 1  # only failed rows are offered a retry
    assert 'href="/alerts/failed">Failed alerts</a>' in page
    assert 'href="/alerts/failed"' not in console.client("analyst").get("/").text


def test_retry_puts_a_failed_row_back_in_the_queue(console: Console) -> None:
    create(console.client("analyst"), "desk-a", "json://127.0.0.1:9/hook")
    sub = console.sub("desk-a")
    assert sub is not None
    failed = console.outbox(sub.id, "verse", "failed", 5, "HTTP 500")
    sent = console.outbox(sub.id, "threat", "sent", 1, None)
    operator = console.client("operator")
    before = utcnow()

    resp = operator.post(f"/alerts/{failed}/retry", data={"csrf_token": csrf(operator)})
    assert resp.status_code == 303
    assert flash(resp.headers["location"]) == f"alert {failed} queued for another delivery"
    with console.db.sessions() as s:
        row = s.get_one(AlertOutbox, failed)
        assert row.status == "pending" and row.attempts == 0
        assert before - timedelta(seconds=5) <= row.next_attempt_at <= utcnow()
    [entry] = console.audit("alert.retry")
    assert entry.actor == "operator" and entry.target == f"alert:{failed}"
    # Now pending with no attempts: off the failed page.
    assert f"<td>{failed}</td>" not in operator.get("/alerts/failed").text

    resp = operator.post(f"/alerts/{sent}/retry", data={"csrf_token": csrf(operator)})
    assert resp.status_code == 303 and "is not failed" in flash(resp.headers["location"])
    with console.db.sessions() as s:
        assert s.get_one(AlertOutbox, sent).status == "sent"
    assert len(console.audit("alert.retry")) == 1
    resp = operator.post("/alerts/999999/retry", data={"csrf_token": csrf(operator)})
    assert resp.status_code == 404


def test_posts_need_the_csrf_token(console: Console) -> None:
    admin = console.client("admin")
    create(admin, "desk-a", "json://127.0.0.1:9/hook")
    sub = console.sub("desk-a")
    assert sub is not None
    failed = console.outbox(sub.id, "verse", "failed", 5, "HTTP 500")
    audit_before = len(console.audit("subscription.add"))
    posts = [
        ("/subscriptions", {"name": "forged", "url": "json://127.0.0.1:9/x"}),
        (f"/subscriptions/{sub.id}", {"action": "delete"}),
        (f"/subscriptions/{sub.id}", {"action": "disable"}),
        (f"/alerts/{failed}/retry", {}),
    ]
    for path, form in posts:
        assert admin.post(path, data=form).status_code == 403, path
        assert admin.post(path, data={**form, "csrf_token": "forged"}).status_code == 403, path
    assert console.sub("forged") is None
    still = console.sub("desk-a")
    assert still is not None and still.enabled
    with console.db.sessions() as s:
        assert s.get_one(AlertOutbox, failed).status == "failed"
    assert len(console.audit("subscription.add")) == audit_before


def test_anonymous_is_sent_to_login(console: Console) -> None:
    client = make_client(console.db.sessions)
    for path in ("/subscriptions", "/alerts/failed"):
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:9/hook",
        "jsons://localhost/hook",
        "json://169.254.169.254/latest/meta-data",  # cloud metadata
        "form://10.1.2.3:5432/",
        "json://[::1]:8000/metrics",
        "json://[::ffff:127.0.0.1]/x",
        "mailto://user:pw@example.com?smtp=192.168.1.10",
    ],
)
def test_console_refuses_destinations_on_private_networks(console: Console, url: str) -> None:
    console.private_hosts = ""
    page = create(console.client("admin"), "probe", url)
    assert "not a public host" in page and "MONITOR_ALERT_PRIVATE_HOSTS" in page
    assert console.sub("probe") is None


def test_send_test_refuses_a_private_destination_saved_elsewhere(
    console: Console,
    webhook: WebhookReceiver,  # noqa: F811
) -> None:
    with console.db.sessions.begin() as s:  # as `monitor alerts add` would, unchecked
        add_subscription(s, "cli-hook", webhook.url, owner_id=console.user_id("analyst"))
    console.private_hosts = ""
    sub = console.sub("cli-hook")
    assert sub is not None
    assert not sub.check_destination
    status, location = act(console.client("analyst"), sub.id, "test")
    assert status == 303
    assert flash(location).startswith("cli-hook: not sent: 127.0.0.1 is not a public host")
    assert webhook.received == []


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8", "10.0.0.0/8, 127.0.0.1"])
def test_operators_can_allow_private_hosts(
    console: Console,
    webhook: WebhookReceiver,  # noqa: F811
    allowed: str,
) -> None:
    console.private_hosts = allowed
    analyst = console.client("analyst")
    create(analyst, "lan-hook", webhook.url)
    sub = console.sub("lan-hook")
    assert sub is not None
    assert sub.check_destination  # and again before every delivery
    _, location = act(analyst, sub.id, "test")
    assert "test message delivered" in flash(location)
    assert len(webhook.received) == 1


def test_hosted_services_are_not_host_checked(console: Console) -> None:
    console.private_hosts = ""
    create(console.client("analyst"), "bot", "tgram://123456789:ABCdefGhIJKlmnOPQ/1234567")
    assert console.sub("bot") is not None


def test_allowed_private_hosts_setting_is_validated() -> None:
    with pytest.raises(ValidationError, match="alert_private_hosts"):
        Settings(alert_private_hosts="10.0.0.0/33")
    assert Settings(alert_private_hosts="ntfy.lan, 10.0.0.0/8").alert_private_hosts
