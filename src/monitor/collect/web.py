"""The public web preview source: ``{MONITOR_TELEGRAM_WEB_BASE}/s/{handle}`` read like a browser.

Pages hold about twenty posts, newest last; ``?before=ID`` pages backwards. A page for
``before=B`` whose oldest post is ``L`` lists every post with ``L <= id < B``, which gives the
covered ranges the collector needs (see ``source.py``). Albums show as one post; the album's
other ids are holes like deleted posts. The preview never says when a post was edited, only
that it was, so ``edited_at`` is the time we noticed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser, LexborNode
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord, Source
from monitor.collect.source import (
    TOP,
    Batch,
    ChannelState,
    ChannelUnavailable,
    MarkupChanged,
    NetworkError,
    Resolved,
)

_SUFFIX = {"K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_SIZE = {"B": 1, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}
# Checked in order: a video player holds a thumbnail that looks like a photo.
_MEDIA = (
    (".tgme_widget_message_poll", "poll", None),
    (".tgme_widget_message_sticker_wrap, .tgme_widget_message_sticker", "sticker", None),
    (".tgme_widget_message_roundvideo_player", "video_note", "video/mp4"),
    (".tgme_widget_message_video_player", "video", "video/mp4"),
    (".tgme_widget_message_voice_player, .tgme_widget_message_voice", "voice", "audio/ogg"),
    (".tgme_widget_message_document_wrap, .tgme_widget_message_document", "document", None),
    (".tgme_widget_message_photo_wrap", "photo", "image/jpeg"),
    (".tgme_widget_message_location_wrap", "location", None),
    (".tgme_widget_message_link_preview", "webpage", None),
)

# The node whose inline style holds the image a kind of post shows (#13): the photo itself,
# or the still frame the player shows before a video starts.
_IMAGE_NODE = {
    "photo": ".tgme_widget_message_photo_wrap",
    "video": ".tgme_widget_message_video_thumb",
}
# background-image:url(...) with a quoted or bare value; a backslash anywhere in the value is
# a CSS escape, which is refused rather than decoded.
_CSS_URL = re.compile(
    r"""background-image\s*:\s*url\(\s*(?:'([^'\\]*)'|"([^"\\]*)"|([^'"()\\\s]*))\s*\)""",
    re.I,
)
_MAX_URL = 2048


class _Retryable(Exception):
    """A response worth asking for again (429, 5xx)."""


@dataclass(frozen=True, slots=True)
class Page:
    records: list[PostRecord]
    listed: list[int]  # every post id on the page, service messages included
    title: str | None


def count(text: str | None) -> int | None:
    """Telegram's abbreviated counters: "987", "1.2K", "3.4M"."""
    if not text:
        return None
    value = text.strip().upper().replace(",", "")
    mult = _SUFFIX.get(value[-1:], 1)
    number = value[:-1] if mult != 1 else value
    try:
        return round(float(number) * mult)
    except ValueError:
        return None


def _size(text: str | None) -> int | None:
    m = re.search(r"([\d.]+)\s*(B|KB|MB|GB)\b", text or "", re.I)
    return round(float(m.group(1)) * _SIZE[m.group(2).upper()]) if m else None


def _duration(text: str | None) -> float | None:
    if not text or not re.fullmatch(r"\d+(:\d\d){0,2}", text.strip()):
        return None
    seconds = 0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + int(part)
    return float(seconds)


def message_text(node: LexborNode) -> str:
    """Visible text with line breaks kept and emoji images read from their alt text."""
    parts: list[str] = []

    def walk(n: LexborNode) -> None:
        for child in n.iter(include_text=True):
            if child.tag == "-text":
                parts.append(child.text_content or "")
            elif child.tag == "br":
                parts.append("\n")
            elif child.tag == "img":
                parts.append(child.attributes.get("alt") or "")
            else:
                walk(child)

    walk(node)
    return "".join(parts).strip()


def _post_ref(href: str | None) -> tuple[str | None, int | None]:
    """``https://t.me/name/123`` (or ``/s/name/123``) -> ("name", 123)."""
    if not href:
        return None, None
    path = [p for p in urlsplit(href).path.split("/") if p]
    if path[:1] == ["s"]:
        path = path[1:]
    name = path[0].lower() if path else None
    mid = int(path[1]) if len(path) > 1 and path[1].isdigit() else None
    return name, mid


