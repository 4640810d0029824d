"""What one listing of a channel means against what is stored: the posts to write, the posts
deleted since, and the id ranges no listing has covered yet (gaps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from monitor.collect.ranges import Ranges, subtract
from monitor.collect.records import PostRecord
from monitor.store.models import Post

# message id -> (text sha256, views, forwards) as stored
Window = dict[int, tuple[str, int | None, int | None]]


@cache
def _window_query() -> Select[int, str, int | None, int | None]:
    # Built once: constructing it and deriving its cache key cost more than running it on an
    # idle pass (issue #4's 2 ms budget per channel).
    return (
        select(Post.message_id, Post.text_sha256, Post.views, Post.forwards)
        .where(
            Post.channel_id == bindparam("channel_id"),
            Post.deleted_at.is_(None),
            Post.date >= bindparam("since"),
        )
        .order_by(Post.message_id.desc())
        .limit(bindparam("posts"))
    )


def load_window(s: Session, channel_id: int, now: datetime, hours: float, posts: int) -> Window:
    """Stored live posts re-read this pass to catch edits and deletions, as last stored."""
    if not hours or not posts:
        return {}
    rows = s.execute(
        _window_query(),
        {"channel_id": channel_id, "since": now - timedelta(hours=hours), "posts": posts},
    )
    return {r.message_id: (r.text_sha256, r.views, r.forwards) for r in rows}


def unchanged(rec: PostRecord, window: Window) -> bool:
    known = window.get(rec.message_id)
    if known is None or rec.deleted:
        return False
    sha, views, forwards = known
    return (
        rec.sha256 == sha
        and (rec.views is None or rec.views == views)
        and (rec.forwards is None or rec.forwards == forwards)
    )


def inside(mid: int, covered: Ranges) -> bool:
    return any(lo <= mid <= hi for lo, hi in covered)


@dataclass(frozen=True, slots=True)
class Changes:
    records: list[PostRecord]  # new or changed, oldest first; re-reads exactly as stored left out
    gone: list[int]  # stored message ids the listing covered but no longer shows: deleted
    gaps: Ranges  # what is still to back-fill after this listing


def changes(
    cursor: int,
    fetched: dict[int, PostRecord],
    covered: Ranges,
    window: Window,
    gaps: Ranges,
    *,
    backfill: bool = False,
) -> Changes:
    """A gap is an id range above the old cursor that no listing covered; holes inside a
    covered range are deleted posts (or ids Telegram never used)."""
    top = max(fetched, default=0)
    new_gaps = gaps
    if not backfill and cursor > 0 and top > cursor:
        new_gaps = gaps + subtract([[cursor + 1, top]], covered)
    new_gaps = subtract(new_gaps, covered)
    gone = [mid for mid in window if mid not in fetched and inside(mid, covered)]
    records = [fetched[mid] for mid in sorted(fetched) if not unchanged(fetched[mid], window)]
    return Changes(records, gone, new_gaps)
