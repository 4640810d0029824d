"""Building the live sources from settings; nothing here connects at import time."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from monitor.collect.session import open_client
from monitor.collect.source import AccountUnusable, PostSource, SourceError
from monitor.collect.telegram import TelegramClientLike, TelethonSource
from monitor.collect.web import WebSource
from monitor.config import Settings
from monitor.media.store import MediaStore

Sources = tuple[dict[str, PostSource], dict[str, SourceError]]


def worker_name(settings: Settings) -> str:
    return settings.worker_id or f"{socket.gethostname()}:{os.getpid()}"


def telethon_source(
    client: TelegramClientLike, settings: Settings, **kwargs: Any
) -> TelethonSource:
    return TelethonSource(
        client,
        flood_sleep_max=settings.telegram_flood_sleep_max,
        max_posts=settings.collect_max_posts,
        initial_posts=settings.collect_initial_posts,
        # Images always (#13): they are what the media job reads. Other files share the
        # content-addressed folder under their own cap, and only when asked for.
        media=MediaStore(settings.media_dir, max_bytes=settings.media_max_bytes),
        files=(
            MediaStore(settings.media_dir, max_bytes=settings.telegram_media_max_bytes)
            if settings.telegram_download_media
            else None
        ),
        **kwargs,
    )


def web_source(settings: Settings, **kwargs: Any) -> WebSource:
    return WebSource(
        settings.telegram_web_base,
        max_pages=settings.web_max_pages,
        initial_posts=settings.collect_initial_posts,
        timeout=settings.web_timeout,
        retries=settings.web_retries,
        **kwargs,
    )


@asynccontextmanager
async def live_sources(
    settings: Settings, *, telegram_client: TelegramClientLike | None = None
) -> AsyncIterator[Sources]:
    """The web source always; Telethon when credentials are set (or a client is given).

    A session that is missing, logged out or revoked does not stop the web channels: it is
    returned as the reason every Telethon channel fails this run.
    """
    async with AsyncExitStack() as stack:
        web = web_source(settings)
        stack.push_async_callback(web.aclose)
        sources: dict[str, PostSource] = {"web": web}
        unavailable: dict[str, SourceError] = {}
        if telegram_client is not None:
            sources["telethon"] = telethon_source(telegram_client, settings)
        elif settings.telegram_enabled:
            try:
                client = await stack.enter_async_context(open_client(settings))
            except AccountUnusable as exc:
                unavailable["telethon"] = exc
            except OSError as exc:
                unavailable["telethon"] = SourceError(
                    f"cannot reach Telegram: {exc}", status="network"
                )
            else:
                sources["telethon"] = telethon_source(client, settings)
        yield sources, unavailable
