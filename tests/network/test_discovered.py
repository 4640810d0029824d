"""Promoting and ignoring discovered channels (#15): what operators decide, and what
`monitor channels discovered` then lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.network.refs import (
    RefHook,
    Refused,
    discovered,
    ignore,
    ignored,
    ignored_hidden,
    promote,
    unignore,
)
from monitor.pipeline import Pipeline
from monitor.store.channels import get_group
from monitor.store.models import Channel, Group, IgnoredChannel
from tests.conftest import CliRunner, Database, add_channel

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def rec(mid: int, text: str, fwd: ForwardInfo | None = None, days: int = 0) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(days=days), text, "telethon", forwarded_from=fwd)


def seed(db: Database) -> None:
    """nujaba (monitored) forwards awliya_aldam twice, mentions kahf_media and a channel given
    only by id."""
    nujaba = add_channel(db, "nujaba", group="Nujaba")
    pipe = Pipeline(db.sessions)
    pipe.hooks.append(RefHook())
    pipe.store(
        nujaba,
        [
            rec(1, "بيان", ForwardInfo("Awliya_Aldam", 7, "سرايا أولياء الدم")),
            rec(2, "عاجل", ForwardInfo("awliya_aldam", 8, None), days=1),
            rec(3, "تابعوا @Kahf_Media"),
            rec(4, "انشروا", ForwardInfo("-1009876543210", None, None), days=2),
        ],
    )


def targets(db: Database) -> list[str]:
    with db.sessions() as s:
        return [d.target for d in discovered(s)]


def test_an_ignored_channel_is_left_out_until_un_ignored(db: Database) -> None:
    seed(db)
    assert targets(db) == ["awliya_aldam", "id:9876543210", "kahf_media"]
    with db.sessions.begin() as s:
        ignore(s, "@Kahf_Media", "op1", "  a news aggregator  ")
        ignore(s, "id:9876543210", "op2")
    assert targets(db) == ["awliya_aldam"]
    with db.sessions() as s:
        listed = {i.target: i for i in ignored(s)}
        assert ignored_hidden(s) == 2
    assert set(listed) == {"kahf_media", "id:9876543210"}
    assert (listed["kahf_media"].by, listed["kahf_media"].reason) == ("op1", "a news aggregator")
    assert listed["kahf_media"].refs == 1 and listed["id:9876543210"].reason is None

    with db.sessions.begin() as s:
        assert unignore(s, "kahf_media").ignored_by == "op1"
    assert targets(db) == ["awliya_aldam", "kahf_media"]
    with db.sessions() as s:
        assert [i.target for i in ignored(s)] == ["id:9876543210"]
        assert ignored_hidden(s) == 1


def test_promote_registers_the_channel_and_lifts_its_ignore(db: Database) -> None:
    seed(db)
    with db.sessions.begin() as s:
        ignore(s, "awliya_aldam", "op1", "thought a duplicate")
    with db.sessions.begin() as s:
        ch = promote(
            s, "t.me/Awliya_Aldam", group="Nujaba", kind="media", source="telethon", interval=600
        )
        assert ch.handle == "awliya_aldam"
    with db.sessions() as s:
        got = s.scalars(select(Channel).where(Channel.handle == "awliya_aldam")).one()
        assert (got.kind, got.source, got.interval_seconds, got.enabled) == (
            "media",
            "telethon",
            600,
            True,
        )
        assert got.group is not None and got.group.name == "Nujaba"
        assert s.get(IgnoredChannel, "awliya_aldam") is None
        assert ignored_hidden(s) == 0
    # Monitored now: no longer a discovery.
    assert targets(db) == ["id:9876543210", "kahf_media"]


def _written(db: Database) -> tuple[int, int, int]:
    with db.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Channel)) or 0,
            s.scalar(select(func.count()).select_from(Group)) or 0,
            s.scalar(select(func.count()).select_from(IgnoredChannel)) or 0,
        )


@pytest.mark.parametrize(
    ("target", "choices", "message"),
    [
        ("id:9876543210", {}, "only by its id"),
        ("nujaba", {}, "nujaba is already monitored"),
        ("@NUJABA", {}, "nujaba is already monitored"),
        ("kahf_media", {"group": "Kataib Typo"}, "no group named 'Kataib Typo'"),
        ("kahf_media", {"kind": "newspaper"}, "kind must be one of group, leader, media, news"),
        ("kahf_media", {"source": "export"}, "source must be one of telethon, web"),
        ("kahf_media", {"interval": 5}, "10 to 86400 seconds"),
        ("<script>", {}, "not a channel handle"),
        ("\u017fecret_chan", {}, "not a channel handle"),  # a long s, no ASCII handle
        ("kahf media", {}, "not a channel handle"),
    ],
)
def test_a_promote_that_cannot_be_done_says_why_and_writes_nothing(
    sqlite_db: Database, target: str, choices: dict[str, Any], message: str
) -> None:
    seed(sqlite_db)
    before = _written(sqlite_db)
    args: dict[str, Any] = {"group": None, "kind": "group", "source": "web", "interval": None}
    with pytest.raises(Refused, match=message), sqlite_db.sessions.begin() as s:
        promote(s, target, **(args | choices))
    assert _written(sqlite_db) == before
    with sqlite_db.sessions() as s:
        assert get_group(s, "Kataib Typo", create=False) is None


def test_ignore_refuses_what_it_cannot_ignore(db: Database) -> None:
    seed(db)
    with db.sessions.begin() as s:
        ignore(s, "kahf_media", "op1")
    for target, reason, message in [
        ("nujaba", None, "nujaba is monitored"),
        ("kahf_media", None, r"kahf_media is already ignored \(by op1\)"),
        ("awliya_aldam", "x" * 501, "501 characters long; at most 500"),
        ("t.me/joinchat/", None, "not a channel handle"),
    ]:
        with pytest.raises(Refused, match=message), db.sessions.begin() as s:
            ignore(s, target, "op2", reason)
    with pytest.raises(Refused, match="awliya_aldam is not ignored"), db.sessions.begin() as s:
        unignore(s, "awliya_aldam")
    with db.sessions() as s:
        assert [(i.target, i.by) for i in ignored(s)] == [("kahf_media", "op1")]


def test_a_forward_by_id_of_a_monitored_channel_is_no_discovery(db: Database) -> None:
    seed(db)
    with db.sessions.begin() as s:
        s.scalars(select(Channel).where(Channel.handle == "nujaba")).one().telegram_id = 9876543210
    assert targets(db) == ["awliya_aldam", "kahf_media"]


def test_the_cli_leaves_ignored_channels_out_and_says_how_many(
    run_cli: CliRunner, db: Database
) -> None:
    seed(db)
    shown = run_cli("channels", "discovered", db_url=db.url)
    assert shown.code == 0 and shown.err == ""
    assert [line.split()[0] for line in shown.out.splitlines()[1:]] == [
        "awliya_aldam",
        "id:9876543210",
        "kahf_media",
    ]
    with db.sessions.begin() as s:
        ignore(s, "kahf_media", "op1")
        ignore(s, "id:9876543210", "op1")
    result = run_cli("channels", "discovered", db_url=db.url)
    assert result.code == 0, result.err
    assert [line.split()[0] for line in result.out.splitlines()[1:]] == ["awliya_aldam"]
    assert result.err.strip() == "2 ignored channel(s) not shown (console: /discovered)"

    with db.sessions.begin() as s:
        ignore(s, "awliya_aldam", "op1")
    none_left = run_cli("channels", "discovered", db_url=db.url)
    assert none_left.code == 0
    assert none_left.out.strip() == "no channels discovered that are not ignored"
    assert "3 ignored channel(s) not shown" in none_left.err
