"""`monitor channels …` as an operator uses it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from monitor.store.models import Channel, Group
from tests.conftest import CONFIG, CliRunner, Database


def test_add_list_disable_enable_remove(run_cli: CliRunner, db: Database) -> None:
    added = run_cli(
        "channels", "add", "https://t.me/s/Kahf_News", "--group", "Ashab al-Kahf",
        "--interval", "120", db_url=db.url,
    )  # fmt: skip
    assert added.code == 0 and "added kahf_news (web)" in added.out
    listing = run_cli("channels", "list", db_url=db.url)
    assert "kahf_news" in listing.out and "Ashab al-Kahf" in listing.out and "120s" in listing.out
    assert run_cli("channels", "disable", "@kahf_news", db_url=db.url).code == 0
    with db.sessions() as s:
        assert s.scalars(select(Channel.enabled)).one() is False
    assert run_cli("channels", "enable", "kahf_news", db_url=db.url).code == 0
    missing = run_cli("channels", "disable", "nobody", db_url=db.url)
    assert missing.code == 2 and "no such channel: nobody" in missing.err
    assert run_cli("channels", "remove", "kahf_news", "--yes", db_url=db.url).code == 0
    with db.sessions() as s:
        assert s.scalars(select(Channel)).all() == []


def test_bad_interval_is_a_usage_error(run_cli: CliRunner) -> None:
    run_cli("db", "upgrade")
    result = run_cli("channels", "add", "x_channel", "--interval", "1")
    assert result.code == 2 and "--interval" in result.err


def test_sync_loads_groups_and_channels(run_cli: CliRunner, db: Database) -> None:
    result = run_cli("channels", "sync", db_url=db.url)
    assert result.code == 0, result.err
    with db.sessions() as s:
        kahf = s.scalar(select(Group).where(Group.name == "Ashab al-Kahf"))
        assert kahf is not None and kahf.kind == "facade"
        assert kahf.parent is not None and kahf.parent.name == "Harakat al-Nujaba"
        assert "أصحاب الكهف" in kahf.aliases
        handles = set(s.scalars(select(Channel.handle)))
    assert handles == {"example_nujaba_channel", "example_kahf_channel"}
    assert run_cli("channels", "sync", db_url=db.url).code == 0  # idempotent


def test_sync_reports_the_bad_entry_line(run_cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "channels.yaml"
    bad.write_text(
        "groups:\n  - name: A\n"
        "channels:\n  - handle: good_one\n  - handle: other\n    source: carrier-pigeon\n",
        encoding="utf-8",
    )
    run_cli("db", "upgrade")
    result = run_cli("channels", "sync", "--file", str(bad))
    assert result.code == 2
    assert f"{bad}:5: source must be one of telethon, web, export" in result.err
    assert (CONFIG / "channels.yaml").exists()
