"""Getting a post's image for the media job (#13): from the web preview's CDN, from an export's
folder, or through a Telegram account.

The web address comes from a page the adversary wrote, so it is a request forgery waiting to
happen: only https to Telegram's own hosts (or to the configured preview base, which is how
tests point it at 127.0.0.1) is asked for, redirects are followed by hand and only on the same
host, and the body is read in chunks and dropped past ``media_max_bytes`` whatever
Content-Length claimed. Every failure is a ``FetchError`` saying whether trying again can help.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

import httpx
from telethon import errors
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from monitor.collect.source import AccountUnusable, ChannelUnavailable
from monitor.collect.telegram import TelegramClientLike, download_image, translate
from monitor.config import Settings

log = logging.getLogger(__name__)

TelegramFactory = Callable[[], AbstractAsyncContextManager[TelegramClientLike]]

# Telegram's hosts (with their subdomains) that serve preview images. cdn-telegram.org is where
# t.me/s pages point their photos today, next to the older telesco.pe.
TELEGRAM_HOSTS = ("telesco.pe", "cdn-telegram.org", "telegram.org", "t.me", "telegram.me")
_REDIRECTS = 3
_CHUNK = 64 * 1024


class FetchError(Exception):
    """An image that could not be got; ``permanent`` when asking again cannot help (refused
    address, gone, too large), so the job fails at once instead of retrying."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message


class _Retryable(Exception):
    """An answer worth asking for again (408, 429, 5xx)."""


def _shown(url: str) -> str:
    return repr(url if len(url) <= 120 else url[:120] + "…")


def _telegram_host(host: str) -> bool:
    return any(host == h or host.endswith("." + h) for h in TELEGRAM_HOSTS)


