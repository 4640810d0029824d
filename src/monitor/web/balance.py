"""Spreading analysts' connections evenly over the processes of ``monitor serve --workers N``.

The processes share one listening socket, and a browser stays with the process that accepted its
connection for as long as it keeps the connection alive. Which process accepts is a race the
kernel does not run fairly: on 2 cores, 20 clients often split 17 to 3, and the 17 wait six
times longer for each page while the other process idles. So each process posts how many
connections it serves on a board the processes share (one small file each), and a process
holding more than one connection above the least busy one answers a request with
``Connection: close``. That browser reconnects, and the next accept may land elsewhere; repeated,
the connections even out within seconds.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.files import write_atomic

# A connection counts as served while it sent a request this recently; an analyst reading a
# page longer than this leaves no load behind.
ACTIVE_SECONDS = 2.0
# How often a process posts its count and reads the others'; also the least time between two
# closes, so that a moved connection shows on the board before the next one goes.
REFRESH_SECONDS = 0.25


class LoadBoard:
    """The connection count of every live serving process, one file per process id."""

    def __init__(self, directory: Path, pid: int | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.pid = pid or os.getpid()
        self._path = directory / f"{self.pid}.conn"
        # On the board from the start: a process that no client has reached yet is the one
        # the others should send their surplus to.
        self.post(0)

    def post(self, connections: int) -> None:
        # Readers see the old count or the new, never half.
        write_atomic(self._path, str(connections).encode())

    def least_other(self) -> int | None:
        """The fewest connections any other live process holds; None when alone."""
        counts = []
        now = time.time()
        for path in self.directory.glob("*.conn"):
            try:
                pid = int(path.stem)
                if pid == self.pid:
                    continue
                # A process that died (and was replaced) left its file. PermissionError:
                # alive, under another user, still one of ours.
                with contextlib.suppress(PermissionError):
                    os.kill(pid, 0)
                # A process posts whenever requests come: a count older than a connection
                # stays active is one whose clients have all gone quiet.
                stale = now - path.stat().st_mtime > ACTIVE_SECONDS
                counts.append(0 if stale else int(path.read_text() or 0))
            except (ValueError, ProcessLookupError, FileNotFoundError):
                continue
        return min(counts) if counts else None


class Rebalance:
    """ASGI middleware: closes this process's surplus connections, one per refresh."""

    def __init__(
        self,
        app: ASGIApp,
        board: LoadBoard | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.board = board
        self.clock = clock
        self._seen: dict[tuple[str, int], float] = {}
        self._refreshed = -REFRESH_SECONDS

    def active(self) -> int:
        return len(self._seen)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.board is None or scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        # An ASGI scope names no connection; the client's address and port do while it lasts.
        key = (client[0], client[1])
        self._seen[key] = now
        surplus = False
        if now - self._refreshed >= REFRESH_SECONDS:
            self._refreshed = now
            self._seen = {k: t for k, t in self._seen.items() if now - t < ACTIVE_SECONDS}
            self.board.post(len(self._seen))
            least_other = self.board.least_other()
            surplus = least_other is not None and len(self._seen) > least_other + 1
        if not surplus:
            await self.app(scope, receive, send)
            return
        del self._seen[key]
        self.board.post(len(self._seen))

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)
