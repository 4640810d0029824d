"""Outage test (issue #7): PostgreSQL unreachable in the middle of a run.

The service (scheduler, collector on the fake Telegram client, alert sender to a local webhook)
and the console's ``/readyz`` reach PostgreSQL through a TCP proxy on 127.0.0.1. The proxy is
cut (every connection closed, new ones refused) while posts keep arriving, then restored. The
service must keep running, back off, answer 503 on ``/readyz`` meanwhile, and recover by itself
with every post stored once and every alert delivered.

CI cuts for 6 s; ``MONITOR_OUTAGE_SECONDS=60 pytest tests/test_outage.py -s`` is the full
60-second version of the issue (about 1.5 minutes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine, make_url

from monitor.alerts.render import Renderer
from monitor.alerts.sender import Sender
from monitor.alerts.subscriptions import add_subscription
from monitor.collect.collector import Collector
from monitor.collect.leases import Leases
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.match import Matcher, load_rules
from monitor.pipeline import build_pipeline
from monitor.scheduler import Service
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, session_factory
from monitor.store.migrate import upgrade
from monitor.store.models import AlertOutbox, Channel, Match, Post, PostVersion
from monitor.web.app import create_app
from tests.alert_receivers import WebhookReceiver, webhook
from tests.chaos import World, world_client
from tests.conftest import CONFIG, _postgres
from tests.tcp_proxy import TcpProxy
from tests.web_support import TestClient

__all__ = ["webhook"]  # fixture
pytestmark = pytest.mark.postgres

OUTAGE = float(os.environ.get("MONITOR_OUTAGE_SECONDS", "6"))


@pytest.fixture
def pg_url() -> Iterator[str]:
    with _postgres() as url:
        yield url


@pytest.fixture
def direct(pg_url: str) -> Iterator[Engine]:
    """The test's own way to the database, around the proxy; closed even when the test fails."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _wait(what: str, check: object, timeout: float) -> float:
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - start


def test_database_outage_pauses_the_service_and_it_recovers_by_itself(
    pg_url: str,
    direct: Engine,
    tmp_path: Path,
    webhook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upgrade(direct)
    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)

    # Posts keep arriving before, during and after the outage.
    world = World(11, time.time() + 1, channels=3, backlog=30, total=70, period=(OUTAGE + 8) / 40)
    settings = Settings(
        database_url=via_proxy,
        var_dir=tmp_path,
        ingest_batch_size=10,
        collect_initial_posts=10_000,
        alert_group_seconds=0,
        alert_lease_seconds=5,
        alert_poll_seconds=0.3,
        alert_rate_per_minute=100_000,
        alert_retry_initial=0.5,
        lease_seconds=60,
        worker_id="outage",
        db_retry_max=2,
    )
    sessions = session_factory(direct)
    with sessions.begin() as s:
        for c in range(world.channels):
            ensure_channel(s, world.handle(c), source="telethon")
        s.execute(update(Channel).values(interval_seconds=1))
        add_subscription(s, "desk", webhook.url, min_severity="low")

    engine = make_engine(via_proxy)
    service_sessions = session_factory(engine)
    matcher = Matcher(load_rules(CONFIG / "rules"), cache_dir=settings.cache_path)
    pipeline = build_pipeline(service_sessions, settings, matcher=matcher)
    leases = Leases(service_sessions, "outage", ttl=settings.lease_seconds)
    source = TelethonSource(world_client(world), initial_posts=settings.collect_initial_posts)
    collector = Collector(pipeline, settings, {"telethon": source}, leases=leases)
    sender = Sender(service_sessions, settings, Renderer(CONFIG))
    service = Service(collector, leases, sender)
    console = TestClient(create_app(settings, service_sessions, secret="s" * 32))

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(service.serve(stop))
        except BaseException as exc:
            failure.append(exc)

    def stored() -> int:
        with sessions() as s:
            return s.scalar(select(func.count()).select_from(Post)) or 0

    def all_delivered() -> bool:
        with sessions() as s:
            unsent = s.scalar(
                select(func.count()).select_from(AlertOutbox).where(AlertOutbox.status != "sent")
            )
        return stored() == world.channels * world.total and unsent == 0

    thread = threading.Thread(target=serve, daemon=True)
    caplog.set_level(logging.INFO, logger="monitor")
    thread.start()
    try:
        _wait("the backlog stored", lambda: stored() >= world.channels * world.backlog, 60)
        assert console.get("/readyz").status_code == 200
        before = stored()

        proxy.cut()
        cut_at = time.monotonic()
        # During the outage: not ready, still alive, nothing stored (the posts keep coming).
        assert console.get("/readyz").status_code == 503
        while time.monotonic() - cut_at < OUTAGE:
            assert thread.is_alive(), failure
            assert console.get("/healthz").status_code == 200
            time.sleep(0.5)
        assert service.database_down
        assert console.get("/readyz").status_code == 503
        assert world.visible() > world.backlog  # posts arrived that could not be stored

        proxy.start()
        back = _wait("the service sees the database", lambda: not service.database_down, 30)
        caught_up = world.channels * world.visible()
        behind = caught_up - stored()
        recovered = back + _wait("caught up", lambda: stored() >= caught_up, 60)
        _wait("everything stored and delivered", all_delivered, 60 + OUTAGE)
        print(
            f"outage {OUTAGE:.0f} s: {before} posts before; after the database came back, the "
            f"service noticed in {back:.1f} s and stored the {behind} posts it was behind "
            f"within {recovered:.1f} s"
        )
        assert console.get("/readyz").status_code == 200
        assert not service.database_down
        assert thread.is_alive(), failure
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        if not thread.is_alive():
            loop.close()
        proxy.cut()
        engine.dispose()
    assert not thread.is_alive() and not failure
    assert service.outages >= 1

    messages = [r.getMessage() for r in caplog.records]
    assert any("database unreachable" in m for m in messages)
    assert any("database reachable again" in m for m in messages)
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks for an outage"

    # Exactly once: every post, one version each, every flag, every alert.
    expected = world.expected()
    with sessions() as s:
        rows = s.execute(
            select(Channel.handle, Post.message_id, Match.flagged)
            .join(Post, Post.channel_id == Channel.id)
            .outerjoin(Match, Match.post_id == Post.id)
        ).all()
        versions = s.scalar(select(func.count()).select_from(PostVersion))
        keys = set(s.scalars(select(AlertOutbox.dedup_key)))
    assert sorted((h, m) for h, m, _ in rows) == sorted(expected)
    assert versions == len(rows)
    assert {(h, m) for h, m, f in rows if f} == {k for k, cue in expected.items() if cue}
    assert len(keys) == sum(expected.values())
    received = Counter(webhook.keys())
    assert set(received) == keys
    # The cut can fall between a delivery and its "sent" mark: that one message (which may carry
    # several alerts of one event) is the only thing that may go out twice.
    assert all(n <= 2 for n in received.values()), received
    twice = {k for k, n in received.items() if n == 2}
    messages = [set(h.body["alert_keys"].split(",")) for h in webhook.received]
    assert not twice or any(twice <= m for m in messages), (twice, messages)
