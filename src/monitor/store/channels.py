"""Channel and group records: registration, lookup, and the yaml sync."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import ConfigError
from monitor.store.models import Channel, ChannelName, Group


def normalise_handle(handle: str) -> str:
    """`@Name`, `t.me/Name` and `https://t.me/s/Name` all name the channel `name`."""
    h = handle.strip()
    for prefix in ("https://", "http://"):
        h = h.removeprefix(prefix)
    for prefix in ("t.me/s/", "t.me/", "telegram.me/", "@"):
        h = h.removeprefix(prefix)
    h = h.strip("/").lower()
    if not h or not all(c.isalnum() or c == "_" for c in h):
        raise ConfigError(f"not a channel handle: {handle!r}", key="HANDLE")
    return h


def post_link(handle: str, message_id: int | str) -> str:
    """The post on Telegram itself, for people to open: always t.me, whatever
    ``telegram_web_base`` says (that is where collectors read, and tests point it elsewhere).
    ``handle`` is quoted: a forwarded-from channel name comes from the adversary."""
    return f"https://t.me/{quote(str(handle))}/{message_id}"


def get_group(session: Session, name: str, *, create: bool = True) -> Group | None:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None and create:
        group = Group(name=name, kind="militia", aliases=[])
        session.add(group)
        session.flush()
    return group


def get_channel(session: Session, handle: str) -> Channel | None:
    return session.scalar(select(Channel).where(Channel.handle == normalise_handle(handle)))


def ensure_channel(
    session: Session,
    handle: str,
    *,
    source: str = "web",
    title: str | None = None,
    telegram_id: int | None = None,
    group: str | None = None,
    interval: int | None = None,
    kind: str | None = None,
) -> Channel:
    """The channel with this handle, registered if new; records a changed title in its history.

    ``kind`` (monitor.channel_kinds) None keeps the channel's kind; a new one is a `group`."""
    channel = get_channel(session, handle)
    if channel is None:
        channel = Channel(
            handle=normalise_handle(handle),
            source=source,
            title=title,
            telegram_id=telegram_id,
            cursor=0,
            enabled=True,
            gaps=[],
            status="ok",
        )
        if interval is not None:
            channel.interval_seconds = interval
        session.add(channel)
    else:
        if telegram_id is not None and channel.telegram_id is None:
            channel.telegram_id = telegram_id
        if title and title != channel.title:
            channel.title = title
    if kind is not None:
        channel.kind = kind
    if group is not None:
        channel.group = get_group(session, group)
    session.flush()
    if title:
        known = session.scalar(
            select(ChannelName.id).where(
                ChannelName.channel_id == channel.id,
                ChannelName.title == title,
                ChannelName.handle == channel.handle,
            )
        )
        if known is None:
            session.add(ChannelName(channel_id=channel.id, handle=channel.handle, title=title))
    return channel
