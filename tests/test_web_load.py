"""More analysts at once than the process has database connections: everyone is served."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from sqlalchemy import event

from monitor.store.db import make_engine, session_factory
from monitor.web.app import create_app
from tests.conftest import Database
from tests.web_support import PASSWORD, make_users, seed, serving, settings


def test_requests_beyond_the_pool_wait_their_turn(sqlite_db: Database) -> None:
    make_users(sqlite_db.sessions)
    seed(sqlite_db.sessions)
    # Two connections and a short timeout: without the door, requests holding the two
    # connections wait for threads that are all blocked waiting for a connection, until the
    # pool gives up (HTTP 500 after pool_timeout).
    engine = make_engine(sqlite_db.url, pool_size=2, max_overflow=0, pool_timeout=3)

    def slow_database(*_: object) -> None:
        time.sleep(0.02)  # so that requests overlap rather than finish one by one

    event.listen(engine, "before_cursor_execute", slow_database)

    async def analysts(base: str, n: int) -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            signed_in = await client.post(
                "/login",
                data={"username": "analyst", "password": PASSWORD, "csrf_token": token.group(1)},
            )
            assert signed_in.status_code == 303
            pages = await asyncio.gather(*(client.get("/") for _ in range(n)))
            return [p.status_code for p in pages]

    try:
        with serving(create_app(settings(), session_factory(engine))) as base:
            started = time.monotonic()
            # More at once than anyio's 40 threads, so threads can all be waiting on the pool.
            statuses = asyncio.run(analysts(base, 60))
            elapsed = time.monotonic() - started
    finally:
        engine.dispose()
    assert statuses == [200] * 60
    assert elapsed < 30, f"{elapsed:.0f} s: requests stalled on the pool"


@pytest.mark.parametrize("pool", [(3, 4, 7), (1, 0, 1)])
def test_door_is_as_wide_as_the_pool(sqlite_db: Database, pool: tuple[int, int, int]) -> None:
    from monitor.web.limits import pool_capacity

    size, overflow, expected = pool
    engine = make_engine(sqlite_db.url, pool_size=size, max_overflow=overflow)
    try:
        assert pool_capacity(session_factory(engine)) == expected
    finally:
        engine.dispose()


def test_a_settled_console_is_compiled_and_out_of_the_collectors_sight(
    sqlite_db: Database,
) -> None:
    import gc

    from monitor.web.app import settle

    app = create_app(settings(), sqlite_db.sessions)
    before = len(gc.get_objects())
    try:
        settle(app)
        env = app.state.jinja
        compiled = {key[1] for key in env.cache}
        assert {"queue.html", "post.html", "base.html"} <= compiled
        # Full collections no longer walk what the process built before serving.
        assert gc.get_freeze_count() >= before // 2
        assert len(gc.get_objects()) < before // 10
    finally:
        gc.unfreeze()


def test_door_lets_in_a_few_at_a_time_and_never_holds_up_probes() -> None:
    from starlette.types import Receive, Scope, Send

    from monitor.web.limits import ConcurrencyLimit

    inside, most = 0, 0

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        await asyncio.sleep(0.02)
        inside -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def run() -> tuple[int, int]:
        nonlocal most
        door = ConcurrencyLimit(page, limit=3)
        transport = httpx.ASGITransport(app=door)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await asyncio.gather(*(client.get("/") for _ in range(12)))
            pages, most = most, 0
            await asyncio.gather(*(client.get("/healthz") for _ in range(12)))
            return pages, most

    pages, probes = asyncio.run(run())
    assert pages == 3
    assert probes == 12
