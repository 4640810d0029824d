"""A recording stand-in for ``telethon.TelegramClient``, for tests and ``bench/collect.py``.

It hands out real ``telethon.tl.types`` objects and raises real Telethon errors, and it pages
history the way Telethon's ``iter_messages`` does (100 messages per GetHistory request; going
newest-first, ``min_id`` is applied locally, so the request that reaches it is the last one).
``requests`` therefore counts what a real account would spend.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import errors, utils
from telethon._updates import EntityCache
from telethon.tl import types

_CHUNK = 100
_ids = itertools.count(1_000_000)


@dataclass
class FakeChannel:
    handle: str
    id: int
    access_hash: int
    title: str
    private: bool = False
    messages: dict[int, types.Message] = field(default_factory=dict)
    last_id: int = 0

    def entity(self) -> types.Channel:
        return types.Channel(
            id=self.id,
            title=self.title,
            photo=types.ChatPhotoEmpty(),
            date=datetime(2020, 1, 1, tzinfo=UTC),
            broadcast=True,
            access_hash=self.access_hash,
            username=self.handle,
        )


@dataclass
class _Failure:
    op: str
    handle: str | None
    exc: BaseException
    times: int
    after: int  # for history: messages yielded before it strikes


def photo(size: int = 120_000) -> types.MessageMediaPhoto:
    sizes: list[Any] = [
        types.PhotoStrippedSize("i", b"\x01"),
        types.PhotoSize("m", 320, 240, size // 4),
        types.PhotoSizeProgressive("y", 1280, 960, [size // 2, size]),
    ]
    return types.MessageMediaPhoto(
        photo=types.Photo(next(_ids), 1, b"", datetime(2024, 1, 1, tzinfo=UTC), sizes, 2)
    )


def document(mime: str, size: int, *attributes: Any) -> types.MessageMediaDocument:
    doc = types.Document(
        next(_ids), 1, b"", datetime(2024, 1, 1, tzinfo=UTC), mime, size, 2, list(attributes)
    )
    return types.MessageMediaDocument(document=doc)


def video(duration: float = 42.0, size: int = 5_000_000) -> types.MessageMediaDocument:
    return document("video/mp4", size, types.DocumentAttributeVideo(duration, 1280, 720))


def voice(duration: int = 7, size: int = 30_000) -> types.MessageMediaDocument:
    return document("audio/ogg", size, types.DocumentAttributeAudio(duration, voice=True))


class FakeTelegramClient:
    """Channels, posts and failures are set up by the test; calls are counted."""

    def __init__(self, *, start: datetime | None = None) -> None:
        self.channels: dict[str, FakeChannel] = {}
        self._by_id: dict[int, FakeChannel] = {}
        self.clock = start or datetime.now(UTC) - timedelta(days=1)
        self.resolves = 0  # username lookups (ResolveUsername)
        self.requests = 0  # GetHistory requests
        self.history_calls: Counter[str] = Counter()  # iter_messages calls per channel
        self.downloads = 0
        self.downloaded: list[tuple[int, Any]] = []  # (message id, thumb asked for)
        self._failures: list[_Failure] = []
        # What Message._finish_init reads off a real client.
        self._self_id = 0
        self._mb_entity_cache = EntityCache()

    # -- set-up ----------------------------------------------------------------------------

    def add_channel(
        self, handle: str, title: str | None = None, *, private: bool = False
    ) -> FakeChannel:
        ch = FakeChannel(handle, next(_ids), next(_ids) * 7919, title or handle, private)
        self.channels[handle.lower()] = ch
        self._by_id[ch.id] = ch
        return ch

    def post(
        self,
        handle: str,
        text: str,
        *,
        date: datetime | None = None,
        views: int | None = 100,
        forwards: int | None = 0,
        media: Any = None,
        reply_to: int | None = None,
        forward_from: tuple[str, int] | None = None,
        skip_ids: int = 0,
    ) -> types.Message:
        ch = self.channels[handle.lower()]
        ch.last_id += 1 + skip_ids
        self.clock += timedelta(minutes=1)
        fwd = None
        if forward_from is not None:
            src = self.channels[forward_from[0].lower()]
            fwd = types.MessageFwdHeader(
                date=self.clock - timedelta(hours=1),
                from_id=types.PeerChannel(src.id),
                channel_post=forward_from[1],
            )
        msg = types.Message(
            id=ch.last_id,
            peer_id=types.PeerChannel(ch.id),
            date=date or self.clock,
            message=text,
            post=True,
            views=views,
            forwards=forwards,
            media=media,
            fwd_from=fwd,
            reply_to=types.MessageReplyHeader(reply_to_msg_id=reply_to) if reply_to else None,
        )
        ch.messages[msg.id] = msg
        return msg

    def service(self, handle: str) -> None:
        ch = self.channels[handle.lower()]
        ch.last_id += 1
        ch.messages[ch.last_id] = types.MessageService(
            id=ch.last_id,
            peer_id=types.PeerChannel(ch.id),
            date=self.clock,
            action=types.MessageActionPinMessage(),
            post=True,
        )

    def edit(self, handle: str, message_id: int, text: str) -> None:
        msg = self.channels[handle.lower()].messages[message_id]
        msg.message = text
        msg.edit_date = self.clock

    def delete(self, handle: str, message_id: int) -> None:
        del self.channels[handle.lower()].messages[message_id]

    def fail(
        self,
        op: str,
        exc: BaseException,
        *,
        handle: str | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next ``times`` calls of ``op`` (resolve, history, download) raise ``exc``."""
        self._failures.append(_Failure(op, handle and handle.lower(), exc, times, after))

    def _failure(self, op: str, handle: str) -> _Failure | None:
        for f in self._failures:
            if f.op == op and f.handle in (None, handle) and f.times > 0:
                f.times -= 1
                return f
        return None

    # -- the TelegramClientLike surface ----------------------------------------------------

    def _channel(self, entity: Any) -> FakeChannel:
        if isinstance(entity, types.InputPeerChannel):
            found = self._by_id.get(entity.channel_id)
            if found is None or found.access_hash != entity.access_hash:
                raise errors.ChannelInvalidError(request=None)
            return found
        name = str(entity).lower()
        self.resolves += 1
        failure = self._failure("resolve", name)
        if failure:
            raise failure.exc
        if name not in self.channels:
            raise errors.UsernameNotOccupiedError(request=None)
        return self.channels[name]

    async def get_entity(self, entity: Any) -> types.Channel:
        ch = self._channel(entity)
        if ch.private:
            raise errors.ChannelPrivateError(request=None)
        return ch.entity()

    async def iter_messages(
        self,
        entity: Any,
        limit: int | None = None,
        *,
        min_id: int = 0,
        max_id: int = 0,
        reverse: bool = False,
    ) -> AsyncIterator[types.Message]:
        ch = self._channel(entity)
        self.history_calls[ch.handle] += 1
        if ch.private:
            raise errors.ChannelPrivateError(request=None)
        failure = self._failure("history", ch.handle)
        # Like a GetHistory answer: the chats it mentions, not every chat the account knows.
        entities = {utils.get_peer_id(types.PeerChannel(ch.id)): ch.entity()}
        for msg in ch.messages.values():
            src = msg.fwd_from.from_id if getattr(msg, "fwd_from", None) else None
            if isinstance(src, types.PeerChannel) and src.channel_id in self._by_id:
                entities[utils.get_peer_id(src)] = self._by_id[src.channel_id].entity()
        left = float("inf") if limit is None else limit
        ids = sorted(ch.messages)
        if reverse:
            # Telethon: offset min_id, stop at max_id; ends on an empty response.
            pool = [i for i in ids if i > min_id and (not max_id or i < max_id)]
        else:
            pool = [i for i in reversed(ids) if not max_id or i < max_id]
        if failure and failure.after == 0:
            raise failure.exc
        yielded, pos = 0, 0
        while left > 0:
            chunk = pool[pos : pos + int(min(left, _CHUNK))]
            pos += len(chunk)
            self.requests += 1
            if not chunk:
                return
            for mid in chunk:
                if not reverse and mid <= min_id:
                    return
                if failure and yielded >= failure.after:
                    raise failure.exc
                msg = ch.messages[mid]
                msg._finish_init(self, entities, None)
                yield msg
                yielded += 1
                left -= 1
            if not reverse and chunk[0] <= _CHUNK:
                return
        if failure and yielded >= failure.after:
            raise failure.exc

    async def download_media(
        self, message: Any, file: Any = None, *, thumb: Any = None
    ) -> bytes | None:
        self.downloads += 1
        self.downloaded.append((message.id, thumb))
        failure = self._failure("download", "")
        if failure:
            raise failure.exc
        if thumb is None:
            return f"media of message {message.id}".encode()
        # Like Telethon: a size the media does not have downloads nothing.
        media = getattr(message, "media", None)
        holder = getattr(media, "photo", None) or getattr(media, "document", None)
        sizes = getattr(holder, "sizes", None) or getattr(holder, "thumbs", None) or []
        if not any(getattr(size, "type", None) == thumb for size in sizes):
            return None
        return f"media of message {message.id}, size {thumb}".encode()
