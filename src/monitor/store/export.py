"""`monitor export`: stored posts (and flags with their review) as dicts, streamed in id order."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from monitor.store.models import (
    REVIEW_DECISIONS,
    Channel,
    Match,
    Post,
    PostVersion,
    Review,
    User,
)

POST_FIELDS = [
    "channel",
    "message_id",
    "date",
    "text",
    "views",
    "forwards",
    "forwarded_from",
    "reply_to",
    "media",
    "edited_at",
    "deleted_at",
    "versions",
    "source",
    "flagged",
    "severity",
    "signals",
]
FLAG_FIELDS = [*POST_FIELDS, "review"]

_PAGE = 1000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def signal_dicts(match: Match | None) -> list[dict[str, Any]]:
    if match is None:
        return []
    out = []
    for s in match.signals:
        # The same keys as `monitor scan` prints, ref and refs included for every kind.
        d: dict[str, Any] = {
            "kind": s.kind,
            "rule": s.rule,
            "ref": s.ref,
            "refs": list(s.refs or []),
        }
        d.update(start=s.start, end=s.end, matched=s.matched, score=s.score)
        out.append(d)
    return out


def post_dict(post: Post, handle: str, versions: int, match: Match | None) -> dict[str, Any]:
    fwd = None
    if post.fwd_channel or post.fwd_name or post.fwd_message_id:
        fwd = {
            "channel": post.fwd_channel,
            "message_id": post.fwd_message_id,
            "name": post.fwd_name,
        }
    media = None
    if post.media_type:
        media = {
            "type": post.media_type,
            "mime": post.media_mime,
            "size": post.media_size,
            "duration": post.media_duration,
            "sha256": post.media_sha256,
        }
    return {
        "channel": handle,
        "message_id": post.message_id,
        "date": _iso(post.date),
        "text": post.text,
        "views": post.views,
        "forwards": post.forwards,
        "forwarded_from": fwd,
        "reply_to": post.reply_to,
        "media": media,
        "edited_at": _iso(post.edited_at),
        "deleted_at": _iso(post.deleted_at),
        "versions": versions,
        "source": post.source,
        "flagged": bool(match and match.flagged),
        "severity": match.severity if match else "none",
        "signals": signal_dicts(match),
    }


def iter_posts(
    session: Session, *, since: datetime | None = None, flagged_only: bool = False
) -> Iterator[dict[str, Any]]:
    """Keyset-paginated so memory stays flat however many posts are stored."""
    versions = (
        select(PostVersion.post_id, func.count().label("n"))
        .group_by(PostVersion.post_id)
        .subquery()
    )
    last_id = 0
    while True:
        q = (
            select(Post, Channel.handle, versions.c.n, Match)
            .join(Channel, Channel.id == Post.channel_id)
            .join(versions, versions.c.post_id == Post.id)
            .outerjoin(Match, Match.post_id == Post.id)
            .where(Post.id > last_id)
            .order_by(Post.id)
            .limit(_PAGE)
            .options(selectinload(Match.signals))
        )
        if since is not None:
            q = q.where(Post.date >= since)
        if flagged_only:
            q = q.where(Match.flagged.is_(True))
        rows = session.execute(q).all()
        if not rows:
            return
        reviews = _latest_reviews(session, [r[0].id for r in rows]) if flagged_only else {}
        for post, handle, n, match in rows:
            d = post_dict(post, handle, n, match)
            if flagged_only:
                d["review"] = reviews.get(post.id)
            yield d
        last_id = rows[-1][0].id
        session.expunge_all()


def _latest_reviews(session: Session, post_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(Review, User.username)
        .outerjoin(User, User.id == Review.user_id)
        .where(Review.post_id.in_(post_ids), Review.decision.in_(REVIEW_DECISIONS))
        .order_by(Review.id)
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for review, username in rows:  # later reviews overwrite earlier ones
        out[review.post_id] = {
            "state": review.decision,
            "by": username,
            "at": _iso(review.created_at),
            "note": review.note,
        }
    return out


def write_jsonl(rows: Iterator[dict[str, Any]], out: TextIO) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


# Spreadsheets run a cell that starts with one of these as a formula (OWASP, CSV Injection):
# a channel's post "=HYPERLINK(…)" would become a link, or worse, in the analyst's Excel (#11).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a CSV without it in the machine's code page, and the Arabic comes out garbled.
BOM = "\ufeff"


def csv_cell(value: Any) -> Any:
    """One value as a CSV cell: nested values as JSON, and text that a spreadsheet would
    evaluate prefixed with a single quote, as OWASP advises. Numbers we produce (ids, counts,
    scores) stay numbers, a negative one included: only text can carry a formula."""
    if isinstance(value, (dict, list, bool)):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterator[dict[str, Any]], out: TextIO, fields: list[str]) -> int:
    """A UTF-8 BOM, the header, then one line per row. Nested fields (forwarded_from, media,
    signals, review) are JSON inside their cell. Every text cell is quoted (OWASP: so that a
    ";" inside one cannot start a new cell where ";" is the list separator); numbers are not."""
    out.write(BOM)
    writer = csv.DictWriter(
        out, fieldnames=fields, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
        n += 1
    return n
