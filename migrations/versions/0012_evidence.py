"""The evidence chain (#17): entries, the one-row head that orders them, signed checkpoints.

What was stored before the chain existed is entered now, in id order, dated now: the chain
proves it existed at the upgrade, not at its capture (docs/evidence.md).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from monitor.evidence import canonical as c

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DECISIONS = ("confirmed", "dismissed", "escalated")


def upgrade() -> None:
    op.create_table(
        "evidence_entries",
        sa.Column("seq", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("post_id", BIG_ID, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_entries")),
    )
    op.create_index("ix_evidence_entries_post_id", "evidence_entries", ["post_id"])
    head = op.create_table(
        "evidence_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_head")),
    )
    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("tsa_url", sa.Text(), nullable=True),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_checkpoints")),
    )
    op.create_index(op.f("ix_evidence_checkpoints_seq"), "evidence_checkpoints", ["seq"])
    seq, prev = _backfill(op.get_bind())
    op.bulk_insert(head, [{"id": 1, "seq": seq, "entry_hash": prev}])


def downgrade() -> None:
    op.drop_index(op.f("ix_evidence_checkpoints_seq"), table_name="evidence_checkpoints")
    op.drop_table("evidence_checkpoints")
    op.drop_table("evidence_head")
    op.drop_index("ix_evidence_entries_post_id", table_name="evidence_entries")
    op.drop_table("evidence_entries")


# -- entering what was stored before: the tables as they are at this revision ---------------


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite hands back text through a plain text() query
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _items(conn: sa.Connection) -> Iterator[tuple[str, str, str, int, str | None]]:
    for pid, text, mid, handle in conn.execute(
        sa.text(
            "SELECT v.post_id, v.text, p.message_id, ch.handle FROM post_versions v "
            "JOIN posts p ON p.id = v.post_id JOIN channels ch ON ch.id = p.channel_id "
            "ORDER BY v.id"
        )
    ):
        # Hashed from the text, not copied from its sha256 column: the entry states the text.
        content = c.sha256_hex(c.text_bytes(text))
        yield "version", c.subject(handle, mid, "version", pid), content, pid, None
    for pid, mid, handle, at in conn.execute(
        sa.text(
            "SELECT p.id, p.message_id, ch.handle, p.deleted_at FROM posts p "
            "JOIN channels ch ON ch.id = p.channel_id WHERE p.deleted_at IS NOT NULL ORDER BY p.id"
        )
    ):
        body = c.payload(c.deletion_record(pid, _utc(at)))
        yield "deletion", c.subject(handle, mid, "deletion", pid), c.payload_sha256(body), pid, body
    for row in conn.execute(
        sa.text(
            "SELECT m.id, m.post_id, m.sha256, m.status, m.ocr_engine, m.ocr_version, m.ocr_text, "
            "m.ocr_confidence, p.message_id, ch.handle FROM media m "
            "JOIN posts p ON p.id = m.post_id JOIN channels ch ON ch.id = p.channel_id "
            "WHERE m.sha256 IS NOT NULL ORDER BY m.id"
        )
    ):
        yield (
            "media",
            c.subject(row.handle, row.message_id, "media", row.id),
            row.sha256,
            (row.post_id),
            None,
        )
        if row.status == "done":
            body = c.payload(
                c.ocr_record(
                    row.sha256, row.ocr_engine, row.ocr_version, row.ocr_text, row.ocr_confidence
                )
            )
            name = c.subject(row.handle, row.message_id, "ocr", row.id)
            yield "ocr", name, c.payload_sha256(body), row.post_id, body
    for row in conn.execute(
        sa.text(
            "SELECT r.id, r.post_id, r.decision, r.note, r.created_at, u.username, p.message_id, "
            "ch.handle FROM reviews r JOIN posts p ON p.id = r.post_id "
            "JOIN channels ch ON ch.id = p.channel_id LEFT JOIN users u ON u.id = r.user_id "
            "WHERE r.decision IN ('confirmed', 'dismissed', 'escalated') ORDER BY r.id"
        )
    ):
        body = c.payload(
            c.review_record(
                row.id, row.post_id, row.decision, row.note, row.username, _utc(row.created_at)
            )
        )
        name = c.subject(row.handle, row.message_id, "review", row.id)
        yield "review", name, c.payload_sha256(body), row.post_id, body


def _backfill(conn: sa.Connection) -> tuple[int, str]:
    entries = sa.table(
        "evidence_entries",
        sa.column("created_at", sa.DateTime()),
        *(
            sa.column(n)
            for n in (
                "seq",
                "kind",
                "subject",
                "content_sha256",
                "payload",
                "entry_hash",
                "post_id",
            )
        ),
    )
    now = datetime.now(UTC)
    stamp, stored = c.timestamp(now), now.replace(tzinfo=None)
    seq, prev = 0, c.GENESIS
    rows: list[dict[str, Any]] = []
    for kind, name, content, pid, body in _items(conn):
        seq += 1
        digest = c.entry_hash(seq, kind, name, content, prev, stamp)
        rows.append(
            {
                "seq": seq,
                "kind": kind,
                "subject": name,
                "content_sha256": content,
                "payload": body,
                "entry_hash": digest,
                "created_at": stored,
                "post_id": pid,
            }
        )
        prev = digest
        if len(rows) >= 1000:
            conn.execute(entries.insert(), rows)
            rows = []
    if rows:
        conn.execute(entries.insert(), rows)
    return seq, prev
