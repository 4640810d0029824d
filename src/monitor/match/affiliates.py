"""Who answers whom (#15): the affiliated channels that posted the same cue verse, or echoed
the same statement, near a post's time. Their number raises the post's score (severity.yaml,
``affiliated_per_channel``), so a statement a facade network repeats within hours rises in
the queue above one said once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from monitor.store.models import Channel, EchoMember, Group, Match, Post, SignalRow


def affiliated_group_ids(session: Session, group_id: int | None) -> set[int]:
    """A group, its parent, its children and its siblings: who answers whose cue."""
    if group_id is None:
        return set()
    group = session.get(Group, group_id)
    if group is None:
        return set()
    roots = {group.id} | ({group.parent_id} if group.parent_id else set())
    rows = session.scalars(
        select(Group.id).where(or_(Group.id.in_(roots), Group.parent_id.in_(roots)))
    )
    return set(rows) | roots


def same_cue(
    groups: set[int], channel: Channel, refs: set[str], lo: datetime, hi: datetime
) -> Select[int]:
    """Ids of the posts of the other channels of ``groups`` that carry one of the cue verses
    ``refs``, dated between ``lo`` and ``hi``."""
    return (
        select(Post.id)
        .join(Channel, Channel.id == Post.channel_id)
        .join(Match, Match.post_id == Post.id)
        .join(SignalRow, SignalRow.match_id == Match.id)
        .where(
            Channel.group_id.in_(groups),
            Post.channel_id != channel.id,
            SignalRow.kind == "verse_cue",
            SignalRow.ref.in_(refs),
            Post.date.between(lo, hi),
        )
    )


def same_cue_channels(
    session: Session,
    groups: set[int],
    post: Post,
    channel: Channel,
    refs: set[str],
    window: timedelta,
) -> set[int]:
    """The other affiliated channels that posted one of the cues ``refs`` within ``window``."""
    if not groups or not refs:
        return set()
    ids = same_cue(groups, channel, refs, post.date - window, post.date + window)
    return set(session.scalars(select(Post.channel_id).where(Post.id.in_(ids)).distinct()))


def echo_channels(
    session: Session, groups: set[int], post: Post, channel: Channel, window: timedelta
) -> set[int]:
    """The other affiliated channels whose posts are in this post's echo cluster (a near copy
    of the same statement, network/echo.py) within ``window`` of it."""
    if not groups:
        return set()
    mine, theirs = aliased(EchoMember), aliased(EchoMember)
    q = (
        select(Post.channel_id)
        .select_from(mine)
        .join(theirs, theirs.cluster_id == mine.cluster_id)
        .join(Post, Post.id == theirs.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(
            mine.post_id == post.id,
            Post.channel_id != channel.id,
            Channel.group_id.in_(groups),
            Post.date.between(post.date - window, post.date + window),
        )
        .distinct()
    )
    return set(session.scalars(q))


def echo_members(
    session: Session, post_ids: set[int], channel: Channel, groups: set[int], window: timedelta
) -> list[int]:
    """The posts of OTHER affiliated channels in the echo clusters of ``post_ids`` (posts of
    ``channel``) dated within ``window`` of one of them: whose echo count these change.
    Bounded, newest first: a cluster can hold a channel's hourly reposts of a year."""
    if not post_ids or not groups:
        return []
    dates = list(
        session.scalars(
            select(Post.date)
            .join(EchoMember, EchoMember.post_id == Post.id)
            .where(Post.id.in_(post_ids))
        )
    )
    if not dates:
        return []  # none of them is in a cluster: most posts
    mine, theirs = aliased(EchoMember), aliased(EchoMember)
    q = (
        select(Post.id)
        .select_from(mine)
        .join(theirs, theirs.cluster_id == mine.cluster_id)
        .join(Post, Post.id == theirs.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(
            mine.post_id.in_(post_ids),
            Post.channel_id != channel.id,
            Channel.group_id.in_(groups),
            Post.date.between(min(dates) - window, max(dates) + window),
        )
        .distinct()
        .order_by(Post.id.desc())
        .limit(MAX_RESCORED)
    )
    return list(session.scalars(q))


# Posts of other channels scored again after one batch's echoes: enough for every channel of
# a facade network.
MAX_RESCORED = 200
