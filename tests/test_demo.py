"""`monitor demo`: the sample channels through the real pipeline, the flagged queue out, and a
console a new analyst can sign in to and find populated (#14)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.cli import demo as demo_cli
from monitor.demo_logins import DEMO_ACCOUNTS, DEMO_PASSWORD
from monitor.store.db import make_engine, session_factory
from monitor.store.models import Channel, Group, Post
from monitor.web.app import create_app
from tests.conftest import SAMPLE, SAMPLE_POSTS, CliRunner
from tests.web_support import TestClient, login, settings

EXPECTED = json.loads((SAMPLE.parent / "expected.json").read_text(encoding="utf-8"))
SEED = {3320: "verse_cue", 3322: "threat", 3324: "allegiance", 3325: "readiness"}
KINDS = {
    "sarayat_alfajr": ("group", "Islamic Resistance in Iraq"),
    "fajr_commander": ("leader", "Islamic Resistance in Iraq"),
    "kahf_media": ("media", "Ashab al-Kahf"),
    "baghdad_wire": ("news", None),
}


def parse_queue(out: str, handle: str = "sarayat_alfajr") -> dict[int, tuple[str, set[str], str]]:
    queue = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and parts[0] == handle:
            queue[int(parts[1])] = (parts[2], set(parts[3].split(",")), parts[4])
    return queue


def demo_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'demo.db'}"


def console(url: str, *, demo: bool = True, **overrides: Any) -> TestClient:
    sessions = session_factory(make_engine(url))
    app = create_app(settings(**overrides), sessions, demo=demo)
    return TestClient(app, follow_redirects=False)


def test_demo_once_prints_the_flagged_queue(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--once")
    assert result.code == 0, result.err
    assert f"{SAMPLE_POSTS} posts stored" in result.out
    assert f"demo login: demo-analyst / {DEMO_PASSWORD} (analyst)" in result.out
    queue = parse_queue(result.out)
    expected_flagged = {int(k) for k, v in EXPECTED.items() if v["flagged"]}
    clear_cut = {int(k) for k in EXPECTED}
    assert set(queue) & clear_cut == expected_flagged
    for mid in expected_flagged:
        assert set(EXPECTED[str(mid)]["kinds"]) <= queue[mid][1], mid
    for mid, kind in SEED.items():
        assert kind in queue[mid][1]
    assert queue[3320][2] == "3:139"
    # most severe first
    ranks = ["critical", "high", "medium", "low"]
    severities = [ranks.index(sev) for sev, _, _ in queue.values()]
    assert severities == sorted(severities)
    # the leader and the outlet flag; the news channel reporting the same does not
    assert parse_queue(result.out, "fajr_commander") and parse_queue(result.out, "kahf_media")
    assert not parse_queue(result.out, "baghdad_wire")


def test_demo_reads_the_sample_statement_images(run_cli: CliRunner, tmp_path: Path) -> None:
    """Three posts of the sample are statements in an image with a caption of a word or an
    emoji; the demo reads them (#13), so the queue holds flags found only in images."""
    from monitor.media.similar import same_image
    from monitor.store.export import iter_posts
    from monitor.store.models import MediaFile
    from tests.media.ocr_support import require_ocr

    require_ocr()
    url = demo_db(tmp_path)
    result = run_cli("demo", "--once", db_url=url)
    assert result.code == 0, result.err
    assert "media: 4 read, 0 hashed without OCR, 0 to retry, 0 failed" in result.out
    kahf, leader = parse_queue(result.out, "kahf_media"), parse_queue(result.out, "fajr_commander")
    assert "attack_claim" in kahf[208][1] and "threat" in kahf[209][1]
    assert "attack_claim" in leader[109][1] and 110 not in leader  # the banner claims nothing
    engine = make_engine(url)
    with session_factory(engine)() as s:
        rows = {
            (h, mid): m
            for m, h, mid in s.execute(
                select(MediaFile, Channel.handle, Post.message_id)
                .join(Post, Post.id == MediaFile.post_id)
                .join(Channel, Channel.id == Post.channel_id)
            )
        }
        claim = rows[("kahf_media", 208)]
        assert claim.status == "done" and "حرير" in (claim.ocr_text or "")
        # The leader re-posted the outlet's statement: the same image, linked.
        assert [(x.channel.handle, x.post.message_id) for x in same_image(s, claim)] == [
            ("fajr_commander", 109)
        ]
        # Photos the sample's export did not include are recorded as such, not failed.
        missing = rows[("kahf_media", 201)]
        assert missing.status == "skipped" and "did not include" in (missing.error or "")
        # The re-posted statement image is one statement, read from both images (#15).
        clusters = {(d["channel"], d["message_id"]): d["cluster"] for d in iter_posts(s)}
        assert clusters[("fajr_commander", 109)] == clusters[("kahf_media", 208)]
        first = clusters[("kahf_media", 208)]
        assert first is not None and first["first"] == {"channel": "kahf_media", "message_id": 208}
        # The outlet posted the group's cue verse three days after the group did.
        verse = clusters[("kahf_media", 205)]
        assert verse is not None
        assert verse["first"] == {"channel": "sarayat_alfajr", "message_id": 3315}
    engine.dispose()


def test_demo_is_repeatable_with_a_stable_password(run_cli: CliRunner) -> None:
    first = run_cli("demo", "--once")
    second = run_cli("demo", "--once")
    assert second.code == 0
    assert "0 new" in second.out and "46 unchanged" in second.out
    assert "moved to this week's dates" not in second.out
    assert parse_queue(first.out) == parse_queue(second.out)
    logins = [ln for ln in first.out.splitlines() if ln.startswith("demo login:")]
    assert logins == [ln for ln in second.out.splitlines() if ln.startswith("demo login:")]
    assert [ln.split()[2] for ln in logins] == [name for name, _, _ in DEMO_ACCOUNTS]


def test_sample_channels_are_in_groups_each_with_its_kind(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    url = demo_db(tmp_path)
    assert run_cli("demo", "--once", db_url=url).code == 0
    with session_factory(make_engine(url))() as s:
        rows = s.execute(
            select(Channel.handle, Channel.kind, Group.name).outerjoin(
                Group, Group.id == Channel.group_id
            )
        ).all()
    assert {h: (k, g) for h, k, g in rows} == KINDS


def test_sample_dates_end_in_the_past_week_on_the_same_weekdays(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    url = demo_db(tmp_path)
    assert run_cli("demo", "--once", db_url=url).code == 0
    now = datetime.now(UTC)
    with session_factory(make_engine(url))() as s:
        newest = s.scalar(select(func.max(Post.date)))
        friday = s.scalar(select(Post.date).where(Post.message_id == 3343))  # جمعة مباركة
    assert newest is not None and friday is not None
    newest = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest
    assert now - timedelta(days=7) < newest <= now
    assert friday.weekday() == 4  # 3 November 2023 was a Friday, and so is its day in the demo


def test_a_later_run_moves_the_stored_dates_along(
    run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = demo_db(tmp_path)
    real = demo_cli.date_shift
    monkeypatch.setattr(demo_cli, "date_shift", lambda now: real(now) - timedelta(weeks=3))
    assert run_cli("demo", "--once", db_url=url).code == 0  # as if run three weeks ago
    monkeypatch.setattr(demo_cli, "date_shift", real)
    later = run_cli("demo", "--once", db_url=url)
    assert later.code == 0 and "46 moved to this week's dates" in later.out
    with session_factory(make_engine(url))() as s:
        newest = s.scalar(select(func.max(Post.date)))
    assert newest is not None
    assert datetime.now(UTC) - newest.replace(tzinfo=UTC) < timedelta(days=7)


def test_overview_is_populated_after_the_demo(run_cli: CliRunner, tmp_path: Path) -> None:
    url = demo_db(tmp_path)
    assert run_cli("demo", "--once", db_url=url).code == 0
    client = console(url, demo_logins=True)
    assert login(client, "demo-analyst", DEMO_PASSWORD) == 303
    page = client.get("/overview").text
    assert "No flags in this period." not in page and "No flags this week." not in page
    assert page.count('class="bar ') > 5 and 'class="heat heat-' in page
    for group in ("Islamic Resistance in Iraq", "Ashab al-Kahf"):
        assert f'<bdi dir="auto">{group}</bdi>' in page
    assert "<bdi>fajr_commander</bdi>" in page  # among the top channels


def test_operator_and_admin_logins_work(run_cli: CliRunner, tmp_path: Path) -> None:
    url = demo_db(tmp_path)
    assert run_cli("demo", "--once", db_url=url).code == 0
    operator = console(url, demo_logins=True)
    assert login(operator, "demo-operator", DEMO_PASSWORD) == 303
    channels = operator.get("/channels")
    assert channels.status_code == 200
    assert "fajr_commander" in channels.text and '<td class="ckind">leader</td>' in channels.text
    assert operator.get("/audit").status_code == 200
    assert operator.get("/users").status_code == 403
    admin = console(url, demo_logins=True)
    assert login(admin, "demo-admin", DEMO_PASSWORD) == 303
    users = admin.get("/users")
    assert users.status_code == 200
    assert all(name in users.text for name, _, _ in DEMO_ACCOUNTS)


def test_login_page_shows_the_demo_accounts_only_on_the_demo(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    url = demo_db(tmp_path)
    assert run_cli("demo", "--once", db_url=url).code == 0
    shown = console(url, demo=True, demo_logins=True).get("/login").text
    assert DEMO_PASSWORD in shown
    assert all(f"<code>{name}</code>" in shown for name, _, _ in DEMO_ACCOUNTS)
    for demo, setting in ((True, False), (False, True), (False, False)):
        page = console(url, demo=demo, demo_logins=setting).get("/login").text
        assert DEMO_PASSWORD not in page and "demo-analyst" not in page, (demo, setting)
    # Their password is published: a console that is not the demo's refuses them.
    deployed = console(url, demo=False, demo_logins=True)
    assert login(deployed, "demo-admin", DEMO_PASSWORD) == 401


def test_demo_turns_the_setting_on_for_its_own_console(
    run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.cli.web

    seen: dict[str, Any] = {}

    def fake_serve(rt: Any, host: str, port: int, *, demo: bool = False, **_: Any) -> None:
        seen.update(demo=demo, logins=rt.settings.demo_logins, host=host)

    monkeypatch.setattr(monitor.cli.web, "serve_console", fake_serve)
    assert run_cli("demo").code == 0
    assert seen == {"demo": True, "logins": True, "host": "127.0.0.1"}
    assert settings().demo_logins is False  # off unless the demo turns it on
