"""Console sign-in, sessions, CSRF, the role × route matrix, headers and probes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from monitor.alerts.subscriptions import add_subscription
from monitor.errors import ConfigError
from monitor.store.db import make_engine, session_factory
from monitor.store.models import AlertOutbox, AuditLog, LoginFailure, Suppression, User
from monitor.web.app import create_app
from monitor.web.auth import LoginLimiter
from monitor.web.security import CSP
from monitor.web.throttle import IN_FLIGHT, Claim

from .conftest import Database
from .web_support import (
    PASSWORD,
    ROLES,
    SECRET,
    csrf,
    login,
    make_client,
    make_users,
    seed,
    settings,
)


@pytest.fixture
def console(sqlite_db: Database):  # type: ignore[no-untyped-def]
    make_users(sqlite_db.sessions)
    seeded = seed(sqlite_db.sessions)
    return sqlite_db, seeded


def test_login_ok_sets_a_protected_session_cookie(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    assert client.get("/").headers["location"] == "/login"
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    resp = client.post(
        "/login",
        data={
            "username": "analyst",
            "password": PASSWORD,
            "csrf_token": token.group(1),
            "next": "/overview",
        },
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/overview"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert client.get("/").status_code == 200
    with db.sessions() as s:
        assert s.scalar(select(AuditLog).where(AuditLog.action == "login")).actor == "analyst"


def test_cookie_is_secure_over_https(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    client.base_url = client.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    assert "secure" in client.get("/login").headers["set-cookie"].lower()


def test_login_bad_password_and_offsite_next(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    assert login(client, "analyst", "wrong-password") == 401
    assert client.get("/").status_code == 303
    token = csrf_from_login(client)
    resp = client.post(
        "/login",
        data={
            "username": "analyst",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert resp.headers["location"] == "/"


def csrf_from_login(client) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_login_is_rate_limited(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    for _ in range(5):
        assert login(client, "analyst", "nope-nope") == 401
    token = csrf_from_login(client)
    resp = client.post(
        "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) > 0
    assert "Too many failed attempts" in resp.text
    # Other accounts from the same client are not locked by this one's failures.
    assert login(client, "operator") == 303


def test_console_workers_share_the_login_limit(console) -> None:  # type: ignore[no-untyped-def]
    # `monitor serve --workers 2`: an attacker's requests land on either process.
    db, _ = console
    workers = [make_client(db.sessions), make_client(db.sessions)]
    for i in range(5):
        assert login(workers[i % 2], "analyst", "nope-nope") == 401
    for worker in workers:
        token = csrf_from_login(worker)
        resp = worker.post(
            "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 429


def test_login_limit_window_slides_and_success_clears_it(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    limiter = LoginLimiter(per_user=3, per_client=5, window=60, clock=lambda: now[0])

    def fail(client: str, name: str) -> Claim:
        claim = limiter.claim(s, client, name)
        assert isinstance(claim, Claim)
        limiter.failed(s, claim)
        return claim

    with db.sessions.begin() as s:
        first = limiter.claim(s, "10.0.0.1", "Analyst")
        assert isinstance(first, Claim)
        for _ in range(2):
            assert isinstance(limiter.claim(s, "10.0.0.1", "analyst"), Claim)
        # Three checks in flight hold the whole budget: wait for them, not refused yet.
        assert limiter.claim(s, "10.0.0.2", "analyst") == IN_FLIGHT
        limiter.succeeded(s, first, "10.0.0.1", "analyst")  # a right one frees its place
        fail("10.0.0.1", "analyst")
        s.query(LoginFailure).update({LoginFailure.pending: False})  # the other two failed
        assert limiter.claim(s, "10.0.0.1", "analyst") == 61  # the account's budget is spent
        assert limiter.claim(s, "10.0.0.2", "analyst") == 61  # from any address
        now[0] += timedelta(seconds=30)
        assert limiter.claim(s, "10.0.0.1", "analyst") == 31
        for name in ("a", "b"):
            assert not fail("10.0.0.1", name).noisy
        # The address's own limit is a signal, never a refusal.
        claim = fail("10.0.0.1", "someone-else")
        assert claim.noisy and claim.client_wait == 31
        now[0] += timedelta(seconds=31)
        fresh = limiter.claim(s, "10.0.0.1", "analyst")  # also prunes the expired rows
        assert isinstance(fresh, Claim)
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 4
        limiter.succeeded(s, fresh, "10.0.0.1", "ANALYST")
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 3


def test_a_check_that_never_settled_counts_as_failed(console) -> None:  # type: ignore[no-untyped-def]
    """A worker that died mid-check must not leave the account waiting forever."""
    db, _ = console
    now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    limiter = LoginLimiter(per_user=1, window=300, clock=lambda: now[0])
    with db.sessions.begin() as s:
        assert isinstance(limiter.claim(s, "10.0.0.1", "analyst"), Claim)
        assert limiter.claim(s, "10.0.0.1", "analyst") == IN_FLIGHT
        now[0] += timedelta(seconds=61)
        assert limiter.claim(s, "10.0.0.1", "analyst") == 240


def test_login_without_csrf_is_rejected(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    client.get("/login")
    resp = client.post("/login", data={"username": "analyst", "password": PASSWORD})
    assert resp.status_code == 403
    assert client.get("/").status_code == 303


def test_disabled_user_loses_session(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    with db.sessions.begin() as s:
        s.scalar(select(User).where(User.username == "analyst")).disabled = True  # type: ignore[union-attr]
    assert client.get("/").status_code == 303


def test_tampered_cookie_is_anonymous(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    login(client, "admin")
    value = client.cookies["monitor_session"]
    client.cookies.clear()  # set() would add a second cookie beside the server's one
    client.cookies.set("monitor_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/users").status_code == 303


def test_placeholder_secret_is_refused() -> None:
    from monitor.config import Settings
    from monitor.store.db import make_engine as mk

    with pytest.raises(ConfigError):
        create_app(Settings(secret_key="changeme"), session_factory(mk("sqlite://")))
    assert create_app(Settings(secret_key="changeme"), session_factory(mk("sqlite://")), demo=True)


# --- role × route matrix ---------------------------------------------------------------------

PUBLIC = {"/healthz", "/readyz", "/metrics"}


def matrix(  # type: ignore[no-untyped-def]
    seeded, sup_id: int, user_id: int, sub_id: int = 1, outbox_id: int = 1
) -> list[tuple[str, str, str, dict[str, str], int]]:
    """(method, path, least role, form, status for an allowed role).

    ``sub_id`` is a subscription owned by the signed-in user (others get 403 on it whatever
    their role, except admins: tested in test_web_alerts)."""
    post = seeded.posts["verse"]
    return [
        ("GET", "/", "analyst", {}, 200),
        ("GET", f"/posts/{post}", "analyst", {}, 200),
        ("POST", f"/posts/{post}/review", "analyst", {"decision": "confirmed", "note": "n"}, 303),
        ("POST", f"/posts/{post}/assign", "analyst", {"assign_to": "analyst"}, 303),
        ("GET", "/overview", "analyst", {}, 200),
        ("GET", "/suppressions", "analyst", {}, 200),
        ("GET", "/export.csv", "analyst", {}, 200),
        ("GET", "/export.jsonl", "analyst", {}, 200),
        ("POST", f"/suppressions/{sup_id}", "operator", {"enabled": "0"}, 303),
        ("POST", f"/suppressions/{sup_id}/lift", "operator", {}, 303),
        ("GET", "/channels", "operator", {}, 200),
        (
            "POST",
            "/channels",
            "operator",
            {"handle": "new_chan", "group": "G", "interval": "600"},
            303,
        ),
        ("POST", f"/channels/{seeded.channel_id}", "operator", {"interval": "900"}, 303),
        ("GET", "/groups", "operator", {}, 200),
        ("POST", "/groups", "operator", {"name": "G2", "kind": "facade", "aliases": "a, b"}, 303),
        ("GET", "/rules", "operator", {}, 200),
        ("POST", "/rules/reload", "operator", {}, 303),
        ("POST", "/rules/rematch", "operator", {}, 303),
        ("GET", "/audit", "operator", {}, 200),
        ("GET", "/users", "admin", {}, 200),
        (
            "POST",
            "/users",
            "admin",
            {"username": "new-user", "role": "analyst", "password": "long-enough-pw"},
            303,
        ),
        ("POST", f"/users/{user_id}", "admin", {"role": "analyst"}, 303),
        ("GET", "/subscriptions", "analyst", {}, 200),
        (
            "POST",
            "/subscriptions",
            "analyst",
            {"name": "matrix-sub", "url": "json://93.184.215.14:9/hook", "min_severity": "high"},
            303,
        ),
        ("POST", f"/subscriptions/{sub_id}", "analyst", {"action": "disable"}, 303),
        ("GET", "/alerts/failed", "operator", {}, 200),
        ("POST", f"/alerts/{outbox_id}/retry", "operator", {}, 303),
        ("GET", "/account/password", "analyst", {}, 200),
        (  # two different new passwords: refused before any check, the password stays
            "POST",
            "/account/password",
            "analyst",
            {
                "current_password": PASSWORD,
                "new_password": "a-new-passphrase",
                "confirm_password": "another-passphrase",
            },
            400,
        ),
        # #17: a post's evidence bundle; this console has no signing key, and never makes one
        # (tests/evidence/test_web.py downloads one with the key).
        ("POST", f"/posts/{post}/evidence", "analyst", {}, 409),
        ("GET", "/media/999999", "analyst", {}, 404),
        # #15: the channel network.
        ("GET", "/graph", "analyst", {}, 200),
        ("GET", f"/channels/{seeded.channel_id}", "analyst", {}, 200),
        ("GET", "/discovered", "operator", {}, 200),
        (
            "POST",
            "/discovered/promote",
            "operator",
            {"target": "sabereen_news", "group": "", "kind": "group", "source": "web"},
            303,
        ),
        ("POST", "/discovered/ignore", "operator", {"target": "other_news", "reason": "r"}, 303),
        ("POST", "/discovered/unignore", "operator", {"target": "other_news"}, 303),
        # #16: actors and incidents.
        ("GET", "/actors", "analyst", {}, 200),
        ("GET", "/actors/groups/harakat-al-nujaba", "analyst", {}, 200),
        ("GET", "/actors/people/akram-al-kaabi", "analyst", {}, 200),
        ("POST", "/actors/person/akram-al-kaabi/edit", "operator", {"note": "n"}, 303),
        ("GET", "/actors/sites/harir", "analyst", {}, 200),
        ("GET", "/actors/new/site", "operator", {}, 200),
        ("POST", "/actors/new/site", "operator", {"id": "Not A Slug"}, 400),
        ("POST", "/actors/site/harir/revert", "operator", {}, 303),
        ("GET", "/incidents", "analyst", {}, 200),
        ("GET", "/incidents/999999", "analyst", {}, 404),
        ("POST", "/incidents/999999/merge", "analyst", {"other": "1"}, 303),
        ("POST", "/incidents/999999/split", "analyst", {"post": "1"}, 303),
        ("POST", "/incidents/999999/correct", "analyst", {"note": "n"}, 404),
        ("POST", "/logout", "analyst", {}, 303),
        ("GET", "/login", "", {}, 200),
        ("POST", "/login", "", {"username": "nobody", "password": "wrong-password"}, 401),
        ("GET", "/healthz", "", {}, 200),
        ("GET", "/readyz", "", {}, 200),
        ("GET", "/metrics", "", {}, 200),
    ]


RANK = {"": 0, "analyst": 1, "operator": 2, "admin": 3}


def _api_routes(routes: Iterable[object]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):  # FastAPI 0.16x keeps included routers whole
            yield from _api_routes(r.original_router.routes)


def test_every_route_is_in_the_matrix(console) -> None:  # type: ignore[no-untyped-def]
    """Every route the console serves, whichever module adds it, is in the matrix above."""
    db, seeded = console
    routes = list(_api_routes(make_client(db.sessions).app.routes))
    registered = {(m, r.path) for r in routes for m in r.methods}
    covered = set()
    for method, path, *_ in matrix(seeded, 1, 1):
        for r in routes:
            if method in r.methods and r.path_regex.match(path.partition("?")[0]):
                covered.add((method, r.path))
                break
        else:
            raise AssertionError(f"{method} {path} matches no route")
    assert registered - covered == set()


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_role_route_matrix(console, who: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, seeded = console
    with db.sessions.begin() as s:
        sup = Suppression(phrase="x", phrase_norm="x", channel_id=seeded.channel_id, enabled=True)
        s.add(sup)
        s.flush()
        sup_id = sup.id
        target_user = s.scalar(select(User.id).where(User.username == "analyst"))
        # The subscription belongs to whoever is signed in, so every role may act on it.
        owner = s.scalar(select(User.id).where(User.username == who))
        sub = add_subscription(s, "owned", "json://127.0.0.1:9/hook", owner_id=owner)
        outbox = AlertOutbox(
            subscription_id=sub.id,
            post_id=seeded.posts["verse"],
            dedup_key="matrix",
            status="failed",
            attempts=5,
        )
        s.add(outbox)
        s.flush()
        sub_id, outbox_id = sub.id, outbox.id
    for method, path, least, form, ok in matrix(
        seeded, sup_id, target_user or 0, sub_id, outbox_id
    ):
        # No signing key there: the evidence route's answer does not depend on ./var.
        client = make_client(db.sessions, evidence_key=tmp_path / "no-key" / "signing.key")
        if who != "anonymous":
            assert login(client, who) == 303
            token = csrf(client)
        else:
            token = csrf_from_login(client)
        if method == "GET":
            resp = client.get(path)
        else:
            resp = client.post(path, data={**form, "csrf_token": token})
        allowed = RANK[who if who != "anonymous" else ""] >= RANK[least]
        if method == "GET" and path == "/login" and who != "anonymous":
            expected = 303  # already signed in: straight to the queue
        elif path == "/logout":
            expected = 303
        elif allowed:
            expected = ok
        elif who == "anonymous":
            expected = 401 if path.startswith("/export") else 303
        else:
            expected = 403
        assert resp.status_code == expected, (who, method, path, resp.text[:300])
        if expected == 303 and who == "anonymous" and path != "/logout":
            assert resp.headers["location"].startswith("/login")


def test_every_post_route_checks_csrf(console) -> None:  # type: ignore[no-untyped-def]
    db, seeded = console
    client = make_client(db.sessions)
    assert login(client, "admin") == 303
    with db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditLog))
    for method, path, _least, form, _ok in matrix(seeded, 1, 1):
        if method != "POST":
            continue
        resp = client.post(path, data=form)
        assert resp.status_code == 403, path
        resp = client.post(path, data={**form, "csrf_token": "forged"})
        assert resp.status_code == 403, path
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == before
    assert client.get("/users").status_code == 200  # still signed in: logout was refused too


def test_security_headers_on_every_response(console, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, seeded = console
    client = make_client(db.sessions)
    responses = [
        client.get("/login"),
        client.get("/"),
        client.get("/export.csv"),
        client.get("/static/console.css"),
    ]
    responses.append(client.post("/login", data={"username": "x"}))
    login(client, "analyst")
    responses += [
        client.get("/"),
        client.get(f"/posts/{seeded.posts['verse']}"),
        client.get("/posts/999999"),
        client.get("/users"),
        client.get("/healthz"),
        client.get("/metrics"),
        client.get("/nowhere"),
    ]
    broken = make_client(
        session_factory(
            make_engine("postgresql://u@127.0.0.1:1/x", connect_args={"connect_timeout": 2})
        )
    )
    broken.cookies = client.cookies
    responses.append(broken.get("/"))  # the database is down: 503, still with headers
    assert {r.status_code for r in responses} >= {200, 303, 401, 403, 404, 503}
    for r in responses:
        assert r.headers["content-security-policy"] == CSP, r.url
        assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"


def test_probes(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/readyz").status_code == 200
    client.get("/")
    body = client.get("/metrics").text
    assert "monitor_posts_total 4.0" in body
    assert 'monitor_flags_total{severity="critical"} 1.0' in body
    assert 'monitor_alert_outbox_depth{status="pending"} 0.0' in body
    assert 'monitor_http_requests_total{method="GET",route="/",status="303"} 1.0' in body
    assert "monitor_http_request_duration_seconds_bucket" in body


def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    engine = make_engine("postgresql://u@127.0.0.1:1/x", connect_args={"connect_timeout": 2})
    app = create_app(settings(), session_factory(engine))
    from .web_support import TestClient

    client = TestClient(app)
    assert client.get("/healthz").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.headers["content-security-policy"] == CSP
    assert client.get("/metrics").status_code == 503
    assert SECRET not in resp.text


def test_headers_survive_an_unhandled_error() -> None:
    from starlette.types import Receive, Scope, Send

    from monitor.web.security import SecurityHeaders

    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    from .web_support import TestClient

    resp = TestClient(SecurityHeaders(crash)).get("/anything")
    assert resp.status_code == 500
    assert resp.headers["content-security-policy"] == CSP
    assert "boom" not in resp.text


def test_a_post_without_any_session_is_sent_to_sign_in(console) -> None:  # type: ignore[no-untyped-def]
    """An expired or missing cookie: no token to check, so the answer is "sign in", not 403."""
    db, seeded = console
    client = make_client(db.sessions)
    with db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditLog))
    path = f"/posts/{seeded.posts['verse']}/review"
    form = {"decision": "confirmed", "note": "n"}
    resp = client.post(path, data=form)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")
    api = client.post(path, data=form, headers={"Accept": "application/json"})
    assert api.status_code == 401
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog)) == before