def _own_text(msg: LexborNode) -> LexborNode | None:
    # A reply's quoted snippet reuses the text class; the post's own text is outside it.
    for node in msg.css(".tgme_widget_message_text"):
        parent, inside_reply = node.parent, False
        while parent is not None and parent is not msg:
            cls = parent.attributes.get("class") or ""
            if "tgme_widget_message_reply" in cls.split():
                inside_reply = True
                break
            parent = parent.parent
        if not inside_reply:
            return node
    return None


def _first_text(msg: LexborNode, selector: str) -> str | None:
    node = msg.css_first(selector)
    return node.text(strip=True) if node is not None else None


def css_url(style: str | None) -> str | None:
    """The address in a style's ``background-image:url(...)``, when it is a plain http(s) URL.

    The page is the adversary's: anything odd (CSS escapes, quotes or spaces inside the value,
    control characters, other schemes such as javascript: or data:, a user:password@ part)
    gives None rather than a guess. The fetcher checks the host again before asking for it.
    """
    if not style or len(style) > 8192:
        return None
    m = _CSS_URL.search(style)
    if m is None:
        return None
    value = next(g for g in m.groups() if g is not None)
    if not value or len(value) > _MAX_URL or not value.isascii() or not value.isprintable():
        return None
    if " " in value:  # a real address has it escaped as %20; a bare one is something else
        return None
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return value


def _image_url(msg: LexborNode, kind: str) -> str | None:
    # An album is one post: its first image stands for it. Quoted replies carry their own
    # thumbnail under another class, so it is never mistaken for the post's image.
    selector = _IMAGE_NODE.get(kind)
    node = msg.css_first(selector) if selector else None
    return css_url(node.attributes.get("style")) if node is not None else None


def _media(msg: LexborNode) -> MediaInfo | None:
    for selector, kind, mime in _MEDIA:
        if msg.css_first(selector) is None:
            continue
        duration = _duration(
            _first_text(msg, ".message_video_duration")
            or _first_text(msg, ".tgme_widget_message_voice_duration")
        )
        size = _size(_first_text(msg, ".tgme_widget_message_document_extra"))
        return MediaInfo(
            kind,
            mime,
            size if kind == "document" else None,
            duration,
            url=_image_url(msg, kind),
        )
    return None


def parse_message(msg: LexborNode, handle: str, seen_at: datetime) -> PostRecord | None:
    """One ``tgme_widget_message``; None for service messages (pins, title changes)."""
    post = msg.attributes.get("data-post") or ""
    _, mid = _post_ref("/" + post)
    if mid is None:
        raise MarkupChanged(f"@{handle}: a post without a readable data-post ({post!r})")
    if "service_message" in (msg.attributes.get("class") or "").split():
        return None
    time = msg.css_first(".tgme_widget_message_date time[datetime]")
    try:
        date = datetime.fromisoformat(str(time.attributes["datetime"])) if time else None
    except ValueError:
        date = None
    if date is None:
        raise MarkupChanged(f"@{handle}/{mid}: no readable <time datetime> in the post")
    text_node = _own_text(msg)
    fwd = None
    fwd_node = msg.css_first(".tgme_widget_message_forwarded_from_name")
    if fwd_node is not None:
        channel, fwd_id = _post_ref(fwd_node.attributes.get("href"))
        fwd = ForwardInfo(channel, fwd_id, message_text(fwd_node) or None)
    reply = msg.css_first("a.tgme_widget_message_reply")
    meta = _first_text(msg, ".tgme_widget_message_meta") or ""
    return PostRecord(
        message_id=mid,
        date=date.astimezone(UTC) if date.tzinfo else date.replace(tzinfo=UTC),
        text=message_text(text_node) if text_node is not None else "",
        source="web",
        views=count(_first_text(msg, ".tgme_widget_message_views")),
        forwarded_from=fwd,
        reply_to=_post_ref(reply.attributes.get("href"))[1] if reply is not None else None,
        media=_media(msg),
        edited_at=seen_at if "edited" in meta.lower() else None,
    )


