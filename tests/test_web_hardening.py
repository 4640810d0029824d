"""Console hardening from #11: same-origin `next` links (9), passphrases, Secure cookies and HSTS
(12), and validation errors that never echo what was typed (15)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from monitor.web.app import create_app

from .conftest import CliRunner, Database
from .web_support import (
    CSRF_FIELD,
    PASSWORD,
    csrf,
    login,
    make_client,
    make_users,
    seed,
    serving,
    settings,
)

OFFSITE = [
    "/%09/example.com",
    "/%0A/example.com",
    "/%0D/example.com",
    "/%0D%0A/example.com",
    "/%20/example.com",
    "/%E2%80%AE/example.com",  # U+202E, a format character
    "/%5Cexample.com",  # /\example.com
    "//example.com",
    "///example.com",
    "https://example.com/",
    "javascript:alert(1)",
    "example.com",
]
SAME_SITE = ["/overview", "/?severity=high&q=%D9%88%D9%84%D8%A7", "/posts/3"]


@pytest.fixture
def console(sqlite_db: Database):  # type: ignore[no-untyped-def]
    make_users(sqlite_db.sessions)
    return sqlite_db, seed(sqlite_db.sessions)


@pytest.mark.parametrize("target", OFFSITE)
def test_next_never_leaves_the_site(console, target: str) -> None:  # type: ignore[no-untyped-def]
    db, seeded = console
    client = make_client(db.sessions)
    # Before signing in: the form carries the target only if it is a plain path of ours.
    page = client.get(f"/login?next={target}")
    assert re.search(r'name="next" value="/"', page.text), page.text
    token = CSRF_FIELD.search(page.text)
    assert token
    form = {"username": "analyst", "password": PASSWORD, "csrf_token": token[1]}
    from urllib.parse import unquote

    resp = client.post("/login", data={**form, "next": unquote(target)})
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    # Signed in already: straight back, but only home.
    assert client.get(f"/login?next={target}").headers["location"] == "/"
    # The post page's "back" link and the "next" its forms carry.
    post = client.get(f"/posts/{seeded.posts['verse']}?next={target}")
    assert post.status_code == 200
    assert '<a href="/">« Back to the queue</a>' in post.text
    assert "example.com" not in post.text


@pytest.mark.parametrize("target", SAME_SITE)
def test_next_keeps_same_site_paths(console, target: str) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    token = CSRF_FIELD.search(client.get("/login").text)
    assert token
    form = {"username": "analyst", "password": PASSWORD, "csrf_token": token[1], "next": target}
    assert client.post("/login", data=form).headers["location"] == target


# --- passwords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 8, "blank"),
        (" " * 14, "blank"),
        ("\t" * 13, "blank"),
        ("elevenchars", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("abababababababab", "different characters"),
        # common passwords and keyboard walks: the first guesses of a spray
        ("123456789012", "too easy to guess"),
        ("password1234", "too easy to guess"),
        ("qwertyuiop12", "too easy to guess"),
        ("Password123!", "too easy to guess"),
    ],
)
def test_weak_passwords_are_refused_everywhere(
    console, run_cli: CliRunner, password: str, why: str
) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    for args in (("users", "add", "newbie", "--role", "analyst"), ("users", "passwd", "analyst")):
        done = run_cli(*args, "--password-stdin", input=password + "\n", db_url=db.url)
        assert done.code == 2 and why in done.err, done.err
        assert "Traceback" not in done.err
    admin = make_client(db.sessions)
    assert login(admin, "admin") == 303
    form = {"username": "newbie", "role": "analyst", "password": password}
    resp = admin.post("/users", data={**form, "csrf_token": csrf(admin, "/users")})
    assert resp.status_code == 303 and "not+added" in resp.headers["location"]
    assert "newbie" not in admin.get("/users").text.split("</form>")[-1]
    assert login(make_client(db.sessions), "analyst") == 303  # the old password still holds


def test_a_passphrase_is_accepted(console, run_cli: CliRunner) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    phrase = "tea at five in basra"
    done = run_cli(
        "users", "add", "newbie", "--role", "analyst", "--password-stdin", input=phrase + "\n",
        db_url=db.url,
    )  # fmt: skip
    assert done.code == 0, done.err
    assert login(make_client(db.sessions), "newbie", phrase) == 303


# --- transport: Secure cookies and HSTS ------------------------------------------------------


def through(db: Database, peer: str, trusted: str = "", **headers: str) -> TestClient:
    app = create_app(settings(trusted_proxies=trusted), db.sessions)
    client = TestClient(app, follow_redirects=False, client=(peer, 50000))
    client.headers.update(headers)
    return client


def is_secure(client: TestClient) -> tuple[bool, str | None]:
    page = client.get("/login")
    cookie = page.headers["set-cookie"].lower()
    return "; secure" in cookie, page.headers.get("strict-transport-security")


def test_https_sets_secure_cookies_and_hsts(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    assert is_secure(through(db, "198.51.100.7")) == (False, None)  # plain http: no HSTS
    direct = through(db, "198.51.100.7")
    direct.base_url = direct.base_url.copy_with(scheme="https")  # type: ignore[assignment]
    assert is_secure(direct) == (True, "max-age=31536000")
    assert direct.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"


def test_a_trusted_proxy_can_say_https(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    proxied = through(db, "10.0.0.1", "10.0.0.1", **{"X-Forwarded-Proto": "https"})
    assert is_secure(proxied) == (True, "max-age=31536000")
    # Anyone else saying so is not believed.
    stranger = through(db, "198.51.100.7", "10.0.0.1", **{"X-Forwarded-Proto": "https"})
    assert is_secure(stranger) == (False, None)


def test_a_served_console_believes_no_forwarded_header_from_an_untrusted_peer(
    console,  # type: ignore[no-untyped-def]
) -> None:
    # Through a real server run as `monitor serve` runs it (uvicorn would otherwise believe
    # X-Forwarded-* from 127.0.0.1, which is every peer behind a compose port mapping).
    import httpx

    db, _ = console
    with serving(create_app(settings(), db.sessions)) as base:
        page = httpx.get(
            f"{base}/login",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
        )
    assert page.status_code == 200
    assert "strict-transport-security" not in page.headers
    assert "; secure" not in page.headers["set-cookie"].lower()


def test_hsts_can_be_turned_off(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    app = create_app(settings(hsts_seconds=0), db.sessions)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    assert is_secure(client) == (True, None)


# --- validation errors ---------------------------------------------------------------------


def test_a_refused_form_does_not_echo_the_password(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    client = make_client(db.sessions)
    token = CSRF_FIELD.search(client.get("/login").text)
    assert token
    secret = "Hunter2-my-real-passphrase-" * 60  # longer than the field allows
    form = {"username": "analyst", "password": secret, "csrf_token": token[1]}
    page = client.post("/login", data=form)
    api = client.post("/login", data=form, headers={"Accept": "application/json"})
    for resp in (page, api):
        assert resp.status_code == 422
        assert "Hunter2" not in resp.text
        assert "password" in resp.text  # it still says which field was refused
    assert api.json() == {
        "error": [{"field": "password", "problem": "String should have at most 1000 characters"}]
    }
    assert "content-security-policy" in page.headers


# --- text that dresses as somebody else's (a new analyst's review of #14) ---------------------


@pytest.mark.parametrize("name", ["\u202enimda-omed", "ad\u200bmin2", "tab\there", " admin"])
def test_a_user_name_with_direction_or_control_characters_is_refused(
    console, run_cli: CliRunner, name: str
) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    done = run_cli(
        "users", "add", name, "--role", "admin", "--password-stdin",
        input="tea at five in basra\n", db_url=db.url,
    )  # fmt: skip
    assert done.code == 2 and "user name" in done.err and "Traceback" not in done.err
    admin = make_client(db.sessions)
    assert login(admin, "admin") == 303
    form = {"username": name, "role": "admin", "password": "tea at five in basra"}
    resp = admin.post("/users", data={**form, "csrf_token": csrf(admin, "/users")})
    assert resp.status_code == 303 and "not+added" in resp.headers["location"]
    assert name not in admin.get("/users").text


def test_an_audit_note_cannot_reorder_the_cells_around_it(console) -> None:  # type: ignore[no-untyped-def]
    db, seeded = console
    analyst = make_client(db.sessions)
    assert login(analyst, "analyst") == 303
    note = "\u202eok by lead"
    page = f"/posts/{seeded.posts['threat']}"
    resp = analyst.post(
        f"{page}/review",
        data={"decision": "confirmed", "note": note, "csrf_token": csrf(analyst, page)},
    )
    assert resp.status_code == 303
    admin = make_client(db.sessions)
    assert login(admin, "admin") == 303
    html = admin.get("/audit").text
    assert f"note=<bdi>{note}</bdi>" in html  # isolated: the flip ends with its value
    assert "<td><bdi>analyst</bdi></td>" in html


def test_a_notice_in_a_link_from_outside_is_not_shown(console) -> None:  # type: ignore[no-untyped-def]
    db, _ = console
    analyst = make_client(db.sessions)
    assert login(analyst, "analyst") == 303
    lure = "Session expired. Sign in again at http://evil.example/login"
    url = "/?" + urlencode({"msg": lure})
    # a link followed from a mail or another site, as a browser marks it
    for site in ("none", "cross-site", "same-site"):
        assert lure not in analyst.get(url, headers={"Sec-Fetch-Site": site}).text
    # the console's own redirect after a form
    assert lure in analyst.get(url, headers={"Sec-Fetch-Site": "same-origin"}).text
