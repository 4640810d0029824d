"""The evidence chain (#17): an append-only, hash-linked log of everything captured, its head,
and the signed checkpoints of that head. The byte strings that are hashed and signed are
defined in monitor/evidence/canonical.py and documented in docs/evidence.md."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.core import Base, BigId, utcnow


class EvidenceEntry(Base):
    """One link of the chain. ``seq`` is given by the head row, never by the database's own
    sequence, so entries are numbered without gaps in commit order of the head."""

    __tablename__ = "evidence_entries"
    __table_args__ = (
        Index("ix_evidence_entries_post_id", "post_id"),
        # Finding a post's batch (evidence/batches.py) walks batches only, not every media,
        # OCR and review entry of the posts in between (#17).
        Index(
            "ix_evidence_entries_batch_post_id",
            "post_id",
            sqlite_where=text("kind = 'batch'"),
            postgresql_where=text("kind = 'batch'"),
        ),
    )

    # INTEGER on SQLite: the rowid itself, so the table needs no second index for it.
    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(20))  # canonical.KINDS
    subject: Mapped[str] = mapped_column(String(200))
    content_sha256: Mapped[str] = mapped_column(String(64))
    # The exact bytes hashed into content_sha256 where no other table keeps them unchanged
    # (OCR results and deletions are overwritten in place; reviews may be edited by hand).
    payload: Mapped[str | None] = mapped_column(Text)
    # sha256 of the entry's bytes (canonical.entry_bytes), which include the entry_hash of
    # the entry before: that one is not stored twice.
    entry_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # For finding a post's entries (the only index besides seq: each costs on ingest, #17);
    # not hashed, the subject names the post.
    post_id: Mapped[int | None] = mapped_column(BigId)


class EvidenceHead(Base):
    """The single ordering point: one row, locked by every appending transaction."""

    __tablename__ = "evidence_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_hash: Mapped[str] = mapped_column(String(64))


class EvidenceCheckpoint(Base):
    """The chain head at ``seq``, signed with the Ed25519 key; optionally time-stamped."""

    __tablename__ = "evidence_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    signature: Mapped[str] = mapped_column(String(200))  # base64 of the 64-byte signature
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)  # PEM, so old checkpoints name their key
    tsa_url: Mapped[str | None] = mapped_column(Text)
    tsa_token: Mapped[bytes | None] = mapped_column(LargeBinary)
