"""The Telethon source: a user account reading channel history over MTProto.

Everything Telegram is reached through ``TelegramClientLike`` (the few client calls used), so
tests and the benchmark drive this module with ``monitor.collect.fake`` instead of the network.
History is read oldest-first from the cursor, so each committed batch can advance the cursor
and a pass cut short anywhere loses nothing (issue #4).

Images (#13): a photo (its largest size under the media store's cap), an image sent as a file,
and a video's still frame go into the media store whenever one is given; other files only when
``telegram_download_media`` adds a second store for them. ``MediaInfo.sha256`` names the media
itself as kept, ``thumb_sha256`` a still kept in place of a file not taken (a video's). A
download that fails leaves them None for the media job to fetch later; it never costs the post
its text.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from telethon import errors
from telethon.tl import types
from telethon.tl.custom.message import Message

from monitor import metrics
from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord, Source
from monitor.collect.source import (
    TOP,
    AccountUnusable,
    Batch,
    ChannelState,
    ChannelUnavailable,
    Cooldown,
    NetworkError,
    Resolved,
    SourceError,
)
from monitor.media.store import MediaStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# GetHistory returns at most 100 messages per request; one batch per request.
_CHUNK = 100

_REVOKED = (
    errors.AuthKeyUnregisteredError,
    errors.AuthKeyDuplicatedError,
    errors.SessionRevokedError,
    errors.SessionExpiredError,
    errors.UserDeactivatedError,
    errors.UserDeactivatedBanError,
    errors.UnauthorizedError,
)


class TelegramClientLike(Protocol):
    """The part of ``telethon.TelegramClient`` the collector uses."""

    async def get_entity(self, entity: Any) -> Any: ...

    def iter_messages(
        self,
        entity: Any,
        limit: int | None = None,
        *,
        min_id: int = 0,
        max_id: int = 0,
        reverse: bool = False,
    ) -> AsyncIterator[Any]: ...

    async def download_media(self, message: Any, file: Any = None, *, thumb: Any = None) -> Any: ...


class StaleEntity(ChannelUnavailable):
    """Telegram rejected the cached id/access hash: the next pass resolves the handle again."""

    status = "stale"


def _largest_photo_size(photo: Any) -> int | None:
    best = None
    for size in getattr(photo, "sizes", None) or []:
        value = getattr(size, "size", None)
        if value is None and getattr(size, "sizes", None):
            value = max(size.sizes)
        if isinstance(value, int) and (best is None or value > best):
            best = value
    return best


def _thumb_bytes(size: Any) -> int | None:
    """What downloading one photo size costs; None for sizes that are no picture to read.

    The stripped size is a ~40 px blur inlined in the message and a path size is a sticker's
    outline: neither holds legible text. Video sizes are animations, not stills.
    """
    value: object = None
    if isinstance(size, types.PhotoSize):
        value = size.size
    elif isinstance(size, types.PhotoSizeProgressive):
        value = max(size.sizes) if size.sizes else None
    elif isinstance(size, types.PhotoCachedSize):
        value = len(size.bytes)
    return value if isinstance(value, int) else None


def best_thumb(sizes: Any, max_bytes: int) -> str | None:
    """The type letter of the largest readable size not over ``max_bytes`` (None if none is).

    Passed to ``download_media(thumb=...)`` as the type string: Telethon looks a string up
    among the sizes, while a PhotoSizeProgressive object is not one it accepts.
    """
    best: tuple[int, str] | None = None
    for size in sizes or []:
        cost = _thumb_bytes(size)
        if cost is not None and cost <= max_bytes and (best is None or cost > best[0]):
            best = (cost, size.type)
    return best[1] if best else None


@dataclasses.dataclass(frozen=True, slots=True)
class ImagePlan:
    """How to get a message's image: the whole file (``thumb`` None) or one of its sizes."""

    thumb: str | None


def image_plan(media: Any, max_bytes: int) -> ImagePlan | None:
    """What to download to keep the image of ``media``, or None when it has none under the cap.

    A photo: its largest size under the cap. An image document: the file when it fits, else
    its largest thumbnail. A video: its still frame only, never the video.
    """
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        thumb = best_thumb(media.photo.sizes, max_bytes)
        return ImagePlan(thumb) if thumb else None
    info = media_info(media)
    if info is None or not isinstance(media, types.MessageMediaDocument):
        return None
    doc = media.document
    if info.type == "document" and (info.mime or "").lower().startswith("image/"):
        if info.size is not None and info.size <= max_bytes:
            return ImagePlan(None)
    elif info.type != "video":
        return None
    thumb = best_thumb(getattr(doc, "thumbs", None), max_bytes)
    return ImagePlan(thumb) if thumb else None


