"""Reading echo clusters and quotes (#15) for exports and the console: a post's cluster, its
size and first publisher, computed from the members so that a back-filled earlier post is the
first; the statements a post quotes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.store.models import Channel, EchoMember, EchoQuote, Post


def clusters_of(session: Session, post_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """post id -> ``{"id", "size", "first": {"channel", "message_id"}}`` for the posts that
    are in a cluster (interface.md, ``export posts``)."""
    if not post_ids:
        return {}
    member_of = dict(
        session.execute(
            select(EchoMember.post_id, EchoMember.cluster_id).where(
                EchoMember.post_id.in_(post_ids)
            )
        ).all()
    )
    if not member_of:
        return {}
    ids = sorted(set(member_of.values()))
    sizes = dict(
        session.execute(
            select(EchoMember.cluster_id, func.count())
            .where(EchoMember.cluster_id.in_(ids))
            .group_by(EchoMember.cluster_id)
        ).all()
    )
    firsts: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(EchoMember.cluster_id, Channel.handle, Post.message_id)
        .join(Post, Post.id == EchoMember.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(EchoMember.cluster_id.in_(ids))
        .order_by(EchoMember.cluster_id, Post.date, Post.id)
    ).all()
    for cid, handle, message_id in rows:
        firsts.setdefault(cid, {"channel": handle, "message_id": message_id})
    return {
        pid: {"id": cid, "size": sizes.get(cid, 0), "first": firsts.get(cid)}
        for pid, cid in member_of.items()
    }


def quotes_of(session: Session, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """post id -> the statements of other channels it quotes, ``[{"channel", "message_id"}]``,
    earliest first (interface.md, ``export posts``)."""
    if not post_ids:
        return {}
    out: dict[int, list[dict[str, Any]]] = {}
    for pid, handle, message_id in session.execute(
        select(EchoQuote.post_id, Channel.handle, Post.message_id)
        .join(Post, Post.id == EchoQuote.quoted_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(EchoQuote.post_id.in_(post_ids))
        .order_by(EchoQuote.post_id, Post.date, Post.id)
    ):
        out.setdefault(pid, []).append({"channel": handle, "message_id": message_id})
    return out


@dataclass(frozen=True, slots=True)
class Member:
    cluster_id: int
    post_id: int
    channel_id: int
    handle: str
    title: str | None
    message_id: int
    date: datetime
    similarity: float


def cluster_of(session: Session, post_id: int) -> int | None:
    return session.scalar(select(EchoMember.cluster_id).where(EchoMember.post_id == post_id))


def cluster_size(session: Session, cluster_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(EchoMember).where(EchoMember.cluster_id == cluster_id)
        )
        or 0
    )


def members(
    session: Session, cluster_id: int, *, limit: int | None = None, only: int | None = None
) -> list[Member]:
    """The cluster's posts, earliest first: the first publisher, then each echo; the first
    ``limit`` of them, or ``only`` that post (a page must not read a year-long cluster whole)."""
    query = (
        select(
            EchoMember.cluster_id,
            Post.id,
            Post.channel_id,
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
    )
    if only is not None:
        query = query.where(Post.id == only)
    if limit is not None:
        query = query.limit(limit)
    return [Member(*row) for row in session.execute(query).all()]


def lag_text(delta: timedelta) -> str:
    """How long after the first publisher an echo came, as analysts read it."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"+{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"+{hours} h {minutes:02d} min"
    return f"+{hours // 24} days"
