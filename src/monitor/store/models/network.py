"""The tables of the network stage (#15): echo clusters (posts that are near copies of one
statement, across channels), the MinHash band keys that find a post's candidates in the
database, and the channels posts forward, mention or link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, UniqueConstraint
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
    # A key's newest posts first, read straight off the index (network/echo.py, PER_KEY).
    __table_args__ = (Index("ix_echo_bands_key_post_id", "key", "post_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[int] = mapped_column(BigInteger)


class ChannelRef(Base):
    """A channel a post forwards, mentions (@handle) or links (t.me/handle) (#15): the edges
    through which analysts find channels nobody watches yet (`monitor channels discovered`).

    ``target`` is a handle, lower case, or ``id:NUMBER`` for a forwarded-from channel Telegram
    gave only by id: kept, so that it can be resolved later, never dropped."""

    __tablename__ = "channel_refs"
    __table_args__ = (UniqueConstraint("post_id", "kind", "target"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # forward | mention | link
    target: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str | None] = mapped_column(String(300))  # a forward's display name
    seen_at: Mapped[datetime]  # the post's date


class EchoQuote(Base):
    """A post that quotes most of another channel's earlier statement inside its own (#15):
    containment, not whole-post similarity, so the quote is no echo of it."""

    __tablename__ = "echo_quotes"

    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    quoted_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # The share of the quoted statement's words found in the post.
    containment: Mapped[float] = mapped_column(Float)


class IgnoredChannel(Base):
    """A discovered channel an operator chose not to monitor (#15): left out of the discovered
    list until un-ignored, so the same facade-of-a-facade is not triaged twice. Who and when
    are kept here and in the audit log."""

    __tablename__ = "ignored_channels"

    target: Mapped[str] = mapped_column(String(100), primary_key=True)  # as in channel_refs
    ignored_by: Mapped[str] = mapped_column(String(100))
    ignored_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(String(500))
