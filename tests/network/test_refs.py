"""Forwards, mentions and links as edges (#15), and `monitor channels discovered`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.config import load_settings
from monitor.network.refs import MAX_REFS, refs_of
from monitor.pipeline import build_pipeline
from tests.conftest import CliRunner, Database, add_channel

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def rec(mid: int, text: str, fwd: ForwardInfo | None = None, days: int = 0) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(days=days), text, "telethon", forwarded_from=fwd)


def test_forwards_links_and_mentions_are_read_and_nothing_else() -> None:
    got = refs_of(
        rec(
            1,
            "تابعونا على @Kahf_Media و https://t.me/s/Sabereen_News/123 وانضموا t.me/joinchat/AAAA "
            "راسلونا info@example.com أو t.me/+Abcdef وأيضاً @ab",
            ForwardInfo("-1001234567890", 55, "قناة بلا معرّف"),
        )
    )
    assert set(got) == {
        ("forward", "id:1234567890", "قناة بلا معرّف"),  # only an id: kept as one
        ("mention", "kahf_media", None),
        ("link", "sabereen_news", None),
    }
    assert refs_of(rec(2, "", ForwardInfo("Fajr_Commander", 9, None))) == [
        ("forward", "fajr_commander", None)
    ]


@pytest.mark.parametrize(
    ("peer", "target"),
    [
        ("user123456789", None),  # a person, as Telethon names a user peer
        ("channel1234567", None),
        ("1005678901", "id:1005678901"),  # a bare id keeps its digits
        ("-1001005678901", "id:1005678901"),  # the Bot API form of the same channel
    ],
)
def test_forwarded_from_peers_that_are_no_channel_handle(peer: str, target: str | None) -> None:
    got = refs_of(rec(1, "", ForwardInfo(peer, 1, "x")))
    assert got == ([("forward", target, "x")] if target else [])


def test_look_alike_letters_make_no_handle() -> None:
    # ſ (long s) and K (Kelvin sign) match [a-z] under re.I unless ASCII is asked for.
    assert refs_of(rec(1, "t.me/\u017fecret_chan @\u212aelvin_channel")) == []


def test_a_post_full_of_handles_gives_a_bounded_number() -> None:
    text = " ".join(f"@channel_{i:04d}" for i in range(500))
    assert len(refs_of(rec(1, text))) == MAX_REFS


def test_discovered_lists_what_monitored_channels_point_at(
    run_cli: CliRunner, db: Database
) -> None:
    nujaba, kahf = add_channel(db, "nujaba"), add_channel(db, "kahf_media")
    pipe = build_pipeline(db.sessions, load_settings())
    pipe.store(
        nujaba,
        [
            rec(1, "بيان", ForwardInfo("Awliya_Aldam", 7, "سرايا أولياء الدم"), days=1),
            rec(2, "تابعوا @awliya_aldam و @kahf_media"),  # kahf_media is monitored
            rec(3, "انشروا", ForwardInfo("-1009876543210", None, None), days=2),
        ],
    )
    pipe.store(kahf, [rec(1, "عاجل من t.me/Awliya_Aldam/8", days=3), rec(2, "@nujaba")])
    result = run_cli("channels", "discovered", db_url=db.url)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split()[:3] == ["channel", "refs", "fwd"]
    first = lines[1].split()
    assert first[:5] == ["awliya_aldam", "3", "1", "2024-03-01", "2024-03-04"]
    assert "nujaba (2), kahf_media (1)" in lines[1]
    assert lines[2].split()[:3] == ["id:9876543210", "1", "1"]
    assert not any(line.split()[0] in ("kahf_media", "nujaba") for line in lines[1:])

    # An edit that drops the mention drops the edge.
    edited = PostRecord(2, T0, "تابعوا قناتنا", "telethon", edited_at=T0 + timedelta(days=5))
    pipe.store(nujaba, [edited])
    again = run_cli("channels", "discovered", db_url=db.url).out.splitlines()
    assert again[1].split()[:3] == ["awliya_aldam", "2", "1"]


def test_nothing_discovered_says_so(run_cli: CliRunner, db: Database) -> None:
    add_channel(db, "nujaba")
    result = run_cli("channels", "discovered", db_url=db.url)
    assert result.code == 0 and "no channels discovered" in result.out


@pytest.mark.parametrize("bad", ["--limit=0", "--limit=x"])
def test_a_bad_limit_is_refused_by_name(run_cli: CliRunner, bad: str) -> None:
    result = run_cli("channels", "discovered", bad)
    assert result.code == 2 and "--limit" in result.err
