"""The discovered-channels page (#15): operators see the channels monitored ones forward or
mention, promote one (it is monitored from then on, with the group and kind chosen) or ignore
it (it leaves the page and `monitor channels discovered`); every decision is audited, and
analysts cannot make one."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from starlette.testclient import TestClient

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.network.refs import RefHook
from monitor.pipeline import Pipeline
from monitor.store.channels import ensure_channel, get_group
from monitor.store.models import AuditLog, Channel, Group, IgnoredChannel

from .conftest import CliRunner, Database
from .web_support import NOW, csrf, login, make_client, make_users

RLO = "\u202e"
HOSTILE = f"<script>alert(1)</script>{RLO}nuj ad"


@pytest.fixture
def console(sqlite_db: Database) -> Database:
    """nujaba (monitored, group Nujaba) forwards awliya_aldam twice, once under a hostile
    display name, and mentions kahf_media; a group Kataib exists for promoting into."""
    make_users(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as s:
        nujaba = ensure_channel(s, "nujaba", group="Nujaba").id
        get_group(s, "Kataib")
    pipe = Pipeline(sqlite_db.sessions)
    pipe.hooks.append(RefHook())
    pipe.store(
        nujaba,
        [
            PostRecord(
                1, NOW, "بيان", "telethon", forwarded_from=ForwardInfo("Awliya_Aldam", 7, HOSTILE)
            ),
            PostRecord(
                2, NOW, "عاجل", "telethon", forwarded_from=ForwardInfo("awliya_aldam", 8, None)
            ),
            PostRecord(3, NOW, "تابعوا @Kahf_Media و t.me/kahf_media", "telethon"),
        ],
    )
    return sqlite_db


def signed_in(db: Database, role: str) -> TestClient:
    client = make_client(db.sessions)
    assert login(client, role) == 303
    return client


def post(client: TestClient, path: str, **form: str) -> str:
    """POST a form with the page's CSRF token; the notice the redirect carries."""
    resp = client.post(path, data={"csrf_token": csrf(client, "/discovered"), **form})
    assert resp.status_code == 303, resp.text
    location = resp.headers["location"]
    assert urlsplit(location).path == "/discovered"
    return parse_qs(urlsplit(location).query)["msg"][0]


def rows(page: str) -> list[str]:
    return re.findall(r'<tbody class="discovered-channel">(.*?)</tbody>', page, re.S)


def audit(db: Database, action: str) -> list[AuditLog]:
    with db.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


def written(db: Database) -> tuple[int, ...]:
    with db.sessions() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) or 0
            for t in (Channel, Group, IgnoredChannel, AuditLog)
        )


def test_an_operator_sees_what_monitored_channels_point_at(console: Database) -> None:
    client = signed_in(console, "operator")
    assert '<a href="/discovered">Discovered</a>' in client.get("/channels").text
    page = client.get("/discovered")
    assert page.status_code == 200
    first, second = rows(page.text)
    assert (
        '<a class="handle" href="https://t.me/awliya_aldam" target="_blank" '
        'rel="noopener noreferrer">@<bdi>awliya_aldam</bdi></a>'
    ) in first
    cells = re.findall(r'<td class="num">(\d+)</td>', first)
    assert cells == ["2", "0"]  # two forwards, no mentions
    assert re.findall(r'<td class="num">(\d+)</td>', second) == ["0", "2"]  # @ and t.me
    assert "<bdi>nujaba</bdi> (2)" in first and "kahf_media" in second
    assert '<option value="Kataib" dir="auto">Kataib</option>' in first
    assert "None ignored." in page.text


def test_a_hostile_display_name_is_escaped_and_isolated(console: Database) -> None:
    page = signed_in(console, "operator").get("/discovered").text
    assert "<script>alert" not in page
    # Escaped, and in a bidi isolate of its own: the override cannot reach the handle or counts.
    assert f'<div class="name"><small><bdi dir="auto">{escape(HOSTILE)}</bdi></small></div>' in page