async def download_image(client: TelegramClientLike, msg: Any, max_bytes: int) -> bytes | None:
    """The bytes of ``msg``'s image as ``image_plan`` chooses it; None if it has none.

    Errors are the caller's: the source logs them, the media job retries them.
    """
    plan = image_plan(msg.media, max_bytes)
    if plan is None:
        return None
    if plan.thumb is None:
        data = await client.download_media(msg, bytes)
    else:
        data = await client.download_media(msg, bytes, thumb=plan.thumb)
    return data if isinstance(data, bytes) else None


def media_info(media: Any, sha256: str | None = None) -> MediaInfo | None:
    if media is None or isinstance(media, types.MessageMediaEmpty):
        return None
    if isinstance(media, types.MessageMediaPhoto):
        return MediaInfo("photo", "image/jpeg", _largest_photo_size(media.photo), sha256=sha256)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        doc = media.document
        kind, duration = "document", None
        for attr in doc.attributes:
            if isinstance(attr, types.DocumentAttributeVideo):
                kind = "video_note" if attr.round_message else "video"
                duration = float(attr.duration)
            elif isinstance(attr, types.DocumentAttributeAudio):
                kind = "voice" if attr.voice else "audio"
                duration = float(attr.duration)
            elif isinstance(attr, types.DocumentAttributeSticker):
                kind = "sticker"
            elif isinstance(attr, types.DocumentAttributeAnimated) and kind == "document":
                kind = "animation"
        return MediaInfo(kind, doc.mime_type, doc.size, duration, sha256)
    names = {
        types.MessageMediaPoll: "poll",
        types.MessageMediaWebPage: "webpage",
        types.MessageMediaGeo: "location",
        types.MessageMediaVenue: "location",
        types.MessageMediaContact: "contact",
    }
    return MediaInfo(names.get(type(media), type(media).__name__.removeprefix("MessageMedia")))


def forward_info(msg: Any) -> ForwardInfo | None:
    fwd = msg.fwd_from
    if fwd is None:
        return None
    # Message.forward.chat is filled from the chats Telegram sends along with the history.
    chat = getattr(getattr(msg, "forward", None), "chat", None)
    channel = None
    if isinstance(fwd.from_id, types.PeerChannel):
        channel = getattr(chat, "username", None) or str(fwd.from_id.channel_id)
    elif isinstance(fwd.from_id, types.PeerUser):
        channel = f"user{fwd.from_id.user_id}"
    name = fwd.from_name or getattr(chat, "title", None) or fwd.post_author
    return ForwardInfo(channel, fwd.channel_post, name)


def record_from_message(
    msg: Any, *, media_sha256: str | None = None, thumb_sha256: str | None = None
) -> PostRecord:
    reply = msg.reply_to
    media = media_info(msg.media, media_sha256)
    if media is not None and thumb_sha256 is not None:
        media = dataclasses.replace(media, thumb_sha256=thumb_sha256)
    return PostRecord(
        message_id=msg.id,
        date=msg.date.astimezone(UTC),
        text=msg.message or "",
        source="telethon",
        views=msg.views,
        forwards=msg.forwards,
        forwarded_from=forward_info(msg),
        reply_to=reply.reply_to_msg_id if isinstance(reply, types.MessageReplyHeader) else None,
        media=media,
        edited_at=msg.edit_date.astimezone(UTC) if msg.edit_date else None,
    )


