"""Operators edit the registry in the console (#16): every field of a group, person or site, a
new entry, and "back to the file"; each is audited, shows at once, is read by the pipeline's
mention finder and incident gazetteer, and is refused whole (naming the field and the value)
when the files' own checks would refuse it."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape
from sqlalchemy import select
from starlette.testclient import TestClient

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import build_pipeline
from monitor.store.models import AuditLog, Incident, IncidentSource, Mention, RegistryOverride
from monitor.web.app import create_app
from tests.conftest import CONFIG, Database, add_channel
from tests.conftest_match import shared_matcher
from tests.web_support import csrf, login, make_client, make_users, settings

HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2024, 2, 3, 6, 0, tzinfo=UTC)
CLAIM = "استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة القيارة الجوية بعدة صواريخ"
NUJABA = "/actors/group/harakat-al-nujaba/edit"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def operator(db: Database) -> TestClient:
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "operator") == 303
    return client


def post(client: TestClient, path: str, **form: str) -> Any:
    return client.post(path, data={"csrf_token": csrf(client, "/actors"), **form})


def saved(client: TestClient, path: str, **form: str) -> str:
    """The notice the form's redirect carries."""
    resp = post(client, path, **form)
    assert resp.status_code == 303, resp.text
    return parse_qs(urlsplit(resp.headers["location"]).query)["msg"][0]


def audit(db: Database, action: str) -> list[AuditLog]:
    with db.sessions() as s:
        return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


def rows(db: Database) -> list[tuple[str, str]]:
    with db.sessions() as s:
        return [(r.kind, r.ref) for r in s.scalars(select(RegistryOverride))]


def test_every_field_of_a_group_is_edited_shown_and_audited(
    db: Database, operator: TestClient
) -> None:
    form = {
        "kind": "political",
        "parent": "kataib-hezbollah",
        "affiliates": "ashab-al-kahf, badr-organization",
        "channels": "@Example_Nujaba_Channel | official\nt.me/nujaba_media_test | media",
        "name": "Harakat al-Nujaba",
        "note": f"re-read {HOSTILE}",
    }
    assert saved(operator, NUJABA, **form).startswith("saved")
    page = operator.get("/actors/groups/harakat-al-nujaba").text
    assert "<small>political</small>" in page
    facts = page.split("Aliases", 1)[0]
    assert 'href="/actors/groups/kataib-hezbollah"' in facts  # the parent
    assert 'href="/actors/groups/badr-organization"' in facts  # a new affiliate
    assert "@<bdi>nujaba_media_test</bdi>" in page and "in the registry, not monitored" in page
    assert str(escape(form["note"])) in page and HOSTILE not in page
    assert "Edited in the console" in page
    # Kataib Hezbollah lists it among its fronts now.
    kh = operator.get("/actors/groups/kataib-hezbollah").text
    assert 'href="/actors/groups/harakat-al-nujaba"' in kh.split("Its facades and fronts", 1)[1]
    [entry] = audit(db, "registry.edit")
    assert (entry.actor, entry.target) == ("operator", "group:harakat-al-nujaba")
    assert entry.detail["kind"] == {"before": "armed group", "after": "political"}
    assert entry.detail["parent"] == {"before": None, "after": "kataib-hezbollah"}
    assert "nujaba_media_test | media" in entry.detail["channels"]["after"]
    assert "name" not in entry.detail  # unchanged fields are not in the record

    # An empty parent or affiliates clears it.
    assert saved(operator, NUJABA, parent="", affiliates="").startswith("saved")
    facts = operator.get("/actors/groups/harakat-al-nujaba").text.split("Aliases", 1)[0]
    assert "/actors/groups/kataib-hezbollah" not in facts and "/actors/groups/badr" not in facts


