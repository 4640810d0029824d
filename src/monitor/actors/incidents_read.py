"""Reading incidents (#16) for the console, the export and alerts: one reading, so that the
incidents page, `monitor export incidents` and the alerts say the same."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
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
    # All of them for the export and alerts; none for a list of incidents; a page of them,
    # in claim order from ``earlier`` on, for the incident's page (#16: a flood of claims).
    sources: list[SourceView] = field(default_factory=list)
    # The whole incident's, whichever sources are loaded.
    source_count: int = 0
    channel_count: int = 0
    claimants: list[str] = field(default_factory=list)  # each once, in the order they claimed
    earlier: int = 0

    @property
    def later(self) -> int:
        """The sources after the ones loaded."""
        return self.source_count - self.earlier - len(self.sources)

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


def _counts(session: Session, views: dict[int, IncidentView]) -> None:
    """Each incident's sources, channels and claimants, counted in the database."""
    ids = list(views)
    for iid, n, channels in session.execute(
        select(
            IncidentSource.incident_id,
            func.count(),
            func.count(IncidentSource.channel_id.distinct()),
        )
        .where(IncidentSource.incident_id.in_(ids))
        .group_by(IncidentSource.incident_id)
    ):
        views[iid].source_count, views[iid].channel_count = n, channels
    # A claimant's first claim, in claim order: a handful of groups, however many sources.
    order = (IncidentSource.claimed_at, IncidentSource.id)
    ranked = (
        select(
            IncidentSource.incident_id,
            IncidentSource.claimant,
            func.row_number()
            .over(
                partition_by=(IncidentSource.incident_id, IncidentSource.claimant), order_by=order
            )
            .label("nth"),
            func.row_number()
            .over(partition_by=IncidentSource.incident_id, order_by=order)
            .label("pos"),
        )
        .where(
            IncidentSource.incident_id.in_(ids),
            IncidentSource.claimant.is_not(None),
            IncidentSource.claimant != "",
        )
        .subquery()
    )
    for iid, claimant in session.execute(
        select(ranked.c.incident_id, ranked.c.claimant)
        .where(ranked.c.nth == 1)
        .order_by(ranked.c.incident_id, ranked.c.pos)
    ):
        views[iid].claimants.append(claimant)


def _source_rows(q: Select[Any]) -> Select[Any]:
    return (
        q.add_columns(Channel.handle, Channel.title, Post.message_id)
        .join(Post, Post.id == IncidentSource.post_id)
        .join(Channel, Channel.id == IncidentSource.channel_id)
        .order_by(IncidentSource.claimed_at, IncidentSource.id)
    )


def _add_sources(session: Session, views: dict[int, IncidentView], q: Select[Any]) -> None:
    for src, handle, title, message_id in session.execute(_source_rows(q)):
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


def _views(
    session: Session, incidents: Sequence[Incident], registry: Registry, *, sources: bool = True
) -> list[IncidentView]:
    """The incidents' views, with all their sources or (``sources`` false) none."""
    views = {
        i.id: IncidentView(i, registry.sites.get(i.site) if i.site else None) for i in incidents
    }
    if not views:
        return []
    _counts(session, views)
    if sources:
        _add_sources(
            session,
            views,
            select(IncidentSource).where(IncidentSource.incident_id.in_(list(views))),
        )
    return list(views.values())


def read_incidents(
    session: Session,
    registry: Registry,
    filters: Filters | None = None,
    *,
    limit: int | None = None,
    sources: bool = True,
) -> list[IncidentView]:
    """Incidents matching ``filters``, the latest first claim first; without their sources
    when ``sources`` is false (lists of incidents: they show the counts only)."""
    q = _query(filters or Filters()).order_by(Incident.first_claim_at.desc(), Incident.id.desc())
    if limit is not None:
        q = q.limit(limit)
    return _views(session, list(session.scalars(q)), registry, sources=sources)


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


class NoSuchSource(LookupError):
    """``after`` names no source of the incident."""


def read_incident(
    session: Session,
    registry: Registry,
    incident_id: int,
    *,
    page: int | None = None,
    after: int | None = None,
) -> IncidentView | None:
    """One incident with all its sources, or with at most ``page`` of them: the earliest, or
    those after the source post ``after`` (a keyset page: claim time, then id)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return None
    if page is None:
        return _views(session, [incident], registry)[0]
    [view] = _views(session, [incident], registry, sources=False)
    q = select(IncidentSource).where(IncidentSource.incident_id == incident_id)
    if after is not None:
        cursor = session.execute(
            select(IncidentSource.claimed_at, IncidentSource.id).where(
                IncidentSource.incident_id == incident_id, IncidentSource.post_id == after
            )
        ).one_or_none()
        if cursor is None:
            raise NoSuchSource(after)
        at, sid = cursor
        past = or_(
            IncidentSource.claimed_at > at,
            and_(IncidentSource.claimed_at == at, IncidentSource.id > sid),
        )
        q = q.where(past)
        view.earlier = view.source_count - (
            session.scalar(
                select(func.count()).where(IncidentSource.incident_id == incident_id, past)
            )
            or 0
        )
    _add_sources(session, {incident_id: view}, q.limit(page))
    return view
