"""The tables of what people do: console accounts and failed sign-ins, reviews, alert
subscriptions with their outbox and deliveries, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.core import Base, BigId, JSONType, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))  # analyst | operator | admin
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Carried in every session cookie and compared on each request; bumped by logout, a new
    # password, disabling, enabling and a role change, which so end every session of the
    # user in all worker processes at once (#11).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """A failed console sign-in, kept for the rate limit's window.

    In the database rather than in memory so that every console worker process counts the
    same attempts (``monitor serve --workers``)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_client", "client", "username", "at"),
        # The per-account count (#11) filters on the name alone: without this it scanned the
        # whole window, under the write lock, on every attempt.
        Index("ix_login_failures_user", "username", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(100))  # lower-cased
    at: Mapped[datetime] = mapped_column(index=True)
    # A password check in flight: it holds one of the account's checks until it is settled,
    # as a failure or by being deleted (#11).
    pending: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# What an analyst can decide; an assignment is also a Review row (decision "assigned").
REVIEW_DECISIONS = ("confirmed", "dismissed", "escalated")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("posts.id", ondelete="CASCADE"),
        index=True,
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(String(20))  # confirmed | dismissed | escalated
    note: Mapped[str] = mapped_column(Text, default="")
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)  # apprise URL: may hold a token, never logged
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    min_severity: Mapped[str] = mapped_column(String(10), default="high")
    kinds: Mapped[list[str]] = mapped_column(JSONType, default=list)
    groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    refs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Registry ids of sites and people, and incident statuses (#16, alerts/incidents.py).
    sites: Mapped[list[str]] = mapped_column(JSONType, default=list)
    persons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    incident_statuses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    digest_minutes: Mapped[int | None] = mapped_column(Integer)
    quiet_hours: Mapped[str | None] = mapped_column(String(20))  # "22:00-06:00" UTC
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Saved from the console: its hosts are checked again before every delivery, since a name
    # that resolved to a public address when saved may point inside the network now.
    check_destination: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertOutbox(Base):
    """Alerts written in the same transaction as the flag; the sender drains them."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("posts.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    # flag | edited | deleted | echo (a channel picking up an alerted statement, #15)
    kind: Mapped[str] = mapped_column(String(20), default="flag")
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|failed
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """One attempt to deliver an outbox row."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("alert_outbox.id", ondelete="CASCADE"),
        index=True,
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