def test_a_person_and_a_site_are_edited(db: Database, operator: TestClient) -> None:
    msg = saved(
        operator, "/actors/person/qais-al-khazali/edit", role="spokesman", group="kataib-hezbollah"
    )
    assert msg.startswith("saved")
    page = operator.get("/actors/people/qais-al-khazali").text
    assert "<small>spokesman</small>" in page and 'href="/actors/groups/kataib-hezbollah"' in page
    msg = saved(operator, "/actors/site/harir/edit", lat="36.6", lon="-44.1", country="Syria")
    assert msg.startswith("saved")
    site = operator.get("/actors/sites/harir").text
    assert "36.6000, -44.1000" in site and "<td>Syria</td>" in site
    listing = operator.get("/actors").text
    assert 'href="/actors/sites/harir"' in listing and "36.60, -44.10" in listing
    assert {e.target for e in audit(db, "registry.edit")} == {
        "person:qais-al-khazali",
        "site:harir",
    }


@pytest.mark.parametrize(
    ("path", "form", "says"),
    [
        ("/actors/site/harir/edit", {"lat": "90.5"}, "lat: must be less than or equal to 90"),
        ("/actors/site/harir/edit", {"lon": "-180.01"}, "lon: must be greater than or equal"),
        ("/actors/site/harir/edit", {"lat": "north"}, "lat: must be a valid number"),
        ("/actors/site/harir/edit", {"country": "Iran"}, "country: must be 'Iraq', 'Syria'"),
        (NUJABA, {"parent": "no-such-group"}, "parent: names 'no-such-group', which is no group"),
        (NUJABA, {"affiliates": "badr-organization, ghost"}, "affiliates: names 'ghost'"),
        (NUJABA, {"parent": "harakat-al-nujaba"}, "parent: names itself"),
        # Ashab al-Kahf's parent is Nujaba: Nujaba under Kahf would be its own ancestor.
        (NUJABA, {"parent": "ashab-al-kahf"}, "parent: 'ashab-al-kahf' makes 'harakat-al-nujaba'"),
        (NUJABA, {"kind": "militia"}, "kind: must be 'armed group'"),
        (NUJABA, {"channels": "example_kahf_channel | official"},
         "channels[0]: @example_kahf_channel is already a channel of ashab-al-kahf"),
        (NUJABA, {"channels": "nujaba_x | spokesman"}, "channels, line 1: 'spokesman' is no role"),
        (NUJABA, {"channels": "not a handle! | media"}, "channels, line 1: not a channel handle"),
        (NUJABA, {"lat": "3"}, "lat: a group has no such field"),
        ("/actors/person/qais-al-khazali/edit", {"group": "ghost"}, "group: 'ghost' is no group"),
        ("/actors/person/qais-al-khazali/edit", {"name": ""}, "name: required"),
        ("/actors/person/qais-al-khazali/edit", {"id": "other"}, "id: a person has no such"),
    ],
)  # fmt: skip
def test_a_bad_value_or_reference_is_refused_naming_it_and_nothing_is_stored(
    db: Database, operator: TestClient, path: str, form: dict[str, str], says: str
) -> None:
    before = operator.get("/actors/sites/harir").text
    msg = saved(operator, path, note="a note that would be saved", **form)
    assert msg.startswith(f"not saved: {says}"), msg
    assert rows(db) == [] and audit(db, "registry.edit") == []
    assert operator.get("/actors/sites/harir").text == before


