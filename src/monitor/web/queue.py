"""GET / (the flagged queue) and its export as CSV or JSONL."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from monitor.store.echoes import clusters_of, quotes_of
from monitor.store.export import FLAG_FIELDS, post_dict, write_csv
from monitor.store.models import (
    AuditLog,
    Channel,
    Group,
    Match,
    MediaFile,
    Post,
    PostVersion,
    Review,
    User,
)
from monitor.store.search import query_terms
from monitor.web.auth import DB, Analyst, Principal
from monitor.web.counts import severity_counts
from monitor.web.cursors import encode_cursor
from monitor.web.queries import (
    DECISIONS,
    SEVERITIES,
    STATES,
    QueueQuery,
    build,
    page_rows,
)
from monitor.web.queue_media import image_marks
from monitor.web.render import render

router = APIRouter()
EXPORT_PAGE = 500
# The decisions with their shortcut keys (static/console.js), in the order offered (#14).
DECISION_CHOICES = (
    ("confirmed", "confirm", "c"),
    ("dismissed", "dismiss", "d"),
    ("escalated", "escalate", "e"),
)
assert tuple(d for d, _, _ in DECISION_CHOICES) == DECISIONS
SORT_LABELS = {
    "severity": "highest severity",
    "newest": "newest (post date)",
    "recent": "most recently collected",
}


@router.get("/")
def queue_page(
    request: Request,
    me: Analyst,
    db: DB,
) -> Response:
    # No review state asked for: the flagged queue shows what is left to review (#14).
    qq = QueueQuery.parse(request.query_params, queue_default=True)
    here = request.url.path + ("?" + request.url.query if request.url.query else "")
    rows, nxt = page_rows(db, qq, me.id)
    counts = severity_counts(db, qq, me.id)
    conn = db.connection()
    groups_stmt, channels_stmt = _filter_lists()
    groups = conn.execute(groups_stmt).all()
    channels = conn.execute(channels_stmt).all()
    return render(
        request,
        "queue.html",
        {
            "qq": qq,
            "rows": rows,
            "next_params": qq.params(after=nxt) if nxt else None,
            "first_params": qq.params(after="") if qq.after else None,
            # The export's own default is every state: the page's state goes in explicitly.
            "export_params": qq.params(explicit_state=True, after=""),
            "counts": [(s, counts[s]) for s in reversed(SEVERITIES)],
            "total": sum(counts.values()),
            "count_params": {s: qq.params(severity=s, after="") for s in SEVERITIES},
            "any_severity_params": qq.params(severity="", after=""),
            "all_states_params": qq.params(state="", after=""),
            "unreviewed_params": qq.params(state="unreviewed", after=""),
            "groups": groups,
            "channels": channels,
            "severities": SEVERITIES,
            "states": STATES,
            "decisions": DECISION_CHOICES,
            "here": here,
            "next_q": urlencode({"next": here}),
            "sort_labels": SORT_LABELS,
            "terms": query_terms(qq.q),
            # Flags read from an image, and the image's text for posts without a caption (#13).
            "images": image_marks(db, rows),
        },
    )


@cache
def _filter_lists() -> tuple[Select[int, str], Select[int, str]]:
    """The statements of the filter form's group and channel lists, built once like the
    queue's own (#5 benchmark)."""
    return (
        select(Group.id, Group.name).order_by(Group.name),
        select(Channel.id, Channel.handle).order_by(Channel.handle),
    )


