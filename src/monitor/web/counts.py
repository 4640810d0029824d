"""The queue's counts per severity (#14): how much of each band is left in the filter."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, func
from sqlalchemy.orm import Session

from monitor.match.severity import SEVERITIES as ALL_SEVERITIES
from monitor.store.models import Match
from monitor.web.queries import QueueQuery, filtered


def severity_counts(session: Session, qq: QueueQuery, me_id: int | None) -> dict[str, int]:
    """How many posts of each severity the filter holds, whatever its minimum severity and
    page: the counts over the queue the analyst is working through. Posts with no severity
    (a search over all posts) count under "none"."""
    conn = session.connection()
    stmt = _counted(session.get_bind().dialect.name, qq.counted(), me_id if qq.mine else None)
    out = dict.fromkeys(ALL_SEVERITIES, 0)
    for rank, n in conn.execute(stmt):
        name = ALL_SEVERITIES[rank] if rank is not None and 0 <= rank < len(out) else "none"
        out[name] += int(n)
    return out


@lru_cache(maxsize=256)
def _counted(dialect: str, qq: QueueQuery, me_id: int | None) -> Select[Any]:
    """Built once per filter, like the page's own statements (#5 benchmark)."""
    stmt = filtered(dialect, qq, me_id, (Match.severity_rank, func.count()))
    return stmt.group_by(Match.severity_rank)
