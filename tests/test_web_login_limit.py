"""The login limit (#11, finding 8): a per-account budget that parallel guesses cannot race, an
address limit that never locks out a right password, and forwarded addresses only from
trusted proxies."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from monitor.store.models import AuditLog, LoginFailure, utcnow
from monitor.web.app import create_app

from .conftest import Database
from .web_support import CSRF_FIELD, PASSWORD, login, make_client, make_users, serving, settings

GUESSES = 20


def audit(db: Database, action: str) -> list[AuditLog]:
    with db.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_parallel_guesses_get_no_more_password_checks_than_allowed(db: Database) -> None:
    """Twenty guesses at once, over real connections, from threads: five are checked."""
    make_users(db.sessions)
    app = create_app(settings(console_concurrency=GUESSES), db.sessions)
    statuses: list[int] = []
    start = threading.Barrier(GUESSES)

    def guess(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            found = CSRF_FIELD.search(client.get("/login").text)
            assert found
            form = {"username": "analyst", "password": "wrong-guess", "csrf_token": found[1]}
            start.wait(timeout=60)
            statuses.append(client.post("/login", data=form).status_code)

    with serving(app) as base:
        threads = [threading.Thread(target=guess, args=(base,)) for _ in range(GUESSES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert len(statuses) == GUESSES
    checked = len(audit(db, "login.failed"))  # one row per password that was checked
    assert checked == statuses.count(401) == 5, statuses
    assert statuses.count(429) == GUESSES - 5
    # The refused ones left nothing behind that would stretch the lock-out.
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LoginFailure)) == 5


def test_parallel_right_passwords_all_sign_in(db: Database) -> None:
    """One shared account, many analysts at once: checks in flight make the others wait, not
    fail."""
    make_users(db.sessions)
    app = create_app(settings(console_concurrency=GUESSES), db.sessions)
    statuses: list[int] = []
    start = threading.Barrier(GUESSES)

    def sign_in(base: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            found = CSRF_FIELD.search(client.get("/login").text)
            assert found
            form = {"username": "analyst", "password": PASSWORD, "csrf_token": found[1]}
            start.wait(timeout=60)
            statuses.append(client.post("/login", data=form).status_code)

    with serving(app) as base:
        threads = [threading.Thread(target=sign_in, args=(base,)) for _ in range(GUESSES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert statuses == [303] * GUESSES
    assert len(audit(db, "login")) == GUESSES


def noisy(db: Database, client: str, failures: int = 40) -> None:
    """``failures`` recent failed sign-ins from ``client``, each for another (made-up) name."""
    with db.sessions.begin() as s:
        for i in range(failures):
            s.add(LoginFailure(client=client, username=f"guess{i}", at=utcnow()))


def test_a_right_password_signs_in_from_a_noisy_address(db: Database) -> None:
    """Behind a proxy every analyst shares its address: one guesser must not lock all out."""
    make_users(db.sessions)
    noisy(db, "testclient")
    client = make_client(db.sessions)
    # A wrong guess from there is told to slow down, and is still one check of the budget.
    assert login(client, "operator", "not-the-password") == 429
    assert audit(db, "login.failed")[-1].detail == {"client": "testclient", "throttled": True}
    assert login(client, "analyst") == 303
    assert client.get("/").status_code == 200
    # The account's own budget still binds, whatever the address.
    for _ in range(4):
        assert login(make_client(db.sessions), "operator", "not-the-password") == 429
    assert login(make_client(db.sessions), "operator") == 429


def test_the_window_slides_for_the_account(sqlite_db: Database) -> None:
    db = sqlite_db
    make_users(db.sessions)
    with db.sessions.begin() as s:
        old = utcnow() - timedelta(seconds=301)
        s.add_all(LoginFailure(client="x", username="analyst", at=old) for _ in range(5))
    assert login(make_client(db.sessions), "analyst") == 303


def failed_from(db: Database, peer: str, trusted: str, forwarded: str) -> str:
    """The client address the console records for a failed sign-in through ``peer``."""
    app = create_app(settings(trusted_proxies=trusted), db.sessions)
    from starlette.testclient import TestClient

    client = TestClient(app, follow_redirects=False, client=(peer, 50000))
    client.headers["X-Forwarded-For"] = forwarded
    assert login(client, "analyst", "not-the-password") == 401
    detail = audit(db, "login.failed")[-1].detail
    return str(detail["client"])


@pytest.mark.parametrize(
    ("peer", "trusted", "forwarded", "recorded"),
    [
        ("198.51.100.7", "", "203.0.113.5", "198.51.100.7"),  # nobody trusted: ignored
        ("198.51.100.7", "10.0.0.0/8", "203.0.113.5", "198.51.100.7"),  # not a trusted peer
        ("10.1.2.3", "10.0.0.0/8", "203.0.113.5", "203.0.113.5"),  # the proxy's word
        # A client's own forged entry comes first; the proxy appends the real one after it.
        ("10.1.2.3", "10.0.0.0/8", "127.0.0.1, 203.0.113.5", "203.0.113.5"),
        ("10.1.2.3", "10.0.0.0/8, 10.9.9.9", "203.0.113.5, 10.9.9.9", "203.0.113.5"),
    ],
)
def test_forwarded_addresses_only_from_trusted_proxies(
    sqlite_db: Database, peer: str, trusted: str, forwarded: str, recorded: str
) -> None:
    make_users(sqlite_db.sessions)
    assert failed_from(sqlite_db, peer, trusted, forwarded) == recorded


def test_forwarded_addresses_feed_the_address_limit(sqlite_db: Database) -> None:
    """Behind a trusted proxy the noisy address is the guesser's, not everyone's."""
    db = sqlite_db
    make_users(db.sessions)
    noisy(db, "203.0.113.5")
    from starlette.testclient import TestClient

    app = create_app(settings(trusted_proxies="10.0.0.1"), db.sessions)
    analyst = TestClient(app, follow_redirects=False, client=("10.0.0.1", 50000))
    analyst.headers["X-Forwarded-For"] = "198.51.100.20"
    assert login(analyst, "analyst", "a-typo-typo") == 401  # not throttled: a quiet address
    guesser = TestClient(app, follow_redirects=False, client=("10.0.0.1", 50000))
    guesser.headers["X-Forwarded-For"] = "203.0.113.5"
    assert login(guesser, "operator", "a-guess-guess") == 429
    assert login(analyst, "analyst", PASSWORD) == 303


def test_bad_trusted_proxies_setting_is_refused() -> None:
    from monitor.config import Settings
    from monitor.errors import ConfigError

    with pytest.raises(ValueError, match="not-an-ip"):
        Settings(trusted_proxies="10.0.0.1, not-an-ip")
    from monitor.config import load_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MONITOR_TRUSTED_PROXIES", "10.0.0.0/33")
        with pytest.raises(ConfigError, match="MONITOR_TRUSTED_PROXIES"):
            load_settings()
