"""Security headers on every response the console sends, errors included."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# form-action: an injected <form> (or a hijacked one) cannot post analysts' input elsewhere (#11).
# img-src: statement images only from /media/ (#13), spelled out so that tightening default-src
# cannot silently break them, and never data: or another host (a tracking pixel in a post).
CSP = (
    "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Pure ASGI so it also wraps responses from exception handlers and static files.

    It sits inside Starlette's outermost error middleware, so it answers unhandled exceptions
    itself: otherwise a 500 would leave without the headers.
    """

    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        # Over https only (the scheme a trusted proxy vouches for, web/transport.py; #11).
        self.hsts = f"max-age={hsts_seconds}".encode() if hsts_seconds else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in names]
                if self.hsts and scope.get("scheme") == "https":
                    extra.append((b"strict-transport-security", self.hsts))
                if not scope["path"].startswith("/static/") and b"cache-control" not in names:
                    # Pages show hostile text and analysts' notes: keep them out of shared caches.
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": b"internal error\n"})
