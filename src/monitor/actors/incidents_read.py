"""Reading incidents (#16) for the console, the export and alerts: one reading, so that the
incidents page, `monitor export incidents` and the alerts say the same."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from monitor.actors.registry import Registry, Site
from monitor.store.models import Channel, Incident, IncidentSource, Mention, Post

# What `monitor export incidents` writes, in this order (interface.md).
INCIDENT_FIELDS = [
    "id",
    "first_claim",
    "last_claim",
    "claimants",
    "target",
    "weapon",
    "status",
    "sources",
]
_PAGE = 500


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True, slots=True)
class SourceView:
    post_id: int
    channel: str
    channel_title: str | None
    message_id: int
    date: datetime
    layer: str
    claimant: str | None
    weapon: str | None
    added_by: str


@dataclass(slots=True)
class IncidentView:
    incident: Incident
    site: Site | None  # None: no site, or one the registry no longer has
    sources: list[SourceView] = field(default_factory=list)

    @property
    def claimants(self) -> list[str]:
        """The claiming groups, each once, in the order they first claimed."""
        return list(dict.fromkeys(s.claimant for s in self.sources if s.claimant))

    @property
    def target_name(self) -> str | None:
        if self.site is not None:
            return self.site.name
        return self.incident.site  # a site id the registry lost is still shown

    def record(self) -> dict[str, Any]:
        """The export record (interface.md: ``monitor export incidents``)."""
        i, site = self.incident, self.site
        target = None
        if site is not None:
            target = {"id": site.id, "name": site.name, "lat": site.lat, "lon": site.lon}
        elif i.site is not None:
            target = {"id": i.site, "name": i.site, "lat": None, "lon": None}
        return {
            "id": i.id,
            "first_claim": iso(i.first_claim_at),
            "last_claim": iso(i.last_claim_at),
            "claimants": self.claimants,
            "target": target,
            "weapon": i.weapon,
            "status": i.status,
            "sources": [
                {
                    "channel": s.channel,
                    "message_id": s.message_id,
                    "date": iso(s.date),
                    "layer": s.layer,
                }
                for s in self.sources
            ],
        }


@dataclass(frozen=True, slots=True)
class Filters:
    status: str | None = None
    site: str | None = None
    group: str | None = None  # a claimant's groups.name
    person: str | None = None  # a registry person named by one of its sources
    since: datetime | None = None  # first claim at or after
    until: datetime | None = None  # first claim before


def _query(f: Filters) -> Select[Incident]:
    q = select(Incident)
    if f.status:
        q = q.where(Incident.status == f.status)
    if f.site:
        q = q.where(Incident.site == f.site)
    if f.since is not None:
        q = q.where(Incident.first_claim_at >= f.since)
    if f.until is not None:
        q = q.where(Incident.first_claim_at < f.until)
    if f.group:
        q = q.where(
            Incident.id.in_(
                select(IncidentSource.incident_id).where(IncidentSource.claimant == f.group)
            )
        )
    if f.person:
        q = q.where(
            Incident.id.in_(
                select(IncidentSource.incident_id)
                .join(Mention, Mention.post_id == IncidentSource.post_id)
                .where(Mention.kind == "person", Mention.ref == f.person)
            )
        )
    return q


def _views(
    session: Session, incidents: Sequence[Incident], registry: Registry
) -> list[IncidentView]:
    views = {
        i.id: IncidentView(i, registry.sites.get(i.site) if i.site else None) for i in incidents
    }
    if not views:
        return []
    rows = session.execute(
        select(IncidentSource, Channel.handle, Channel.title, Post.message_id)
        .join(Post, Post.id == IncidentSource.post_id)
        .join(Channel, Channel.id == IncidentSource.channel_id)
        .where(IncidentSource.incident_id.in_(list(views)))
        .order_by(IncidentSource.claimed_at, IncidentSource.id)
    )
    for src, handle, title, message_id in rows:
        views[src.incident_id].sources.append(
            SourceView(
                src.post_id,
                handle,
                title,
                message_id,
                src.claimed_at,
                src.layer,
                src.claimant,
                src.weapon,
                src.added_by,
            )
        )
    return list(views.values())


def read_incidents(
    session: Session,
    registry: Registry,
    filters: Filters | None = None,
    *,
    limit: int | None = None,
) -> list[IncidentView]:
    """Incidents matching ``filters``, the latest first claim first."""
    q = _query(filters or Filters()).order_by(Incident.first_claim_at.desc(), Incident.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return _views(session, list(session.scalars(q)), registry)


def iter_incidents(
    session: Session, registry: Registry, filters: Filters | None = None
) -> Iterator[IncidentView]:
    """All matching incidents in id order, a page at a time (the export)."""
    last = 0
    while True:
        q = (
            _query(filters or Filters())
            .where(Incident.id > last)
            .order_by(Incident.id)
            .limit(_PAGE)
        )
        page = list(session.scalars(q))
        if not page:
            return
        yield from _views(session, page, registry)
        last = page[-1].id


def read_incident(session: Session, registry: Registry, incident_id: int) -> IncidentView | None:
    incident = session.get(Incident, incident_id)
    return _views(session, [incident], registry)[0] if incident is not None else None
