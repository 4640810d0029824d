"""The tables of the actors stage (#16): the registry's people, groups and sites a post names,
and the console's edits of the registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from monitor.store.models.core import Base, BigId, JSONType, utcnow


class Mention(Base):
    """A registry entry named in a post (actors/mentions.py): ``ref`` is its registry id (the
    registry is config, not rows), ``start``/``end`` index the post's text, or the text read
    from its image when ``layer`` is "ocr". ``role`` is the matcher role it stands in: "object"
    (of an allegiance signal), "addressee" (a threat's), "target" / "claimant" / "weapon" (an
    attack claim's), or null."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # person | group | site
    ref: Mapped[str] = mapped_column(String(100), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    layer: Mapped[str] = mapped_column(String(10), default="text")  # text | ocr
    role: Mapped[str | None] = mapped_column(String(20))


class RegistryOverride(Base):
    """An operator's console edit of one registry entry (#16), applied over ``config/registry/``
    by every process (actors/overrides.py). In the database rather than written back to the
    YAML: the console and the collectors need not share a config folder (docker-compose bakes
    it into the image), and the file's comments survive."""

    __tablename__ = "registry_overrides"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # group | person | site
    ref: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The entry's fields as the YAML spells them (aliases: a string or {"alias", "needs"}):
    # those the console changed, or, for an entry ``added`` in the console, all of them.
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    added: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
