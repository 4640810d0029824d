"""The post page's echo cluster (#15): who said it first, who repeated it, and how much later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import Channel, EchoMember, Post

# The members listed; a channel repeating itself hourly for a year is one cluster.
SHOWN = 50


@dataclass(frozen=True, slots=True)
class Echo:
    post_id: int
    handle: str
    title: str | None
    message_id: int
    date: datetime
    lag: str  # "first", or how long after the first
    this: bool  # the post on the page
    similarity: float


def lag_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"+{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"+{hours} h {minutes:02d} min"
    return f"+{hours // 24} days"


def echoes(db: Session, post_id: int) -> tuple[list[Echo], int]:
    """The cluster of ``post_id``, earliest first (at most SHOWN), and its size; ([], 0)."""
    cluster_id = db.scalar(select(EchoMember.cluster_id).where(EchoMember.post_id == post_id))
    if cluster_id is None:
        return [], 0
    rows = db.execute(
        select(
            Post.id,
            Channel.handle,
            Channel.title,
            Post.message_id,
            Post.date,
            EchoMember.similarity,
        )
        .join(EchoMember, EchoMember.post_id == Post.id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(EchoMember.cluster_id == cluster_id)
        .order_by(Post.date, Post.id)
    ).all()
    first = rows[0].date
    out = [
        Echo(
            pid,
            handle,
            title,
            mid,
            date,
            "first" if i == 0 else lag_text(date - first),
            pid == post_id,
            sim,
        )
        for i, (pid, handle, title, mid, date, sim) in enumerate(rows)
    ]
    shown = out[:SHOWN]
    if not any(e.this for e in shown):
        shown.append(next(e for e in out if e.this))
    return shown, len(out)
