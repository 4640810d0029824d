"""Forwards, mentions and links as edges (#15): the channels a post points at.

A pipeline hook: each new or edited post's forwarded-from channel, the @handles of its text
and its t.me links are kept in ``channel_refs``. `monitor channels discovered` reads them for
the channels nobody monitors yet; operators promote them (start monitoring) or ignore them in
the console (web/discovered.py), through the functions at the end. All of it is the adversary's
text: only what has the shape of a Telegram username (5–32 letters, digits and _, starting
with a letter) is kept, at most MAX_REFS a post.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, case, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import CompoundSelect

from monitor.channel_kinds import CHANNEL_KINDS, channel_kind
from monitor.collect.records import PostRecord
from monitor.errors import MonitorError
from monitor.store.channels import ensure_channel, get_group
from monitor.store.ingest import Changed
from monitor.store.models import Channel, ChannelRef, IgnoredChannel

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


def _monitored() -> CompoundSelect[str]:
    """The targets that are monitored channels: their handles, and ``id:NUMBER`` of those
    whose Telegram id is known, so a forward given only by id of a watched channel is no
    discovery."""
    by_id = select(literal("id:", String) + cast(Channel.telegram_id, String)).where(
        Channel.telegram_id.is_not(None)
    )
    return select(Channel.handle).union(by_id)


def discovered(session: Session, *, limit: int = 200) -> list[Discovered]:
    """Channels referenced by monitored ones, neither monitored themselves nor ignored by an
    operator, most referenced first."""
    base = ChannelRef.target.not_in(_monitored()) & ChannelRef.target.not_in(
        select(IgnoredChannel.target)
    )
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


# --- operators' triage: promote or ignore (#15) --------------------------------------------

MAX_REASON = 500  # ignored_channels.reason
SOURCES = ("telethon", "web")
_ID_TARGET = re.compile(r"id:(\d{5,15})")


class Refused(MonitorError):
    """A promote or ignore that cannot be done as asked; nothing was written. Its message is
    shown to the operator as it is."""

    exit_code = 2


def target_of(value: str) -> str:
    """A discovered channel as ``channel_refs`` names it: a handle (``@Name``, ``t.me/Name``
    accepted), lower case, or ``id:NUMBER``."""
    v = value.strip()
    if m := _ID_TARGET.fullmatch(v.lower()):
        return f"id:{m.group(1)}"
    h = v.removeprefix("https://").removeprefix("http://")
    for prefix in ("t.me/s/", "t.me/", "telegram.me/", "@"):
        h = h.removeprefix(prefix)
    h = h.strip("/")
    # The shape refs_of keeps: anything else was never discovered (and may be a look-alike).
    if not re.fullmatch(_USERNAME, h, re.A) or h.lower() in _NOT_CHANNELS:
        raise Refused(f"not a channel handle: {value.strip()[:100]!r}")
    return h.lower()


def _is_monitored(session: Session, target: str) -> bool:
    return session.scalar(select(literal(1)).where(literal(target).in_(_monitored()))) is not None


@dataclass(frozen=True, slots=True)
class Ignored:
    target: str
    by: str
    at: datetime
    reason: str | None
    refs: int  # references so far, ignored or not


def ignored(session: Session) -> list[Ignored]:
    """The ignored channels, most recently ignored first."""
    refs = select(ChannelRef.target, func.count().label("n")).group_by(ChannelRef.target).subquery()
    rows = session.execute(
        select(IgnoredChannel, refs.c.n)
        .outerjoin(refs, refs.c.target == IgnoredChannel.target)
        .order_by(IgnoredChannel.ignored_at.desc(), IgnoredChannel.target)
    )
    return [Ignored(i.target, i.ignored_by, i.ignored_at, i.reason, n or 0) for i, n in rows]


def ignored_hidden(session: Session) -> int:
    """How many channels `discovered` leaves out because an operator ignored them."""
    return (
        session.scalar(
            select(func.count(func.distinct(ChannelRef.target))).where(
                ChannelRef.target.in_(select(IgnoredChannel.target)),
                ChannelRef.target.not_in(_monitored()),
            )
        )
        or 0
    )


def ignore(session: Session, target: str, actor: str, reason: str | None = None) -> IgnoredChannel:
    """Leave ``target`` out of the discovered list until un-ignored."""
    t = target_of(target)
    why = (reason or "").strip() or None
    if why is not None and len(why) > MAX_REASON:
        raise Refused(f"the reason is {len(why)} characters long; at most {MAX_REASON}")
    if _is_monitored(session, t):
        raise Refused(f"{t} is monitored; disable it on the Channels page instead")
    earlier = session.get(IgnoredChannel, t)
    if earlier is not None:
        raise Refused(f"{t} is already ignored (by {earlier.ignored_by})")
    row = IgnoredChannel(target=t, ignored_by=actor[:100], reason=why)
    session.add(row)
    session.flush()
    return row


def unignore(session: Session, target: str) -> IgnoredChannel:
    """List ``target`` among the discovered channels again; returns the row removed."""
    t = target_of(target)
    row = session.get(IgnoredChannel, t)
    if row is None:
        raise Refused(f"{t} is not ignored")
    # A plain DELETE counted, not the ORM's: two operators un-ignoring at once must give the
    # second a message, not a StaleDataError.
    gone = session.execute(delete(IgnoredChannel).where(IgnoredChannel.target == t))
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused(f"{t} is not ignored")
    session.expunge(row)
    return row


def promote(
    session: Session,
    target: str,
    *,
    group: str | None,
    kind: str,
    source: str,
    interval: int | None,
) -> Channel:
    """Start monitoring a discovered channel, registered as `monitor channels add` and the
    console's channel form register one; it leaves the ignored list if it was on it.

    ``group`` must exist already (None: no group): a typo in a form would otherwise found a
    group of its own."""
    t = target_of(target)
    if t.startswith("id:"):
        raise Refused(
            f"{t} cannot be promoted: Telegram gave this forwarded channel only by its id, and "
            "channels are collected by handle. Find its public handle and add that (Channels "
            "page), or ignore it"
        )
    if channel_kind(kind) is None:
        raise Refused(f"kind must be one of {', '.join(CHANNEL_KINDS)}, not {kind[:50]!r}")
    if source not in SOURCES:
        raise Refused(f"source must be one of {', '.join(SOURCES)}, not {source[:50]!r}")
    if interval is not None and not 10 <= interval <= 86400:
        raise Refused(f"the interval must be 10 to 86400 seconds, not {interval}")
    name = (group or "").strip() or None
    if name is not None and get_group(session, name, create=False) is None:
        raise Refused(f"no group named {name[:200]!r}; create it on the Groups page first")
    if _is_monitored(session, t):
        raise Refused(f"{t} is already monitored")
    channel = ensure_channel(session, t, source=source, group=name, interval=interval, kind=kind)
    session.execute(delete(IgnoredChannel).where(IgnoredChannel.target == t))
    return channel
