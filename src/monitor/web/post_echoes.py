"""The post page's echo cluster (#15): who said it first, who repeated it, and how much later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from monitor.store.echoes import cluster_of, cluster_size, lag_text, members

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


def echoes(db: Session, post_id: int) -> tuple[list[Echo], int]:
    """The cluster of ``post_id``, earliest first (at most SHOWN, and the post itself), and
    its size; ([], 0) when it is in none."""
    cluster_id = cluster_of(db, post_id)
    if cluster_id is None:
        return [], 0
    rows = members(db, cluster_id, limit=SHOWN)
    if not any(m.post_id == post_id for m in rows):
        rows += members(db, cluster_id, only=post_id)
    first = rows[0].date
    shown = [
        Echo(
            m.post_id,
            m.handle,
            m.title,
            m.message_id,
            m.date,
            "first" if i == 0 else lag_text(m.date - first),
            m.post_id == post_id,
            m.similarity,
        )
        for i, m in enumerate(rows)
    ]
    return shown, cluster_size(db, cluster_id)
