"""Incidents from claims (#16): a channel's claim of an attack, its echo on a second channel
and an independent claim on a third make one incident with every source, its site and weapon;
`claimed` while the sources are copies of one statement, `corroborated` once a second channel
claims it on its own; another site, or a claim outside the window, is another incident."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.actors.incidents import take_events
from monitor.actors.incidents_read import read_incidents
from monitor.actors.registry import load_registry
from monitor.actors.weapons import weapon_class
from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import Incident, IncidentSource
from tests.conftest import CONFIG, Database, add_channel
from tests.conftest_match import shared_matcher

T0 = datetime(2024, 2, 3, 6, 0, tzinfo=UTC)
# tests/network/test_echo.py's statement: a drone attack on Harir claimed, and its echo.
CLAIM = (
    "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق فجر اليوم قاعدة حرير "
    "في أربيل بطائرة مسيرة وحققت إصابة مباشرة، وإن عملياتنا مستمرة حتى إخراج قوات "
    "الاحتلال الأمريكي من أرض العراق"
)
ECHO = (
    "عاجل | بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية فجر اليوم قاعدة حرير "
    "بأربيل بطائرة مسيّرة وأصابت هدفها بدقة، وإن عملياتنا متواصلة حتى طرد قوات "
    "الاحتلال الأمريكي من أرض العراق 🔥🔥 #المقاومة_الإسلامية_في_العراق https://t.me/x/1"
)
# Another group's own wording of the same attack: not a copy of the first.
OWN = (
    "المقاومة الإسلامية في العراق تعلن استهداف قاعدة حرير الأمريكية في أربيل برشقة من "
    "الطائرات المسيرة"
)
ASAD = "استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة عين الأسد بعدة صواريخ"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(config_dir=CONFIG), matcher=matcher)


def post(mid: int, text: str, hours: float = 0) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(hours=hours), text, "export")


def incidents(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as s:
        views = read_incidents(s, load_registry(CONFIG))
        return sorted((v.record() for v in views), key=lambda r: r["id"])


def channels(record: dict[str, Any]) -> list[tuple[str, int]]:
    return [(s["channel"], s["message_id"]) for s in record["sources"]]


def test_a_claim_and_its_echo_are_one_claimed_incident_until_a_third_channel_claims_it(
    db: Database, pipeline: Pipeline
) -> None:
    nujaba = add_channel(db, "nujaba", "Harakat al-Nujaba")
    kahf = add_channel(db, "ashab_alkahf", "Ashab al-Kahf")
    kh = add_channel(db, "kataib_hezbollah", "Kataib Hezbollah")
    pipeline.store(nujaba, [post(10, CLAIM)])
    pipeline.store(kahf, [post(77, ECHO, hours=3)])
    [one] = incidents(db)
    assert channels(one) == [("nujaba", 10), ("ashab_alkahf", 77)]
    assert one["target"]["id"] == "harir" and one["target"]["lat"] == pytest.approx(36.54, 0.01)
    assert one["weapon"] == "drone"
    assert one["status"] == "claimed"  # the echo is a copy, not a second witness
    assert one["claimants"] == ["Harakat al-Nujaba", "Ashab al-Kahf"]

    pipeline.store(kh, [post(5, OWN, hours=5)])
    [one] = incidents(db)
    assert channels(one)[-1] == ("kataib_hezbollah", 5)
    assert one["status"] == "corroborated"
    assert one["first_claim"] == "2024-02-03T06:00:00Z"
    assert one["last_claim"] == "2024-02-03T11:00:00Z"


def test_another_site_or_a_claim_outside_the_window_is_another_incident(
    db: Database, pipeline: Pipeline
) -> None:
    a = add_channel(db, "group_a", "Kataib Hezbollah")
    b = add_channel(db, "group_b", "Harakat al-Nujaba")
    pipeline.store(a, [post(1, CLAIM), post(2, ASAD, hours=1)])
    pipeline.store(b, [post(3, OWN, hours=30)])  # Harir again, the next day
    found = incidents(db)
    assert [(r["target"]["id"], channels(r)) for r in found] == [
        ("harir", [("group_a", 1)]),
        ("ain-al-asad", [("group_a", 2)]),
        ("harir", [("group_b", 3)]),
    ]
    assert found[1]["weapon"] == "rockets"
    assert all(r["status"] == "claimed" for r in found)


def test_importing_again_changes_nothing_and_an_edit_that_no_longer_claims_leaves(
    db: Database, pipeline: Pipeline
) -> None:
    a = add_channel(db, "group_a", "Kataib Hezbollah")
    b = add_channel(db, "group_b", "Harakat al-Nujaba")
    pipeline.store(a, [post(1, CLAIM)])
    pipeline.store(b, [post(2, OWN, hours=2)])
    before = incidents(db)
    pipeline.store(a, [post(1, CLAIM)])
    pipeline.store(b, [post(2, OWN, hours=2)])
    assert incidents(db) == before and before[0]["status"] == "corroborated"

    pipeline.store(b, [post(2, "صباح الخير يا أهل العراق", hours=2)])  # edited: no claim now
    [left] = incidents(db)
    assert channels(left) == [("group_a", 1)] and left["status"] == "claimed"
    pipeline.store(a, [post(1, "نعتذر، حذف الخبر", hours=0)])
    assert incidents(db) == []  # no sources and nobody corrected it: gone
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(IncidentSource)) == 0


def test_running_the_hooks_again_changes_nothing(db: Database, pipeline: Pipeline) -> None:
    """As a re-read image does (relayer): every hook sees the same posts again."""
    from monitor.store.models import Post

    a = add_channel(db, "group_a", "Kataib Hezbollah")
    b = add_channel(db, "group_b", "Harakat al-Nujaba")
    pipeline.store(a, [post(1, CLAIM), post(2, ASAD, hours=1)])
    pipeline.store(b, [post(3, OWN, hours=2)])
    before = incidents(db)
    # Without the alert hook, which takes the events: none may be left over for it.
    pipeline.hooks = [h for h in pipeline.hooks if type(h).__name__ != "IncidentAlertHook"]
    for cid in (a, b):
        with db.sessions.begin() as s:
            posts = list(s.scalars(select(Post).where(Post.channel_id == cid)))
            pipeline.relayer(s, posts[0].channel, posts)
            assert take_events(s) == []
    assert incidents(db) == before


def test_an_edit_that_changes_only_the_weapon_keeps_the_incident(
    db: Database, pipeline: Pipeline
) -> None:
    a = add_channel(db, "group_a", "Kataib Hezbollah")
    pipeline.store(a, [post(1, CLAIM)])
    [before] = incidents(db)
    pipeline.store(a, [post(1, CLAIM.replace("بطائرة مسيرة", "بصواريخ الكاتيوشا"))])
    [after] = incidents(db)
    assert after["id"] == before["id"] and after["weapon"] == "rockets"


def test_claims_naming_no_site_join_only_their_own_channels_and_copies(
    db: Database, pipeline: Pipeline
) -> None:
    a = add_channel(db, "group_a", "Kataib Hezbollah")
    b = add_channel(db, "group_b", "Harakat al-Nujaba")
    vague = "استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة للاحتلال الأمريكي بطائرة مسيرة"
    other = "قصفت المقاومة الإسلامية في العراق موقعاً للقوات الأمريكية بالصواريخ"
    pipeline.store(a, [post(1, vague), post(2, vague + " ثانية", hours=2)])
    pipeline.store(b, [post(3, other, hours=3), post(4, "عاجل | " + vague, hours=4)])
    found = incidents(db)
    assert [channels(r) for r in found] == [
        [("group_a", 1), ("group_a", 2), ("group_b", 4)],  # b's copy of a's statement joins
        [("group_b", 3)],  # "a base" claimed by another channel may be another attack
    ]
    assert all(r["target"] is None for r in found)
    assert [r["weapon"] for r in found] == ["drone", "rockets"]


def test_an_image_claim_counts(db: Database, pipeline: Pipeline) -> None:
    """A claim read from the post's image (#13) is a source with layer "ocr"."""
    from monitor.store.models import MediaFile, Post

    a = add_channel(db, "group_a", "Kataib Hezbollah")
    pipeline.store(a, [post(1, "بيان 📌")])
    with db.sessions.begin() as s:
        p = s.scalar(select(Post))
        assert p is not None
        s.add(
            MediaFile(
                post_id=p.id,
                kind="photo",
                origin="export",
                status="done",
                ocr_text=CLAIM,
                ocr_engine="test",
                ocr_version="1",
                ocr_confidence=0.9,
            )
        )
        s.flush()
        pipeline.relayer(s, p.channel, [p])
    [one] = incidents(db)
    assert one["sources"][0]["layer"] == "ocr" and one["target"]["id"] == "harir"


