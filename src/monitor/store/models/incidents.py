"""The tables of the incidents stage (#16): attacks built from the claims of them, and the
posts that claim each one. A post claims at most one incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.core import Base, BigId, JSONType, utcnow

INCIDENT_STATUSES = ("claimed", "corroborated")
WEAPONS = ("drone", "rockets", "missiles", "IED", "other")


class Incident(Base):
    """One attack as its claims tell it. ``site`` is a registry site id (config/registry/),
    null when no claim named a known site; ``corrected_fields`` the fields an analyst set,
    which the pipeline then leaves alone (actors/incidents.py)."""

    __tablename__ = "incidents"
    # Ids are never reused (AUTOINCREMENT on SQLite): alerts are keyed by incident id, and an
    # incident deleted with its last claim must not silence the next one given its id.
    __table_args__ = (
        Index("ix_incidents_site_first", "site", "first_claim_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site: Mapped[str | None] = mapped_column(String(100))
    weapon: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="claimed")
    first_claim_at: Mapped[datetime] = mapped_column(index=True)
    last_claim_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    corrected_by: Mapped[str | None] = mapped_column(String(100))
    corrected_at: Mapped[datetime | None]
    corrected_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)
    note: Mapped[str] = mapped_column(Text, default="")


class IncidentSource(Base):
    """A post that claims the incident, with what that claim said."""

    __tablename__ = "incident_sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), unique=True
    )
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    claimant: Mapped[str | None] = mapped_column(String(200))  # a groups.name
    site: Mapped[str | None] = mapped_column(String(100))  # the site this claim names
    weapon: Mapped[str | None] = mapped_column(String(20))
    claimed_at: Mapped[datetime]
    layer: Mapped[str] = mapped_column(String(10), default="text")  # text | ocr
    added_by: Mapped[str] = mapped_column(String(100), default="matcher")  # or a username
