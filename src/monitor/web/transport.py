"""Who is asking, and over what: forwarded headers from trusted proxies only (#11).

Behind a reverse proxy every request comes from the proxy's address, so the login limit
would count all analysts as one client and the console would think it is served over plain
http. The proxy's ``X-Forwarded-For`` and ``X-Forwarded-Proto`` say otherwise, but anyone
can send those headers: they are honoured only from the addresses in
``MONITOR_TRUSTED_PROXIES`` (uvicorn's own ProxyHeadersMiddleware does the parsing; ``monitor
serve`` runs uvicorn with ``proxy_headers=False`` so that this list is the only one).
RFC 7239 ``Forwarded`` is not read: a proxy that sends only that is treated as the client.
"""

from __future__ import annotations

import ipaddress
from typing import Any, cast

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def parse_proxies(value: str) -> list[str]:
    """The addresses and networks of ``MONITOR_TRUSTED_PROXIES`` (comma-separated)."""
    entries = [part.strip() for part in value.split(",") if part.strip()]
    for entry in entries:
        try:
            if "/" in entry:
                ipaddress.ip_network(entry, strict=False)
            else:
                ipaddress.ip_address(entry)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
    return entries


def is_https(request: Request) -> bool:
    """Served over TLS, as the connection or a trusted proxy's X-Forwarded-Proto says."""
    return request.url.scheme == "https"


class Transport:
    """Rewrites client address and scheme from a trusted proxy's headers, for every layer
    inside it (the login limit's client, the Secure cookie, SecurityHeaders' HSTS)."""

    def __init__(self, app: ASGIApp, trusted: str = "") -> None:
        proxies = parse_proxies(trusted)
        # An empty list would make uvicorn trust a literal "": never pass one.
        self.app = app
        self.inner: ASGIApp = app
        if proxies:
            # uvicorn types ASGI more narrowly than Starlette; the protocol is the same.
            proxy = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=proxies)
            self.inner = cast(ASGIApp, proxy)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.inner(scope, receive, send)
