"""The one record shape every source yields and the store ingests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Source = Literal["telethon", "web", "export"]
SOURCES: tuple[Source, ...] = ("telethon", "web", "export")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ForwardInfo:
    channel: str | None = None  # handle or numeric id as text, when Telegram reveals it
    message_id: int | None = None
    name: str | None = None  # display name of the original author/channel


@dataclass(frozen=True, slots=True)
class MediaInfo:
    type: str  # photo, video, document, voice, audio, sticker, animation, webpage, poll, ...
    mime: str | None = None
    size: int | None = None
    duration: float | None = None
    sha256: str | None = None
    # Where the post's image can be got later (#13), for the media job when ``sha256`` is None
    # or names bytes not in the media store (an export's file). Left out of equality: they say
    # where the bytes are, not what the post is (the preview's CDN address changes between
    # loads), and ingest never stores them on the post.
    url: str | None = field(default=None, compare=False)  # the web preview's image address
    path: str | None = field(default=None, compare=False)  # an export's file, inside the export
    # A still kept in the media store in place of a file not taken (a video's thumbnail, an
    # image file past the cap), while ``sha256`` stays the hash of the file itself.
    thumb_sha256: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PostRecord:
    """A channel post as seen by a source at one moment.

    ``date`` and ``edited_at`` are timezone-aware UTC datetimes.
    """

    message_id: int
    date: datetime
    text: str
    source: Source
    views: int | None = None
    forwards: int | None = None
    forwarded_from: ForwardInfo | None = None
    reply_to: int | None = None
    media: MediaInfo | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    sha256: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Hashed once: ingest compares it against the stored hash for every record it sees.
        object.__setattr__(self, "sha256", text_sha256(self.text))
