"""Alerts about echoed statements (#15): a statement is alerted once, naming every channel
that posted it; each channel that picks it up later is a follow-up to whoever was alerted,
never a fresh alert. A channel reposting its own statement adds nothing — unless the repost
says more (a higher severity, another kind or target): that is alerted like any flag.

Clusters can be large (a channel reposting a statement hourly for a year), so nothing here
reads a whole cluster: one row a channel, and the outbox joined on the cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.match.severity import SEVERITIES
from monitor.store.channels import post_link
from monitor.store.echoes import lag_text
from monitor.store.models import AlertOutbox, Channel, EchoMember, Post

# The channels an alert names.
NAMED = 20


@dataclass(frozen=True)
class Cluster:
    id: int
    size: int  # posts
    count: int  # channels
    channels: list[dict[str, Any]]  # the first copy of each, first publisher first, <= NAMED

    def summary(self) -> dict[str, Any]:
        first = self.channels[0]
        return {
            "size": self.size,
            "count": self.count,
            "first": {"channel": first["channel"], "message_id": first["message_id"]},
            "channels": self.channels,
            "more": max(0, self.count - len(self.channels)),
        }


@dataclass
class Told:
    """What one subscription was already sent about a cluster."""

    channels: set[int] = field(default_factory=set)
    rules: set[tuple[str, str]] = field(default_factory=set)
    rank: int = 0  # the highest severity sent


def clusters(session: Session, post_ids: Sequence[int]) -> dict[int, Cluster]:
    """post id -> its cluster, for the posts that are in one."""
    of = dict(
        session.execute(
            select(EchoMember.post_id, EchoMember.cluster_id).where(
                EchoMember.post_id.in_(post_ids)
            )
        ).all()
    )
    read = {cid: _cluster(session, cid) for cid in set(of.values())}
    return {pid: read[cid] for pid, cid in of.items()}


def _cluster(session: Session, cluster_id: int) -> Cluster:
    members = select(EchoMember.post_id).where(EchoMember.cluster_id == cluster_id)
    size, count = session.execute(
        select(func.count(), func.count(func.distinct(Post.channel_id))).where(Post.id.in_(members))
    ).one()
    # A channel's message ids grow with time: its smallest is its first copy.
    rows = session.execute(
        select(Channel.handle, Channel.title, func.min(Post.message_id), func.min(Post.date))
        .join(Channel, Channel.id == Post.channel_id)
        .where(Post.id.in_(members))
        .group_by(Post.channel_id, Channel.handle, Channel.title)
        .order_by(func.min(Post.date), Channel.handle)
        .limit(NAMED)
    ).all()
    first = rows[0][3]
    channels = [
        {
            "channel": handle,
            "title": title,
            "message_id": mid,
            "date": date.isoformat(),
            "lag": "first" if i == 0 else lag_text(date - first),
            "post_url": post_link(handle, mid),
        }
        for i, (handle, title, mid, date) in enumerate(rows)
    ]
    return Cluster(cluster_id, int(size), int(count), channels)


def told(session: Session, cluster: Cluster, post_id: int) -> dict[int, Told]:
    """Subscription id -> what it was sent (or is being sent) about the cluster's other posts.
    A row still pending is not "told": it is regrouped instead (regroup)."""
    others = select(EchoMember.post_id).where(
        EchoMember.cluster_id == cluster.id, EchoMember.post_id != post_id
    )
    out: dict[int, Told] = {}
    for sub_id, channel_id, payload in session.execute(
        select(AlertOutbox.subscription_id, Post.channel_id, AlertOutbox.payload)
        .join(Post, Post.id == AlertOutbox.post_id)
        .where(
            AlertOutbox.post_id.in_(others),
            AlertOutbox.kind.in_(("flag", "echo")),
            AlertOutbox.status.in_(("sent", "sending")),
        )
    ):
        t = out.setdefault(sub_id, Told())
        t.channels.add(channel_id)
        for span in [*payload.get("spans", []), *payload.get("ocr_spans", [])]:
            t.rules.add((str(span[2]), str(span[3])))
        severity = payload.get("severity", "none")
        t.rank = max(t.rank, SEVERITIES.index(severity) if severity in SEVERITIES else 0)
    return out


def says_more(t: Told, severity: str, rules: set[tuple[str, str]]) -> bool:
    """Whether a repost goes beyond what the subscription was sent: a higher severity, or a
    signal (a kind, a target) it has not seen — a warning turned into a claim on a base."""
    return SEVERITIES.index(severity) > t.rank or not rules <= t.rules


def regroup(session: Session, cluster: Cluster, post_id: int, payload: dict[str, Any]) -> None:
    """The alerts still waiting about the cluster's other posts take its event and channels,
    so the statement and its echoes go out as one message (the sender groups by event)."""
    others = select(EchoMember.post_id).where(
        EchoMember.cluster_id == cluster.id, EchoMember.post_id != post_id
    )
    for row in session.scalars(
        select(AlertOutbox).where(
            AlertOutbox.post_id.in_(others),
            AlertOutbox.kind == "flag",
            AlertOutbox.status == "pending",
        )
    ):
        # A new dict: the JSON column sees a replaced value, not an edited one.
        row.payload = {**row.payload, "event": payload["event"], "echo": payload["echo"]}
