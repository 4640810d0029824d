"""The latest review of a post as SQL subqueries, and constant LIMITs: the queue's building
blocks (out of web/queries.py to keep that module small, #14)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import literal_column, select

from monitor.store.models import REVIEW_DECISIONS, Post, Review

DECISIONS = REVIEW_DECISIONS


def fixed_limit(n: int) -> Any:
    """A LIMIT written into the SQL rather than bound. PostgreSQL plans a prepared statement
    once (a generic plan) only when that plan is about as cheap as planning each execution; with
    the LIMIT unknown it never is, and planning a queue page cost more than running it (3 ms
    and 2 ms, #5 benchmark). The queue's limits are constants, so the SQL text stays the same."""
    return literal_column(str(int(n)))


@cache
def latest_decision() -> Any:
    """Built once: statements are immutable, and building this one cost ~0.2 ms a page."""
    return (
        select(Review.decision)
        .where(Review.post_id == Post.id, Review.decision.in_(DECISIONS))
        .order_by(Review.id.desc())
        .limit(fixed_limit(1))
        .correlate(Post)
        .scalar_subquery()
    )


@cache
def latest_assignee() -> Any:
    return (
        select(Review.assigned_to)
        .where(Review.post_id == Post.id)
        .order_by(Review.id.desc())
        .limit(fixed_limit(1))
        .correlate(Post)
        .scalar_subquery()
    )
