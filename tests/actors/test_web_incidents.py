"""The incidents console (#16): GET /incidents lists them with validated filters, a timeline
and a schematic of the sites; GET /incidents/{id} every source post; analysts merge, split and
correct, each in the audit log, and what they set is not undone by the next claim."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import AuditLog, Channel, Incident, IncidentSource
from tests.actors.test_incidents import ASAD, CLAIM, ECHO, OWN, post
from tests.conftest import CONFIG, Database, add_channel
from tests.conftest_match import shared_matcher
from tests.web_support import csrf, login, make_client, make_users

ROW = re.compile(r'<tr data-incident="(\d+)">(.*?)</tr>', re.S)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@dataclass
class World:
    db: Database
    pipeline: Pipeline
    client: TestClient
    channels: dict[str, int]

    def ids(self) -> dict[str, int]:
        """The incidents by target site id."""
        with self.db.sessions() as s:
            return {i.site or "": i.id for i in s.scalars(select(Incident))}

    def audit(self) -> list[tuple[str, str, str | None]]:
        with self.db.sessions() as s:
            rows = s.scalars(
                select(AuditLog).where(AuditLog.action.like("incident.%")).order_by(AuditLog.id)
            )
            return [(a.actor, a.action, a.target) for a in rows]


@pytest.fixture
def world(db: Database, matcher: Matcher) -> Iterator[World]:
    pipeline = build_pipeline(db.sessions, load_settings(config_dir=CONFIG), matcher=matcher)
    names = {
        "nujaba": "Harakat al-Nujaba",
        "ashab_alkahf": "Ashab al-Kahf",
        "kataib_hezbollah": "Kataib Hezbollah",
    }
    channels = {h: add_channel(db, h, g) for h, g in names.items()}
    with db.sessions.begin() as s:
        s.get_one(Channel, channels["ashab_alkahf"]).title = HOSTILE
    pipeline.store(channels["nujaba"], [post(10, CLAIM), post(11, ASAD, hours=1)])
    pipeline.store(channels["ashab_alkahf"], [post(77, ECHO, hours=3)])
    pipeline.store(channels["kataib_hezbollah"], [post(5, OWN, hours=5)])
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    yield World(db, pipeline, client, channels)


def test_the_page_lists_incidents_with_their_target_status_and_claimants(world: World) -> None:
    page = world.client.get("/incidents")
    assert page.status_code == 200
    rows = {int(i): body for i, body in ROW.findall(page.text)}
    ids = world.ids()
    harir, asad = rows[ids["harir"]], rows[ids["ain-al-asad"]]
    assert "Harir air base" in harir and "corroborated" in harir and "drone" in harir
    assert "Harakat al-Nujaba, Ashab al-Kahf, Kataib Hezbollah" in harir
    assert "Ain al-Asad air base" in asad and "claimed" in asad and "rockets" in asad
    # The timeline links every incident, the schematic every site, with no script.
    assert f'href="/incidents/{ids["harir"]}"' in page.text
    assert 'href="/incidents?site=tower-22"' in page.text or "Tower 22" in page.text
    assert "<script" not in page.text.split("</head>")[1]
    assert "Iraq" in page.text and "Syria" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=corroborated", ["harir"]),
        ("status=claimed", ["ain-al-asad"]),
        ("site=ain-al-asad", ["ain-al-asad"]),
        ("group=Kataib+Hezbollah", ["harir"]),
        ("from=2024-02-03&to=2024-02-03", ["harir", "ain-al-asad"]),
        ("from=2024-02-04", []),
    ],
)
def test_filters(world: World, query: str, expected: list[str]) -> None:
    page = world.client.get(f"/incidents?{query}")
    assert page.status_code == 200
    by_id = {v: k for k, v in world.ids().items()}
    assert sorted(by_id[int(i)] for i, _ in ROW.findall(page.text)) == sorted(expected)


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("status=rumoured", "status"),
        ("site=atlantis", "site"),
        ("group=Nobody", "group"),
        ("from=2024-13-01", "from"),
        ("from=2024-02-05&to=2024-02-01", "to"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(world: World, query: str, name: str) -> None:
    page = world.client.get(f"/incidents?{query}")
    assert page.status_code == 400
    assert f"Bad parameter &#39;{name}&#39;" in page.text or f"Bad parameter '{name}'" in page.text


def test_the_incident_page_lists_every_source_with_links_and_coordinates(world: World) -> None:
    ids = world.ids()
    page = world.client.get(f"/incidents/{ids['harir']}")
    assert page.status_code == 200
    with world.db.sessions() as s:
        posts = list(
            s.scalars(
                select(IncidentSource.post_id).where(IncidentSource.incident_id == ids["harir"])
            )
        )
    assert len(posts) == 3
    for pid in posts:
        assert f'href="/posts/{pid}"' in page.text
    assert "36.54, 44.35" in page.text and "corroborated" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text  # the channel's title
    assert world.client.get("/incidents/99999").status_code == 404
    assert world.client.get("/incidents/x").status_code == 404


def _post(world: World, path: str, **data: str) -> int:
    token = csrf(world.client, "/incidents")
    resp = world.client.post(path, data={"csrf_token": token, **data})
    assert resp.status_code == 303, resp.text
    return resp.status_code


def test_merge_split_and_correct_are_audited_and_corrections_stand(world: World) -> None:
    ids = world.ids()
    harir, asad = ids["harir"], ids["ain-al-asad"]
    _post(world, f"/incidents/{harir}/merge", other=str(asad))
    with world.db.sessions() as s:
        assert s.get(Incident, asad) is None
        moved = s.scalars(select(IncidentSource).where(IncidentSource.incident_id == harir)).all()
        assert len(moved) == 4
        asad_post = next(m.post_id for m in moved if m.site == "ain-al-asad")
        assert next(m.added_by for m in moved if m.site == "ain-al-asad") == "analyst"

    _post(world, f"/incidents/{harir}/split", post=str(asad_post))
    with world.db.sessions() as s:
        src = s.scalar(select(IncidentSource).where(IncidentSource.post_id == asad_post))
        assert src is not None and src.incident_id not in (harir, asad)
        new = s.get_one(Incident, src.incident_id)
        assert new.site == "ain-al-asad" and new.corrected_by == "analyst"

    _post(world, f"/incidents/{harir}/correct", status="claimed", weapon="(keep)", site="(keep)")
    # Another independent claim arrives: the analyst's status stands.
    world.pipeline.store(world.channels["kataib_hezbollah"], [post(6, OWN + " مجدداً", hours=6)])
    with world.db.sessions() as s:
        incident = s.get_one(Incident, harir)
        assert incident.status == "claimed" and incident.corrected_fields == ["status"]
    assert world.audit() == [
        ("analyst", "incident.merge", f"incident:{harir}"),
        ("analyst", "incident.split", f"incident:{harir}"),
        ("analyst", "incident.correct", f"incident:{harir}"),
    ]


def test_bad_edits_are_refused_naming_the_field_and_change_nothing(world: World) -> None:
    ids = world.ids()
    harir = ids["harir"]
    token = csrf(world.client, "/incidents")
    for path, data, says in [
        (f"/incidents/{harir}/correct", {"weapon": "catapult"}, "weapon"),
        (f"/incidents/{harir}/correct", {"site": "atlantis"}, "site"),
        (f"/incidents/{harir}/merge", {"other": str(harir)}, "other"),
        (f"/incidents/{harir}/merge", {"other": "424242"}, "other"),
    ]:
        resp = world.client.post(path, data={"csrf_token": token, **data})
        assert resp.status_code == 303 and says in resp.headers["location"]
    resp = world.client.post(f"/incidents/{harir}/merge", data={"csrf_token": token, "other": "x"})
    assert resp.status_code == 400
    assert world.audit() == []
    with world.db.sessions() as s:
        assert s.get_one(Incident, harir).corrected_by is None


def test_edits_need_the_csrf_token_and_a_session(world: World) -> None:
    harir = world.ids()["harir"]
    resp = world.client.post(f"/incidents/{harir}/correct", data={"status": "claimed"})
    assert resp.status_code == 403
    anonymous = make_client(world.db.sessions)
    assert anonymous.get("/incidents").status_code == 303
    refused = anonymous.post(f"/incidents/{harir}/correct", data={"status": "claimed"})
    assert refused.status_code in (303, 401)
    assert world.audit() == []


def test_group_pages_list_the_incidents_it_claimed(world: World) -> None:
    ids = world.ids()
    page = world.client.get("/actors/groups/kataib-hezbollah")
    assert page.status_code == 200
    section = page.text.split("<h2>Incidents</h2>")[1].split("</table>")[0]
    assert f'href="/incidents/{ids["harir"]}"' in section and "Harir air base" in section
    assert f'/incidents/{ids["ain-al-asad"]}"' not in section  # Nujaba's alone
    nujaba = world.client.get("/actors/groups/harakat-al-nujaba").text
    section = nujaba.split("<h2>Incidents</h2>")[1].split("</table>")[0]
    assert (
        f'/incidents/{ids["harir"]}"' in section and f'/incidents/{ids["ain-al-asad"]}"' in section
    )