def _review_dicts(session: Session, post_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest decision per post (what the queue shows as its state), and the assignee."""
    out: dict[int, dict[str, Any]] = {}
    assignee = User.__table__.alias("assignee")
    rows = session.execute(
        select(Review, User.username, assignee.c.username)
        .outerjoin(User, User.id == Review.user_id)
        .outerjoin(assignee, assignee.c.id == Review.assigned_to)
        .where(Review.post_id.in_(post_ids))
        .order_by(Review.id)
    ).all()
    for review, by, assigned in rows:
        d = out.setdefault(
            review.post_id, {"state": "unreviewed", "by": None, "at": None, "note": ""}
        )
        d["assigned_to"] = assigned
        if review.decision in DECISIONS:
            d.update(
                state=review.decision,
                by=by,
                at=review.created_at.isoformat().replace("+00:00", "Z"),
                note=review.note,
            )
    return out


def export_rows(session: Session, qq: QueueQuery, me_id: int | None) -> Iterator[dict[str, Any]]:
    """Every row of the filtered queue (all pages), in the export format plus the review."""
    qq_page = qq
    while True:
        ids_rows = session.execute(
            build(
                session,
                qq_page,
                me_id,
                *(Post.id, Post.date, Match.severity_rank, Match.score),
                limit=EXPORT_PAGE,
            )
        ).all()
        if not ids_rows:
            return
        ids = [r[0] for r in ids_rows]
        posts = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(ids)))}
        matches = {
            m.post_id: m
            for m in session.scalars(
                select(Match).where(Match.post_id.in_(ids)).options(selectinload(Match.signals))
            )
        }
        handles = dict(
            session.execute(
                select(Channel.id, Channel.handle).where(
                    Channel.id.in_({p.channel_id for p in posts.values()})
                )
            ).all()
        )
        versions = dict(
            session.execute(
                select(PostVersion.post_id, func.count())
                .where(PostVersion.post_id.in_(ids))
                .group_by(PostVersion.post_id)
            ).all()
        )
        reviews = _review_dicts(session, ids)
        images = {
            m.post_id: m
            for m in session.scalars(select(MediaFile).where(MediaFile.post_id.in_(ids)))
        }
        clusters, quotes = clusters_of(session, ids), quotes_of(session, ids)
        for pid in ids:
            post = posts[pid]
            d = post_dict(
                post,
                handles[post.channel_id],
                versions.get(pid, 0),
                matches.get(pid),
                image=images.get(pid),
                cluster=clusters.get(pid),
                quotes=quotes.get(pid),
            )
            d["review"] = reviews.get(
                pid, {"state": "unreviewed", "by": None, "at": None, "note": ""}
            )
            yield d
        last = ids_rows[-1]
        after = encode_cursor(qq.effective_sort, last[2], last[1], last[0], last[3])
        qq_page = replace(qq, after=after)
        session.expunge_all()


def _export(request: Request, me: Principal, fmt: str) -> Response:
    qq = QueueQuery.parse(request.query_params)
    sessions = request.app.state.sessions
    # Links an analyst can open from the spreadsheet, as the CLI's export writes them (#14).
    console_url: str = request.app.state.settings.console_url
    with sessions.begin() as s:
        s.add(
            AuditLog(
                actor=me.username, action="queue.export", target=fmt, detail=qq.params(after="")
            )
        )

    def chunks() -> Iterator[str]:
        with sessions() as s:
            first = True
            batch: list[dict[str, Any]] = []
            for row in export_rows(s, qq, me.id):
                batch.append(row)
                if len(batch) >= EXPORT_PAGE:
                    yield _encode(fmt, batch, first, console_url)
                    first, batch = False, []
            if batch or first:
                yield _encode(fmt, batch, first, console_url)

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    return StreamingResponse(
        chunks(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="monitor-queue.{fmt}"'},
    )


def _encode(fmt: str, rows: list[dict[str, Any]], header: bool, console_url: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    buf = io.StringIO()
    write_csv(iter(rows), buf, [*FLAG_FIELDS], console_url=console_url)
    text = buf.getvalue()
    return text if header else text.split("\n", 1)[1]


@router.get("/export.csv")
def export_csv(request: Request, me: Analyst) -> Response:
    return _export(request, me, "csv")


@router.get("/export.jsonl")
def export_jsonl(request: Request, me: Analyst) -> Response:
    return _export(request, me, "jsonl")
