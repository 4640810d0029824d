"""Alerts about echoed statements (#15): a statement is alerted once, naming every channel
that posted it; each channel that picks it up later is a follow-up to whoever was alerted,
never a fresh alert, and a channel repeating its own statement hourly adds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.channels import post_link
from monitor.store.echoes import Member, lag_text, members
from monitor.store.models import AlertOutbox, EchoMember

# The channels an alert names; a cluster can be a channel reposting itself for a year.
NAMED = 20


def clusters(session: Session, post_ids: Sequence[int]) -> dict[int, list[Member]]:
    """post id -> its cluster's members, earliest first, for the posts that are in one."""
    of = dict(
        session.execute(
            select(EchoMember.post_id, EchoMember.cluster_id).where(
                EchoMember.post_id.in_(post_ids)
            )
        ).all()
    )
    read: dict[int, list[Member]] = {}
    for cid in set(of.values()):
        read[cid] = members(session, cid)
    return {pid: read[cid] for pid, cid in of.items()}


def summary(cluster: list[Member]) -> dict[str, Any]:
    """What an alert says of the cluster: its channels, first publisher first, with lags."""
    first = cluster[0]
    seen: set[int] = set()
    channels = []
    for m in cluster:
        if m.channel_id in seen:
            continue  # one line a channel: its first copy
        seen.add(m.channel_id)
        channels.append(
            {
                "channel": m.handle,
                "title": m.title,
                "message_id": m.message_id,
                "date": m.date.isoformat(),
                "lag": "first" if m is first else lag_text(m.date - first.date),
                "post_url": post_link(m.handle, m.message_id),
            }
        )
    return {
        "size": len(cluster),
        "count": len(channels),
        "first": {"channel": first.handle, "message_id": first.message_id},
        "channels": channels[:NAMED],
        "more": max(0, len(channels) - NAMED),
    }


def alerted(session: Session, cluster: list[Member], post_id: int) -> set[int]:
    """The subscriptions already sent (or being sent) an alert about another post of the
    cluster: what they hear next is a follow-up. A pending one is regrouped instead."""
    others = [m.post_id for m in cluster if m.post_id != post_id]
    if not others:
        return set()
    return set(
        session.scalars(
            select(AlertOutbox.subscription_id)
            .where(
                AlertOutbox.post_id.in_(others),
                AlertOutbox.kind.in_(("flag", "echo")),
                AlertOutbox.status.in_(("sent", "sending")),
            )
            .distinct()
        )
    )


def regroup(session: Session, cluster: list[Member], post_id: int, payload: dict[str, Any]) -> None:
    """The alerts still waiting about the cluster's other posts take its event and channels,
    so the statement and its echoes go out as one message (the sender groups by event)."""
    others = [m.post_id for m in cluster if m.post_id != post_id]
    if not others:
        return
    for row in session.scalars(
        select(AlertOutbox).where(
            AlertOutbox.post_id.in_(others),
            AlertOutbox.kind == "flag",
            AlertOutbox.status == "pending",
        )
    ):
        # A new dict: the JSON column sees a replaced value, not an edited one.
        row.payload = {**row.payload, "event": payload["event"], "echo": payload["echo"]}


def new_channel(cluster: list[Member], post_id: int) -> bool:
    """Whether the post brings the statement to a channel that had not posted it before."""
    mine = next(m for m in cluster if m.post_id == post_id)
    return not any(
        m.channel_id == mine.channel_id
        and m.post_id != post_id
        and (m.date, m.post_id)
        < (
            mine.date,
            mine.post_id,
        )
        for m in cluster
    )
