"""Out-of-range ids and dates in URLs: 400 naming the parameter, or 404, never a 500 (#11)."""

from __future__ import annotations

import logging

import pytest

from .conftest import Database
from .web_support import Seeded, TestClient, csrf, login, make_client, make_users, seed

HUGE = "9" * 30
PAST_INT64 = str(2**63)

BAD_QUERIES = [
    ("/", f"group={HUGE}", "group"),
    ("/", f"channel={PAST_INT64}", "channel"),
    ("/", "group=-1", "group"),
    ("/", "channel=abc", "channel"),
    ("/", "until=9999-12-31", "until"),
    ("/", "since=9999-12-31", "since"),
    ("/", "since=0001-01-01", "since"),
    ("/", "until=2024-13-01", "until"),
    ("/", f"after=s{HUGE}.1", "after"),
    ("/", f"sort=newest&after=n{'9' * 19}.1", "after"),
    ("/", f"after=r0.{HUGE}", "after"),
    ("/audit", "before=-999999999999999999999", "before"),
    ("/audit", f"before={HUGE}", "before"),
    ("/export.csv", f"group={HUGE}", "group"),
    ("/export.csv", "until=9999-12-31", "until"),
    ("/export.jsonl", f"channel={HUGE}", "channel"),
    ("/export.jsonl", f"scope=all&sort=newest&after=n-{'9' * 19}.5", "after"),
]


@pytest.fixture
def admin(db: Database) -> tuple[Database, Seeded, TestClient]:
    make_users(db.sessions)
    seeded = seed(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "admin") == 303
    return db, seeded, client


def no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(("path", "query", "name"), BAD_QUERIES)
def test_bad_query_parameters_are_400_naming_them(
    admin: tuple[Database, Seeded, TestClient],
    caplog: pytest.LogCaptureFixture,
    path: str,
    query: str,
    name: str,
) -> None:
    _, _, client = admin
    caplog.set_level(logging.INFO)
    resp = client.get(f"{path}?{query}")
    assert resp.status_code == 400, resp.text[:500]
    if path.startswith("/export"):
        # Refused before the stream starts: a whole error, not a cut-off file.
        assert resp.json()["error"].startswith(f"Bad parameter {name!r}")
    else:
        assert f"Bad parameter &#39;{name}&#39;" in resp.text
    no_traceback(caplog)


def test_good_values_still_filter(admin: tuple[Database, Seeded, TestClient]) -> None:
    _, s, client = admin
    assert client.get(f"/?group={s.group_id}&since=1900-01-01&until=9998-12-31").status_code == 200
    assert client.get("/?group=&channel=&since=&until=").status_code == 200
    assert client.get("/audit?before=1").status_code == 200
    resp = client.get("/export.jsonl?until=9998-12-31")
    assert resp.status_code == 200 and len(resp.text.splitlines()) == 3


@pytest.mark.parametrize("post", [HUGE, PAST_INT64, "-1", "0", "abc", "1e3"])
def test_impossible_post_ids_are_404(
    admin: tuple[Database, Seeded, TestClient], caplog: pytest.LogCaptureFixture, post: str
) -> None:
    _, _, client = admin
    caplog.set_level(logging.INFO)
    token = csrf(client)
    resp = client.get(f"/posts/{post}")
    assert resp.status_code == 404 and "No such post." in resp.text
    for action, data in (("review", {"decision": "confirmed"}), ("assign", {})):
        resp = client.post(f"/posts/{post}/{action}", data={**data, "csrf_token": token})
        assert resp.status_code == 404, resp.text[:300]
    no_traceback(caplog)


@pytest.mark.parametrize(
    ("url", "data", "what"),
    [
        ("/channels/{}", {"enabled": "0"}, "channel"),
        ("/suppressions/{}", {"enabled": "0"}, "suppression"),
        ("/suppressions/{}/lift", {}, "suppression"),
        ("/users/{}", {"disabled": "1"}, "user"),
        ("/subscriptions/{}", {"action": "disable"}, "subscription"),
        ("/alerts/{}/retry", {}, "alert"),
    ],
)
def test_impossible_ids_of_other_rows_are_404(
    admin: tuple[Database, Seeded, TestClient],
    caplog: pytest.LogCaptureFixture,
    url: str,
    data: dict[str, str],
    what: str,
) -> None:
    _, _, client = admin
    caplog.set_level(logging.INFO)
    token = csrf(client)
    for row_id in (HUGE, "-5"):
        resp = client.post(url.format(row_id), data={**data, "csrf_token": token})
        assert resp.status_code == 404, resp.text[:300]
        assert f"No such {what}." in resp.text
    no_traceback(caplog)


def test_an_impossible_signal_id_in_a_dismissal_is_ignored(
    admin: tuple[Database, Seeded, TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    _, s, client = admin
    caplog.set_level(logging.INFO)
    resp = client.post(
        f"/posts/{s.posts['threat']}/review",
        data={"decision": "dismissed", "suppress": HUGE, "csrf_token": csrf(client)},
    )
    assert resp.status_code == 303
    no_traceback(caplog)
