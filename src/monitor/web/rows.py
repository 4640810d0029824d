"""The queue's table rows and the filter's long option lists, built in Python, not in Jinja.

A queue page is fifty rows of a dozen cells and a list of every channel, and Jinja's per-cell
work (an attribute lookup through the environment, an escape into a new Markup string, a yield)
was the largest single cost of the console's most-visited page (#5 benchmark: p95 under 150 ms
with 20 analysts on 2 cores). Here every text taken from the database goes through ``text``;
only numbers and dates formatted here are written as they are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from monitor.web.highlight import marked_hits
from monitor.web.kinds import KIND_HELP, kind_label
from monitor.web.queries import EXCERPT, QueueRow
from monitor.web.queue_media import ImageMark
from monitor.web.render import when


def text(value: object) -> str:
    """``value`` as HTML text: markupsafe's escaping, with a shortcut for the common text that
    holds none of the five characters (a third of the cost of wrapping it in Markup)."""
    s = value if type(value) is str else str(value)
    if "<" in s or ">" in s or "&" in s or '"' in s or "'" in s:
        return html.escape(s, quote=True)
    return s


def options(items: Iterable[tuple[Any, Any]], selected: object) -> Markup:
    """``<option>`` elements for (value, label) pairs, ``selected`` marked."""
    return Markup(
        "".join(
            f'<option value="{text(value)}"{" selected" if value == selected else ""}>'
            f"{text(label)}</option>"
            for value, label in items
        )
    )


def kind_badges(kinds: Iterable[str]) -> str:
    """The signal kinds as badges in the kinds' palette (#14), named in words."""
    return "".join(
        f'<span class="kind kind-{k}" title="{k}: {text(KIND_HELP.get(k, k))}">'
        f"{text(kind_label(k))}</span> "
        for k in (text(k) for k in kinds)
    )


IMAGE_BADGE = '<span class="tag image" title="flagged from the text of the image">image</span>'
FROM_IMAGE = '<span class="tag from-image" title="the post has no caption">text of the image</span>'


def queue_rows(
    rows: Iterable[QueueRow],
    next_q: str,
    decide_fields: Markup,
    terms: Sequence[str] = (),
    images: Mapping[int, ImageMark] | None = None,
) -> Markup:
    """The ``<tr>`` of each row; ``next_q`` is the query string that brings "back" here, and
    ``decide_fields`` the decision form's inputs, the same in every row. With search
    ``terms`` the words found are marked in each excerpt and on the post page it links to.

    Columns (#14): severity and score, the post (its own direction: Arabic right-aligned),
    signals, channel, group, date, and one compact review cell (state and decision).

    ``images`` (web/queue_media.py): a flag found in a post's image is marked so (#13), and a
    post without a caption shows the start of its image's text, marked as such."""
    back = text((urlencode({"q": " ".join(terms)}) + "&" if terms else "") + next_q)
    out: list[str] = []
    for r in rows:
        pid = int(r.id)
        severity = text(r.severity)
        state = text(r.state)
        score = "" if r.score is None else f' <small class="score">{float(r.score):.1f}</small>'
        # Names in their own bidi isolate: a U+202E in one cannot reorder the cell (#11).
        group = (
            f'<bdi dir="auto">{text(r.group)}</bdi>' if r.group else '<span class="none">—</span>'
        )
        # A news channel's cues and claims do not count (#12): the kind says why.
        ck = text(r.channel_kind)
        kind = f' <small class="chkind chkind-{ck}">{ck}</small>'
        tags = ('<span class="tag deleted">deleted</span>' if r.deleted_at else "") + (
            '<span class="tag">edited</span>' if r.edited_at else ""
        )
        refs = f"<small>{text(', '.join(r.refs))}</small>" if r.refs else ""
        image = images.get(pid) if images else None
        own = r.excerpt if r.excerpt and r.excerpt.strip() else ""
        if not own and image is not None and image.head.strip():
            # Outside the link, after it: the link finds its direction in its own text.
            own, tags = image.head, FROM_IMAGE + tags
        badge = IMAGE_BADGE if image is not None and image.from_image else ""
        excerpt = own or r.excerpt or "(no text)"
        if len(excerpt) > EXCERPT:
            # Cut at a word and say so: "رهن إشارة القائ" read as if the post ended there.
            head = excerpt[:EXCERPT]
            excerpt = (head.rsplit(" ", 1)[0] if " " in head else head) + " …"
        shown = marked_hits(excerpt, terms) if terms and own else text(excerpt)
        day, _, hour = when(r.date).partition(" ")
        out.append(
            f'<tr class="row" data-post="{pid}" data-state="{state}" id="post-{pid}">\n'
            f'  <td class="sev-cell"><span class="sev sev-{severity}">{severity}</span>'
            f"{score}</td>\n"
            # dir="auto" on the link itself, with nothing between it and the text: the
            # direction is found in the element's own text, skipping any child with a dir
            # (a <bdi> in between left the link ltr, the Arabic small and left-aligned). An
            # element with a dir is isolated from the cell around it all the same.
            f'  <td class="excerpt"><a class="open" dir="auto" href="/posts/{pid}?{back}">'
            f"{shown}</a>{tags}</td>\n"
            f'  <td class="sigs">{kind_badges(r.kinds)}{badge}{refs}</td>\n'
            f'  <td class="chan"><bdi>{text(r.handle)}</bdi>{kind}</td>\n'
            f'  <td class="group">{group}</td>\n'
            f'  <td class="when">{day}<small>{hour}</small></td>\n'
            f'  <td class="decide-cell"><span class="state state-{state}">{state}</span>\n'
            f'    <form class="decide" method="post" action="/posts/{pid}/review">'
            f"{decide_fields}</form></td>\n</tr>\n"
        )
    return Markup("".join(out))
