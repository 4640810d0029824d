"""Worker processes even out their connections: the busier one asks a client to reconnect."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from monitor.web.balance import ACTIVE_SECONDS, REFRESH_SECONDS, LoadBoard, Rebalance


async def ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(mw: Rebalance, port: int) -> dict[bytes, bytes]:
    """One request from 127.0.0.1:port; the response headers."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "client": ("127.0.0.1", port)}
    asyncio.run(mw(scope, receive, send))
    return dict(sent[0]["headers"])


@pytest.fixture
def other_process() -> Iterator[int]:
    """A live process id that is not ours: the other worker."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def test_a_process_alone_keeps_every_connection(tmp_path: Path) -> None:
    clock = Clock()
    mw = Rebalance(ok, LoadBoard(tmp_path), clock)
    for port in range(5000, 5010):
        clock.now += ACTIVE_SECONDS / 20
        assert b"connection" not in get(mw, port)
    assert mw.active() == 10


def test_the_busier_process_closes_one_connection_per_refresh(
    tmp_path: Path, other_process: int
) -> None:
    clock = Clock()
    mine = LoadBoard(tmp_path)
    theirs = LoadBoard(tmp_path, pid=other_process)
    theirs.post(1)
    mw = Rebalance(ok, mine, clock)
    for port in (5000, 5001):  # two here, one there: even enough
        assert b"connection" not in get(mw, port)
    clock.now += REFRESH_SECONDS
    headers = get(mw, 5002)  # a third: two more than there
    assert headers[b"connection"] == b"close"
    assert headers[b"x-app"] == b"1"  # the page itself is served whole
    assert mw.active() == 2
    assert (tmp_path / f"{os.getpid()}.conn").read_text() == "2"
    # Within the same refresh the board is not read again: no second close on its heels.
    get(mw, 5003)
    assert mw.active() == 3
    theirs.post(2)
    clock.now += REFRESH_SECONDS
    assert b"connection" not in get(mw, 5000)  # three against two: even enough


def test_a_dead_process_file_is_no_place_to_send_anyone(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    LoadBoard(tmp_path, pid=gone.pid).post(0)
    clock = Clock()
    mw = Rebalance(ok, LoadBoard(tmp_path), clock)
    for port in range(5000, 5005):
        clock.now += REFRESH_SECONDS
        assert b"connection" not in get(mw, port)


def test_a_connection_idle_for_a_while_no_longer_counts(tmp_path: Path, other_process: int) -> None:
    clock = Clock()
    LoadBoard(tmp_path, pid=other_process).post(0)
    mw = Rebalance(ok, LoadBoard(tmp_path), clock)
    assert b"connection" not in get(mw, 5000)
    assert mw.active() == 1
    clock.now += ACTIVE_SECONDS
    assert b"connection" not in get(mw, 5001)  # 5000 went quiet: one here, none there
    assert mw.active() == 1


def test_a_process_whose_clients_went_quiet_counts_as_free(
    tmp_path: Path, other_process: int
) -> None:
    clock = Clock()
    theirs = LoadBoard(tmp_path, pid=other_process)
    theirs.post(5)
    mw = Rebalance(ok, LoadBoard(tmp_path), clock)
    for port in (5000, 5001):
        assert b"connection" not in get(mw, port)
    long_ago = time.time() - ACTIVE_SECONDS - 1
    os.utime(tmp_path / f"{other_process}.conn", (long_ago, long_ago))
    clock.now += REFRESH_SECONDS
    assert get(mw, 5002)[b"connection"] == b"close"


def test_a_process_no_client_reached_yet_is_on_the_board(
    tmp_path: Path, other_process: int
) -> None:
    LoadBoard(tmp_path, pid=other_process)  # started, never posted a count itself
    clock = Clock()
    mw = Rebalance(ok, LoadBoard(tmp_path), clock)
    for port in (5000, 5001):
        assert b"connection" not in get(mw, port)
    clock.now += REFRESH_SECONDS
    assert get(mw, 5002)[b"connection"] == b"close"


def test_without_a_board_nothing_is_counted() -> None:
    mw = Rebalance(ok, None)
    assert b"connection" not in get(mw, 5000)
    assert mw.active() == 0
