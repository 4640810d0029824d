"""The one ingest path for every source and both databases, keyed on (channel, message id).

Re-ingesting a post that has not changed writes nothing; a changed text becomes a new version
and sets ``edited_at``; a deletion sets ``deleted_at`` and keeps the text. The caller owns the
transaction, so a batch (and whatever the matcher writes for it) commits whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Insert,
    Table,
    any_,
    bindparam,
    case,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from monitor.collect.records import PostRecord
from monitor.store.models import Channel, Post, PostVersion, utcnow

# "layer": the post itself is unchanged but a layer of it is new (its image was read, #13).
Status = Literal["new", "edited", "deleted", "layer"]

_posts = cast(Table, Post.__table__)
_versions = cast(Table, PostVersion.__table__)
_channels = cast(Table, Channel.__table__)


@dataclass(frozen=True, slots=True)
class Changed:
    """A post this batch created or changed: what the matcher and alerts look at next."""

    post_id: int
    message_id: int
    status: Status
    record: PostRecord


@dataclass(slots=True)
class IngestResult:
    new: int = 0
    edited: int = 0
    deleted: int = 0
    unchanged: int = 0
    changed: list[Changed] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.new += other.new
        self.edited += other.edited
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.changed.extend(other.changed)


def _insert_ignoring_conflicts(conn: Connection, table: Any, keys: list[str]) -> Insert:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


def _message_in(conn: Connection, ids: list[int]) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        # One array parameter instead of an IN list of a thousand placeholders to parse.
        return _posts.c.message_id == any_(bindparam("mids", ids, type_=ARRAY(BigInteger)))
    return _posts.c.message_id.in_(ids)


_MEDIA_COLUMNS = ("media_type", "media_mime", "media_size", "media_duration", "media_sha256")


def _media_columns(rec: PostRecord) -> dict[str, Any]:
    m = rec.media
    values = (m.type, m.mime, m.size, m.duration, m.sha256) if m else (None,) * 5
    return dict(zip(_MEDIA_COLUMNS, values, strict=True))


def _image_swapped(rec: PostRecord, stored_sha256: str | None) -> bool:
    """An edit that replaced the post's file and kept its text (Telegram allows it, #13).

    Only hashes compare: the preview's CDN address changes between loads of the same image,
    so a post seen without the file's hash is never taken for an edit."""
    new = rec.media.sha256 if rec.media else None
    return bool(new and stored_sha256 and new != stored_sha256)


def _post_row(channel_id: int, rec: PostRecord, now: datetime) -> dict[str, Any]:
    fwd = rec.forwarded_from
    return {
        "channel_id": channel_id,
        "message_id": rec.message_id,
        "date": rec.date,
        "text": rec.text,
        "text_sha256": rec.sha256,
        "views": rec.views,
        "forwards": rec.forwards,
        "fwd_channel": fwd.channel if fwd else None,
        "fwd_message_id": fwd.message_id if fwd else None,
        "fwd_name": fwd.name if fwd else None,
        "reply_to": rec.reply_to,
        **_media_columns(rec),
        "source": rec.source,
        "first_seen_at": now,
        "edited_at": rec.edited_at,
        "deleted_at": now if rec.deleted else None,
    }


