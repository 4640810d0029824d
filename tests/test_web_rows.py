"""The queue rows and option lists built in Python escape every text from the database."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup

from monitor.web.queries import EXCERPT, QueueRow
from monitor.web.rows import options, queue_rows, text

HOSTILE = "<script>alert(1)</script> \"quoted\" & 'single' <img src=x onerror=alert(2)> بيان"


def hostile_row() -> QueueRow:
    return QueueRow(
        id=7,
        date=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        message_id=70,
        excerpt=HOSTILE,
        deleted_at=None,
        edited_at=datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        handle='chan"><svg onload=alert(3)>',
        title=None,
        group="<b>group</b>",
        match_id=3,
        severity='high"><script>',
        severity_rank=3,
        score=61.25,
        flagged=True,
        state="<i>unreviewed</i>",
        kinds=["threat", "<k>"],
        refs=["3:139", "<r>"],
    )


def test_every_text_cell_is_escaped() -> None:
    html = queue_rows([hostile_row()], "next=%2F%3Fq%3D%3Cx%3E", Markup("<input name=csrf>"))
    assert isinstance(html, Markup)
    for raw in ("<script", "<img", "<svg", "<b>", "<i>", "<k>", "<r>", '"quoted"'):
        assert raw not in html
    for escaped in ("&lt;script&gt;", "&lt;img src=x", "&lt;svg onload", "&lt;b&gt;group"):
        assert escaped in html
    assert "بيان" in html
    assert "<input name=csrf>" in html  # the form's own markup goes in as it is
    assert (
        '<tr class="row" data-post="7" data-state="&lt;i&gt;unreviewed&lt;/i&gt;" id="post-7">'
        in html
    )
    assert "61.2" in html and '<td class="when">2026-11-25<small>09:30 UTC</small></td>' in html
    assert '<span class="tag">edited</span>' in html and "deleted" not in html


def test_the_post_and_the_names_keep_their_own_direction() -> None:
    row = hostile_row()
    row.excerpt, row.group, row.handle = "بيان المقاومة", "كتائب", "kataib"
    html = queue_rows([row], "", Markup(""))
    # The post in its own direction (Arabic right-aligned, console.css), isolated from the
    # cells around it; the group in its own column, isolated too (#14).
    assert '<a class="open" dir="auto" href="/posts/7?">بيان المقاومة</a>' in html
    assert '<td class="group"><bdi dir="auto">كتائب</bdi></td>' in html
    assert '<td class="chan"><bdi>kataib</bdi>' in html
    row.group = None
    assert '<td class="group"><span class="none">—</span></td>' in queue_rows([row], "", Markup(""))


def test_kinds_are_badges_in_the_palette_named_in_words() -> None:
    row = hostile_row()
    row.kinds = ["attack_claim", "verse_cue"]
    html = queue_rows([row], "", Markup(""))
    assert '<span class="kind kind-attack_claim" title="attack_claim: a claim of an attack' in html
    assert ">attack claim</span>" in html and ">cue verse</span>" in html


def test_an_empty_post_says_so() -> None:
    row = hostile_row()
    row.excerpt = None
    assert "(no text)" in queue_rows([row], "", Markup(""))


def test_options_escape_and_mark_the_selected_one() -> None:
    html = options([(1, "<a>one</a>"), (2, "two & co"), ('"3"', "three")], 2)
    assert "<a>" not in html and "&lt;a&gt;one" in html
    assert '<option value="2" selected>two &amp; co</option>' in html
    assert '<option value="1">' in html
    assert 'value="&quot;3&quot;"' in html


def test_text_leaves_plain_text_alone_and_escapes_the_five() -> None:
    assert text("المقاومة الإسلامية") == "المقاومة الإسلامية"
    assert text(12) == "12"
    assert text("<>&\"'") == "&lt;&gt;&amp;&quot;&#x27;"


def test_a_long_post_is_cut_at_a_word_and_says_it_goes_on() -> None:
    row = hostile_row()
    row.excerpt = ("نحن رهن إشارة القائد " * 30)[: EXCERPT + 1]  # as the query reads it
    html = str(queue_rows([row], "", Markup("")))
    shown = html.split('href="/posts/7?">')[1].split("</a>")[0]
    assert shown.endswith(" …") and len(shown) <= EXCERPT + 2
    assert shown[:-2].split(" ")[-1] in {"نحن", "رهن", "إشارة", "القائد"}  # a whole word
    row.excerpt = "بيان قصير"
    assert "…" not in str(queue_rows([row], "", Markup("")))