def parse_page(html: str, handle: str, *, seen_at: datetime | None = None) -> Page:
    tree = LexborHTMLParser(html)
    seen_at = seen_at or datetime.now(UTC)
    nodes = tree.css(".tgme_widget_message[data-post]")
    title = _first_text(tree.root, ".tgme_channel_info_header_title") if tree.root else None
    if not nodes and tree.css_first(".tgme_channel_history") is None:
        if tree.css_first(".tgme_widget_message") is not None:
            raise MarkupChanged(f"@{handle}: preview posts carry no data-post attribute")
        raise MarkupChanged(
            f"@{handle}: the preview page no longer looks like a channel "
            "(no tgme_channel_history / tgme_widget_message); the parser needs updating"
        )
    records, listed = [], []
    for node in nodes:
        rec = parse_message(node, handle, seen_at)
        _, mid = _post_ref("/" + (node.attributes.get("data-post") or ""))
        listed.append(int(mid or 0))
        if rec is not None:
            records.append(rec)
    return Page(records, listed, title or None)


class WebSource:
    name: Source = "web"

    def __init__(
        self,
        base_url: str,
        *,
        max_pages: int = 20,
        initial_posts: int = 100,
        timeout: float = 20.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_pages = max_pages
        self.initial_posts = initial_posts
        self.retries = retries
        self.backoff = backoff
        self.requests = 0
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
            headers={"User-Agent": "Mozilla/5.0 (compatible; monitor; +preview reader)"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def resolve(self, state: ChannelState) -> Resolved | None:
        return None

    async def _get(self, handle: str, before: int | None) -> httpx.Response:
        url = f"{self.base_url}/s/{handle}"
        params: dict[str, Any] = {"before": before} if before else {}
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.retries),
                wait=wait_exponential(multiplier=self.backoff, max=30 * self.backoff),
                retry=retry_if_exception_type((httpx.TransportError, _Retryable)),
                reraise=True,
            ):
                with attempt:
                    self.requests += 1
                    response = await self.client.get(url, params=params)
                    if response.status_code == 429 or response.status_code >= 500:
                        raise _Retryable(f"HTTP {response.status_code}")
                    return response
        except (httpx.TransportError, _Retryable, RetryError) as exc:
            raise NetworkError(
                f"@{handle}: preview unreachable after {self.retries} attempts "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _page(self, handle: str, before: int | None) -> Page:
        response = await self._get(handle, before)
        if response.status_code == 404:
            raise ChannelUnavailable(f"no Telegram channel is called @{handle}", status="missing")
        if response.status_code != 200:
            raise ChannelUnavailable(
                f"@{handle}: preview answered HTTP {response.status_code}", status="no preview"
            )
        if not response.url.path.startswith("/s/"):
            # t.me sends channels without a public preview (private, restricted by Telegram,
            # preview turned off, or no such channel) to the plain t.me/NAME page.
            landing = LexborHTMLParser(response.text)
            if landing.css_first(".tgme_page_title") is None:
                raise ChannelUnavailable(
                    f"no Telegram channel is called @{handle}", status="missing"
                )
            raise ChannelUnavailable(
                f"@{handle} has no public web preview (private, restricted, or preview turned "
                "off); collect it with the telethon source instead",
                status="no preview",
            )
        return parse_page(response.text, handle)

    async def _walk(
        self, handle: str, before: int | None, floor: int, budget: int
    ) -> AsyncIterator[Batch]:
        """Pages from ``before`` downwards until ids at or below ``floor`` are covered."""
        for _ in range(self.max_pages):
            page = await self._page(handle, before)
            high = before - 1 if before else TOP
            low = min(page.listed) if page.listed else 1
            yield Batch(page.records, low, high, page.title)
            budget -= len(page.records)
            if not page.listed or low <= max(floor, 1) or budget <= 0:
                return
            before = low

    async def fetch(
        self, state: ChannelState, since_id: int, recheck_from: int
    ) -> AsyncIterator[Batch]:
        if since_id <= 0:  # first pass: the newest posts only, older history is imported
            floor, budget = 0, self.initial_posts
        else:
            floor, budget = min(since_id + 1, recheck_from), TOP
        async for batch in self._walk(state.handle, None, floor, budget):
            yield batch

    async def fetch_range(self, state: ChannelState, low: int, high: int) -> AsyncIterator[Batch]:
        async for batch in self._walk(state.handle, high + 1, low, TOP):
            yield batch
