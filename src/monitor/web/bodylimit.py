"""A cap on request bodies, applied before anything reads them (#11).

Without it an anonymous client could make the console parse a 981 MB form (1.17 GB of memory,
96 s) or spool a 300 MB upload to ``/login`` before authentication had even been tried. This is
pure ASGI and sits outside every layer that could read the body, so nothing is buffered past the
cap: a declared ``Content-Length`` above it is refused before a byte of the body is read, and a
body without one (chunked) is counted as it arrives and cut off as soon as it passes the cap.
"""

from __future__ import annotations

import contextlib
import json
import logging

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.web.app_helpers import wants_json

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """Raised into the app from ``receive()`` once the body passed the cap."""


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        # The server already refuses a malformed Content-Length; a huge one is refused here
        # unread, so the client learns at once instead of after uploading it all.
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        received = 0
        exceeded = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                # Whatever the app made of the cut-off body (FastAPI turns it into "error
                # parsing the body"), the client is told the real reason below.
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):  # the app did not catch it: answered below
            await self.app(scope, capped_receive, guarded_send)
        if exceeded and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        log.warning(
            "refused a request body over %d bytes: %s %s",
            self.limit,
            scope.get("method"),
            scope.get("path"),
        )
        message = f"request body too large: the limit is {self.limit} bytes"
        if wants_json(Request(scope)):
            body, media = json.dumps({"error": message}).encode(), b"application/json"
        else:
            body, media = (message + "\n").encode(), b"text/plain; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is never read: the connection cannot carry another
                    # request after it.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
