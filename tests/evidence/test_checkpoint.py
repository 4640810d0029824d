"""Signed checkpoints (#17): `monitor run` signs the chain's head on a schedule; nothing new,
nothing signed; a key others can read is refused, and the service goes on collecting."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.collect.collector import Collector
from monitor.collect.leases import Leases
from monitor.collect.records import PostRecord
from monitor.config import Settings
from monitor.evidence.canonical import checkpoint_bytes, timestamp
from monitor.evidence.checkpoint import checkpoint_now
from monitor.evidence.keys import load_signing_key
from monitor.pipeline import build_pipeline
from monitor.scheduler import Service
from monitor.store.models import EvidenceCheckpoint, EvidenceHead
from tests.conftest import Database, add_channel
from tests.evidence.conftest import HANDLE, T0


def checkpoints(db: Database) -> list[EvidenceCheckpoint]:
    with db.sessions() as s:
        rows = list(s.scalars(select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.id)))
        s.expunge_all()
        return rows


def serve_briefly(db: Database, settings: Settings, seconds: float) -> None:
    leases = Leases(db.sessions, "w1", ttl=60)
    collector = Collector(build_pipeline(db.sessions, settings), settings, {}, leases=leases)
    service = Service(collector, leases)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.serve(stop))
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.wait_for(task, 20)

    asyncio.run(go())


def test_the_service_signs_the_head_on_schedule(db: Database, settings: Settings) -> None:
    cid = add_channel(db, HANDLE)
    build_pipeline(db.sessions, settings).store(cid, [PostRecord(1, T0, "بيان", "telethon")])
    serve_briefly(db, settings.model_copy(update={"evidence_checkpoint_seconds": 1}), 3.5)
    [made] = checkpoints(db)  # one: the head did not move after the first
    with db.sessions() as s:
        head = s.get_one(EvidenceHead, 1)
    assert (made.seq, made.head_hash) == (head.seq, head.entry_hash)
    key = load_signing_key(settings.evidence_key, create=False)
    message = checkpoint_bytes(made.seq, made.head_hash, timestamp(made.signed_at))
    assert key.public.verifies(made.signature, message)
    assert made.key_fingerprint == key.public.fingerprint


def test_nothing_new_is_not_signed_again(db: Database, settings: Settings) -> None:
    assert checkpoint_now(db.sessions, settings) is None  # an empty chain
    cid = add_channel(db, HANDLE)
    build_pipeline(db.sessions, settings).store(cid, [PostRecord(1, T0, "بيان", "telethon")])
    assert checkpoint_now(db.sessions, settings) is not None
    assert checkpoint_now(db.sessions, settings) is None
    assert len(checkpoints(db)) == 1


def test_a_key_others_can_read_is_refused_and_the_service_goes_on(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    cid = add_channel(db, HANDLE)
    build_pipeline(db.sessions, settings).store(cid, [PostRecord(1, T0, "بيان", "telethon")])
    key: Path = settings.evidence_key
    load_signing_key(key)
    key.chmod(0o640)
    with caplog.at_level(logging.ERROR):
        serve_briefly(db, settings.model_copy(update={"evidence_checkpoint_seconds": 1}), 3.0)
    assert checkpoints(db) == []
    assert any("readable by group or others" in r.getMessage() for r in caplog.records)
