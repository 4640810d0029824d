"""The CLI as an analyst meets it in the first hour (issue #14): a failed import leaves nothing
behind, filters that can never match are refused, and messages say plainly what happened."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from monitor.store.models import Channel, CollectionRun, Group, Post, Subscription
from tests.conftest import SAMPLE, CliRunner, Database

BAD = SAMPLE.parent / "bad_result.json"
URL = "json://127.0.0.1:9/hook"


def counts(db: Database) -> tuple[int, int, int]:
    with db.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Channel)) or 0,
            s.scalar(select(func.count()).select_from(Group)) or 0,
            s.scalar(select(func.count()).select_from(Post)) or 0,
        )


def test_failed_import_creates_no_channel(run_cli: CliRunner, db: Database, tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("", "utf-8")
    not_json = tmp_path / "notes.json"
    not_json.write_text("these are my notes\n", "utf-8")
    truncated = tmp_path / "truncated.json"  # broken inside the first batch of 1000
    truncated.write_bytes(SAMPLE.read_bytes()[:20000])
    for path in (tmp_path / "missing.json", empty, not_json, truncated):
        result = run_cli("import", str(path), "--channel", "c", "--group", "G", db_url=db.url)
        assert result.code == 2, result.err
        assert str(path) in result.err and "Traceback" not in result.err
        assert counts(db) == (0, 0, 0), path.name
    assert "nothing was stored and channel c was not created" in result.err
    assert "broken JSON" in result.err


def test_truncated_import_says_what_was_stored(
    run_cli: CliRunner, db: Database, tmp_path: Path
) -> None:
    truncated = tmp_path / "result.json"
    truncated.write_bytes(SAMPLE.read_bytes()[:20000])
    result = run_cli(
        "import", str(truncated), "--channel", "c", db_url=db.url, MONITOR_INGEST_BATCH_SIZE="5"
    )
    assert result.code == 2
    assert "after 26 message(s) were read" in result.err
    assert "the first 25 post(s) read were stored (25 new" in result.err
    assert "the rest of the export was not" in result.err
    assert counts(db)[::2] == (1, 25)
    with db.sessions() as s:
        assert s.scalars(select(CollectionRun.status)).one() == "error"
    # An existing channel is named as left unchanged when nothing of the file was stored.
    (tmp_path / "head.json").write_bytes(SAMPLE.read_bytes()[:3000])
    head = run_cli("import", str(tmp_path / "head.json"), "--channel", "c", db_url=db.url)
    assert "nothing was stored and channel c was left unchanged" in head.err
    assert counts(db)[2] == 25


def test_message_without_id_is_named_by_position(
    run_cli: CliRunner, db: Database, tmp_path: Path
) -> None:
    data = json.loads(BAD.read_text("utf-8"))
    del data["messages"][3]["id"]
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    result = run_cli("import", str(path), "--channel", "bad", db_url=db.url)
    assert result.code == 3
    assert "message #4 (no id): " in result.err and "None" not in result.err
    scan = run_cli("scan", str(path))
    assert scan.code == 3 and "message #4 (no id): " in scan.err and "None" not in scan.err


def test_subscription_filters_that_never_match_are_refused(
    run_cli: CliRunner, sqlite_db: Database
) -> None:
    url = sqlite_db.url
    added = run_cli("channels", "add", "@Kahf_News", "--group", "Ashab al-Kahf", db_url=url)
    assert added.code == 0, added.err
    for option, value, says in [
        ("--ref", "999:1", "999:1 is not an ayah (sūrah 999: there are 114)"),
        ("--ref", "2:287", "2:287 is not an ayah (Al-Baqarah has 286"),
        ("--ref", "2:0", "2:0 is not an ayah"),
        ("--group", "Nobody", "no such group: 'Nobody'"),
        ("--channel", "nobody", "no such channel: 'nobody'"),
    ]:
        result = run_cli("subscribers", "add", "s", "--url", URL, option, value, db_url=url)
        assert result.code == 2, (value, result.err)
        assert f"{option}: {says}" in result.err
    ok = run_cli(
        "subscribers", "add", "s", "--url", URL, "--ref", "114:6", "--ref", "2:286",
        "--group", "ashab al-kahf", "--channel", "@KAHF_NEWS", db_url=url,
    )  # fmt: skip
    assert ok.code == 0, ok.err
    with sqlite_db.sessions() as s:
        assert s.scalars(select(Subscription.name)).all() == ["s"]


def test_remove_without_yes_or_terminal_is_a_usage_error(
    run_cli: CliRunner, sqlite_db: Database
) -> None:
    assert run_cli("channels", "add", "kahf_news", db_url=sqlite_db.url).code == 0
    result = run_cli("channels", "remove", "kahf_news", db_url=sqlite_db.url)
    assert result.code == 2
    assert "--yes: " in result.err and "pass --yes" in result.err
    assert counts(sqlite_db)[0] == 1


def test_collect_and_run_print_no_alembic_lines(run_cli: CliRunner, sqlite_db: Database) -> None:
    for args in (("collect", "--once"), ("run", "--once")):
        result = run_cli(*args, db_url=sqlite_db.url)
        assert result.code == 0, result.err
        assert "alembic" not in result.err and "Context impl" not in result.err


def test_db_upgrade_says_what_it_did(run_cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = run_cli("db", "upgrade", db_url=url)
    assert first.code == 0 and "database upgraded from no schema to revision" in first.out
    second = run_cli("db", "upgrade", db_url=url)
    assert second.code == 0 and "database already at revision" in second.out


def test_empty_stdin_to_scan_is_no_input(run_cli: CliRunner) -> None:
    for given in ("", "\n  \n"):
        result = run_cli("scan", "-", input=given)
        assert result.code == 0 and result.out == ""
        assert "no input on stdin" in result.err and "Telegram" not in result.err


def test_unmigrated_database_says_no_schema_yet(run_cli: CliRunner) -> None:
    result = run_cli("channels", "list")
    assert result.code == 2
    assert "the database has no schema yet: run `monitor db upgrade`" in result.err
    assert "nothing" not in result.err
