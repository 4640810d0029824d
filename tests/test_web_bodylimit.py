"""Request bodies are capped before anything parses them, authentication included (#11)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from monitor.web.app import create_app

from .conftest import Database
from .web_support import serving, settings

CAP = 1_048_576  # the default of console_max_body
BIG = 50 * 1024 * 1024
CHUNK = 64 * 1024


class Upload:
    """An ASGI receive() serving ``size`` bytes in chunks, counting how much the app pulled."""

    def __init__(self, size: int, head: bytes = b"", tail: bytes = b"") -> None:
        self.size, self.head, self.tail = size, head, tail
        self.pulled = 0
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.pulled == 0 and self.head:
            chunk = self.head
        elif self.pulled >= self.size:
            return {"type": "http.disconnect"}
        else:
            chunk = b"a" * min(CHUNK, self.size - self.pulled)
        self.pulled += len(chunk)
        more = self.pulled < self.size
        return {
            "type": "http.request",
            "body": chunk if more else chunk + self.tail,
            "more_body": more,
        }


def call(
    app: FastAPI, path: str, headers: list[tuple[bytes, bytes]], upload: Upload
) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, upload, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body


@pytest.fixture
def app(sqlite_db: Database) -> FastAPI:
    return create_app(settings(), sqlite_db.sessions)


def test_a_declared_oversized_body_is_refused_unread(app: FastAPI) -> None:
    upload = Upload(BIG)
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, body = call(app, "/login", [form, (b"content-length", str(BIG).encode())], upload)
    assert status == 413 and b"limit is 1048576 bytes" in body
    assert upload.pulled == 0  # not one byte of the 50 MB was read


@pytest.mark.parametrize("path", ["/login", "/posts/1/review", "/users"])
def test_a_chunked_form_is_cut_off_at_the_cap(app: FastAPI, path: str) -> None:
    upload = Upload(BIG, head=b"username=admin&password=")
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, body = call(app, path, [form, (b"transfer-encoding", b"chunked")], upload)
    assert status == 413, body
    assert upload.pulled <= CAP + CHUNK  # refused once past the cap, never buffered beyond it


def test_a_multipart_upload_to_login_is_capped(app: FastAPI) -> None:
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="username"\r\n\r\nadmin\r\n'
        b'--xyz\r\nContent-Disposition: form-data; name="password"; filename="p.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    upload = Upload(BIG, head=head, tail=b"\r\n--xyz--\r\n")
    multipart = (b"content-type", b"multipart/form-data; boundary=xyz")
    status, _ = call(app, "/login", [multipart, (b"transfer-encoding", b"chunked")], upload)
    assert status == 413
    assert upload.pulled <= CAP + CHUNK


def test_a_body_under_the_cap_still_reaches_the_form(app: FastAPI) -> None:
    # A normal sign-in is not affected: the form is parsed (and fails on the missing token).
    upload = Upload(200, head=b"username=admin&password=x&csrf_token=&pad=")
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, _ = call(app, "/login", [form, (b"content-length", b"200")], upload)
    assert status not in (413, 500)
    assert upload.pulled == 200


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    return data


def test_a_real_server_answers_413_at_once(sqlite_db: Database) -> None:
    with serving(create_app(settings(), sqlite_db.sessions)) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port
        assert host == "127.0.0.1" and port
        with socket.create_connection((host, port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(
                b"POST /login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {BIG}\r\n\r\n".encode()
            )
            # No byte of the body is sent: the answer cannot be waiting for it.
            assert _response(sock).startswith(b"HTTP/1.1 413 ")
            assert time.monotonic() - started < 5
        with socket.create_connection((host, port), timeout=10) as sock:
            sock.sendall(
                b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
            )
            chunk = f"{CHUNK:x}\r\n".encode() + b"a" * CHUNK + b"\r\n"
            sent, answer = 0, b""
            sock.setblocking(False)
            while sent < BIG and not answer:
                try:
                    sock.send(chunk)
                    sent += CHUNK
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    time.sleep(0.01)
                try:
                    answer = sock.recv(65536)
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    break
            assert answer.startswith(b"HTTP/1.1 413 "), (sent, answer)
            # Answered long before the 50 MB were through (what is in flight sits in the
            # sockets' buffers, not in the console).
            assert sent < BIG // 2


def test_the_cap_is_a_setting(sqlite_db: Database) -> None:
    app = create_app(settings(console_max_body=2048), sqlite_db.sessions)
    form = (b"content-type", b"application/x-www-form-urlencoded")
    status, _ = call(app, "/login", [form, (b"content-length", b"4096")], Upload(4096))
    assert status == 413
    status, _ = call(app, "/login", [form, (b"content-length", b"1024")], Upload(1024))
    assert status != 413
