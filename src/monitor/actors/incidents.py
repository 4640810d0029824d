"""Incidents from claims (#16): every post the matcher gives an ``attack_claim`` becomes a
source of one incident, the attack it claims.

A pipeline hook, after the mention hook (it reads the sites and groups a post names) and
inside the batch's transaction. A claim's site is the site mention in the claim's ``target``
role, else any site the post names; its weapon the class of the text in a claim's ``weapon``
role (actors/weapons.py); its claimant the channel's group, else the group named in the
``claimant`` role; its time the post's date.

Grouping, where the issue leaves it open:

- Claims of one site belong to one incident while all of them lie within the window
  (``incident_window_hours``) of each other: first and last claim at most a window apart.
  Measured on the whole incident, not claim to claim, so that a base attacked every day does
  not grow one incident for a month.
- A claim naming no known site joins a site-less incident in the window only when that has a
  claim of the same channel, or a copy of the same statement (its echo cluster); otherwise it
  is an incident of its own: two channels' claims of "a base" may be two attacks.
- ``corroborated`` once two sources from different channels are independent: not in one echo
  cluster (a near copy), and neither forwarded from the other's channel.

Analysts' edits stand (actors/incidents_edit.py): a source an analyst moved stays where it
was put, a field an analyst set is not recomputed, and an incident an analyst touched is kept
even when its last source goes. Re-running the hook on the same posts changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from monitor.actors.claims import Claim, chunks, claims_of
from monitor.actors.incidents_status import independent
from monitor.actors.overrides import registry_for
from monitor.actors.registry import Registry
from monitor.store.ingest import Changed
from monitor.store.models import (
    Channel,
    EchoMember,
    Incident,
    IncidentSource,
)

__all__ = [
    "EVENTS",
    "Claim",
    "IncidentEvent",
    "IncidentHook",
    "claims_of",
    "place",
    "refresh",
    "take_events",
]

# session.info key: what this transaction did that subscribers hear of (alerts/incidents.py).
EVENTS = "monitor.incident_events"


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    kind: str  # "incident" (new) | "corroborated"
    incident_id: int
    post_id: int  # the claim that made it happen


def take_events(session: Session) -> list[IncidentEvent]:
    """The events recorded in this transaction, once: the alert hook takes them."""
    events: list[IncidentEvent] = session.info.pop(EVENTS, [])
    return events


def _event(session: Session, kind: str, incident_id: int, post_id: int) -> None:
    session.info.setdefault(EVENTS, []).append(IncidentEvent(kind, incident_id, post_id))


def _cluster_of(session: Session, post_id: int) -> int | None:
    return session.scalar(select(EchoMember.cluster_id).where(EchoMember.post_id == post_id))


def place(session: Session, claim: Claim, window: timedelta, added_by: str = "matcher") -> int:
    """Add ``claim`` to the incident it belongs to, or to a new one; returns the incident id.
    The caller refreshes the incident afterwards (``refresh``)."""
    t = claim.claimed_at
    q = select(Incident).where(
        Incident.first_claim_at >= t - window, Incident.last_claim_at <= t + window
    )
    q = q.where(Incident.site == claim.site) if claim.site else q.where(Incident.site.is_(None))
    candidates = list(session.scalars(q.order_by(Incident.id)))
    if claim.site is None and candidates:
        # Site-less: only the same channel's claims, or copies of the same statement.
        cluster = _cluster_of(session, claim.post_id)
        same = select(IncidentSource.incident_id).where(
            IncidentSource.incident_id.in_([i.id for i in candidates])
        )
        # A copy of the same statement first: it says which attack; the same channel only
        # says the channel claimed a site-less attack in the window.
        ok: set[int] = set()
        if cluster is not None:
            ok = set(
                session.scalars(
                    same.join(EchoMember, EchoMember.post_id == IncidentSource.post_id).where(
                        EchoMember.cluster_id == cluster
                    )
                )
            )
        if not ok:
            ok = set(session.scalars(same.where(IncidentSource.channel_id == claim.channel_id)))
        candidates = [i for i in candidates if i.id in ok]
    if candidates:
        incident = min(
            candidates, key=lambda i: (abs((i.first_claim_at - t).total_seconds()), i.id)
        )
    else:
        incident = Incident(
            site=claim.site,
            weapon=claim.weapon,
            status="claimed",
            first_claim_at=t,
            last_claim_at=t,
            corrected_fields=[],
            note="",
        )
        session.add(incident)
        session.flush()
        _event(session, "incident", incident.id, claim.post_id)
    session.add(_source(claim, incident.id, added_by))
    session.flush()
    return incident.id


def _source(claim: Claim, incident_id: int, added_by: str) -> IncidentSource:
    return IncidentSource(
        incident_id=incident_id,
        post_id=claim.post_id,
        channel_id=claim.channel_id,
        claimant=claim.claimant,
        site=claim.site,
        weapon=claim.weapon,
        claimed_at=claim.claimed_at,
        layer=claim.layer,
        added_by=added_by,
    )


def _facts(source: IncidentSource) -> tuple[Any, ...]:
    return (source.site, source.weapon, source.claimant, source.claimed_at, source.layer)


def _claim_facts(claim: Claim) -> tuple[Any, ...]:
    return (claim.site, claim.weapon, claim.claimant, claim.claimed_at, claim.layer)


def refresh(session: Session, incident_id: int) -> None:
    """Recompute an incident from its sources (span, weapon, status), leaving the fields an
    analyst set; an incident left without sources goes, unless an analyst corrected it.

    Aggregates in the database, never the sources themselves: it runs for every claim that
    joins, and a flood of copies makes an incident of thousands of sources (#16)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return
    mine = IncidentSource.incident_id == incident_id
    n, first, last = session.execute(
        select(
            func.count(), func.min(IncidentSource.claimed_at), func.max(IncidentSource.claimed_at)
        ).where(mine)
    ).one()
    if not n:
        if incident.corrected_by is None:
            session.delete(incident)
            session.flush()
        return
    incident.first_claim_at, incident.last_claim_at = first, last
    locked = set(incident.corrected_fields or [])
    if "weapon" not in locked:
        # The weapon most claims name; a tie goes to the earliest claim's.
        rank = func.row_number().over(order_by=(IncidentSource.claimed_at, IncidentSource.id))
        named = (
            select(IncidentSource.weapon, rank.label("rank"))
            .where(mine, IncidentSource.weapon.is_not(None), IncidentSource.weapon != "")
            .subquery()
        )
        incident.weapon = session.scalar(
            select(named.c.weapon)
            .group_by(named.c.weapon)
            .order_by(func.count().desc(), func.min(named.c.rank))
            .limit(1)
        )
    if "status" not in locked:
        status = "corroborated" if independent(session, incident_id) else "claimed"
        if status == "corroborated" and incident.status != status:
            latest = session.scalar(
                select(IncidentSource.post_id)
                .where(mine)
                .order_by(IncidentSource.claimed_at.desc(), IncidentSource.id.desc())
                .limit(1)
            )
            assert latest is not None
            _event(session, "corroborated", incident.id, latest)
        incident.status = status
    session.flush()


def _lock(session: Session, claims: Iterable[Claim], sources: Iterable[IncidentSource]) -> None:
    """PostgreSQL: one transaction at a time places claims of a site (or a site-less claim
    of a channel), so two workers' batches claiming one attack make one incident, not two.
    Keys in sorted order, so two batches of several sites never wait on each other in a
    circle. SQLite has one writer, which the batch's posts already hold."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = {f"site:{c.site}" if c.site else f"channel:{c.channel_id}" for c in claims}
    keys |= {f"site:{s.site}" if s.site else f"channel:{s.channel_id}" for s in sources}
    for key in sorted(keys):
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"incident:{key}"}
        )


def sync(
    session: Session,
    claims: dict[int, Claim],
    post_ids: Sequence[int],
    window: timedelta,
    *,
    rematch: bool = False,
) -> None:
    """Bring the sources of ``post_ids`` in line with their current ``claims``.

    The same path serves an edited post and `monitor rematch` (#16): a post that no longer
    claims leaves its incident, which goes when nobody corrected it (``refresh``). With
    ``rematch`` the posts are as they were, only the reading of them changed, so a source in
    an incident an analyst corrected stays there while its post still claims: the analyst
    judged that text, and a new alias or rule must not move it out into a second incident."""
    existing: dict[int, IncidentSource] = {}
    for chunk in chunks(sorted(set(post_ids))):
        for row in session.scalars(select(IncidentSource).where(IncidentSource.post_id.in_(chunk))):
            existing[row.post_id] = row
    corrected: set[int] = set()
    if rematch and existing:
        ids = sorted({s.incident_id for s in existing.values()})
        for chunk in chunks(ids):
            corrected |= set(
                session.scalars(
                    select(Incident.id).where(
                        Incident.id.in_(chunk), Incident.corrected_by.is_not(None)
                    )
                )
            )
    _lock(session, claims.values(), existing.values())
    touched: set[int] = set()
    # In date order, so that a batch is grouped as the same posts arriving one by one would be.
    gone = sorted(p for p in set(post_ids) if p not in claims)
    for pid in gone + sorted(claims, key=lambda p: (claims[p].claimed_at, p)):
        claim, src = claims.get(pid), existing.get(pid)
        if src is not None and claim is not None and _facts(src) == _claim_facts(claim):
            continue
        if src is not None:
            touched.add(src.incident_id)
            same_place = claim is not None and (claim.site, claim.claimed_at) == (
                src.site,
                src.claimed_at,
            )
            kept = src.added_by != "matcher" or same_place or src.incident_id in corrected
            if claim is not None and kept:
                # An analyst put it there (or, in a rematch, corrected its incident), or it
                # still claims the same site at the same time (an edit that changed its weapon
                # or claimant): it stays, saying what it now says, and its incident keeps its
                # id (and its alerts).
                src.site, src.weapon, src.claimant = claim.site, claim.weapon, claim.claimant
                src.claimed_at, src.layer = claim.claimed_at, claim.layer
                continue
            session.delete(src)
            session.flush()
            # Its old incident first: a claim edited to another site must not join it.
            refresh(session, src.incident_id)
        if claim is not None:
            # Refreshed at once: the next claim of the batch must see its status, so that the
            # corroboration event names the claim that corroborated it.
            incident_id = place(session, claim, window)
            touched.add(incident_id)
            refresh(session, incident_id)
    for incident_id in sorted(touched):
        refresh(session, incident_id)


class IncidentHook:
    """Pipeline hook (#16), right after the mention hook."""

    def __init__(self, registry_loader: Callable[[], Registry], window_hours: float) -> None:
        self.registry_loader = registry_loader
        self.window = timedelta(hours=window_hours)

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        self.rebuild(session, [c.post_id for c in changed])

    def rebuild(self, session: Session, post_ids: Sequence[int], *, rematch: bool = False) -> None:
        """Bring the sources of ``post_ids`` in line with their current verdicts and mentions
        (``sync``); `monitor rematch` calls this with ``rematch`` (#16)."""
        if not post_ids:
            return
        # With the console's edits, as the mention hook reads it.
        claims = claims_of(session, post_ids, registry_for(session, self.registry_loader))
        sync(session, claims, post_ids, self.window, rematch=rematch)