def test_the_events_of_a_transaction_are_taken_once(db: Database, pipeline: Pipeline) -> None:
    a = add_channel(db, "group_a", "Kataib Hezbollah")
    pipeline.hooks = [h for h in pipeline.hooks if type(h).__name__ != "IncidentAlertHook"]
    seen: list[list[str]] = []
    pipeline.hooks.append(lambda s, c, ch: seen.append([e.kind for e in take_events(s)]))
    pipeline.store(a, [post(1, CLAIM)])
    pipeline.store(a, [post(1, CLAIM)])
    assert seen == [["incident"]]  # the second store changed nothing: no hook ran at all
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


@pytest.mark.parametrize(
    ("text", "weapon"),
    [
        ("بطائرة مسيّرة", "drone"),
        ("بطائرتين مسيرتين", "drone"),
        ("بعدة صواريخ", "rockets"),
        ("بصواريخ الكاتيوشا", "rockets"),
        ("بصاروخ باليستي", "missiles"),
        ("with two drones", "drone"),
        ("with ballistic missiles", "missiles"),
        ("بعبوة ناسفة", "IED"),
        ("بقذائف الهاون", "other"),
        ("", None),
    ],
)
def test_weapon_classes(text: str, weapon: str | None) -> None:
    assert weapon_class(text) == weapon