def translate(exc: BaseException, handle: str) -> SourceError | None:
    """The per-channel error a Telethon failure means, or None if it is not one we know."""
    if isinstance(exc, _REVOKED):
        return AccountUnusable(
            f"Telegram session revoked or account banned ({type(exc).__name__}): "
            "run `monitor login` again"
        )
    if isinstance(exc, errors.ChannelPrivateError):
        return ChannelUnavailable(
            f"@{handle} is private or this account was banned from it", status="private"
        )
    if isinstance(exc, errors.UsernameNotOccupiedError | errors.UsernameInvalidError):
        return ChannelUnavailable(f"no Telegram channel is called @{handle}", status="missing")
    if isinstance(exc, errors.ChannelInvalidError):
        return StaleEntity(f"Telegram rejected the cached id of @{handle}; resolving it again")
    if isinstance(exc, ValueError):  # get_entity: "No user has ... as username"
        return ChannelUnavailable(f"@{handle} not found: {exc}", status="missing")
    if isinstance(exc, errors.RPCError):
        return SourceError(f"Telegram error {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError | asyncio.TimeoutError):
        return NetworkError(f"network error talking to Telegram: {exc or type(exc).__name__}")
    return None


class TelethonSource:
    name: Source = "telethon"

    def __init__(
        self,
        client: TelegramClientLike,
        *,
        flood_sleep_max: int = 30,
        max_posts: int = 2000,
        initial_posts: int = 100,
        media: MediaStore | None = None,
        files: MediaStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``media`` keeps images (photos, image files, video stills) under its cap; ``files``,
        when given, also keeps every other file under its own cap (telegram_download_media)."""
        self.client = client
        self.flood_sleep_max = flood_sleep_max
        self.max_posts = max_posts
        self.initial_posts = initial_posts
        self.media = media
        self.files = files
        self.sleep = sleep
        # After a flood wait too long to sleep through on a download, downloads stop until it
        # ends (the media job fetches those images later) instead of cooling the channel down.
        self._downloads_after: datetime | None = None

    async def _flood(self, exc: errors.FloodWaitError, handle: str) -> None:
        seconds = int(exc.seconds)
        if seconds > self.flood_sleep_max:
            metrics.FLOOD_WAIT_SECONDS.labels("cooldown").inc(seconds)
            until = datetime.now(UTC) + timedelta(seconds=seconds)
            raise Cooldown(
                f"Telegram flood wait of {seconds}s on @{handle}; cooling down", until=until
            ) from None
        metrics.FLOOD_WAIT_SECONDS.labels("slept").inc(seconds)
        await self.sleep(seconds)

    async def _call(self, handle: str, make: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                return await make()
            except errors.FloodWaitError as exc:
                await self._flood(exc, handle)
            except Exception as exc:
                mapped = translate(exc, handle)
                if mapped is None:
                    raise
                raise mapped from exc

    @staticmethod
    def _peer(state: ChannelState) -> Any:
        if state.telegram_id is not None and state.access_hash is not None:
            # No API call: the cached id and hash are all Telegram needs (issue #4).
            return types.InputPeerChannel(state.telegram_id, state.access_hash)
        return state.handle

    async def resolve(self, state: ChannelState) -> Resolved | None:
        entity = await self._call(state.handle, lambda: self.client.get_entity(state.handle))
        if not isinstance(entity, types.Channel) or not entity.broadcast:
            raise ChannelUnavailable(f"@{state.handle} is not a channel", status="missing")
        return Resolved(entity.id, entity.access_hash, entity.title)

    async def _keep(
        self, handle: str, msg: Any, store: MediaStore, get: Callable[[], Awaitable[Any]]
    ) -> str | None:
        """Download into ``store``; None (logged) when it fails: the text goes on regardless."""
        if self._downloads_after is not None:
            if datetime.now(UTC) < self._downloads_after:
                return None
            self._downloads_after = None
        try:
            data = await self._call(handle, get)
            return store.put(data) if isinstance(data, bytes) else None
        except Cooldown as exc:
            self._downloads_after = exc.until
            log.warning("collect %s: media of message %s not downloaded: %s", handle, msg.id, exc)
        except Exception as exc:
            log.warning(
                "collect %s: media of message %s not downloaded (%s: %s)",
                handle,
                msg.id,
                type(exc).__name__,
                exc,
            )
        return None

    async def _media_hashes(self, msg: Any, handle: str) -> tuple[str | None, str | None]:
        """(sha256 of the media itself, sha256 of a still kept in its place), as kept."""
        info = media_info(msg.media)
        if info is None:
            return None, None
        sha = thumb = None
        whole_tried = False
        images = self.media
        plan = image_plan(msg.media, images.max_bytes) if images is not None else None
        if images is not None and plan is not None:
            cap = images.max_bytes
            got = await self._keep(
                handle, msg, images, lambda: download_image(self.client, msg, cap)
            )
            # A photo's largest size under the cap is our copy of the photo; a document's or a
            # video's thumbnail is only a still standing in for a file we did not take.
            if plan.thumb is None or info.type == "photo":
                sha, whole_tried = got, True
            else:
                thumb = got
        files = self.files
        if (
            not whole_tried
            and files is not None
            and info.size is not None
            and info.size <= files.max_bytes
        ):
            sha = await self._keep(
                handle, msg, files, lambda: self.client.download_media(msg, bytes)
            )
        return sha, thumb

    async def _record(self, msg: Any, handle: str) -> PostRecord:
        sha = thumb = None
        if msg.media is not None:
            sha, thumb = await self._media_hashes(msg, handle)
        return record_from_message(msg, media_sha256=sha, thumb_sha256=thumb)

    async def _ascending(
        self, state: ChannelState, after: int, before: int, limit: int, top: int
    ) -> AsyncIterator[Batch]:
        """Messages after..before (exclusive) oldest first; resumes itself after short floods."""
        peer, low, last, seen = self._peer(state), after + 1, after, 0
        while True:
            chunk: list[PostRecord] = []
            if seen >= limit:
                yield Batch([], low, last)
                return
            try:
                async for msg in self.client.iter_messages(
                    peer, limit=limit - seen, min_id=last, max_id=before, reverse=True
                ):
                    if isinstance(msg, Message) and not isinstance(msg, types.MessageService):
                        chunk.append(await self._record(msg, state.handle))
                    last, seen = msg.id, seen + 1
                    if len(chunk) >= _CHUNK:
                        yield Batch(chunk, low, last)
                        chunk, low = [], last + 1
            except errors.FloodWaitError as exc:
                if chunk:
                    yield Batch(chunk, low, last)
                    low = last + 1
                await self._flood(exc, state.handle)
                continue
            except Exception as exc:
                mapped = translate(exc, state.handle)
                if mapped is None:
                    raise
                raise mapped from exc
            # Fewer than asked for: the listing reached the end of the range.
            yield Batch(chunk, low, top if seen < limit else last)
            return

    async def _newest(self, state: ChannelState, limit: int, after: int) -> list[Any]:
        """Up to ``limit`` newest messages above ``after``, newest first.

        Telethon sends min_id locally (it stops at the first older message), so when fewer
        than a chunk of posts are new this is exactly one GetHistory request.
        """
        while True:
            try:
                return [
                    msg
                    async for msg in self.client.iter_messages(
                        self._peer(state), limit=limit, min_id=after
                    )
                ]
            except errors.FloodWaitError as exc:
                await self._flood(exc, state.handle)
            except Exception as exc:
                mapped = translate(exc, state.handle)
                if mapped is None:
                    raise
                raise mapped from exc

    async def _records(self, msgs: list[Any], handle: str) -> list[PostRecord]:
        return [
            await self._record(m, handle)
            for m in sorted(msgs, key=lambda m: m.id)
            if isinstance(m, Message) and not isinstance(m, types.MessageService)
        ]

    async def fetch(
        self, state: ChannelState, since_id: int, recheck_from: int
    ) -> AsyncIterator[Batch]:
        if since_id <= 0:
            newest = await self._newest(state, self.initial_posts, 0)
            low = min(m.id for m in newest) if len(newest) >= self.initial_posts else 1
            yield Batch(await self._records(newest, state.handle), low, TOP)
            return
        after = max(0, min(since_id, recheck_from - 1))
        newest = await self._newest(state, _CHUNK, after)
        if len(newest) < _CHUNK:  # the listing reached `after`: the idle case, one request
            yield Batch(await self._records(newest, state.handle), after + 1, TOP)
            return
        # A backlog: read it oldest first so every committed batch moves the cursor; what the
        # budget leaves between it and the newest chunk becomes a gap back-filled later.
        oldest = min(m.id for m in newest)
        async for batch in self._ascending(state, after, oldest, self.max_posts, oldest - 1):
            yield batch
        yield Batch(await self._records(newest, state.handle), oldest, TOP)

    async def fetch_range(self, state: ChannelState, low: int, high: int) -> AsyncIterator[Batch]:
        async for batch in self._ascending(state, low - 1, high + 1, self.max_posts, high):
            yield batch
