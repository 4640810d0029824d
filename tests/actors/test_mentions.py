"""Mentions (#16): the registry's people, groups and sites named in posts, with their spans and
the matcher role they stand in, stored by the pipeline and exported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from monitor.actors.mentions import MAX_MENTIONS, Found, MentionHook, assign_roles, find_mentions
from monitor.actors.registry import Registry, load_registry
from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.export import iter_posts
from monitor.store.models import Channel, MediaFile, Mention, Post
from tests.conftest import CONFIG, Database, add_channel
from tests.conftest_match import shared_matcher

T0 = datetime(2024, 2, 3, 6, 0, tzinfo=UTC)
REGISTRY = load_registry(CONFIG)


def named(text: str) -> list[tuple[str, str, str]]:
    return [(f.kind, f.ref, text[f.start : f.end]) for f in find_mentions(REGISTRY, text)]


KAABI, AMERI = "akram-al-kaabi", "hadi-al-ameri"


@pytest.mark.parametrize(
    ("text", "ref", "span"),
    [
        ("نجدد البيعة والشيخ أكرم الكعبي", KAABI, "الشيخ أكرم الكعبي"),  # و before the title
        ("تحية لأكرم الكعبي", KAABI, "أكرم الكعبي"),  # ل before the name
        # ل before the article takes its alif: the span starts at the article's lam
        ("تحية للشيخ الكعبي", KAABI, "لشيخ الكعبي"),
        ("بيان لسماحة الأمين العام الشيخ أكرم الكعبي", KAABI,
         "سماحة الأمين العام الشيخ أكرم الكعبي"),
        ("كلمة الحاج أبو حسن العامري اليوم", AMERI, "الحاج أبو حسن العامري"),  # a kunya
        ("قال أَكْرَمُ الكَعْبِيّ", KAABI, "أَكْرَمُ الكَعْبِيّ"),  # harakat stay inside the span
        ("We pledge allegiance to SHEIKH AKRAM AL-KAABI!", KAABI, "SHEIKH AKRAM AL-KAABI"),
        ("Kaabi's call: sheikh kaabi's call", KAABI, "sheikh kaabi"),  # Kaabi alone needs a title
    ],
)  # fmt: skip
def test_a_person_is_found_with_proclitics_and_titles(text: str, ref: str, span: str) -> None:
    assert named(text) == [("person", ref, span)]


def test_groups_and_sites_take_the_longest_alias_and_whole_words_only() -> None:
    text = (
        "استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة عين الأسد وقاعدة حرير، "
        "وحركة النجباء تبارك. الكعبيون والنجباءات وحريرية ليست أسماء"
    )
    assert named(text) == [
        ("group", "islamic-resistance-in-iraq", "المقاومة الإسلامية في العراق"),
        ("site", "ain-al-asad", "عين الأسد"),
        ("site", "harir", "قاعدة حرير"),
        ("group", "harakat-al-nujaba", "حركة النجباء"),
    ]
    assert named("Tanfeeth of the Tanf-based forces and the TOWER 22 attack") == [
        ("site", "al-tanf", "Tanf"),
        ("site", "tower-22", "TOWER 22"),
    ]


def test_an_everyday_word_names_a_site_only_after_its_context_word() -> None:
    assert named("طال العمر وبارك الله في العمر") == []
    assert named("قصف بحقل العمر النفطي") == [("site", "al-omar", "حقل العمر")]
    assert named("ثوب من حرير") == []


def test_hostile_marks_inside_a_name_do_not_hide_it() -> None:
    text = "نحن رهن إشارة الشيخ أك\u200dرم ال\u202eكعـــبي\u202c وعين\u200b الأسد"
    found = named(text)
    assert [(k, r) for k, r, _ in found] == [("person", "akram-al-kaabi"), ("site", "ain-al-asad")]
    # The marks dropped by the fold stay with the letter before them (normalize.to_original).
    assert found[0][2] == "الشيخ أك\u200dرم ال\u202eكعـــبي\u202c"


def test_a_megabyte_post_is_bounded() -> None:
    filler = "كلام عادي لا يسمي أحدا ولا مكانا " * 32_000  # ~1 MB
    start = time.perf_counter()
    assert find_mentions(REGISTRY, filler) == []
    repeated = find_mentions(REGISTRY, "الشيخ أكرم الكعبي " * 60_000)
    assert time.perf_counter() - start < 3  # tens of milliseconds each in practice
    assert len(repeated) == MAX_MENTIONS


def test_an_empty_registry_finds_nothing() -> None:
    assert find_mentions(Registry({}, {}, {}), "الشيخ أكرم الكعبي") == []


# --- through the pipeline ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def post(mid: int, text: str, hours: float = 0) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(hours=hours), text, "export")


def mentions(db: Database, channel: int, mid: int) -> list[tuple[str, str, str, str | None, str]]:
    with db.sessions() as s:
        p = s.scalars(select(Post).where(Post.channel_id == channel, Post.message_id == mid)).one()
        rows = s.scalars(select(Mention).where(Mention.post_id == p.id).order_by(Mention.start))
        return [(m.kind, m.ref, m.layer, m.role, p.text[m.start : m.end]) for m in rows]


@pytest.mark.parametrize(
    "text",
    [
        "نجدد البيعة لسماحة الأمين العام الشيخ أكرم الكعبي",
        "نجدد العهد والبيعة لسماحة الأمين العام لحركة النجباء الشيخ أكرم الكعبي",
        "نعاهد القائد أكرم الكعبي على السمع والطاعة",
        "نحن رهن إشارة الشيخ الكعبي",
        "نحن رهن إشارة القائد أكرم الكعبي",
        "نعلن ولاءنا المطلق لسماحة الشيخ أكرم الكعبي",
        "We pledge allegiance to Sheikh Akram al-Kaabi",
        "We are at the disposal of the leader...Akram Kaabi",
    ],
)
def test_a_pledge_to_kaabi_names_him_its_object(
    db: Database, pipeline: Pipeline, text: str
) -> None:
    kahf = add_channel(db, "ashab_alkahf", "Ashab al-Kahf")
    pipeline.store(kahf, [post(1, text)])
    rows = export_rows(db)
    allegiance = [s for s in rows[0]["signals"] if s["kind"] == "allegiance"]
    assert allegiance, "the matcher flags this wording"
    assert any("object" in (s.get("roles") or {}) for s in allegiance)
    kaabi = [m for m in mentions(db, kahf, 1) if m[1] == "akram-al-kaabi"]
    assert [(k, layer, role) for k, _, layer, role, _ in kaabi] == [("person", "text", "object")]


def export_rows(db: Database) -> list[dict[str, Any]]:
    with db.sessions() as s:
        return list(iter_posts(s))


def test_an_attack_claim_gives_its_claimant_and_target_and_a_threat_its_addressee(
    db: Database, pipeline: Pipeline
) -> None:
    iri = add_channel(db, "iri_claims", "Islamic Resistance in Iraq")
    claim = "استهدف مجاهدو المقاومة الإسلامية في العراق فجر اليوم قاعدة حرير في أربيل بطائرة مسيرة"
    pipeline.store(
        iri, [post(1, claim), post(2, "نحذر السفارة الأمريكية في بغداد من أن صبرنا قد نفد")]
    )
    assert mentions(db, iri, 1) == [
        ("group", "islamic-resistance-in-iraq", "text", "claimant", "المقاومة الإسلامية في العراق"),
        ("site", "harir", "text", "target", "قاعدة حرير"),
    ]
    assert mentions(db, iri, 2) == [
        ("site", "us-embassy-baghdad", "text", "addressee", "السفارة الأمريكية"),
    ]


def test_an_edit_replaces_the_mentions_and_the_export_carries_them(
    db: Database, pipeline: Pipeline
) -> None:
    ch = add_channel(db, "nujaba", "Harakat al-Nujaba")
    pipeline.store(ch, [post(5, "كلمة الشيخ قيس الخزعلي"), post(6, "صباح الخير")])
    pipeline.store(ch, [post(5, "كلمة الحاج هادي العامري في عين الأسد")])
    assert [m[1] for m in mentions(db, ch, 5)] == ["hadi-al-ameri", "ain-al-asad"]
    rows = {r["message_id"]: r for r in export_rows(db)}
    text = rows[5]["text"]
    got = rows[5]["mentions"]
    assert [(m["kind"], m["id"]) for m in got] == [
        ("person", "hadi-al-ameri"),
        ("site", "ain-al-asad"),
    ]
    assert text[got[0]["start"] : got[0]["end"]] == "الحاج هادي العامري"
    assert set(got[0]) == {"kind", "id", "start", "end"}
    assert rows[6]["mentions"] == []


def test_the_text_of_an_image_is_a_layer_of_its_own(db: Database, pipeline: Pipeline) -> None:
    ch = add_channel(db, "kahf", "Ashab al-Kahf")
    caption = "بيان"
    image = "نحن رهن إشارة القائد أكرم الكعبي"
    pipeline.store(ch, [post(9, caption)])
    with db.sessions.begin() as s:
        p = s.scalars(select(Post).where(Post.channel_id == ch)).one()
        s.add(MediaFile(post_id=p.id, kind="photo", origin="export", status="done", ocr_text=image))
        s.flush()
        pipeline.relayer(s, s.get_one(Channel, ch), [p])
    with db.sessions() as s:
        (m,) = s.scalars(select(Mention)).all()
        assert (m.ref, m.layer, m.role, image[m.start : m.end]) == (
            "akram-al-kaabi", "ocr", "object", "القائد أكرم الكعبي"
        )  # fmt: skip
    (row,) = export_rows(db)
    assert row["mentions"] == [
        {"kind": "person", "id": "akram-al-kaabi", "start": m.start, "end": m.end, "layer": "ocr"}
    ]


def test_the_hook_reads_the_registry_it_is_given(db: Database) -> None:
    ch = add_channel(db, "kahf")
    hook = MentionHook(lambda: Registry({}, {}, {}))
    pipe = Pipeline(db.sessions)
    pipe.hooks.append(hook)
    pipe.store(ch, [post(1, "الشيخ أكرم الكعبي")])
    with db.sessions() as s:
        assert s.scalars(select(Mention)).all() == []
    pipe.hooks[0] = MentionHook(lambda: REGISTRY)
    pipe.store(ch, [post(1, "سماحة الشيخ أكرم الكعبي")])
    with db.sessions() as s:
        assert [(m.ref, m.role) for m in s.scalars(select(Mention))] == [("akram-al-kaabi", None)]


def test_found_is_a_value() -> None:
    assert Found("site", "harir", 1, 2) == Found("site", "harir", 1, 2)


def test_a_pledge_whose_object_is_a_title_names_the_person_after_it_not_the_group() -> None:
    text = "نجدد البيعة لسماحة الأمين العام لحركة النجباء الشيخ أكرم الكعبي"
    found = find_mentions(REGISTRY, text)
    obj = text.index("لسماحة")
    role = {"object": {"start": obj, "end": obj + 6, "text": "لسماحة"}}
    roles = assign_roles(text, found, [("allegiance", 5, 11, role)])
    assert [(f.ref, r) for f, r in zip(found, roles, strict=True)] == [
        ("harakat-al-nujaba", None),
        ("akram-al-kaabi", "object"),
    ]
    # Further than OBJECT_WINDOW words from the object, a name is not the one pledged to.
    far = "نجدد البيعة لسماحة " + "كلام " * 8 + "الشيخ أكرم الكعبي"
    found = find_mentions(REGISTRY, far)
    assert assign_roles(far, found, [("allegiance", 5, 11, role)]) == [None]
    # A threat's addressee and a claim's roles are only ever the spans the matcher gave.
    assert assign_roles(far, found, [("threat", 0, 4, {"addressee": role["object"]})]) == [None]
