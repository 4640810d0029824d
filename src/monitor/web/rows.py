"""The queue's table rows and the filter's long option lists, built in Python, not in Jinja.

A queue page is fifty rows of a dozen cells and a list of every channel, and Jinja's per-cell
work (an attribute lookup through the environment, an escape into a new Markup string, a yield)
was the largest single cost of the console's most-visited page (#5 benchmark: p95 under 150 ms
with 20 analysts on 2 cores). Here every text taken from the database goes through ``text``;
only numbers and dates formatted here are written as they are.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from monitor.web.highlight import marked_hits
from monitor.web.queries import QueueRow
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


def queue_rows(
    rows: Iterable[QueueRow], next_q: str, decide_fields: Markup, terms: Sequence[str] = ()
) -> Markup:
    """The ``<tr>`` of each row; ``next_q`` is the query string that brings "back" here, and
    ``decide_fields`` the decision form's inputs, the same in every row. With search
    ``terms`` the words found are marked in each excerpt and on the post page it links to."""
    back = text((urlencode({"q": " ".join(terms)}) + "&" if terms else "") + next_q)
    out: list[str] = []
    for r in rows:
        pid = int(r.id)
        severity = text(r.severity)
        state = text(r.state)
        score = "" if r.score is None else f" <small>{float(r.score):.1f}</small>"
        # Names in their own bidi isolate: a U+202E in one cannot reorder the cell (#11).
        group = f'<br><small><bdi dir="auto">{text(r.group)}</bdi></small>' if r.group else ""
        # A news channel's cues and claims do not count (#12): the kind says why.
        ck = text(r.channel_kind)
        kind = f' <small class="chkind chkind-{ck}">{ck}</small>'
        tags = ('<span class="tag deleted">deleted</span>' if r.deleted_at else "") + (
            '<span class="tag">edited</span>' if r.edited_at else ""
        )
        kinds = "".join(
            f'<span class="kind kind-{k}">{k}</span> ' for k in (text(k) for k in r.kinds)
        )
        refs = f"<br><small>{text(', '.join(r.refs))}</small>" if r.refs else ""
        excerpt = r.excerpt or "(no text)"
        shown = marked_hits(excerpt, terms) if terms and r.excerpt else text(excerpt)
        out.append(
            f'<tr class="row" data-post="{pid}" id="post-{pid}">\n'
            f'  <td><span class="sev sev-{severity}">{severity}</span>{score}</td>\n'
            f'  <td class="nowrap">{when(r.date)}</td>\n'
            f"  <td><bdi>{text(r.handle)}</bdi>{kind}{group}</td>\n"
            f'  <td class="excerpt"><a class="open" href="/posts/{pid}?{back}">'
            f'<bdi dir="auto">{shown}</bdi></a>\n'
            f"    {tags}</td>\n"
            f"  <td>{kinds}{refs}</td>\n"
            f'  <td><span class="state state-{state}">{state}</span></td>\n'
            f'  <td>\n    <form class="decide" method="post" action="/posts/{pid}/review">\n'
            f"      {decide_fields}\n    </form>\n  </td>\n</tr>\n"
        )
    return Markup("".join(out))
