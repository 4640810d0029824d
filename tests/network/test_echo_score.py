"""An echoed statement rises (#15): each affiliated channel that posts a near copy within the
window adds to the score of every copy, the first publisher's included, and says so in the
"why" lines; a channel repeating itself, or an unaffiliated one, adds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from monitor.config import load_settings
from monitor.match import Matcher
from monitor.match.persist import rematch
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.models import Channel, Match, Post
from tests.conftest import Database, add_channel
from tests.conftest_match import shared_matcher
from tests.network.test_echo import post

# A warning (threat, high) rather than a claim on a named base, which scores 100 alone.
STATEMENT = (
    "تحذر المقاومة الإسلامية في العراق قوات الاحتلال الأمريكي من مغبة الاستمرار في انتهاك "
    "سيادة العراق وإن صبرنا قد نفد وسيكون ردنا في الزمان والمكان المناسبين على كل من يعتدي "
    "على أبناء شعبنا"
)
ECHO = (
    "عاجل | تحذر المقاومة الإسلامية قوات الاحتلال الأمريكي من مغبة الاستمرار في انتهاك سيادة "
    "بلدنا وإن صبرنا قد نفد وسيكون ردنا في الوقت والمكان المناسبين على كل من يعتدي على أبناء "
    "شعبنا #العراق"
)
ECHOED = "affiliated channel(s) echoed the statement"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def pipeline(db: Database, matcher: Matcher) -> Iterator[Pipeline]:
    yield build_pipeline(db.sessions, load_settings(), matcher=matcher)


def verdict(db: Database, handle: str, mid: int) -> tuple[float, list[str]]:
    with db.sessions() as s:
        m = s.execute(
            select(Match)
            .join(Post, Post.id == Match.post_id)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Channel.handle == handle, Post.message_id == mid)
        ).scalar_one()
        return m.score, list(m.explanation)


def test_an_affiliated_echo_raises_both_copies_and_says_why(
    db: Database, pipeline: Pipeline, matcher: Matcher
) -> None:
    nujaba = add_channel(db, "nujaba", "Nujaba")
    kahf = add_channel(db, "ashab_alkahf", "Ashab al-Kahf", "Nujaba")
    pipeline.store(nujaba, [post(10, STATEMENT)])
    alone, why = verdict(db, "nujaba", 10)
    assert not any(ECHOED in line for line in why)
    pipeline.store(kahf, [post(77, ECHO, hours=3)])
    first, why_first = verdict(db, "nujaba", 10)
    echo, why_echo = verdict(db, "ashab_alkahf", 77)
    assert alone < 92 and first == alone + 8
    assert any(line.startswith("+ 8: 1 " + ECHOED) for line in why_first)
    assert any(ECHOED in line for line in why_echo)
    # What the hook stored is what a rematch over history stores.
    rematch(db.sessions, matcher, settings=load_settings())
    assert verdict(db, "nujaba", 10) == (first, why_first)
    assert verdict(db, "ashab_alkahf", 77) == (echo, why_echo)


def test_only_affiliated_channels_within_the_window_count(db: Database, pipeline: Pipeline) -> None:
    nujaba = add_channel(db, "nujaba", "Nujaba")
    stranger = add_channel(db, "news_desk", "Someone Else")
    late = add_channel(db, "nujaba_media", "Nujaba Media", "Nujaba")
    pipeline.store(nujaba, [post(10, STATEMENT)])
    alone, _ = verdict(db, "nujaba", 10)
    pipeline.store(stranger, [post(5, ECHO, hours=1)])  # in the cluster, not affiliated
    pipeline.store(late, [post(6, ECHO, hours=30)])  # affiliated, a day later
    pipeline.store(nujaba, [post(11, ECHO, hours=2)])  # the channel repeating itself
    score, why = verdict(db, "nujaba", 10)
    assert score == alone
    assert not any(ECHOED in line for line in why)


def test_the_echo_bonus_shares_the_affiliated_cap(db: Database, pipeline: Pipeline) -> None:
    nujaba = add_channel(db, "nujaba", "Nujaba")
    pipeline.store(nujaba, [post(10, STATEMENT)])
    alone, _ = verdict(db, "nujaba", 10)
    for i in range(5):
        cid = add_channel(db, f"facade_{i}", f"Facade {i}", "Nujaba")
        pipeline.store(cid, [post(100 + i, ECHO, hours=1 + i / 10)])
    score, why = verdict(db, "nujaba", 10)
    assert alone < 76 and score == alone + 24  # five echoes, capped at affiliated_cap
    assert any(line.startswith("+ 24: 5 " + ECHOED) for line in why)
