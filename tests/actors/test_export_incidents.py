"""`monitor export incidents` (#16): the fields interface.md names, as JSONL and as CSV, the
same incidents the console lists, and `export posts` naming each post's incident."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

import pytest

from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import build_pipeline
from tests.actors.test_incidents import ASAD, CLAIM, ECHO, OWN, post
from tests.conftest import CONFIG, CliRunner, Database, add_channel
from tests.conftest_match import shared_matcher
from tests.web_support import login, make_client, make_users

FIELDS = ["id", "first_claim", "last_claim", "claimants", "target", "weapon", "status", "sources"]
ROW = re.compile(r'<tr data-incident="(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def stored(db: Database, matcher: Matcher) -> Database:
    pipeline = build_pipeline(db.sessions, load_settings(config_dir=CONFIG), matcher=matcher)
    nujaba = add_channel(db, "nujaba", FORMULA)  # an operator-typed group name
    kahf = add_channel(db, "ashab_alkahf", "Ashab al-Kahf")
    kh = add_channel(db, "kataib_hezbollah", "Kataib Hezbollah")
    pipeline.store(nujaba, [post(10, CLAIM), post(11, ASAD, hours=30), post(12, "صباح الخير")])
    pipeline.store(kahf, [post(77, ECHO, hours=3)])
    pipeline.store(kh, [post(5, OWN, hours=5)])
    return db


def export(run_cli: CliRunner, db: Database, *args: str) -> list[dict[str, Any]]:
    out = run_cli("export", "incidents", *args, db_url=db.url)
    assert out.code == 0, out.err
    return [json.loads(line) for line in out.out.splitlines()]


def test_jsonl_has_the_fields_of_the_interface(run_cli: CliRunner, stored: Database) -> None:
    rows = export(run_cli, stored)
    assert [list(r) for r in rows] == [FIELDS, FIELDS]
    harir, asad = rows
    assert harir["target"] == {"id": "harir", "name": "Harir air base", "lat": 36.54, "lon": 44.35}
    assert harir["weapon"] == "drone" and harir["status"] == "corroborated"
    assert harir["claimants"] == [FORMULA, "Ashab al-Kahf", "Kataib Hezbollah"]
    assert harir["sources"] == [
        {"channel": c, "message_id": m, "date": f"2024-02-03T{h}:00:00Z", "layer": "text"}
        for c, m, h in (
            ("nujaba", 10, "06"),
            ("ashab_alkahf", 77, "09"),
            ("kataib_hezbollah", 5, "11"),
        )
    ]
    assert (harir["first_claim"], harir["last_claim"]) == (
        "2024-02-03T06:00:00Z",
        "2024-02-03T11:00:00Z",
    )
    assert asad["status"] == "claimed" and asad["weapon"] == "rockets"
    assert [r["id"] for r in export(run_cli, stored, "--since", "2024-02-04")] == [asad["id"]]


def test_csv_is_flat_and_neutralises_formulas(run_cli: CliRunner, stored: Database) -> None:
    out = run_cli("export", "incidents", "--format", "csv", db_url=stored.url)
    assert out.code == 0 and out.out.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(out.out[1:])))
    harir = rows[0]
    assert harir["target"] == "Harir air base" and harir["lat"] == "36.54"
    assert harir["claimants"] == f"'{FORMULA}; Ashab al-Kahf; Kataib Hezbollah"
    assert harir["channels"] == "nujaba; ashab_alkahf; kataib_hezbollah"
    assert harir["sources"] == "3" and "https://t.me/nujaba/10" in harir["links"]


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--format", "gexf"], "--format"), (["--since", "yesterday"], "--since")],
)
def test_bad_options_exit_2_naming_them(
    run_cli: CliRunner, stored: Database, args: list[str], option: str
) -> None:
    out = run_cli("export", "incidents", *args, db_url=stored.url)
    assert out.code == 2 and option in out.err and out.out == ""


def test_export_posts_names_each_posts_incident(run_cli: CliRunner, stored: Database) -> None:
    incidents = {r["target"]["id"]: r["id"] for r in export(run_cli, stored)}
    out = run_cli("export", "posts", db_url=stored.url)
    rows = [json.loads(line) for line in out.out.splitlines()]
    posts = {(r["channel"], r["message_id"]): r["incident"] for r in rows}
    assert posts == {
        ("nujaba", 10): incidents["harir"],
        ("nujaba", 11): incidents["ain-al-asad"],
        ("nujaba", 12): None,
        ("ashab_alkahf", 77): incidents["harir"],
        ("kataib_hezbollah", 5): incidents["harir"],
    }


def test_the_page_and_the_export_agree(run_cli: CliRunner, stored: Database) -> None:
    make_users(stored.sessions)
    client = make_client(stored.sessions)
    assert login(client, "analyst") == 303
    page = client.get("/incidents")
    shown = {}
    for incident_id, body in ROW.findall(page.text):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in CELL.findall(body)]
        shown[int(incident_id)] = cells
    exported = export(run_cli, stored)
    assert set(shown) == {r["id"] for r in exported}

    for r in exported:
        number, first, last, target, weapon, status, claimants, sources = shown[r["id"]]
        assert number == f"#{r['id']}"
        assert first == r["first_claim"].replace("T", " ")[:16] + " UTC"
        assert last == r["last_claim"].replace("T", " ")[:16] + " UTC"
        assert target == r["target"]["name"] and weapon == r["weapon"]
        assert status == r["status"]
        assert html.unescape(claimants) == ", ".join(r["claimants"])
        assert int(sources) == len(r["sources"])
