"""Forwards, mentions and links as edges (#15): the channels a post points at.

A pipeline hook: each new or edited post's forwarded-from channel, the @handles of its text
and its t.me links are kept in ``channel_refs``. `monitor channels discovered` reads them for
the channels nobody monitors yet. All of it is the adversary's text: only what has the shape
of a Telegram username (5–32 letters, digits and _, starting with a letter) is kept, at most
MAX_REFS a post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from monitor.collect.records import PostRecord
from monitor.store.ingest import Changed
from monitor.store.models import Channel, ChannelRef

MAX_REFS = 20
_USERNAME = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_MENTION = re.compile(rf"(?<![\w@/.])@({_USERNAME})(?![\w])", re.A)
# ASCII only: with re.I alone, [A-Za-z] also matches ſ, K (Kelvin) and İ, look-alike handles.
_LINK = re.compile(
    rf"(?<![\w.])(?:https?://)?(?:t|telegram)\.me/(?:s/)?({_USERNAME})(?![\w])", re.I | re.A
)
# t.me paths that are not channels.
_NOT_CHANNELS = frozenset(
    {
        "joinchat",
        "addstickers",
        "addemoji",
        "share",
        "proxy",
        "socks",
        "iv",
        "login",
        "setlanguage",
        "addlist",
        "boost",
    }
)
# "-100…" is how Bot API ids write a channel; a bare id is the channel's own.
_NUMERIC = re.compile(r"-100(\d{5,15})|(\d{5,15})")
# How Telethon and the exports name a forward's user or chat peer: not a channel handle (a
# person who registered "user123" would be the account analysts add).
_PEER = re.compile(r"(?:user|chat|channel)\d+", re.I)


def _forward_target(channel: str | None) -> str | None:
    if not channel:
        return None
    c = channel.strip().removeprefix("@")
    if _PEER.fullmatch(c):
        return None
    if re.fullmatch(_USERNAME, c, re.A):
        return c.lower()
    m = _NUMERIC.fullmatch(c)
    # An id without a handle: kept as one, to be resolved once the channel is known (#15).
    return f"id:{m.group(1) or m.group(2)}" if m else None


def refs_of(record: PostRecord) -> list[tuple[str, str, str | None]]:
    """(kind, target, name) of the channels ``record`` forwards, links and mentions."""
    out: dict[tuple[str, str], str | None] = {}
    fwd = record.forwarded_from
    if fwd is not None and (target := _forward_target(fwd.channel)):
        out[("forward", target)] = (fwd.name or "")[:300] or None
    for kind, pattern in (("link", _LINK), ("mention", _MENTION)):
        for m in pattern.finditer(record.text):
            handle = m.group(1).lower()
            if handle not in _NOT_CHANNELS and len(out) < MAX_REFS:
                out.setdefault((kind, handle), None)
    return [(k, t, n) for (k, t), n in out.items()]


class RefHook:
    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        touched = [c for c in changed if c.status in ("new", "edited")]
        if not touched:
            return
        edited = [c.post_id for c in touched if c.status == "edited"]
        if edited:
            session.execute(delete(ChannelRef).where(ChannelRef.post_id.in_(edited)))
        rows = [
            {
                "post_id": c.post_id,
                "channel_id": channel.id,
                "kind": kind,
                "target": target,
                "name": name,
                "seen_at": c.record.date,
            }
            for c in touched
            for kind, target, name in refs_of(c.record)
            if target != channel.handle  # a channel linking itself is no edge
        ]
        if rows:
            session.execute(insert(ChannelRef), rows)


@dataclass(frozen=True, slots=True)
class Discovered:
    target: str  # handle, or id:NUMBER
    name: str | None
    refs: int
    forwards: int
    mentions: int  # @handles and t.me links
    by: list[tuple[str, int]]  # monitored channels, most references first
    first_seen: datetime
    last_seen: datetime


def discovered(session: Session, *, limit: int = 200) -> list[Discovered]:
    """Channels referenced by monitored ones and not monitored themselves, most referenced
    first."""
    monitored = select(Channel.handle)
    base = ChannelRef.target.not_in(monitored)
    top = list(
        session.execute(
            select(
                ChannelRef.target,
                func.count(),
                func.sum(case((ChannelRef.kind == "forward", 1), else_=0)),
                func.min(ChannelRef.seen_at),
                func.max(ChannelRef.seen_at),
                func.max(ChannelRef.name),
            )
            .where(base)
            .group_by(ChannelRef.target)
            .order_by(func.count().desc(), ChannelRef.target)
            .limit(limit)
        ).all()
    )
    if not top:
        return []
    by: dict[str, list[tuple[str, int]]] = {}
    for target, handle, n in session.execute(
        select(ChannelRef.target, Channel.handle, func.count())
        .join(Channel, Channel.id == ChannelRef.channel_id)
        .where(ChannelRef.target.in_([t[0] for t in top]))
        .group_by(ChannelRef.target, Channel.handle)
        .order_by(func.count().desc(), Channel.handle)
    ):
        by.setdefault(target, []).append((handle, n))
    return [
        Discovered(t, name, n, int(fw or 0), n - int(fw or 0), by.get(t, []), first, last)
        for t, n, fw, first, last, name in top
    ]
