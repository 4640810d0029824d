"""The interface every live source implements, the errors a pass can end with, and its result.

A source lists a channel's posts as *batches*; each batch names the id range it is
authoritative for (``low``..``high``): every post that exists in that range is in the batch
(or an earlier batch of the same listing). That is what lets the collector tell a deleted post
(stored, inside a covered range, not listed) from one it simply has not read, and a hole in the
ids (inside a covered range: the post no longer exists) from a gap (outside every covered range:
not read yet). See docs/collectors.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from monitor.collect.records import PostRecord, Source

# "Everything above low": a listing that ran to the channel's newest post.
TOP = 2**62


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What a source needs to know about a channel, copied out of the database row."""

    channel_id: int
    handle: str
    cursor: int  # highest message id stored; 0 before the first pass
    telegram_id: int | None = None
    access_hash: int | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    telegram_id: int
    access_hash: int | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Batch:
    records: list[PostRecord]
    low: int  # ids low..high (inclusive) are fully listed
    high: int
    title: str | None = None


class PostSource(Protocol):
    """A live source: the Telethon client or the public web preview."""

    name: Source

    async def resolve(self, state: ChannelState) -> Resolved | None:
        """Look the channel up once; None when the source needs no resolving."""
        ...

    def fetch(self, state: ChannelState, since_id: int, recheck_from: int) -> AsyncIterator[Batch]:
        """Posts above ``since_id`` plus the stored recent ones from ``recheck_from`` up.

        ``since_id`` 0 means the channel was never collected: list its newest posts only.
        """
        ...

    def fetch_range(self, state: ChannelState, low: int, high: int) -> AsyncIterator[Batch]:
        """Back-fill: posts with low <= id <= high."""
        ...


class SourceError(Exception):
    """A pass failed for one channel; recorded in its health, other channels carry on.

    ``status`` is the short word `monitor channels list` shows.
    """

    status = "error"

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ChannelUnavailable(SourceError):
    """The channel does not exist, is private, or shows no public preview."""

    status = "unavailable"


class MarkupChanged(SourceError):
    status = "markup"


class NetworkError(SourceError):
    status = "network"


class Cooldown(SourceError):
    """Telegram asked us to wait longer than we are willing to sleep in a pass."""

    status = "cooldown"

    def __init__(self, message: str, *, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class AccountUnusable(SourceError):
    """The session is revoked, banned or logged out: every channel of the account stops."""

    status = "revoked"


class NotConfigured(SourceError):
    status = "not configured"


@dataclass(slots=True)
class PassResult:
    handle: str
    outcome: str  # ok | skipped | cooldown | error
    message: str = ""
    status: str = "ok"
    new: int = 0
    edited: int = 0
    deleted: int = 0

    @property
    def failed(self) -> bool:
        return self.outcome == "error"

    def line(self) -> str:
        if self.outcome == "ok":
            return f"{self.handle}: {self.new} new, {self.edited} edited, {self.deleted} deleted"
        return f"{self.handle}: {self.outcome}: {self.message}"
