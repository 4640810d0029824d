"""Several workers: leases split channels, never share one, and take over a dead worker's."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.collect.collector import Collector
from monitor.collect.fake import FakeTelegramClient
from monitor.collect.leases import Leases
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.pipeline import build_pipeline
from monitor.scheduler import Service
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, session_factory
from monitor.store.models import Channel, Post, utcnow
from tests.conftest import Database


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def channels(db: Database, n: int, source: str = "web") -> list[int]:
    with db.sessions.begin() as s:
        return [ensure_channel(s, f"chan_{i:03}", source=source).id for i in range(n)]


def test_workers_split_channels_and_take_over_a_dead_one(db: Database) -> None:
    ids = channels(db, 10)
    clock = Clock()
    # Separate engines: each worker is its own process with its own connections.
    engines = [make_engine(db.url), make_engine(db.url)]
    one = Leases(session_factory(engines[0]), "worker-1", ttl=60, clock=clock)
    two = Leases(session_factory(engines[1]), "worker-2", ttl=60, clock=clock)
    try:
        assert one.rebalance() == set(ids)
        assert two.rebalance() == set()  # all taken by a live worker
        assert not two.hold(ids[0]) and two.holder(ids[0]) == "worker-1"
        if db.dialect == "postgresql":
            first = one.rebalance()  # sees the second worker: gives back half
            second = two.rebalance()
            assert len(first) == len(second) == 5 and not first & second
        engines[0].dispose()  # worker-1 dies: its connections close, its leases run out
        clock.now += timedelta(seconds=61)
        for _ in range(50):  # PostgreSQL drops a closed backend from pg_stat_activity shortly
            if two.rebalance() == set(ids):
                break
            time.sleep(0.05)
        assert two.rebalance() == set(ids)
        assert not one.hold(ids[0])  # a worker that stalled past its lease polls nothing
        two.release()
        assert one.hold(ids[0])
    finally:
        for engine in engines:
            engine.dispose()


def test_a_stalled_worker_never_polls_a_channel_taken_over(db: Database) -> None:
    [cid] = channels(db, 1)
    clock = Clock()
    engines = [make_engine(db.url), make_engine(db.url)]
    one = Leases(session_factory(engines[0]), "worker-1", ttl=60, clock=clock)
    two = Leases(session_factory(engines[1]), "worker-2", ttl=60, clock=clock)
    try:
        assert one.rebalance() == {cid}
        clock.now += timedelta(seconds=20)
        assert one.hold(cid)  # fresh lease: certain without asking the database
        assert not two.hold(cid)
        clock.now += timedelta(seconds=45)  # worker-1 stalled past its expiry ...
        assert two.hold(cid)  # ... and worker-2 took the channel over
        assert not one.hold(cid)
        assert one.holder(cid) == "worker-2"
    finally:
        for engine in engines:
            engine.dispose()


def test_concurrent_claims_never_overlap(db: Database) -> None:
    ids = channels(db, 40)
    claims: dict[str, set[int]] = {}
    barrier = threading.Barrier(4)

    def work(name: str) -> None:
        leases = Leases(db.sessions, name, ttl=60)
        barrier.wait()
        claims[name] = leases.rebalance()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = [c for got in claims.values() for c in got]
    assert len(held) == len(set(held))  # nobody claimed a channel twice
    assert set(held) <= set(ids)
    with db.sessions() as s:
        owners = dict(s.execute(select(Channel.id, Channel.lease_owner)).all())
    for name, got in claims.items():
        assert all(owners[c] == name for c in got)


def service(db: Database, tmp_path: Path, fake: FakeTelegramClient, worker: str) -> Service:
    cfg = Settings(var_dir=tmp_path, lease_seconds=60, telegram_account="acct")
    source = TelethonSource(fake)
    leases = Leases(db.sessions, worker, ttl=60)
    collector = Collector(
        build_pipeline(db.sessions, cfg), cfg, {"telethon": source}, leases=leases
    )
    return Service(collector, leases)


def test_run_once_collects_every_channel_and_releases(db: Database, tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    for i in range(3):
        fake.add_channel(f"chan_{i:03}")
        fake.post(f"chan_{i:03}", "بيان")
    channels(db, 3, source="telethon")
    results = asyncio.run(service(db, tmp_path, fake, "w1").cycle())
    assert [r.outcome for r in results] == ["ok"] * 3
    with db.sessions() as s:
        assert len(s.scalars(select(Post.id)).all()) == 3
        assert s.scalars(select(Channel.lease_owner)).all() == [None] * 3


def test_sigterm_stops_the_service_cleanly(db: Database, tmp_path: Path) -> None:
    fake = FakeTelegramClient()
    for i in range(2):
        fake.add_channel(f"chan_{i:03}")
        fake.post(f"chan_{i:03}", "بيان")
    ids = channels(db, 2, source="telethon")
    with db.sessions.begin() as s:
        for ch in s.scalars(select(Channel)):
            ch.interval_seconds = 1
    svc = service(db, tmp_path, fake, "w1")

    async def go() -> None:
        task = asyncio.create_task(svc.serve())
        for _ in range(200):  # the first passes start within 1 s (interval 1 s)
            await asyncio.sleep(0.05)
            if sum(fake.history_calls.values()) >= 2:
                break
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 10)

    asyncio.run(go())
    with db.sessions() as s:
        assert len(s.scalars(select(Post.id)).all()) == 2
        rows = s.scalars(select(Channel).where(Channel.id.in_(ids))).all()
        assert all(ch.lease_owner is None and ch.last_success_at for ch in rows)
