"""The channel graph (#15): `monitor export graph` as GEXF, GraphML and CSV edges."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import networkx as nx
import pytest

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.config import load_settings
from monitor.pipeline import build_pipeline
from monitor.store.models import Channel
from tests.conftest import CliRunner, Database, add_channel
from tests.conftest_match import shared_matcher

from .test_echo import ECHO, QUOTING, STATEMENT

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def rec(mid: int, text: str, hours: float = 0, fwd: ForwardInfo | None = None) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(hours=hours), text, "telethon", forwarded_from=fwd)


@pytest.fixture
def world(db: Database, tmp_path_factory: pytest.TempPathFactory) -> Database:
    nujaba = add_channel(db, "nujaba", group="Harakat al-Nujaba")
    kahf = add_channel(db, "kahf_media", group="Ashab al-Kahf")
    with db.sessions.begin() as s:
        ch = s.get(Channel, kahf)
        assert ch is not None
        # hostile title: PostgreSQL refuses NUL itself; \x0b is stored, and XML cannot carry it
        ch.title, ch.kind = "أصحاب الكهف\x0b\x1b[31m", "media"
    matcher = shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")
    pipe = build_pipeline(db.sessions, load_settings(), matcher=matcher)
    pipe.store(nujaba, [rec(1, STATEMENT), rec(2, "تابعوا @sabereen_news")])
    pipe.store(
        kahf,
        [
            rec(5, ECHO, hours=3),
            rec(6, "", hours=4, fwd=ForwardInfo("nujaba", 1, "النجباء")),
            rec(7, "", hours=5, fwd=ForwardInfo("nujaba", 2, "النجباء")),
        ],
    )
    pipe.store(add_channel(db, "analysis"), [rec(1, QUOTING, hours=8)])
    return db


def test_gexf_opens_in_networkx_with_the_channels_and_their_edges(
    run_cli: CliRunner, world: Database, tmp_path: Path
) -> None:
    result = run_cli("export", "graph", "--format", "gexf", db_url=world.url)
    assert result.code == 0, result.err
    path = tmp_path / "graph.gexf"
    path.write_text(result.out, encoding="utf-8")
    g = nx.read_gexf(path)
    assert set(g.nodes) == {"nujaba", "kahf_media", "sabereen_news", "analysis"}
    assert g.nodes["kahf_media"]["group"] == "Ashab al-Kahf"
    assert g.nodes["kahf_media"]["label"] == "أصحاب الكهف[31m"  # control characters dropped
    assert g.nodes["sabereen_news"]["monitored"] is False
    forward = g.edges["kahf_media", "nujaba"]
    assert (forward["forward"], forward["weight"]) == (2, 2)
    assert g.edges["nujaba", "kahf_media"]["echo"] == 1  # the first publisher to its echo
    assert g.edges["nujaba", "sabereen_news"]["mention"] == 1
    assert g.edges["analysis", "nujaba"]["quote"] == 1
    assert {g.nodes[n]["community"] for n in g.nodes} <= {0, 1, 2, 3}


def test_graphml_and_csv_carry_the_same_edges(
    run_cli: CliRunner, world: Database, tmp_path: Path
) -> None:
    graphml = run_cli("export", "graph", "--format", "graphml", db_url=world.url)
    path = tmp_path / "graph.graphml"
    path.write_text(graphml.out, encoding="utf-8")
    g = nx.read_graphml(path)
    rows = list(
        csv.DictReader(
            io.StringIO(run_cli("export", "graph", "--format", "csv", db_url=world.url).out)
        )
    )
    assert {(r["source"], r["target"], r["kind"], int(r["weight"])) for r in rows} == {
        ("kahf_media", "nujaba", "forward", 2),
        ("nujaba", "kahf_media", "echo", 1),
        ("nujaba", "sabereen_news", "mention", 1),
        ("analysis", "nujaba", "quote", 1),
    }
    assert {(a, b) for a, b in g.edges} == {(r["source"], r["target"]) for r in rows}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("export", "graph", "--format", "jsonl"), "gexf, graphml or csv"),
        (("export", "posts", "--format", "gexf"), "jsonl or csv"),
        (("export", "graph", "--since", "2024-01-01"), "every stored post"),
    ],
)
def test_a_format_that_does_not_fit_is_refused_by_name(
    run_cli: CliRunner, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args)
    assert result.code == 2 and message in result.err and "'--" in result.err


def test_a_title_with_line_breaks_is_one_line(db: Database) -> None:
    from monitor.network.graph import build_graph

    watched = add_channel(db, "watched")
    with db.sessions.begin() as s:
        s.get_one(
            Channel, watched
        ).title = "Sabereen\nConsole: https://evil.example/login\r\n\u2028ok"
    with db.sessions() as s:
        label = build_graph(s).nodes["watched"]["label"]
    assert label == "Sabereen Console: https://evil.example/login ok"