def test_promoting_starts_monitoring_with_the_choices_made(console: Database) -> None:
    client = signed_in(console, "operator")
    msg = post(
        client,
        "/discovered/promote",
        target="awliya_aldam",
        group="Kataib",
        kind="leader",
        source="telethon",
        interval="900",
    )
    assert msg == "promoted awliya_aldam: now monitored (Channels page)"
    shown = client.get(f"/discovered?msg={msg}").text
    assert f'<p class="flash" role="status">{msg}</p>' in shown
    assert "awliya_aldam" not in "".join(rows(shown))

    channels = client.get("/channels").text
    block = re.search(r'<bdi class="handle">awliya_aldam</bdi>.*?</tbody>', channels, re.S)
    assert block, channels
    assert '<td class="ckind">leader</td>' in block.group(0)
    assert '<td class="group"><bdi dir="auto">Kataib</bdi></td>' in block.group(0)
    assert "every 900&nbsp;s via telethon" in block.group(0)
    [entry] = audit(console, "channel.promote")
    assert (entry.actor, entry.target) == ("operator", "channel:awliya_aldam")
    assert entry.detail == {
        "group": "Kataib",
        "kind": "leader",
        "source": "telethon",
        "interval": 900,
        "was_ignored": False,
    }


def test_ignoring_hides_it_here_and_in_the_cli_until_un_ignored(
    console: Database, run_cli: CliRunner
) -> None:
    client = signed_in(console, "operator")
    msg = post(client, "/discovered/ignore", target="kahf_media", reason="a news aggregator")
    assert msg.startswith("ignored kahf_media")
    page = client.get("/discovered").text
    assert len(rows(page)) == 1 and "kahf_media" not in "".join(rows(page))
    ignored_table = page.split('<h2 id="ignored">', 1)[1]
    assert "@<bdi>kahf_media</bdi>" in ignored_table and "a news aggregator" in ignored_table
    [entry] = audit(console, "channel.ignore")
    assert (entry.actor, entry.target, entry.detail) == (
        "operator",
        "channel:kahf_media",
        {"reason": "a news aggregator"},
    )
    cli = run_cli("channels", "discovered", db_url=console.url)
    assert cli.code == 0, cli.err
    assert [line.split()[0] for line in cli.out.splitlines()[1:]] == ["awliya_aldam"]
    assert "1 ignored channel(s) not shown (console: /discovered)" in cli.err

    assert post(client, "/discovered/unignore", target="kahf_media") == "kahf_media is listed again"
    assert len(rows(client.get("/discovered").text)) == 2
    [undone] = audit(console, "channel.unignore")
    assert (
        undone.detail["reason"] == "a news aggregator" and undone.detail["ignored_by"] == "operator"
    )