def ingest(
    conn: Connection,
    channel_id: int,
    records: Sequence[PostRecord],
    *,
    now: datetime | None = None,
) -> IngestResult:
    """Upsert one batch of a channel's posts inside the caller's transaction."""
    now = now or utcnow()
    result = IngestResult()
    latest: dict[int, PostRecord] = {}
    for rec in records:  # a batch may see the same message twice; the last sighting wins
        latest[rec.message_id] = rec
    if not latest:
        return result

    existing = {
        row.message_id: row
        for row in conn.execute(
            select(
                _posts.c.id,
                _posts.c.message_id,
                _posts.c.text_sha256,
                _posts.c.deleted_at,
                _posts.c.views,
                _posts.c.forwards,
                _posts.c.media_sha256,
            ).where(
                _posts.c.channel_id == channel_id,
                _message_in(conn, list(latest)),
            )
        )
    }

    fresh = [r for mid, r in latest.items() if mid not in existing and not r.deleted]
    if fresh:
        ids = _insert_new(conn, channel_id, fresh, now)
        for r in fresh:
            if r.message_id in ids:
                result.changed.append(Changed(ids[r.message_id], r.message_id, "new", r))
        result.new = len(ids)

    edits: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    deletions: list[dict[str, Any]] = []
    media_edits: list[dict[str, Any]] = []
    for mid, row in existing.items():
        rec = latest[mid]
        if rec.deleted:
            if row.deleted_at is None:
                deletions.append({"pid": row.id})
                result.changed.append(Changed(row.id, mid, "deleted", rec))
            else:
                result.unchanged += 1
            continue
        swapped = _image_swapped(rec, row.media_sha256)
        if swapped:
            media_edits.append({"pid": row.id, **_media_columns(rec)})
        if rec.sha256 != row.text_sha256 or swapped:
            edits.append(
                {
                    "pid": row.id,
                    "text": rec.text,
                    "sha": rec.sha256,
                    "edited": rec.edited_at or now,
                    "views": rec.views if rec.views is not None else row.views,
                    "forwards": rec.forwards if rec.forwards is not None else row.forwards,
                }
            )
            result.changed.append(Changed(row.id, mid, "edited", rec))
            continue
        result.unchanged += 1
        if (rec.views is not None and rec.views != row.views) or (
            rec.forwards is not None and rec.forwards != row.forwards
        ):
            counters.append(
                {
                    "pid": row.id,
                    "views": rec.views if rec.views is not None else row.views,
                    "forwards": rec.forwards if rec.forwards is not None else row.forwards,
                }
            )

    if edits:
        conn.execute(
            update(_posts)
            .where(_posts.c.id == bindparam("pid"))
            .values(
                text=bindparam("text"),
                text_sha256=bindparam("sha"),
                edited_at=bindparam("edited"),
                views=bindparam("views"),
                forwards=bindparam("forwards"),
            ),
            edits,
        )
        # A text can return to an earlier version; that version is already kept.
        conn.execute(
            _insert_ignoring_conflicts(conn, _versions, ["post_id", "sha256"]),
            [
                {
                    "post_id": e["pid"],
                    "text": e["text"],
                    "sha256": e["sha"],
                    "captured_at": now,
                    "edit_date": e["edited"],
                }
                for e in edits
            ],
        )
        result.edited = len(edits)
    if media_edits:
        conn.execute(
            update(_posts)
            .where(_posts.c.id == bindparam("pid"))
            .values({c: bindparam(c) for c in _MEDIA_COLUMNS}),
            media_edits,
        )
    if counters:
        conn.execute(
            update(_posts)
            .where(_posts.c.id == bindparam("pid"))
            .values(views=bindparam("views"), forwards=bindparam("forwards")),
            counters,
        )
    if deletions:
        conn.execute(
            update(_posts).where(_posts.c.id == bindparam("pid")).values(deleted_at=now),
            deletions,
        )
        result.deleted = len(deletions)

    _advance_channel(conn, channel_id, latest.values())
    return result


_POST_COLUMNS = (
    ("channel_id", "BIGINT"),
    ("message_id", "BIGINT"),
    ("date", "TIMESTAMP"),
    ("text", "TEXT"),
    ("text_sha256", "TEXT"),
    ("views", "BIGINT"),
    ("forwards", "BIGINT"),
    ("fwd_channel", "TEXT"),
    ("fwd_message_id", "BIGINT"),
    ("fwd_name", "TEXT"),
    ("reply_to", "BIGINT"),
    ("media_type", "TEXT"),
    ("media_mime", "TEXT"),
    ("media_size", "BIGINT"),
    ("media_duration", "DOUBLE PRECISION"),
    ("media_sha256", "TEXT"),
    ("source", "TEXT"),
    ("first_seen_at", "TIMESTAMP"),
    ("edited_at", "TIMESTAMP"),
    ("deleted_at", "TIMESTAMP"),
)