def test_new_entries_are_added_and_their_aliases_are_read_by_the_pipeline(
    db: Database, operator: TestClient, matcher: Matcher
) -> None:
    pipeline = build_pipeline(db.sessions, load_settings(config_dir=CONFIG), matcher=matcher)
    channel = add_channel(db, "example_nujaba_channel", "Harakat al-Nujaba")
    pipeline.store(channel, [PostRecord(1, T0, CLAIM, "export")])  # no such site yet

    site = {"id": "qayyarah-west", "name": "Qayyarah West air base", "country": "Iraq"}
    site |= {"lat": "35.77", "lon": "43.12", "note": f"open maps {HOSTILE}"}
    site["aliases"] = f"Q-West\nالقيارة | قاعدة, مطار\n{HOSTILE}"
    resp = post(operator, "/actors/new/site", **site)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/actors/sites/")
    page = operator.get("/actors/sites/qayyarah-west").text
    assert "Qayyarah West air base" in page and "35.7700, 43.1200" in page
    assert "Added in the console" in page
    assert HOSTILE not in page and str(escape(HOSTILE)) in page

    group = {"id": "saraya-test", "name": "Saraya al-Test", "kind": "facade"}
    group |= {"parent": "kataib-hezbollah", "aliases": "سرايا الاختبار", "note": "n"}
    group["channels"] = "saraya_test_channel | official"
    assert post(operator, "/actors/new/group", **group).status_code == 303
    person = {"id": "abu-test", "name": "Abu Test", "role": "spokesman", "group": "saraya-test"}
    person |= {"aliases": "أبو الاختبار الناطق", "note": "n"}
    assert post(operator, "/actors/new/person", **person).status_code == 303
    assert 'href="/actors/people/abu-test"' in operator.get("/actors/groups/saraya-test").text
    assert [e.target for e in audit(db, "registry.add")] == [
        "site:qayyarah-west",
        "group:saraya-test",
        "person:abu-test",
    ]

    # The pipeline (its own loader, as a collector has) reads the new entries at once.
    pipeline.store(channel, [PostRecord(2, T0, CLAIM, "export")])
    pipeline.store(channel, [PostRecord(3, T0, "بيان أبو الاختبار الناطق", "export")])
    with db.sessions() as s:
        sites = s.execute(
            select(IncidentSource.site, Incident.site).join(Incident).order_by(IncidentSource.id)
        ).all()
        named = s.scalars(select(Mention.ref).where(Mention.kind == "person")).all()
    assert [tuple(r) for r in sites] == [(None, None), ("qayyarah-west", "qayyarah-west")]
    assert named == ["abu-test"]


@pytest.mark.parametrize(
    ("what", "form", "says"),
    [
        ("site", {"id": "harir", "name": "Harir again"}, "id: 'harir' is already a site"),
        ("site", {"id": "Bad Id", "name": "x"}, "id: String should match pattern"),
        ("site", {"id": "x-site", "name": "x", "lat": "-91"}, "lat: must be greater than"),
        ("group", {"id": "g-new", "name": "G", "kind": "facade", "parent": "ghost"}, "parent:"),
        ("group", {"id": "g-new", "name": "G"}, "kind: required"),
        ("person", {"id": "p-new", "name": "P", "role": "leader", "group": "ghost"}, "group:"),
    ],
)
def test_a_new_entry_that_does_not_pass_is_shown_again_with_the_problem(
    db: Database, operator: TestClient, what: str, form: dict[str, str], says: str
) -> None:
    site = {"country": "Iraq", "lat": "33", "lon": "44"} if what == "site" else {}
    resp = post(operator, f"/actors/new/{what}", note=f"typed {HOSTILE}", **site | form)
    assert resp.status_code == 400
    assert f"not saved: {escape(says)!s}" in resp.text, resp.text
    assert str(escape(f"typed {HOSTILE}")) in resp.text and HOSTILE not in resp.text  # kept
    assert rows(db) == [] and audit(db, "registry.add") == []


def test_undo_goes_back_to_the_file_and_is_audited(db: Database, operator: TestClient) -> None:
    saved(operator, "/actors/site/harir/edit", lat="10", note="moved")
    assert "10.0000" in operator.get("/actors/sites/harir").text
    msg = saved(operator, "/actors/site/harir/revert")
    assert msg == "undone: the entry is the file's again"
    page = operator.get("/actors/sites/harir").text
    assert "36.5400, 44.3500" in page and "Edited in the console" not in page
    [entry] = audit(db, "registry.revert")
    assert entry.target == "site:harir" and entry.detail["fields"]["lat"] == 10.0
    assert rows(db) == []
    assert saved(operator, "/actors/site/harir/revert").startswith("not undone: site 'harir'")


