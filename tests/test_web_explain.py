"""The post page says why a post scored what it did in plain words (#14), and the seven kinds
wear one palette everywhere: a post matched by the real matcher, its text hostile (markup,
right-to-left overrides inside the very spans that matched)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.models import Match, Post
from monitor.web.explain import rule_notes
from monitor.web.rule_words import rule_words

from .conftest import Database
from .conftest_match import shared_matcher
from .web_support import NOW, TestClient, login, make_client, make_users

RLO = "\u202e"
ARABIC_OR_CONTROL = re.compile("[\u0600-\u06ff\u202a-\u202e\u2066-\u2069]")
VERSE = f"وَلَا تَهِنُوا{RLO} وَلَا تَحْزَنُوا وَأَنتُمُ الْأَعْلَوْنَ إِن كُنتُم مُّؤْمِنِينَ"
HOSTILE = (
    f"<script>alert(1)</script> {RLO}بيان{RLO} {VERSE} "
    f"<b>سنرد</b> على العدوان الأمريكي، القادم{RLO} أعظم"
)
# A line of a shape the console does not know (an older matcher's): kept whole, isolated.
ODD_LINE = f"legacy note: '<img src=x onerror=alert(2)>' {RLO}عدو"
CSS = Path(__file__).resolve().parent.parent / "src/monitor/web/static/console.css"


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


@pytest.fixture
def matched(sqlite_db: Database, matcher: Matcher) -> tuple[TestClient, int]:
    make_users(sqlite_db.sessions)
    with sqlite_db.sessions.begin() as s:
        # a group the rule files weigh (× 1.3), so its name is part of the arithmetic
        cid = ensure_channel(
            s, "hostile_chan", source="export", title=f"<i>قناة</i>{RLO}", group="Kataib Hezbollah"
        ).id
    pipeline = build_pipeline(sqlite_db.sessions, load_settings(), matcher=matcher)
    pipeline.store(cid, [PostRecord(9, NOW, HOSTILE, "export")])
    with sqlite_db.sessions.begin() as s:
        match = s.scalars(select(Match).join(Post).where(Post.message_id == 9)).one()
        assert match.severity == "critical" and match.score == pytest.approx(78)
        match.explanation = [*match.explanation, ODD_LINE]
        pid = match.post_id
    client = make_client(sqlite_db.sessions)
    assert login(client, "analyst") == 303
    return client, pid


class Isolation(HTMLParser):
    """Each text node, with whether it sits in a ``<bdi dir="auto">`` and in any element that
    sets its own direction (``<bdi>``, or ``dir=`` on any element)."""

    VOID: ClassVar[set[str]] = {"br", "input", "meta", "link", "img", "hr", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, bool, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        in_bdi = any(t == "bdi" and a.get("dir") == "auto" for t, a in self.stack)
        own = any(t == "bdi" or a.get("dir") in ("auto", "rtl") for t, a in self.stack)
        self.texts.append((data, in_bdi, own))


def texts(html: str) -> list[tuple[str, bool, bool]]:
    parser = Isolation()
    parser.feed(html)
    return parser.texts


def section(page: str, start: str, end: str) -> str:
    i = page.index(start)
    return page[i : page.index(end, i)]


def test_why_this_score_speaks_in_words_with_the_bands(matched: tuple[TestClient, int]) -> None:
    client, pid = matched
    page = client.get(f"/posts/{pid}").text
    why = section(page, '<section class="why" id="why">', "</section>")
    assert "Score <strong>78</strong> of 100: severity" in why
    assert "posts are flagged from <strong>low</strong>" in why
    # every band with the score it needs, this post's marked
    bands = re.findall(
        r'<li class="band([^"]*)"[^>]*><span class="sev sev-(\w+)">\w+</span> ([^<]+)</li>', why
    )
    assert [(name, span) for _, name, span in bands] == [
        ("none", "0–15"),
        ("low", "15–35"),
        ("medium", "35–50"),
        ("high", "50–75"),
        ("critical", "75–100"),
    ]
    assert [name for css, name, _ in bands if "here" in css] == ["critical"]
    assert '<li class="band here" aria-current="true"><span class="sev sev-critical">' in why
    # the arithmetic, each step in words with the rule's title
    steps = [re.sub(r"<[^>]+>", "", row) for row in re.findall(r"<tr.*?</tr>", why, re.S)]
    assert steps == [
        "35the strongest signal: Cue verse 3:139 cue verse",
        "+ 15half of 30 for another signal: “The matter is settled” / “what comes is greater”"
        " threat",
        "+ 10these together, with an enemy named cue verse",
        "× 1.3weight of the group Kataib Hezbollah",
        "= 78severity critical",
    ]
    # never the matcher's own notation, nor a rule's raw pattern
    for raw in ("weight 35 x match 1", "x match", "أعظم|أكبر", "->", "strongest signal quran"):
        assert raw not in page, raw
    # the signals column: what each rule looks for, and how the verse matched
    signals = section(page, '<aside class="signals-col">', "</aside>")
    assert '<bdi dir="auto">9 words of the Quran</bdi>' in signals
    assert "a short cue used before attacks" in signals
    assert 'typical wording: <bdi dir="auto">القادم أعظم</bdi>' in signals


def test_hostile_text_is_escaped_and_every_arabic_fragment_isolated(
    matched: tuple[TestClient, int],
) -> None:
    client, pid = matched
    page = client.get(f"/posts/{pid}").text
    for raw in ("<script>alert", "<b>سنرد", "<img src=x", "<i>قناة"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    # The line of unknown shape is shown whole, in its own isolate.
    odd = f"legacy note: &#39;&lt;img src=x onerror=alert(2)&gt;&#39; {RLO}عدو"
    assert f'<li><bdi dir="auto">{odd}</bdi></li>' in page
    why = section(page, '<section class="why" id="why">', "</section>")
    signals = section(page, '<aside class="signals-col">', "</aside>")
    for text, in_bdi, _ in texts(why):
        if ARABIC_OR_CONTROL.search(text):
            assert in_bdi, repr(text)
    # The signals' words too; the spans quoted and the verses are blocks of their own
    # direction (dir="auto", the Quran's dir="rtl").
    for text, in_bdi, own in texts(signals):
        if ARABIC_OR_CONTROL.search(text):
            assert in_bdi or own, repr(text)
    # Anywhere on the page, an override from the post or a name never leaks into the text
    # around it: it sits in an element that sets its own direction.
    body = page[page.index("<main>") :]
    leaks = [t for t, _, own in texts(body) if RLO in t and not own]
    assert not leaks, leaks
    assert sum(RLO in t for t, _, _ in texts(body)) >= 4  # the post, its spans, the title


def test_a_kind_wears_the_same_class_on_every_page(matched: tuple[TestClient, int]) -> None:
    client, pid = matched
    post = client.get(f"/posts/{pid}").text
    queue = client.get("/").text
    overview = client.get("/overview").text
    for kind, words in (("threat", "threat"), ("verse_cue", "cue verse")):
        # the highlight in the post's text
        marks = re.findall(r'<mark class="([^"]*)" data-signals', post)
        assert any(f"kind-{kind}" in m.split() for m in marks), marks
        badge = f'<span class="kind kind-{kind}"'
        assert badge in post and badge in queue  # the badge, on the post and in its row
        assert re.search(rf'<rect class="bar kind-{kind}"', overview)  # the chart's bars
        assert re.search(rf'<span class="swatch kind-{kind}">', overview)  # and their legend
        legend = f'<span class="kind kind-{kind}">{words}</span>'
        for page in (post, queue, overview):  # the legend of the seven kinds
            assert '<ul class="legend kinds" aria-label="Signal kinds">' in page
            assert legend in page
    # and one stylesheet rule gives each class its colour, which all of them paint with
    css = CSS.read_text(encoding="utf-8")
    for kind in ("threat", "verse_cue"):
        assert (
            f".kind-{kind} {{ --kind: var(--kind-{kind}); --kind-bg: var(--kind-{kind}-bg); }}"
            in css
        )
    assert "mark { background: var(--kind-bg" in css
    assert 'svg [class*="kind-"] { fill: var(--kind); }' in css
    assert "background: var(--kind-bg, #fff)" in css  # .kind badges


def test_every_bundled_rule_has_a_title_in_words() -> None:
    # A rule without one would show the analyst its id ("attack claim: noun"); the title
    # belongs in the rule file (title:, description:), or in web/rule_words.py meanwhile.
    rules_dir = Path(__file__).resolve().parent.parent / "config" / "rules"
    notes = rule_notes(rules_dir)
    for item in (*notes.rules, *notes.frames):
        kind = item.id.partition(":")[0]
        words = rule_words(item.id, kind, notes)
        # (the id in words, the last resort, comes with no description)
        assert words.title and words.description, f"{item.id}: no title and description"
