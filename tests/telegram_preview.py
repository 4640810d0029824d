"""A stand-in for t.me's public preview, served over real HTTP on 127.0.0.1 only.

Channels are lists of posts rendered in t.me/s markup, twenty per page, ``?before=ID`` paging
backwards. Tests can edit and delete posts, make pages fail, or serve fixture files verbatim.
A post with a photo shows it the way t.me does (a ``background-image:url(...)`` on the photo
wrap), pointing at ``/file/<handle>/<id>.jpg`` on this server, which answers its bytes (#13).
"""

from __future__ import annotations

import contextlib
import html
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "web"
PAGE = 20


@dataclass
class Post:
    id: int
    text: str
    date: datetime
    views: str = "1.2K"
    edited: bool = False
    photo: bytes | None = None  # served at photo_path(handle, id)


@dataclass
class PreviewChannel:
    handle: str
    title: str
    posts: dict[int, Post] = field(default_factory=dict)
    last_id: int = 0

    def add(
        self, text: str, *, skip: int = 0, date: datetime | None = None, photo: bytes | None = None
    ) -> Post:
        self.last_id += 1 + skip
        post = Post(self.last_id, text, date or datetime.now(UTC) - timedelta(hours=1))
        post.photo = photo
        self.posts[post.id] = post
        return post


def jpeg(size: tuple[int, int] = (48, 24), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A small real JPEG (Pillow), so decoders downstream get a genuine image."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", quality=80)
    return out.getvalue()


def photo_path(handle: str, message_id: int) -> str:
    return f"/file/{handle}/{message_id}.jpg"


def render_post(handle: str, p: Post, base: str = "") -> str:
    body = "<br/>".join(html.escape(line) for line in p.text.split("\n"))
    meta = "edited " if p.edited else ""
    photo = ""
    if p.photo is not None:
        url = html.escape(base + photo_path(handle, p.id))
        photo = (
            f'<a class="tgme_widget_message_photo_wrap" href="https://t.me/{handle}/{p.id}" '
            f"style=\"width:800px;background-image:url('{url}')\">"
            '<div class="tgme_widget_message_photo" style="padding-top:50%"></div></a>'
        )
    return (
        f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{handle}/{p.id}">'
        f'<div class="tgme_widget_message_bubble">{photo}'
        f'<div class="tgme_widget_message_text js-message_text" dir="auto">{body}</div>'
        f'<div class="tgme_widget_message_footer compact js-message_footer">'
        f'<div class="tgme_widget_message_info short js-message_info">'
        f'<span class="tgme_widget_message_views">{p.views}</span>'
        f'<span class="copyonly"> views</span>'
        f'<span class="tgme_widget_message_meta">{meta}'
        f'<a class="tgme_widget_message_date" href="https://t.me/{handle}/{p.id}">'
        f'<time datetime="{p.date.isoformat()}" class="time">{p.date:%H:%M}</time></a>'
        f"</span></div></div></div></div></div>"
    )


def render_page(ch: PreviewChannel, before: int | None, base: str = "") -> str:
    ids = sorted(i for i in ch.posts if before is None or i < before)[-PAGE:]
    posts = "\n".join(render_post(ch.handle, ch.posts[i], base) for i in ids)
    return (
        "<!DOCTYPE html><html><head><title>Telegram</title></head><body>"
        '<div class="tgme_channel_info"><div class="tgme_channel_info_header">'
        f'<div class="tgme_channel_info_header_title"><span dir="auto">{html.escape(ch.title)}'
        "</span></div></div></div>"
        f'<section class="tgme_channel_history js-message_history">{posts}</section>'
        "</body></html>"
    )


class Preview:
    def __init__(self) -> None:
        self.channels: dict[str, PreviewChannel] = {}
        self.files: dict[str, str] = {}  # handle -> fixture served as its /s/ page
        self.redirects: dict[str, str] = {}  # handle -> fixture served at /handle after 302
        self.fail_before: dict[str, int] = {}  # handle -> answer 500 for pages before this id
        self.requests: list[str] = []
        self.base = ""
        # Images (#13): extra files by path, statuses answered before a file's bytes (popped
        # one per request: [503] fails once), files sent without Content-Length (the body
        # ends when the connection closes), and redirects by path.
        self.media: dict[str, bytes] = {}
        self.media_status: dict[str, list[int]] = {}
        self.media_no_length: set[str] = set()
        self.media_redirects: dict[str, str] = {}

    def channel(self, handle: str, title: str | None = None) -> PreviewChannel:
        ch = PreviewChannel(handle, title or handle)
        self.channels[handle] = ch
        return ch

    def respond(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, str | None]:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 1 and parts[0] in self.redirects:
            return 200, (FIXTURES / self.redirects[parts[0]]).read_text(encoding="utf-8"), None
        if len(parts) != 2 or parts[0] != "s":
            return 404, "not found", None
        handle = parts[1]
        if handle in self.redirects:
            return 302, "", f"/{handle}"
        if handle in self.files:
            return 200, (FIXTURES / self.files[handle]).read_text(encoding="utf-8"), None
        ch = self.channels.get(handle)
        if ch is None:
            return 404, "not found", None
        before = int(query["before"][0]) if "before" in query else None
        limit = self.fail_before.get(handle)
        if limit is not None and before is not None and before <= limit:
            return 500, "server error", None
        return 200, render_page(ch, before, self.base), None

    def media_file(self, path: str) -> bytes | None:
        if path in self.media:
            return self.media[path]
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[2].endswith(".jpg") and parts[2][:-4].isdigit():
            ch = self.channels.get(parts[1])
            post = ch.posts.get(int(parts[2][:-4])) if ch else None
            return post.photo if post else None
        return None

    def respond_media(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        statuses = self.media_status.get(path)
        if statuses:
            return statuses.pop(0), b"try again", {"Content-Type": "text/plain"}
        if path in self.media_redirects:
            return 302, b"", {"Location": self.media_redirects[path]}
        data = self.media_file(path)
        if data is None:
            return 404, b"not found", {"Content-Type": "text/plain"}
        headers = {"Content-Type": "image/jpeg"}
        if path not in self.media_no_length:
            headers["Content-Length"] = str(len(data))
        return 200, data, headers


def _handler(preview: Preview) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            preview.requests.append(self.path)
            if url.path.startswith("/file/"):
                self._media(url.path)
                return
            status, body, location = preview.respond(url.path, parse_qs(url.query))
            data = body.encode("utf-8")
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _media(self, path: str) -> None:
            status, data, headers = preview.respond_media(path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                # HTTP/1.0 without a length: the body is what comes before the close.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            # The client may hang up once past its cap.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def serve() -> Iterator[Preview]:
    preview = Preview()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(preview))
    server.daemon_threads = True
    preview.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield preview
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
