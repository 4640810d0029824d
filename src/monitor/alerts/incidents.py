"""Alerts about incidents (#16), and what subscriptions filter on beyond the verdict.

A new incident and its corroboration are alerted once each: the incident hook records the
events of the transaction (actors/incidents.py), and this hook, after the outbox hook, queues
one row per subscription and event, keyed ``SUB:incident:ID:EVENT`` so that nothing replayed
(a re-import, a second collector) queues it twice. The row quotes the claim that made the
event, as a flag alert would, with the incident beside it (``incident`` in the templates).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.incidents import take_events
from monitor.actors.incidents_read import IncidentView, read_incident
from monitor.actors.registry import Registry
from monitor.alerts.subscriptions import Verdict, in_quiet_hours, wants
from monitor.config import Settings
from monitor.match.severity import SEVERITIES
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import (
    Channel,
    Incident,
    IncidentSource,
    Match,
    Mention,
    Post,
    RuleSetVersion,
    Subscription,
    utcnow,
)

EVENT_KINDS = ("incident", "corroborated")


@dataclass(frozen=True, slots=True)
class Named:
    """What a post names and the attack it claims, for the subscription filters."""

    sites: frozenset[str] = frozenset()
    persons: frozenset[str] = frozenset()
    incident_status: str | None = None
    claimants: frozenset[str] = frozenset()

    def on(self, verdict: Verdict) -> Verdict:
        return replace(
            verdict,
            sites=verdict.sites | self.sites,
            persons=verdict.persons | self.persons,
            incident_status=self.incident_status,
            claimants=verdict.claimants | self.claimants,
        )


NOTHING = Named()


def named(session: Session, post_ids: Sequence[int]) -> dict[int, Named]:
    """post id -> the registry sites and people it mentions, its incident's status and site,
    and the groups claiming that incident."""
    if not post_ids:
        return {}
    sites: dict[int, set[str]] = defaultdict(set)
    persons: dict[int, set[str]] = defaultdict(set)
    for pid, kind, ref in session.execute(
        select(Mention.post_id, Mention.kind, Mention.ref).where(
            Mention.post_id.in_(post_ids), Mention.kind.in_(("site", "person"))
        )
    ):
        (sites if kind == "site" else persons)[pid].add(ref)
    status: dict[int, str] = {}
    claimants: dict[int, set[str]] = defaultdict(set)
    of = dict(
        session.execute(
            select(IncidentSource.post_id, IncidentSource.incident_id).where(
                IncidentSource.post_id.in_(post_ids)
            )
        ).all()
    )
    if of:
        incidents = {
            i.id: i
            for i in session.scalars(select(Incident).where(Incident.id.in_(set(of.values()))))
        }
        by_incident: dict[int, set[str]] = defaultdict(set)
        for iid, claimant in session.execute(
            select(IncidentSource.incident_id, IncidentSource.claimant).where(
                IncidentSource.incident_id.in_(list(incidents))
            )
        ):
            if claimant:
                by_incident[iid].add(claimant)
        for pid, iid in of.items():
            incident = incidents[iid]
            status[pid] = incident.status
            claimants[pid] = by_incident[iid]
            if incident.site:
                sites[pid].add(incident.site)
    return {
        pid: Named(
            frozenset(sites[pid]),
            frozenset(persons[pid]),
            status.get(pid),
            frozenset(claimants[pid]),
        )
        for pid in post_ids
    }


def incident_payload(view: IncidentView, kind: str, console_url: str) -> dict[str, Any]:
    """The ``incident`` an alert template reads (config/alerts/*.j2)."""
    record = view.record()
    return {
        "id": record["id"],
        "event": kind,
        "status": record["status"],
        "target": view.target_name,
        "site": record["target"],
        "weapon": record["weapon"],
        "claimants": record["claimants"],
        "channels": sorted({s["channel"] for s in record["sources"]}),
        "sources": len(record["sources"]),
        "first_claim": record["first_claim"],
        "last_claim": record["last_claim"],
        "url": f"{console_url}/incidents/{record['id']}",
    }


class IncidentAlertHook:
    """Pipeline hook, after the outbox hook: queues the incident events of the batch."""

    def __init__(self, settings: Settings, registry_loader: Callable[[], Registry]) -> None:
        self.settings = settings
        self.registry_loader = registry_loader

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        events = take_events(session)
        if not events:
            return
        subs = session.scalars(select(Subscription).where(Subscription.enabled.is_(True))).all()
        if not subs:
            return
        from monitor.alerts.outbox import alert_payload, insert_ignoring_duplicates

        registry = self.registry_loader()
        now = utcnow()
        # Issue #16: a back-fill (a collector reading a gap, `monitor import` of an old export)
        # stores old claims through this same pipeline, and the incidents they make are history,
        # not news. Flag alerts have no rule for that to reuse: nothing marks a back-filled post
        # (the collector's backfill flag stops at the listing) and the outbox alerts a flag
        # whatever its date; a rematch is kept out by running no alert hook at all (it drops
        # the events, match/persist.py). So the decision here: an incident whose last claim,
        # by the posts' own dates, is older than ``incident_alert_max_age_hours`` before now
        # is not alerted, neither as new nor as corroborated. The dates of the posts, not the
        # capture time: a back-filled post is captured now.
        oldest = now - timedelta(hours=self.settings.incident_alert_max_age_hours)
        seen: set[tuple[str, int]] = set()
        ids = [e.post_id for e in events]
        names = named(session, ids)
        ocr = ocr_layers(session, ids)
        queued: list[dict[str, Any]] = []
        for event in events:
            if (event.kind, event.incident_id) in seen:
                continue
            seen.add((event.kind, event.incident_id))
            view = read_incident(session, registry, event.incident_id)
            row = session.execute(
                select(Post, Match, RuleSetVersion.version, Channel)
                .join(Match, Match.post_id == Post.id)
                .join(RuleSetVersion, RuleSetVersion.id == Match.rule_set_id)
                .join(Channel, Channel.id == Post.channel_id)
                .where(Post.id == event.post_id)
            ).first()
            if view is None or row is None:  # gone again within the batch
                continue
            if view.incident.last_claim_at < oldest:  # history (see above)
                continue
            post, match, version, source_channel = row
            payload = alert_payload(
                post, source_channel, match, version, self.settings, ocr.get(post.id)
            )
            payload["event"] = f"incident:{event.incident_id}"
            payload["change"] = event.kind
            payload["incident"] = incident_payload(view, event.kind, self.settings.console_url)
            status = "corroborated" if event.kind == "corroborated" else view.incident.status
            verdict = replace(
                names.get(post.id, NOTHING).on(
                    Verdict(
                        severity=match.severity,
                        kinds=frozenset(s.kind for s in match.signals),
                        refs=frozenset(r for s in match.signals for r in s.refs),
                        channel=source_channel.handle,
                        group=source_channel.group.name if source_channel.group else None,
                    )
                ),
                incident_status=status,
                claimants=frozenset(view.claimants),
            )
            for sub in subs:
                if wants(sub, verdict):
                    queued.append(self._row(sub, post.id, event, payload, now, view.incident.site))
        if queued:
            insert_ignoring_duplicates(session.connection(), queued)

    def _row(
        self,
        sub: Subscription,
        post_id: int,
        event: Any,
        payload: dict[str, Any],
        now: Any,
        site: str | None,
    ) -> dict[str, Any]:
        due = now + timedelta(minutes=sub.digest_minutes) if sub.digest_minutes else now
        if in_quiet_hours(sub, due) and payload["severity"] != SEVERITIES[-1]:
            from monitor.alerts.outbox import _end_of_quiet

            due = _end_of_quiet(sub, due)
        # A new incident is keyed by the claim that opened it and its site, not the incident's
        # id: a channel editing its claim to another site and back opens a new incident each
        # time, and must not alert each time.
        if event.kind == "incident":
            key = f"{sub.id}:incident:post:{post_id}:{site or '-'}"
        else:
            key = f"{sub.id}:incident:{event.incident_id}:{event.kind}"
        return {
            "subscription_id": sub.id,
            "post_id": post_id,
            "dedup_key": key,
            "kind": event.kind,
            "status": "pending",
            "payload": payload,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": due,
        }


__all__ = ["EVENT_KINDS", "NOTHING", "IncidentAlertHook", "Named", "incident_payload", "named"]
