"""`monitor export`: stored posts (and flags with their review) as dicts, streamed in id order."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from types import EllipsisType
from typing import Any, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from monitor.match.rules import KINDS
from monitor.store.channels import post_link
from monitor.store.echoes import clusters_of, quotes_of
from monitor.store.mentions import mentions_of
from monitor.store.models import (
    REVIEW_DECISIONS,
    Channel,
    Group,
    IncidentSource,
    Match,
    MediaFile,
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
    "ocr",
    "cluster",
    "quotes",
    "mentions",
    "incident",
]
FLAG_FIELDS = [*POST_FIELDS, "review"]

# The CSV is for spreadsheets, not programs (#14): one flat, readable cell per column, what an
# analyst sorts and filters on first, the t.me and console links, and no JSON inside a cell.
# docs: README, "Exporting". The JSONL keeps the fields above, unchanged (interface.md).
POST_CSV_FIELDS = [
    "channel",
    "group",
    "message_id",
    "date",
    "severity",
    "score",
    "flagged",
    "kinds",
    "refs",
    "matched",
    "link",
    "console",
    "text",
    "views",
    "forwards",
    "forwarded_from",
    "forwarded_link",
    "reply_to",
    "media",
    "edited_at",
    "deleted_at",
    "versions",
    "source",
]
FLAG_CSV_FIELDS = [*POST_CSV_FIELDS, "review_state", "review_by", "review_at", "review_note"]

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
        if s.roles:
            d["roles"] = s.roles
        if s.layer != "text":
            d["layer"] = s.layer  # offsets index the OCR text (#13)
        out.append(d)
    return out


class ExportRow(dict[str, Any]):
    """One exported post: the dict is the JSONL record, exactly; the attributes are what only
    the CSV shows (#14), kept off the dict so that the JSONL fields stay as specified."""

    __slots__ = ("group", "post_id", "score")
    post_id: int
    group: str | None
    score: float | None


def post_dict(
    post: Post,
    handle: str,
    versions: int,
    match: Match | None,
    group: str | EllipsisType | None = ...,
    image: MediaFile | None = None,
    cluster: dict[str, Any] | None = None,
    quotes: list[dict[str, Any]] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    incident: int | None = None,
) -> ExportRow:
    """``image``: the post's media row (#13), for ``media.phash`` and ``ocr``; ``cluster``:
    its echo cluster and ``quotes`` the statements it quotes (#15, store/echoes.py);
    ``mentions`` the registry entries it names (#16, store/mentions.py)."""
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
            "phash": image.phash if image is not None else None,
        }
    ocr = None
    if image is not None and image.ocr_text is not None:
        ocr = {
            "text": image.ocr_text,
            "confidence": image.ocr_confidence,
            "engine": f"{image.ocr_engine} {image.ocr_version}".strip(),
        }
    row = ExportRow(
        channel=handle,
        message_id=post.message_id,
        date=_iso(post.date),
        text=post.text,
        views=post.views,
        forwards=post.forwards,
        forwarded_from=fwd,
        reply_to=post.reply_to,
        media=media,
        edited_at=_iso(post.edited_at),
        deleted_at=_iso(post.deleted_at),
        versions=versions,
        source=post.source,
        flagged=bool(match and match.flagged),
        severity=match.severity if match else "none",
        signals=signal_dicts(match),
        ocr=ocr,
        cluster=cluster,
        quotes=quotes or [],
        mentions=mentions or [],
        incident=incident,  # the attack it claims (#16)
    )
    if group is ...:
        # A caller that did not join the group (the console's export): channel and group are
        # many-to-one, so the session loads each once, not once per post.
        group = post.channel.group.name if post.channel.group else None
    row.post_id, row.group = post.id, group
    row.score = match.score if match else None
    return row


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
            select(Post, Channel.handle, versions.c.n, Match, Group.name, MediaFile)
            .join(Channel, Channel.id == Post.channel_id)
            .join(versions, versions.c.post_id == Post.id)
            .outerjoin(Group, Group.id == Channel.group_id)
            .outerjoin(Match, Match.post_id == Post.id)
            .outerjoin(MediaFile, MediaFile.post_id == Post.id)
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
        ids = [r[0].id for r in rows]
        clusters, quotes = clusters_of(session, ids), quotes_of(session, ids)
        mentions = mentions_of(session, ids)
        incidents = _incidents_of(session, ids)
        for post, handle, n, match, group, image in rows:
            d = post_dict(
                post,
                handle,
                n,
                match,
                group,
                image,
                clusters.get(post.id),
                quotes.get(post.id),
                mentions.get(post.id),
                incident=incidents.get(post.id),
            )
            if flagged_only:
                d["review"] = reviews.get(post.id)
            yield d
        last_id = rows[-1][0].id
        session.expunge_all()


