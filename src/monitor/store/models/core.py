"""The column types, the declarative base, and the tables of what is collected and matched:
groups, accounts, channels, posts and their versions, runs, rule sets, matches, suppressions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# One naming convention so SQLite batch migrations and PostgreSQL name constraints alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no time zones) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: monitor stores UTC-aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Group(Base):
    """An actor: a militia or one of its facade groups."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="militia")  # militia | facade
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    weight: Mapped[float] = mapped_column(Float, default=1.0)

    parent: Mapped[Group | None] = relationship(remote_side=[id])


class Account(Base):
    """A Telegram user account (one session file) that collectors poll channels through."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    session_path: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(30), default="ok")  # ok | cooldown | revoked
    cooldown_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(100), unique=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    access_hash: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(300))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20), default="web")  # telethon | web | export
    # group | leader | media | news (monitor.channel_kinds): who speaks, for the score (#12).
    kind: Mapped[str] = mapped_column(String(20), default="group", server_default="group")
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # highest message id stored
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # health
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    newest_post_at: Mapped[datetime | None]
    cooldown_until: Mapped[datetime | None]
    gaps: Mapped[list[list[int]]] = mapped_column(JSONType, default=list)
    status: Mapped[str] = mapped_column(String(30), default="ok")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))

    group: Mapped[Group | None] = relationship()
    account: Mapped[Account | None] = relationship()


class ChannelName(Base):
    """Every title/handle a channel has shown, so renamed channels stay traceable."""

    __tablename__ = "channel_names"
    __table_args__ = (UniqueConstraint("channel_id", "handle", "title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    handle: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(300))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("channel_id", "message_id"),
        Index("ix_posts_date", "date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    date: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text, default="")
    text_sha256: Mapped[str] = mapped_column(String(64))
    views: Mapped[int | None] = mapped_column(BigInteger)
    forwards: Mapped[int | None] = mapped_column(BigInteger)
    fwd_channel: Mapped[str | None] = mapped_column(String(100))
    fwd_message_id: Mapped[int | None] = mapped_column(BigInteger)
    fwd_name: Mapped[str | None] = mapped_column(String(300))
    reply_to: Mapped[int | None] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(30))
    media_mime: Mapped[str | None] = mapped_column(String(100))
    media_size: Mapped[int | None] = mapped_column(BigInteger)
    media_duration: Mapped[float | None] = mapped_column(Float)
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(20))
    first_seen_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    channel: Mapped[Channel] = relationship()
    versions: Mapped[list[PostVersion]] = relationship(
        order_by="PostVersion.id", cascade="all, delete-orphan", passive_deletes=True
    )


class PostVersion(Base):
    """Every distinct text a post has had: an edit never overwrites what was said before."""

    __tablename__ = "post_versions"
    __table_args__ = (UniqueConstraint("post_id", "sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime]
    edit_date: Mapped[datetime | None]


class CollectionRun(Base):
    __tablename__ = "collection_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # running | ok | partial | error | interrupted (a pass that never recorded its end)
    status: Mapped[str] = mapped_column(String(20), default="running")
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    edited: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class RuleSetVersion(Base):
    __tablename__ = "rule_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Match(Base):
    """The matcher's current verdict on a post (one row per post; rematch replaces it)."""

    __tablename__ = "matches"
    # The queue's "highest severity" order: band, then score within it (#14), then post id.
    __table_args__ = (
        Index("ix_matches_flagged_severity", "flagged", "severity_rank", "score", "post_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("posts.id", ondelete="CASCADE"),
        unique=True,
    )
    rule_set_id: Mapped[int] = mapped_column(ForeignKey("rule_sets.id"))
    text_sha256: Mapped[str] = mapped_column(String(64))
    flagged: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(10))
    severity_rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    explanation: Mapped[list[str]] = mapped_column(JSONType, default=list)
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)

    signals: Mapped[list[SignalRow]] = relationship(
        order_by="SignalRow.start", cascade="all, delete-orphan", passive_deletes=True
    )


class SignalRow(Base):
    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("matches.id", ondelete="CASCADE"),
        index=True,
    )
    kind: Mapped[str] = mapped_column(String(20), index=True)
    rule: Mapped[str] = mapped_column(String(100))
    ref: Mapped[str | None] = mapped_column(String(20))
    refs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    matched: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    # A frame's roles, {"claimant": {"start", "end", "text"}, ...} as scan prints them (#12).
    roles: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # "ocr" when found in the text read from the post's image; start/end index that text (#13).
    layer: Mapped[str] = mapped_column(String(10), default="text", server_default="text")


class Suppression(Base):
    """An analyst's ruling that a phrase (from one channel, or anywhere) is not a signal."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str | None] = mapped_column(String(20))
    rule: Mapped[str | None] = mapped_column(String(100))
    phrase: Mapped[str] = mapped_column(Text)  # as the analyst selected it
    phrase_norm: Mapped[str] = mapped_column(Text)  # through monitor.match.normalize
    review_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id", ondelete="SET NULL"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