def test_a_promote_of_an_ignored_channel_lifts_the_ignore(console: Database) -> None:
    client = signed_in(console, "operator")
    post(client, "/discovered/ignore", target="awliya_aldam")
    assert post(client, "/discovered/promote", target="awliya_aldam").startswith("promoted")
    with console.sessions() as s:
        assert s.get(IgnoredChannel, "awliya_aldam") is None
        ch = s.scalars(select(Channel).where(Channel.handle == "awliya_aldam")).one()
        assert (ch.kind, ch.source, ch.group_id, ch.interval_seconds) == ("group", "web", None, 300)
    assert "None ignored." in client.get("/discovered").text
    [entry] = audit(console, "channel.promote")
    assert entry.detail["was_ignored"] is True and entry.detail["group"] is None


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        (
            "/discovered/promote",
            {"target": "awliya_aldam", "group": "Kataib Typo"},
            "no group named 'Kataib Typo'",
        ),
        (
            "/discovered/promote",
            {"target": "awliya_aldam", "kind": "newspaper"},
            "kind must be one of",
        ),
        (
            "/discovered/promote",
            {"target": "awliya_aldam", "source": "export"},
            "source must be one of",
        ),
        (
            "/discovered/promote",
            {"target": "awliya_aldam", "interval": "soon"},
            "a number of seconds",
        ),
        ("/discovered/promote", {"target": "awliya_aldam", "interval": "5"}, "10 to 86400 seconds"),
        ("/discovered/promote", {"target": "nujaba"}, "nujaba is already monitored"),
        ("/discovered/promote", {"target": "<script>"}, "not a channel handle"),
        ("/discovered/promote", {"target": "id:9876543210"}, "only by its id"),
        ("/discovered/ignore", {"target": "kahf_media", "reason": "x" * 501}, "at most 500"),
        ("/discovered/ignore", {"target": "nujaba"}, "nujaba is monitored"),
        ("/discovered/ignore", {"target": "kahf media"}, "not a channel handle"),
        ("/discovered/unignore", {"target": "kahf_media"}, "kahf_media is not ignored"),
    ],
)
def test_bad_form_values_say_why_and_write_nothing(
    console: Database, path: str, form: dict[str, str], message: str
) -> None:
    client = signed_in(console, "operator")
    before = written(console)
    msg = post(client, path, **form)
    assert msg.startswith("not ") and message in msg, msg
    assert written(console) == before
    # The notice is shown on the page, escaped.
    page = client.get("/discovered", params={"msg": msg}).text
    assert f'<p class="flash" role="status">{escape(msg)}</p>' in page


def test_analysts_cannot_see_or_decide(console: Database) -> None:
    client = signed_in(console, "analyst")
    assert '<a href="/discovered">' not in client.get("/").text
    assert client.get("/discovered").status_code == 403
    token = csrf(client)
    before = written(console)
    for path, form in [
        ("/discovered/promote", {"target": "awliya_aldam", "group": "Kataib"}),
        ("/discovered/ignore", {"target": "kahf_media"}),
        ("/discovered/unignore", {"target": "kahf_media"}),
    ]:
        assert client.post(path, data={**form, "csrf_token": token}).status_code == 403, path
    assert written(console) == before


def test_a_decision_without_the_csrf_token_is_refused(console: Database) -> None:
    client = signed_in(console, "operator")
    before = written(console)
    for path in ("/discovered/promote", "/discovered/ignore", "/discovered/unignore"):
        for token in ({}, {"csrf_token": "forged"}):
            resp = client.post(path, data={"target": "awliya_aldam", **token})
            assert resp.status_code == 403, path
    assert written(console) == before
    anonymous = make_client(console.sessions)
    assert anonymous.get("/discovered").headers["location"].startswith("/login")


@pytest.mark.browser
def test_the_page_fits_a_tablet_and_promotes_from_the_browser(console: Database) -> None:
    from monitor.web.app import create_app

    from .test_web_browser import launched, sign_in
    from .test_web_browser_pages import OVERFLOW_JS, SPLIT_WORDS_JS
    from .web_support import serving, settings

    with launched() as browser, serving(create_app(settings(), console.sessions)) as base:
        for width in (1000, 768):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            sign_in(page, base, "operator")
            page.goto(base + "/discovered")
            page.wait_for_load_state("load")
            assert page.evaluate(OVERFLOW_JS) == [], width
            cells = "table.discovered th, table.discovered td"
            assert page.evaluate(SPLIT_WORDS_JS, cells) == [], width
            context.close()
        page = browser.new_page()
        sign_in(page, base, "operator")
        page.goto(base + "/discovered")
        form = page.locator('form[aria-label="Promote kahf_media"]')
        form.locator("select[name=group]").select_option("Kataib")
        form.locator("select[name=kind]").select_option("news")
        form.locator("button[type=submit]").click()
        page.wait_for_url(base + "/discovered?*")
        assert page.locator("p.flash").inner_text() == (
            "promoted kahf_media: now monitored (Channels page)"
        )
    with console.sessions() as s:
        ch = s.scalars(select(Channel).where(Channel.handle == "kahf_media")).one()
        assert ch.kind == "news" and ch.group is not None and ch.group.name == "Kataib"
