"""Echo clusters (#15): a statement repeated by another channel, reworded and decorated,
joins the first one's cluster; other statements of the same template do not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.export import iter_posts
from monitor.store.models import EchoBand, EchoCluster, EchoMember, Post
from monitor.web import post_echoes
from tests.conftest import Database, add_channel
from tests.conftest_match import shared_matcher
from tests.web_support import login, make_client, make_users

T0 = datetime(2024, 2, 3, 6, 0, tzinfo=UTC)
STATEMENT = (
    "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق فجر اليوم قاعدة حرير "
    "في أربيل بطائرة مسيرة وحققت إصابة مباشرة، وإن عملياتنا مستمرة حتى إخراج قوات "
    "الاحتلال الأمريكي من أرض العراق"
)
# The echo: a prefix, hashtags, a link, emoji, and about a fifth of the words reworded.
ECHO = (
    "عاجل | بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية فجر اليوم قاعدة حرير "
    "بأربيل بطائرة مسيّرة وأصابت هدفها بدقة، وإن عملياتنا متواصلة حتى طرد قوات "
    "الاحتلال الأمريكي من أرض العراق 🔥🔥 #المقاومة_الإسلامية_في_العراق https://t.me/x/1"
)


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def post(mid: int, text: str, hours: float = 0) -> PostRecord:
    return PostRecord(mid, T0 + timedelta(hours=hours), text, "export")


def export_rows(db: Database) -> dict[tuple[str, int], dict]:
    with db.sessions() as s:
        return {(d["channel"], d["message_id"]): d for d in iter_posts(s)}


def exported(db: Database) -> dict[tuple[str, int], dict | None]:
    return {key: row["cluster"] for key, row in export_rows(db).items()}


def test_an_echo_hours_later_joins_the_first_publishers_cluster(
    db: Database, pipeline: Pipeline
) -> None:
    kahf, nujaba = add_channel(db, "ashab_alkahf"), add_channel(db, "nujaba")
    pipeline.store(nujaba, [post(10, STATEMENT)])
    pipeline.store(kahf, [post(77, ECHO, hours=3), post(78, "صباح الخير يا أهل العراق", 4)])
    clusters = exported(db)
    first = {"channel": "nujaba", "message_id": 10}
    assert clusters[("nujaba", 10)] == clusters[("ashab_alkahf", 77)]
    assert clusters[("nujaba", 10)] is not None
    assert clusters[("nujaba", 10)]["size"] == 2 and clusters[("nujaba", 10)]["first"] == first
    assert clusters[("ashab_alkahf", 78)] is None


def test_an_earlier_post_back_filled_later_becomes_the_first(
    db: Database, pipeline: Pipeline
) -> None:
    kahf, nujaba = add_channel(db, "ashab_alkahf"), add_channel(db, "nujaba")
    pipeline.store(kahf, [post(77, ECHO, hours=3)])
    pipeline.store(nujaba, [post(10, STATEMENT)])  # collected later, posted earlier
    cluster = exported(db)[("ashab_alkahf", 77)]
    assert cluster is not None and cluster["first"] == {"channel": "nujaba", "message_id": 10}


@pytest.mark.parametrize(
    ("original", "other"),
    [
        # the same template, another site
        (STATEMENT, STATEMENT.replace("قاعدة حرير في أربيل", "قاعدة عين الأسد في الأنبار")),
        # the same template, another day
        (
            STATEMENT.replace("فجر اليوم", "فجر الثلاثاء"),
            STATEMENT.replace("فجر اليوم", "فجر الخميس"),
        ),
        # another count
        (
            STATEMENT.replace("بطائرة مسيرة", "بـ 3 طائرات مسيرة"),
            STATEMENT.replace("بطائرة مسيرة", "بـ 5 طائرات مسيرة"),
        ),
    ],
)
def test_two_statements_from_one_template_stay_apart(
    db: Database, pipeline: Pipeline, original: str, other: str
) -> None:
    a, b = add_channel(db, "group_a"), add_channel(db, "group_b")
    pipeline.store(a, [post(1, original)])
    pipeline.store(b, [post(2, other, hours=30)])
    assert all(c is None for c in exported(db).values())


def test_short_emoji_and_formula_posts_never_join(db: Database, pipeline: Pipeline) -> None:
    a, b = add_channel(db, "group_a"), add_channel(db, "group_b")
    for cid, base in ((a, 1), (b, 100)):
        pipeline.store(
            cid,
            [post(base, "🔥🔥🔥"), post(base + 1, "عاجل"), post(base + 2, "الله أكبر الله أكبر")],
        )
    assert all(c is None for c in exported(db).values())
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(EchoBand)) == 0


def test_a_channel_repeating_itself_hourly_is_one_cluster(db: Database, pipeline: Pipeline) -> None:
    a = add_channel(db, "group_a")
    pipeline.store(a, [post(i, STATEMENT, hours=i) for i in range(1, 7)])
    clusters = exported(db)
    assert len({c["id"] for c in clusters.values() if c}) == 1
    assert next(iter(clusters.values()))["size"] == 6  # type: ignore[index]


def test_an_edit_to_another_text_leaves_the_cluster(db: Database, pipeline: Pipeline) -> None:
    a, b = add_channel(db, "group_a"), add_channel(db, "group_b")
    pipeline.store(a, [post(1, STATEMENT)])
    pipeline.store(b, [post(2, ECHO, hours=2)])
    assert exported(db)[("group_b", 2)] is not None
    edited = PostRecord(
        2,
        T0 + timedelta(hours=2),
        "نبارك لأهلنا حلول شهر رمضان المبارك، أعاده الله على العراق بالخير واليمن والبركات",
        "export",
        edited_at=T0 + timedelta(hours=5),
    )
    assert pipeline.store(b, [edited]).edited == 1
    assert all(c is None for c in exported(db).values())
    with db.sessions() as s:
        # a cluster of one is no echo: gone with its last member
        assert s.scalar(select(func.count()).select_from(EchoCluster)) == 0
        assert s.scalar(select(func.count()).select_from(EchoMember)) == 0


def test_the_post_page_lists_the_cluster_first_publisher_first(
    db: Database, pipeline: Pipeline
) -> None:
    kahf, nujaba = add_channel(db, "ashab_alkahf"), add_channel(db, "nujaba")
    pipeline.store(kahf, [post(77, ECHO, hours=3)])
    pipeline.store(nujaba, [post(10, STATEMENT)])
    with db.sessions() as s:
        ids = {p.message_id: p.id for p in s.scalars(select(Post))}
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    page = client.get(f"/posts/{ids[77]}").text
    section = page[page.index('id="echoes"') :]
    section = section[: section.index("</section>")]
    assert "The same statement elsewhere (2 posts)" in section
    items = re.findall(r"<li[^>]*>(.*?)</li>", section, re.S)
    assert "@<bdi>nujaba</bdi> #10" in items[0] and "first" in items[0]
    assert f'href="/posts/{ids[10]}"' in items[0]
    assert "this post" in items[1] and "+3 h 00 min" in items[1]
    solo = add_channel(db, "other")
    pipeline.store(
        solo, [post(5, "نبارك لأهلنا حلول شهر رمضان المبارك، أعاده الله على العراق بالخير")]
    )
    with db.sessions() as s:
        alone = s.scalars(select(Post).where(Post.message_id == 5)).one().id
    assert 'id="echoes"' not in client.get(f"/posts/{alone}").text


def test_a_long_cluster_page_lists_the_first_members_and_the_post_itself(
    db: Database, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page reads at most SHOWN members (#15), and still shows where the post is."""
    monkeypatch.setattr(post_echoes, "SHOWN", 3)
    a = add_channel(db, "group_a")
    pipeline.store(a, [post(i, STATEMENT, hours=i) for i in range(1, 7)])
    with db.sessions() as s:
        ids = {p.message_id: p.id for p in s.scalars(select(Post))}
        shown, size = post_echoes.echoes(s, ids[6])
    assert size == 6
    assert [e.message_id for e in shown] == [1, 2, 3, 6]
    assert shown[-1].this and shown[-1].lag == "+5 h 00 min" and shown[0].lag == "first"
    with db.sessions() as s:
        shown, _ = post_echoes.echoes(s, ids[2])
    assert [e.message_id for e in shown] == [1, 2, 3] and shown[1].this


