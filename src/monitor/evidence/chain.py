"""Appending to the chain: one ordering point (the ``evidence_head`` row), in the caller's
transaction, so an entry commits with the thing it covers or not at all.

On PostgreSQL the head row is locked for the rest of the transaction:
a second worker appending at the same time waits for the first to commit, then continues from
the head the first left. SQLite has one writer at a time, and every caller has written the
thing covered before it appends, so its transaction already holds the write lock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ARRAY, BigInteger, ColumnElement, Connection, Table, any_, bindparam
from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.evidence.canonical import ENTRY_TAG, timestamp
from monitor.store.models import EvidenceEntry, EvidenceHead, utcnow

HEAD_ID = 1

entries_table = cast(Table, EvidenceEntry.__table__)
head_table = cast(Table, EvidenceHead.__table__)


class Item(NamedTuple):
    """What one entry covers, before it has a place in the chain. A tuple: one is made per
    post stored (the #17 ingest benchmark)."""

    kind: str
    subject: str
    content_sha256: str
    post_id: int | None
    payload: str | None = None


class ChainError(MonitorError):
    """The chain cannot be appended to (its head row is gone): nothing is stored."""


def ids_in(conn: Connection, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        # One array parameter instead of an IN list of a thousand placeholders to parse.
        return cast(
            ColumnElement[bool],
            column == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger))),
        )
    return cast(ColumnElement[bool], column.in_(list(ids)))


_COLUMNS = (
    "seq",
    "kind",
    "subject",
    "content_sha256",
    "payload",
    "post_id",
    "entry_hash",
    "created_at",
)
_NAMES = ", ".join(_COLUMNS)
_COPY = f"COPY evidence_entries ({_NAMES}) FROM STDIN"


def append(session: Session, items: Sequence[Item], *, now: datetime | None = None) -> int:
    """Append ``items`` in order; returns the new head's seq (the old one when empty)."""
    conn = session.connection()
    # Taking the lock is the first thing: an UPDATE (a no-op) locks the head row on
    # PostgreSQL and takes SQLite's write lock, waiting out busy_timeout, before the head is
    # read; a SELECT first would let SQLite's reader fail to upgrade once another wrote.
    head = conn.execute(
        head_table.update()
        .where(head_table.c.id == HEAD_ID)
        .values(seq=head_table.c.seq)
        .returning(head_table.c.seq, head_table.c.entry_hash)
    ).first()
    if head is None:
        raise ChainError(
            "the evidence chain has no head row (evidence_head): run `monitor db upgrade`"
        )
    seq, prev = int(head.seq), str(head.entry_hash)
    if not items:
        return seq
    created = (now or utcnow()).astimezone(UTC)
    stamp = timestamp(created)
    sha256 = hashlib.sha256
    rows = []
    # entry_bytes, inlined: this runs once per post stored. The previous hash is hashed in,
    # not stored: it is the entry_hash of the entry before, so verification recomputes it.
    for kind, name, content, post_id, body in items:
        seq += 1
        prev = sha256(
            f"{ENTRY_TAG}\n{seq}\n{kind}\n{name}\n{content}\n{prev}\n{stamp}".encode()
        ).hexdigest()
        rows.append((seq, kind, name, content, body, post_id, prev))
    if conn.dialect.name == "postgresql" and len(rows) <= _FEW:
        _insert_moving_head(conn, rows, created.replace(tzinfo=None), seq, prev)
        return seq
    _insert(conn, rows, created.replace(tzinfo=None))
    conn.execute(
        head_table.update().where(head_table.c.id == HEAD_ID).values(seq=seq, entry_hash=prev)
    )
    return seq


# A batch's entries are one or a few since batch entries (#17): then the head's update rides
# in the INSERT's statement, one round trip to PostgreSQL fewer. On a loaded machine a round
# trip, not the work, was most of the chain's cost on ingest.
_FEW = 64
_ROW = (
    "(%(seq{n})s, %(kind{n})s, %(subject{n})s, %(content{n})s, %(payload{n})s, "
    "%(post_id{n})s::bigint, %(entry_hash{n})s, %(created_at)s)"
)
_MOVE = (
    "WITH moved AS (UPDATE evidence_head SET seq = %(head_seq)s, entry_hash = %(head_hash)s "
    f"WHERE id = {HEAD_ID}) INSERT INTO evidence_entries ({_NAMES}) VALUES "
)


def _insert_moving_head(
    conn: Connection, rows: list[tuple[Any, ...]], created: datetime, seq: int, head: str
) -> None:
    # Plain VALUES, not arrays: psycopg escapes a text array's elements in Python, 2 ms for a
    # batch's 95 KB record.
    names = ("seq", "kind", "subject", "content", "payload", "post_id", "entry_hash")
    params: dict[str, Any] = {"created_at": created, "head_seq": seq, "head_hash": head}
    for n, row in enumerate(rows):
        params.update({f"{name}{n}": value for name, value in zip(names, row, strict=True)})
    values = ", ".join(_ROW.format(n=n) for n in range(len(rows)))
    conn.exec_driver_sql(_MOVE + values, params)


# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped.
# Subjects and hashes never hold one; a payload (canonical JSON) could hold a backslash, a
# batch's record (#17) is lines. str.replace, not str.translate: translate with a dict is
# per character in Python, 10 ms for one batch's 95 KB record.
_NULL = "\\N"


def _copy_text(value: object) -> str:
    if value is None:
        return _NULL
    text = str(value).replace("\\", "\\\\")
    return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _insert(conn: Connection, rows: list[tuple[Any, ...]], created: datetime) -> None:
    """Straight to the driver, as store/ingest.py does for posts: SQLAlchemy's per-row
    parameter processing cost more than the database's own work."""
    if conn.dialect.name == "postgresql":
        # COPY of text built here: psycopg's array dumper for an INSERT … SELECT FROM
        # unnest(arrays) took ~7 ms of Python a batch of 1,000, more than PostgreSQL's own
        # insert (#17). Same connection, same transaction as the rows it covers.
        stamp = created.isoformat(" ", "microseconds")
        text = "".join(
            f"{seq}\t{kind}\t{_copy_text(name)}\t{content}\t{_copy_text(body)}\t"
            f"{_copy_text(post_id)}\t{digest}\t{stamp}\n"
            for seq, kind, name, content, body, post_id, digest in rows
        )
        cursor = conn.connection.cursor()
        try:
            with cursor.copy(_COPY) as copy:
                copy.write(text)
        finally:
            cursor.close()
        return
    # The text form SQLAlchemy's SQLite DATETIME reads back.
    stored = created.isoformat(" ", "microseconds")
    conn.exec_driver_sql(
        f"INSERT INTO evidence_entries ({_NAMES}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        [(*row, stored) for row in rows],
    )
