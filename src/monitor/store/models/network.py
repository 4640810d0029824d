"""The tables of echo clusters (#15): posts that are near copies of one statement, across
channels, and the MinHash band keys that find a post's candidates in the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.core import Base, BigId, utcnow


class EchoCluster(Base):
    """One statement and its echoes. Its first publisher and size are read from its members
    (the earliest post by date), never kept here: a back-filled earlier post changes them."""

    __tablename__ = "echo_clusters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EchoMember(Base):
    __tablename__ = "echo_members"

    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    cluster_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("echo_clusters.id", ondelete="CASCADE"), index=True
    )
    # Jaccard similarity of the word sets with the member it was joined through.
    similarity: Mapped[float] = mapped_column(Float)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class EchoBand(Base):
    """One LSH band of a post's MinHash: posts sharing a key are candidates (network/shingles.py).

    In the database, not in a process, so that every worker and every restart sees the same
    index (#15)."""

    __tablename__ = "echo_bands"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[int] = mapped_column(BigInteger, index=True)