def _naive_utc(value: Any) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value


def _insert_new(
    conn: Connection, channel_id: int, fresh: list[PostRecord], now: datetime
) -> dict[int, int]:
    """Insert posts that were not stored yet, with their first version; returns message -> id.

    A post another writer stored meanwhile is skipped (ON CONFLICT DO NOTHING), not duplicated.
    """
    rows = [_post_row(channel_id, r, now) for r in fresh]
    if conn.dialect.name == "postgresql":
        # One statement per batch, posts and first versions together, arrays sent in binary
        # (%(x)b): psycopg re-parses a multi-VALUES statement's placeholders on every call and
        # escapes text arrays with a regex, which together made PostgreSQL 3x slower.
        cols = ", ".join(name for name, _ in _POST_COLUMNS)
        arrays = ", ".join(f"%({name})b::{typ}[]" for name, typ in _POST_COLUMNS)
        params = {name: [row[name] for row in rows] for name, _ in _POST_COLUMNS}
        for name in ("date", "edited_at", "deleted_at"):
            params[name] = [_naive_utc(v) for v in params[name]]
        params["first_seen_at"] = [_naive_utc(now)] * len(rows)
        result = conn.exec_driver_sql(
            f"WITH ins AS (INSERT INTO posts ({cols}) SELECT * FROM unnest({arrays}) "
            "ON CONFLICT (channel_id, message_id) DO NOTHING "
            "RETURNING id, message_id, text, text_sha256, first_seen_at, edited_at), "
            "ver AS (INSERT INTO post_versions (post_id, text, sha256, captured_at, edit_date) "
            "SELECT id, text, text_sha256, first_seen_at, edited_at FROM ins) "
            "SELECT id, message_id FROM ins",
            params,
        )
        return {mid: pid for pid, mid in result}

    # Plain sqlite3 executemany on tuples: SQLAlchemy's per-row parameter processing cost
    # more than SQLite's own work. Datetimes are written in the exact text form SQLAlchemy's
    # SQLite DATETIME type reads back. SQLite has one writer at a time, so no other writer
    # can add these posts between our existence check and this insert.
    names = [name for name, _ in _POST_COLUMNS]
    conn.exec_driver_sql(
        f"INSERT INTO posts ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        "ON CONFLICT (channel_id, message_id) DO NOTHING",
        [tuple(_sqlite_value(row[c]) for c in names) for row in rows],
    )
    ids = {
        mid: pid
        for pid, mid in conn.execute(
            select(_posts.c.id, _posts.c.message_id).where(
                _posts.c.channel_id == channel_id,
                _message_in(conn, [r.message_id for r in fresh]),
            )
        )
    }
    captured = _sqlite_value(now)
    conn.exec_driver_sql(
        "INSERT INTO post_versions (post_id, text, sha256, captured_at, edit_date) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (ids[r.message_id], r.text, r.sha256, captured, _sqlite_value(r.edited_at))
            for r in fresh
            if r.message_id in ids
        ],
    )
    return ids


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def _advance_channel(conn: Connection, channel_id: int, records: Any) -> None:
    live = [r for r in records if not r.deleted]
    if not live:
        return
    top = max(r.message_id for r in live)
    newest = literal(max(r.date for r in live), type_=_channels.c.newest_post_at.type)
    conn.execute(
        update(_channels)
        .where(_channels.c.id == channel_id)
        .values(
            cursor=case((_channels.c.cursor < top, top), else_=_channels.c.cursor),
            newest_post_at=case(
                (_channels.c.newest_post_at.is_(None), newest),
                (_channels.c.newest_post_at < newest, newest),
                else_=_channels.c.newest_post_at,
            ),
        )
    )