def _incidents_of(session: Session, post_ids: list[int]) -> dict[int, int]:
    """post id -> the incident it is a source of (#16, actors/incidents.py)."""
    rows = session.execute(
        select(IncidentSource.post_id, IncidentSource.incident_id).where(
            IncidentSource.post_id.in_(post_ids)
        )
    )
    return {pid: iid for pid, iid in rows}


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


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _forward(fwd: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """Who the post was forwarded from, readably, and the original's link when Telegram gave a
    handle (not only a numeric id, which t.me cannot open) and a message id."""
    if not fwd:
        return None, None
    channel, message_id = fwd.get("channel"), fwd.get("message_id")
    who = fwd.get("name") or (f"@{channel}" if channel else None)
    link = None
    if channel and message_id and not str(channel).isdigit():
        link = post_link(channel, message_id)
    return who, link


def csv_row(row: dict[str, Any], console_url: str | None = None) -> dict[str, Any]:
    """A JSONL record as flat spreadsheet cells (#14): kinds in the catalog's order, verse refs
    and matched spans in text order (each once), the review as four cells. Without console_url
    the console link is the path, relative to the console the file came from."""
    signals = sorted(row.get("signals") or [], key=lambda s: (s["start"], s["end"]))
    kinds = sorted({s["kind"] for s in signals}, key=_kind_order)
    refs = _unique(r for s in signals for r in (s.get("refs") or [s.get("ref")]))
    media = row.get("media")
    who, fwd_link = _forward(row.get("forwarded_from"))
    post_id = getattr(row, "post_id", None)
    out = {
        "channel": row["channel"],
        "group": getattr(row, "group", None),
        "message_id": row["message_id"],
        "date": row["date"],
        "severity": row["severity"],
        "score": getattr(row, "score", None),
        "flagged": row["flagged"],
        # "; " as a list inside a cell: cells are quoted, so it never splits one (see below).
        "kinds": "; ".join(kinds),
        "refs": "; ".join(refs),
        "matched": " | ".join(_unique(s["matched"] for s in signals)),
        "link": post_link(row["channel"], row["message_id"]),
        "console": f"{console_url or ''}/posts/{post_id}" if post_id is not None else None,
        "text": row["text"],
        "views": row["views"],
        "forwards": row["forwards"],
        "forwarded_from": who,
        "forwarded_link": fwd_link,
        "reply_to": row["reply_to"],
        "media": media["type"] if media else None,
        "edited_at": row["edited_at"],
        "deleted_at": row["deleted_at"],
        "versions": row["versions"],
        "source": row["source"],
    }
    if "review" in row:
        review = row["review"] or {}
        out["review_state"] = review.get("state") or "unreviewed"
        out["review_by"] = review.get("by")
        out["review_at"] = review.get("at")
        out["review_note"] = review.get("note") or None
    return out


def csv_fields(fields: list[str]) -> list[str]:
    """The CSV columns for the records whose JSONL fields are `fields` (posts, or flags)."""
    return FLAG_CSV_FIELDS if "review" in fields else POST_CSV_FIELDS


def write_csv(
    rows: Iterator[dict[str, Any]],
    out: TextIO,
    fields: list[str],
    *,
    console_url: str | None = None,
) -> int:
    """A UTF-8 BOM, the header, then one line per row: the records whose JSONL fields are
    `fields` (POST_FIELDS or FLAG_FIELDS), flattened by csv_row. Every text cell is quoted
    (OWASP: so that a ";" inside one cannot start a new cell where ";" is the list separator);
    numbers are not."""
    out.write(BOM)
    writer = csv.DictWriter(
        out, fieldnames=csv_fields(fields), lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in csv_row(row, console_url).items()})
        n += 1
    return n