QUOTING = (
    "قراءة في بيان اليوم: يرى مراقبون أن الفصائل دخلت مرحلة جديدة من التصعيد، وأن الرسالة "
    "موجهة إلى واشنطن قبل الانتخابات الأمريكية، إذ جاء في البيان: «" + STATEMENT + "» ويضيف "
    "المحللون أن توقيت الهجوم يرتبط بالمفاوضات الجارية حول انسحاب التحالف الدولي من البلاد "
    "وبالضغوط الداخلية على الحكومة العراقية وبالتطورات الإقليمية المتسارعة في المنطقة"
)


def test_a_post_quoting_a_statement_inside_its_own_links_to_it(
    db: Database, pipeline: Pipeline
) -> None:
    nujaba, media = add_channel(db, "nujaba"), add_channel(db, "sabereen")
    pipeline.store(nujaba, [post(10, STATEMENT)])
    pipeline.store(media, [post(3, QUOTING, hours=5), post(4, "صباح الخير يا أهل العراق", 6)])
    rows = export_rows(db)
    quoting = rows[("sabereen", 3)]
    assert quoting["quotes"] == [{"channel": "nujaba", "message_id": 10}]
    assert quoting["cluster"] is None  # a quote inside commentary is no echo
    assert rows[("nujaba", 10)]["quotes"] == [] and rows[("sabereen", 4)]["quotes"] == []


def test_the_quoted_statement_collected_after_the_quote_is_linked_too(
    db: Database, pipeline: Pipeline
) -> None:
    nujaba, media = add_channel(db, "nujaba"), add_channel(db, "sabereen")
    pipeline.store(media, [post(3, QUOTING, hours=5)])
    pipeline.store(nujaba, [post(10, STATEMENT)])  # back-filled
    rows = export_rows(db)
    assert rows[("sabereen", 3)]["quotes"] == [{"channel": "nujaba", "message_id": 10}]


def test_shifting_windows_of_words_do_not_chain_unrelated_statements(
    db: Database, pipeline: Pipeline
) -> None:
    # Each post shares most words with the one before; the last shares none with the first.
    words = (
        "المقاومة الاحتلال بيان الشعب العراق الأرض السيادة الكرامة الحرية الشهداء الدماء "
        "الوطن الجهاد النصر الصمود الفصائل الحكومة البرلمان القرار الانسحاب المرحلة الرسالة "
        "العدوان المنطقة الإقليم القوى الموقف الخيار الميدان الساحة"
    )
    vocab = words.split()
    a = add_channel(db, "group_a")
    posts = [post(i + 1, " ".join(vocab[3 * i : 3 * i + 10]), hours=i) for i in range(6)]
    pipeline.store(a, posts)
    clusters = exported(db)
    first, last = clusters[("group_a", 1)], clusters[("group_a", 6)]
    assert first is None or last is None or first["id"] != last["id"]
