"""`monitor channels …` as an operator uses it."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
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
    assert (
        f"{bad}:6: channels[1].source: must be one of 'telethon', 'web' or 'export'" in result.err
    )
    assert (CONFIG / "channels.yaml").exists()


def test_add_sets_the_channel_kind_and_list_shows_it(run_cli: CliRunner, db: Database) -> None:
    """#12: who speaks on a channel decides what its cues and claims count."""
    added = run_cli("channels", "add", "agency_x", "--kind", "news", db_url=db.url)
    assert added.code == 0 and "added agency_x (web), kind news" in added.out
    assert run_cli("channels", "add", "own_y", db_url=db.url).code == 0
    # Updating without --kind keeps the kind; with it, changes it.
    assert run_cli("channels", "add", "agency_x", "--source", "web", db_url=db.url).code == 0
    assert run_cli("channels", "add", "own_y", "--kind", "leader", db_url=db.url).code == 0
    with db.sessions() as s:
        kinds = {h: k for h, k in s.execute(select(Channel.handle, Channel.kind))}
    assert kinds == {"agency_x": "news", "own_y": "leader"}
    listing = run_cli("channels", "list", db_url=db.url)
    assert " kind " in listing.out.splitlines()[0]
    rows = {line.split()[0]: line.split() for line in listing.out.splitlines()[1:]}
    assert rows["agency_x"][2] == "news" and rows["own_y"][2] == "leader"
    bad = run_cli("channels", "add", "z_chan", "--kind", "newspaper", db_url=db.url)
    assert bad.code == 2 and "--kind" in bad.err


def test_sync_sets_kinds_and_keeps_one_the_file_leaves_out(
    run_cli: CliRunner, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text(
        "channels:\n  - handle: agency_x\n    kind: news\n  - handle: own_y\n", encoding="utf-8"
    )
    assert run_cli("channels", "sync", "--file", str(path), db_url=db.url).code == 0
    with db.sessions.begin() as s:
        kinds = {h: k for h, k in s.execute(select(Channel.handle, Channel.kind))}
        assert kinds == {"agency_x": "news", "own_y": "group"}
        s.scalars(select(Channel).where(Channel.handle == "own_y")).one().kind = "media"
    path.write_text("channels:\n  - handle: agency_x\n  - handle: own_y\n", encoding="utf-8")
    assert run_cli("channels", "sync", "--file", str(path), db_url=db.url).code == 0
    with db.sessions() as s:
        kinds = {h: k for h, k in s.execute(select(Channel.handle, Channel.kind))}
    assert kinds == {"agency_x": "news", "own_y": "media"}  # set on the console, kept


def test_sync_names_file_and_line_of_a_wrong_channel_kind(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "channels.yaml"
    bad.write_text(
        "channels:\n  - handle: ok_one\n    kind: group\n  - handle: other\n    kind: newz\n",
        encoding="utf-8",
    )
    run_cli("db", "upgrade")
    result = run_cli("channels", "sync", "--file", str(bad))
    assert result.code == 2, result.err
    assert (
        f"{bad}:5: channels[1].kind: must be one of 'group', 'leader', 'media' or 'news'"
        in result.err
    )


def test_sync_names_file_and_line_of_every_wrongly_typed_value(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    # #11: these gave "internal error" (float('abc'), a list as a group name).
    bad = tmp_path / "channels.yaml"
    bad.write_text(
        "groups:\n  - name: A\n    weight: abc\n  - name: [a, b]\n"
        "channels:\n  - handle: ok_one\n    enabeld: false\n",
        encoding="utf-8",
    )
    run_cli("db", "upgrade")
    result = run_cli("channels", "sync", "--file", str(bad))
    assert result.code == 2, result.err
    assert "internal error" not in result.err
    assert f"{bad}:3: groups[0].weight: must be a valid number" in result.err
    assert f"{bad}:4: groups[1].name: must be a valid string" in result.err
    assert f"{bad}:7: channels[0].enabeld: unknown key" in result.err


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        this, prev = chr(ord("a") + n), chr(ord("a") + n - 1)
        lines.append(f"{this}: &{this} [{', '.join([f'*{prev}'] * 9)}]")
    last = chr(ord("a") + levels - 1)
    return "\n".join([*lines, f"groups:\n  - name: lol\n    aliases: *{last}", ""])


def test_billion_laughs_channels_yaml_is_refused_at_once(tmp_path: Path) -> None:
    # 9^9 expansions took 5.6 GB before #11. Run as a child capped at 1 GB of address space
    # (and a timeout) so that a regression fails this test instead of exhausting the machine.
    bad = tmp_path / "channels.yaml"
    bad.write_text(_billion_laughs(), encoding="utf-8")

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "MONITOR_CONFIG_DIR": str(CONFIG), "MONITOR_VAR_DIR": str(tmp_path)}
    env["MONITOR_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
    monitor = [sys.executable, "-m", "monitor"]
    subprocess.run([*monitor, "db", "upgrade"], env=env, capture_output=True, check=True)
    child = subprocess.run(
        [*monitor, "channels", "sync", "--file", str(bad)],
        capture_output=True, text=True, env=env, preexec_fn=cap, timeout=60, check=False,
    )  # fmt: skip
    assert child.returncode == 2, child.stderr
    assert f"{bad}:1: YAML anchors and aliases are not allowed" in child.stderr