def test_two_channels_of_one_group_do_not_corroborate_each_other(
    db: Database, pipeline: Pipeline
) -> None:
    own = add_channel(db, "kh_official", "Kataib Hezbollah")
    outlet = add_channel(db, "kh_media", "Kataib Hezbollah")
    pipeline.store(own, [post(1, CLAIM)])
    pipeline.store(outlet, [post(2, OWN, hours=1)])  # its own wording, the same claimant
    [one] = incidents(db)
    assert len(one["sources"]) == 2 and one["status"] == "claimed"
    pipeline.store(add_channel(db, "nujaba", "Harakat al-Nujaba"), [post(3, OWN, hours=2)])
    assert incidents(db)[0]["status"] == "corroborated"


@pytest.mark.postgres
def test_two_workers_claiming_one_site_at_once_make_one_incident(
    db: Database, pipeline: Pipeline
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer: its batches never overlap")
    import threading

    chans = [
        add_channel(db, f"claimant_{i}", g)
        for i, g in enumerate(("Kataib Hezbollah", "Harakat al-Nujaba"))
    ]
    pipeline.store(chans[0], [post(100, "صباح الخير")])  # the rule set recorded once
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def claim(cid: int, mid: int, text: str) -> None:
        try:
            start.wait()
            pipeline.store(cid, [post(mid, text)])
        except BaseException as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [
        threading.Thread(target=claim, args=(chans[0], 1, CLAIM)),
        threading.Thread(target=claim, args=(chans[1], 2, OWN)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [one] = incidents(db)
    assert len(one["sources"]) == 2 and one["status"] == "corroborated"
