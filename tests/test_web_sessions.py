"""Sessions end server-side (#11, finding 5): a cookie captured before logout, a new password,
disable + enable or a role change opens nothing afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.store.models import AuditLog, User

from .conftest import CliRunner, Database
from .web_support import CSRF_FIELD, PASSWORD, SECRET, csrf, login, make_client, make_users

NEW_PASSWORD = "a fresh passphrase 42"


@pytest.fixture
def users(db: Database) -> Database:
    make_users(db.sessions)
    return db


def signed_in(db: Database, who: str, password: str = PASSWORD) -> TestClient:
    client = make_client(db.sessions)
    assert login(client, who, password) == 303
    assert client.get("/").status_code == 200
    return client


def replay(db: Database, client: TestClient) -> TestClient:
    """Another browser holding a copy of ``client``'s session cookie (a stolen one)."""
    thief = make_client(db.sessions)
    thief.cookies.set("monitor_session", client.cookies["monitor_session"])
    return thief


def user_id(db: Database, name: str) -> int:
    with db.sessions() as s:
        found = s.scalar(select(User.id).where(User.username == name))
    assert found is not None
    return found


def test_a_cookie_copied_before_logout_is_dead_after_it(users: Database) -> None:
    analyst = signed_in(users, "analyst")
    thief = replay(users, analyst)
    assert thief.get("/").status_code == 200  # a copy works while the session lives
    assert analyst.post("/logout", data={"csrf_token": csrf(analyst)}).status_code == 303
    assert thief.get("/").status_code == 303
    assert thief.get("/").headers["location"].startswith("/login")
    assert signed_in(users, "analyst").get("/").status_code == 200  # signing in again works


def test_users_passwd_ends_the_sessions(users: Database, run_cli: CliRunner) -> None:
    analyst = signed_in(users, "analyst")
    env = {"MONITOR_SECRET_KEY": SECRET}
    done = run_cli(
        "users", "passwd", "analyst", "--password-stdin", input=NEW_PASSWORD + "\n",
        db_url=users.url, **env,
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "analyst" in done.out
    assert analyst.get("/").status_code == 303
    assert login(make_client(users.sessions), "analyst", PASSWORD) == 401
    assert login(make_client(users.sessions), "analyst", NEW_PASSWORD) == 303
    with users.sessions() as s:
        assert s.scalar(select(AuditLog.actor).where(AuditLog.action == "user.passwd")) == "cli"
    missing = run_cli(
        "users", "passwd", "nobody", "--password-stdin", input=NEW_PASSWORD + "\n",
        db_url=users.url, **env,
    )  # fmt: skip
    assert missing.code == 2 and "no such user: nobody" in missing.err
    assert "Traceback" not in missing.err


def admin_update(admin: TestClient, uid: int, **form: str) -> None:
    resp = admin.post(f"/users/{uid}", data={**form, "csrf_token": csrf(admin, "/users")})
    assert resp.status_code == 303, resp.text


def test_disable_then_enable_revives_no_old_cookie(users: Database) -> None:
    analyst = signed_in(users, "analyst")
    admin = signed_in(users, "admin")
    uid = user_id(users, "analyst")
    admin_update(admin, uid, disabled="1")
    admin_update(admin, uid, disabled="0")
    assert analyst.get("/").status_code == 303
    assert signed_in(users, "analyst").get("/").status_code == 200


def test_cli_disable_then_console_enable_revives_no_old_cookie(
    users: Database, run_cli: CliRunner
) -> None:
    analyst = signed_in(users, "analyst")
    done = run_cli("users", "disable", "analyst", db_url=users.url, MONITOR_SECRET_KEY=SECRET)
    assert done.code == 0, done.err
    admin_update(signed_in(users, "admin"), user_id(users, "analyst"), disabled="0")
    assert analyst.get("/").status_code == 303


def test_a_role_change_ends_the_sessions(users: Database) -> None:
    operator = signed_in(users, "operator")
    admin = signed_in(users, "admin")
    admin_update(admin, user_id(users, "operator"), role="analyst")
    assert operator.get("/").status_code == 303
    # Re-submitting the role it already has changes nothing, so ends nothing.
    demoted = signed_in(users, "operator")
    admin_update(admin, user_id(users, "operator"), role="analyst")
    assert demoted.get("/").status_code == 200
    assert admin.get("/users").status_code == 200  # the admin's own session is untouched


def change(client: TestClient, current: str, new: str, again: str | None = None) -> int:
    page = client.get("/account/password")
    assert page.status_code == 200
    token = CSRF_FIELD.search(page.text)
    assert token
    form = {
        "current_password": current,
        "new_password": new,
        "confirm_password": new if again is None else again,
        "csrf_token": token.group(1),
    }
    return client.post("/account/password", data=form).status_code


def test_the_console_changes_a_password_and_ends_the_other_sessions(users: Database) -> None:
    here = signed_in(users, "analyst")
    elsewhere = signed_in(users, "analyst")
    assert "/account/password" in here.get("/").text  # linked from every page
    assert change(here, PASSWORD, NEW_PASSWORD, "something else entirely") == 400
    assert change(here, "not-my-password", NEW_PASSWORD) == 400
    assert change(here, PASSWORD, "        ") == 400
    assert change(here, PASSWORD, "short-one") == 400
    assert elsewhere.get("/").status_code == 200  # nothing changed yet
    before = replay(users, here)
    assert change(here, PASSWORD, NEW_PASSWORD) == 303
    assert here.get("/").status_code == 200  # this session goes on, re-issued
    assert elsewhere.get("/").status_code == 303
    assert before.get("/").status_code == 303  # the cookie it had before is dead too
    assert login(make_client(users.sessions), "analyst", PASSWORD) == 401
    assert login(make_client(users.sessions), "analyst", NEW_PASSWORD) == 303
    with users.sessions() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.actor == "analyst")))
    assert actions.count("user.passwd") == 1 and actions.count("passwd.failed") == 1


def test_guessing_the_current_password_spends_the_login_budget(users: Database) -> None:
    """A stolen session must not become a way round the login limit."""
    thief = signed_in(users, "analyst")
    for _ in range(5):
        assert change(thief, "guess-guess-guess", NEW_PASSWORD) == 400
    assert change(thief, PASSWORD, NEW_PASSWORD) == 429
    assert login(make_client(users.sessions), "analyst") == 429


def test_changing_a_password_needs_the_form_token(users: Database) -> None:
    client = signed_in(users, "analyst")
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    resp = client.post("/account/password", data={**form, "confirm_password": NEW_PASSWORD})
    assert resp.status_code == 403
    assert login(make_client(users.sessions), "analyst") == 303  # unchanged