def test_undoing_an_added_group_that_a_person_names_is_refused(
    db: Database, operator: TestClient
) -> None:
    group = {"id": "g-new", "name": "G new", "kind": "facade", "note": "n"}
    person = {"id": "p-new", "name": "P new", "role": "figure", "group": "g-new", "note": "n"}
    assert post(operator, "/actors/new/group", **group).status_code == 303
    assert post(operator, "/actors/new/person", **person).status_code == 303
    msg = saved(operator, "/actors/group/g-new/revert")
    assert msg == "not undone: person 'p-new', group: 'g-new' is no group of the registry"
    assert saved(operator, "/actors/person/p-new/revert").startswith("undone: person p-new")
    assert saved(operator, "/actors/group/g-new/revert").startswith("undone: group g-new")
    assert operator.get("/actors/groups/g-new").status_code == 404
    assert rows(db) == [] and len(audit(db, "registry.revert")) == 2


def test_analysts_and_forged_forms_change_nothing(db: Database, operator: TestClient) -> None:
    analyst = make_client(db.sessions)
    assert login(analyst, "analyst") == 303
    assert analyst.get("/actors/sites/harir").status_code == 200
    assert "actor-edit" not in analyst.get("/actors/sites/harir").text
    assert analyst.get("/actors/new/site").status_code == 403
    site = {"id": "x-site", "name": "x", "country": "Iraq", "lat": "1", "lon": "1", "note": "n"}
    attempts = [("/actors/new/site", site), ("/actors/site/harir/edit", {"lat": "1"})]
    attempts.append(("/actors/site/harir/revert", {}))
    for path, form in attempts:
        assert post(analyst, path, **form).status_code == 403, path
        assert operator.post(path, data=form).status_code == 403, path
        assert operator.post(path, data={"csrf_token": "forged", **form}).status_code == 403
    assert rows(db) == []
    with db.sessions() as s:
        assert s.scalars(select(AuditLog).where(AuditLog.action.like("registry.%"))).all() == []


def test_an_edit_the_files_no_longer_fit_is_left_out_and_the_rest_kept(
    db: Database, operator: TestClient, matcher: Matcher
) -> None:
    """A file edit under a console row (its parent group gone) never stops the pages or the
    pipeline: that row is left out, the others still apply."""
    saved(operator, "/actors/group/kataib-hezbollah/edit", aliases="كتائب الاختبار")
    with db.sessions.begin() as s:  # as if groups.yaml had lost the parent it names
        stale = {"parent": "removed-group"}
        s.add(RegistryOverride(kind="group", ref="badr-organization", fields=stale, updated_by="o"))
    page = operator.get("/actors/groups/kataib-hezbollah")
    assert page.status_code == 200 and "كتائب الاختبار" in page.text
    assert operator.get("/actors/groups/badr-organization").status_code == 200
    pipeline = build_pipeline(db.sessions, load_settings(config_dir=CONFIG), matcher=matcher)
    channel = add_channel(db, "example_nujaba_channel", "Harakat al-Nujaba")
    pipeline.store(channel, [PostRecord(1, T0, "بيان كتائب الاختبار", "export")])
    with db.sessions() as s:
        assert s.scalars(select(Mention.ref)).all() == ["kataib-hezbollah"]


def test_an_edit_keeps_only_its_fields_so_later_file_edits_show(
    db: Database, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    make_users(db.sessions)
    app = create_app(settings().model_copy(update={"config_dir": config}), db.sessions)
    client = TestClient(app, follow_redirects=False)
    assert login(client, "operator") == 303
    assert saved(client, "/actors/site/harir/edit", lat="36.6").startswith("saved (lat)")
    sites = config / "registry" / "sites.yaml"
    text = sites.read_text("utf-8")
    sites.write_text(text.replace("    lon: 44.35\n", "    lon: 44.5\n", 1), "utf-8")
    os.utime(sites, ns=(1, 1))  # a new mtime, whatever the file system's resolution
    page = client.get("/actors/sites/harir").text
    assert "36.6000, 44.5000" in page  # the console's latitude, the file's new longitude
    with db.sessions() as s:
        assert s.scalars(select(RegistryOverride.fields)).all() == [{"lat": 36.6}]
