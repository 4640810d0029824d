"""How many requests one console process works on at once.

A request holds a pooled database connection from its first query to its end, and between its
steps it waits for a threadpool turn (FastAPI runs sync code in anyio's 40 threads). With more
requests in flight than the pool has connections, threads block waiting for a connection while
the requests holding the connections wait for a thread: nothing moves until the pool's 30 s
timeout fails them. Letting in no more requests than there are connections removes the
cycle; the others wait at the door, first come first served.

Fewer still is faster: Python runs one thread at a time, and a dozen requests sharing it in 5 ms
slices all finish late, where a few at a time finish in turn (``console_concurrency``).
"""

from __future__ import annotations

import asyncio

import anyio
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send

UNPOOLED = 32  # NullPool or a single shared connection: no pool to run out of
# Cheap and without a session: never queued behind the pages.
EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/")


def pool_capacity(sessions: sessionmaker[Session]) -> int:
    bind = sessions.kw.get("bind")
    pool = getattr(bind, "pool", None)
    if isinstance(pool, QueuePool):
        return max(1, pool.size() + max(0, pool._max_overflow))
    return UNPOOLED


class ConcurrencyLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        # Made in the event loop that uses it (tests run several loops over one app).
        self._slots: anyio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            self._slots, self._loop = anyio.Semaphore(self.limit), loop
        async with self._slots:
            await self.app(scope, receive, send)
