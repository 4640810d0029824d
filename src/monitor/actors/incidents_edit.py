"""Analysts' edits of incidents (#16): merge two, split a source off into an incident of its
own, correct the site, weapon, status or note. The console calls these and audits them.

An edit is recorded on the incident (``corrected_by``/``corrected_at``), so the pipeline keeps
an incident an analyst touched even when its last claim goes; a field the analyst set is in
``corrected_fields`` and never recomputed; a source moved by hand has ``added_by`` the analyst
and stays where it was put (actors/incidents.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.incidents import refresh
from monitor.store.models import (
    INCIDENT_STATUSES,
    WEAPONS,
    Incident,
    IncidentSource,
    utcnow,
)

NOTE_MAX = 2000


class EditError(ValueError):
    """An edit that cannot be made; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _mark(incident: Incident, user: str, *fields: str) -> None:
    incident.corrected_by = user
    incident.corrected_at = utcnow()
    incident.corrected_fields = sorted(set(incident.corrected_fields or []) | set(fields))


def _get(session: Session, incident_id: int, field: str = "incident") -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise EditError(field, f"no incident #{incident_id}")
    return incident


def merge(session: Session, into_id: int, from_id: int, user: str) -> int:
    """Move every source of ``from_id`` into ``into_id`` and delete ``from_id``; returns the
    number of sources moved."""
    if into_id == from_id:
        raise EditError("other", "an incident cannot be merged into itself")
    into, other = _get(session, into_id), _get(session, from_id, "other")
    moved = 0
    for src in session.scalars(
        select(IncidentSource).where(IncidentSource.incident_id == other.id)
    ):
        src.incident_id = into.id
        src.added_by = user
        moved += 1
    if other.note and other.note not in into.note:
        into.note = (into.note + "\n" + other.note).strip()[:NOTE_MAX]
    _mark(into, user)
    session.flush()
    session.delete(other)
    session.flush()
    refresh(session, into.id)
    return moved


def split(session: Session, incident_id: int, post_id: int, user: str) -> int:
    """Move the source ``post_id`` out of ``incident_id`` into a new incident; returns its id."""
    incident = _get(session, incident_id)
    src = session.scalar(
        select(IncidentSource).where(
            IncidentSource.incident_id == incident.id, IncidentSource.post_id == post_id
        )
    )
    if src is None:
        raise EditError("post", f"post {post_id} is not a source of incident #{incident_id}")
    if (
        session.scalar(
            select(IncidentSource.id).where(
                IncidentSource.incident_id == incident.id, IncidentSource.post_id != post_id
            )
        )
        is None
    ):
        raise EditError("post", "the incident's only source cannot be split off")
    new = Incident(
        site=src.site,
        weapon=src.weapon,
        status="claimed",
        first_claim_at=src.claimed_at,
        last_claim_at=src.claimed_at,
        corrected_fields=[],
        note="",
    )
    _mark(new, user)
    session.add(new)
    session.flush()
    src.incident_id = new.id
    src.added_by = user
    _mark(incident, user)
    session.flush()
    refresh(session, incident.id)
    refresh(session, new.id)
    return new.id


@dataclass(frozen=True, slots=True)
class Correction:
    """What an analyst sets; None leaves a field as it is, "" clears site or weapon."""

    site: str | None = None
    weapon: str | None = None
    status: str | None = None
    note: str | None = None


def correct(
    session: Session, incident_id: int, c: Correction, user: str, known_sites: set[str]
) -> list[str]:
    """Apply ``c``; returns the fields changed. Refused as a whole when a value is not valid."""
    incident = _get(session, incident_id)
    if c.site and c.site not in known_sites:
        raise EditError("site", f"no site {c.site!r} in the registry")
    if c.weapon and c.weapon not in WEAPONS:
        raise EditError("weapon", f"one of {', '.join(WEAPONS)}")
    if c.status is not None and c.status not in INCIDENT_STATUSES:
        raise EditError("status", f"one of {', '.join(INCIDENT_STATUSES)}")
    if c.note is not None and len(c.note) > NOTE_MAX:
        raise EditError("note", f"at most {NOTE_MAX} characters")
    changed = []
    for name, value in (("site", c.site), ("weapon", c.weapon), ("status", c.status)):
        if value is None:
            continue
        new = value or None
        if getattr(incident, name) != new:
            setattr(incident, name, new)
            changed.append(name)
    if c.note is not None and c.note != incident.note:
        incident.note = c.note
        changed.append("note")
    if changed:
        _mark(incident, user, *[f for f in changed if f != "note"])
        session.flush()
    return changed
