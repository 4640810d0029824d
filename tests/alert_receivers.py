"""Real local receivers for alert tests: an HTTP webhook and an SMTP server, on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def _serve(port: int, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` answering on 127.0.0.1:``port`` from a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


@dataclass
class Hook:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    port: int
    received: list[Hook] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with HTTP 500 first
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append(Hook(dict(self.headers), json.loads(raw)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = _serve(self.port, Handler)

    def stop(self) -> None:
        """Down: connections are refused until start() again (same port)."""
        _stop(self._server)
        self._server = None

    def keys(self) -> list[str]:
        return [k for h in self.received for k in h.body["alert_keys"].split(",")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(free_port())
    receiver.start()
    yield receiver
    receiver.stop()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@dataclass
class SmtpReceiver:
    port: int
    box: _Mailbox

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?mode=insecure"
            "&from=monitor@example.org&to=desk@example.org"
        )


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpReceiver(port, box)
    controller.stop()


@dataclass
class Listener:
    """A bare TCP server on 127.0.0.1 that counts the connections it is sent: an address the
    destination check must keep every alert away from (#11)."""

    port: int
    connections: int = 0
    _sock: socket.socket | None = None

    def start(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        threading.Thread(target=self._serve, args=(self._sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:  # closed by stop()
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@pytest.fixture
def listener() -> Iterator[Listener]:
    probe = Listener(free_port())
    probe.start()
    yield probe
    probe.stop()


@dataclass
class Redirector:
    """An HTTP server on 127.0.0.1 that answers every request 307 to ``target``."""

    port: int
    target: str
    requests: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        redirector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                redirector.requests += 1
                self.send_response(307)
                self.send_header("Location", redirector.target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = _serve(self.port, Handler)

    def stop(self) -> None:
        _stop(self._server)
        self._server = None