class MediaFetcher:
    def __init__(
        self,
        *,
        web_base: str,
        max_bytes: int,
        timeout: float = 20.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        telegram: TelegramFactory | None = None,
        deadline: float | None = None,
    ) -> None:
        """``telegram`` opens a client for posts only an account can see again; without one
        those fail permanently (a second client on the collector's session would get it
        revoked, so none is opened behind the caller's back).

        ``timeout`` bounds each network wait; ``deadline`` (default three times that) bounds
        a whole download, so a server dripping a byte at a time cannot hold a worker.
        """
        base = httpx.URL(web_base)
        self.deadline = deadline if deadline is not None else 3 * timeout
        self._base = (base.scheme, base.host, base.port)
        self.max_bytes = max_bytes
        self.retries = retries
        self.backoff = backoff
        self.requests = 0
        self._telegram = telegram
        self._tg_client: TelegramClientLike | None = None
        self._tg_lock = asyncio.Lock()
        self._stack = AsyncExitStack()
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
            headers={
                "User-Agent": "Mozilla/5.0 (compatible; monitor; +preview reader)",
                "Accept": "image/*",
            },
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self._stack.aclose()
        self._tg_client = None

    async def fetch(
        self, *, origin: str, url: str | None, path: str | None, channel: str, message_id: int
    ) -> bytes:
        """The image's bytes, at most ``max_bytes`` of them; FetchError otherwise."""
        where = f"@{channel}/{message_id}"
        if path is not None:
            return await asyncio.to_thread(self._read_file, path)
        if url is not None:
            return await self._web(url)
        if origin == "telethon":
            return await self._telethon(channel, message_id)
        if origin == "export":
            raise FetchError(f"{where}: the export did not include the file", permanent=True)
        raise FetchError(f"{where}: the {origin} source gave no image address", permanent=True)

    # -- the web preview's CDN -------------------------------------------------------------

    def allowed(self, url: str) -> httpx.URL:
        """``url`` as it will be requested, or a permanent FetchError saying why not."""
        try:
            parsed = httpx.URL(url)
            # httpx and urllib disagree on odd inputs; whichever sees another host, refuse.
            other = urlsplit(url).hostname
        except (httpx.InvalidURL, ValueError) as exc:
            raise FetchError(
                f"refused image address {_shown(url)}: {exc}", permanent=True
            ) from None
        host = parsed.host.lower()
        if parsed.userinfo or other is None or other.lower() != host:
            raise FetchError(f"refused image address {_shown(url)}", permanent=True)
        if (parsed.scheme, host, parsed.port) == self._base:
            return parsed
        if parsed.scheme != "https" or parsed.port is not None:
            raise FetchError(
                f"refused image address {_shown(url)}: only https on the default port",
                permanent=True,
            )
        if not _telegram_host(host):
            raise FetchError(
                f"refused image address {_shown(url)}: {host} is not a Telegram host",
                permanent=True,
            )
        return parsed

    async def _web(self, url: str) -> bytes:
        target = self.allowed(url)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retries),
                wait=wait_exponential(multiplier=self.backoff, max=30 * self.backoff),
                retry=retry_if_exception_type((httpx.TransportError, _Retryable)),
                reraise=True,
            ):
                with attempt:
                    try:
                        async with asyncio.timeout(self.deadline):
                            return await self._follow(target)
                    except TimeoutError:
                        raise _Retryable(f"no whole answer within {self.deadline:g}s") from None
        except (httpx.TransportError, _Retryable, RetryError) as exc:
            raise FetchError(
                f"image {_shown(url)} unreachable after {self.retries} attempts "
                f"({type(exc).__name__}: {exc})",
                permanent=False,
            ) from exc
        except httpx.HTTPError as exc:  # a body that does not decode, a malformed answer
            raise FetchError(
                f"image {_shown(url)}: {type(exc).__name__}: {exc}", permanent=True
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _follow(self, target: httpx.URL) -> bytes:
        for _ in range(_REDIRECTS + 1):
            self.requests += 1
            try:
                async with self.client.stream("GET", target) as response:
                    if not response.is_redirect:
                        return await self._body(target, response)
                    location = response.headers.get("location", "")
                nxt = target.join(location)
            except (httpx.RemoteProtocolError, httpx.InvalidURL, ValueError) as exc:
                # httpx parses a redirect's Location even when not following it; a malformed
                # one is the server's answer, not a dropped connection worth retrying.
                if isinstance(exc, httpx.RemoteProtocolError) and "location" not in str(exc):
                    raise
                raise FetchError(
                    f"image {_shown(str(target))} redirects to a malformed address", permanent=True
                ) from None
            # Only the same host: a CDN answer must not send us into the local network.
            if nxt.host != target.host:
                raise FetchError(
                    f"image {_shown(str(target))} redirects to another host ({nxt.host})",
                    permanent=True,
                )
            target = self.allowed(str(nxt))
        raise FetchError(f"image {_shown(str(target))}: too many redirects", permanent=True)

    async def _body(self, target: httpx.URL, response: httpx.Response) -> bytes:
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status in (404, 410):
            raise FetchError(f"image {_shown(str(target))} is gone (HTTP {status})", permanent=True)
        if status != 200:
            raise FetchError(f"image {_shown(str(target))}: HTTP {status}", permanent=True)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and not kind.startswith("image/") and kind != "application/octet-stream":
            raise FetchError(
                f"image {_shown(str(target))} is not an image ({kind[:60]})", permanent=True
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(str(target), int(declared))
        data = bytearray()
        async for chunk in response.aiter_bytes(_CHUNK):
            data += chunk
            # Counted as decoded, so a small gzip body cannot unpack into a huge one.
            if len(data) > self.max_bytes:
                raise self._too_large(str(target), None)
        return bytes(data)

    def _too_large(self, what: str, size: int | None) -> FetchError:
        got = f"{size} bytes" if size is not None else "more"
        return FetchError(
            f"{_shown(what)}: {got} is more than media_max_bytes ({self.max_bytes}); not kept",
            permanent=True,
        )

    # -- an export's folder ----------------------------------------------------------------

    def _read_file(self, path: str) -> bytes:
        if not os.path.isabs(path):
            raise FetchError(f"export file {_shown(path)} is not an absolute path", permanent=True)
        try:
            # O_NOFOLLOW: the collector resolved this path inside the export; a symlink put in
            # its place since then could point anywhere.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            raise FetchError(f"export file gone: {path}", permanent=True) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FetchError(f"export file is now a symlink: {path}", permanent=True) from None
            raise FetchError(f"export file {path}: {exc.strerror}", permanent=False) from None
        with os.fdopen(fd, "rb") as fh:
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    raise FetchError(f"export file is not a file: {path}", permanent=True)
                if info.st_size > self.max_bytes:
                    raise self._too_large(path, info.st_size)
                data = fh.read(self.max_bytes + 1)
            except OSError as exc:
                raise FetchError(f"export file {path}: {exc.strerror}", permanent=False) from None
        if len(data) > self.max_bytes:  # grew since the stat
            raise self._too_large(path, None)
        return data

    # -- a Telegram account ----------------------------------------------------------------

    async def _client(self, where: str) -> TelegramClientLike:
        if self._telegram is None:
            raise FetchError(
                f"needs a Telegram account: {where} was collected over MTProto and no "
                "Telegram client is available to the media worker",
                permanent=True,
            )
        async with self._tg_lock:
            if self._tg_client is None:
                try:
                    self._tg_client = await self._stack.enter_async_context(self._telegram())
                except (AccountUnusable, OSError) as exc:
                    # A session fixed by `monitor login` makes the next attempt work.
                    raise FetchError(f"needs a Telegram account: {exc}", permanent=False) from None
            return self._tg_client

    async def _telethon(self, channel: str, message_id: int) -> bytes:
        where = f"@{channel}/{message_id}"
        client = await self._client(where)
        try:
            msg: Any = None
            # min_id/max_id are exclusive: exactly the one message, in one GetHistory request.
            async for found in client.iter_messages(
                channel, limit=1, min_id=message_id - 1, max_id=message_id + 1
            ):
                if found.id == message_id:
                    msg = found
            if msg is None or getattr(msg, "media", None) is None:
                raise FetchError(f"{where}: the message or its media is gone", permanent=True)
            data = await download_image(client, msg, self.max_bytes)
        except FetchError:
            raise
        except errors.FloodWaitError as exc:
            raise FetchError(
                f"{where}: Telegram flood wait of {exc.seconds}s", permanent=False
            ) from None
        except Exception as exc:
            # Private, banned or no such channel stays so; a network error, a revoked session
            # (fixed by `monitor login`) or an expired file reference may pass.
            permanent = isinstance(translate(exc, channel), ChannelUnavailable)
            raise FetchError(
                f"{where}: download failed ({type(exc).__name__}: {exc})", permanent=permanent
            ) from None
        if data is None:
            raise FetchError(
                f"{where}: no image of the message fits media_max_bytes ({self.max_bytes})",
                permanent=True,
            )
        if len(data) > self.max_bytes:
            raise self._too_large(where, len(data))
        return data


def media_fetcher(
    settings: Settings,
    *,
    telegram: TelegramFactory | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> MediaFetcher:
    return MediaFetcher(
        web_base=settings.telegram_web_base,
        max_bytes=settings.media_max_bytes,
        timeout=settings.web_timeout,
        retries=settings.web_retries,
        transport=transport,
        telegram=telegram,
    )
