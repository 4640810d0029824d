"""Upgrading a monitor that already holds posts (#17): migration 0012 enters what was stored
before, so the chain verifies at once and covers the old posts from the upgrade on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select, text

from monitor.collect.records import PostRecord
from monitor.evidence.verify import verify_database
from monitor.store.channels import ensure_channel
from monitor.store.db import session_factory
from monitor.store.ingest import ingest
from monitor.store.migrate import upgrade
from monitor.store.models import EvidenceEntry, utcnow
from tests.evidence.conftest import T0


def test_posts_stored_before_the_chain_are_entered_at_the_upgrade(
    bare_engine: Engine, tmp_path: Path
) -> None:
    engine = bare_engine
    upgrade(engine, "0011")
    sessions = session_factory(engine)
    with sessions.begin() as s:
        cid = ensure_channel(s, "old_channel").id
    with engine.begin() as conn:
        ingest(conn, cid, [PostRecord(1, T0, "قبل السلسلة", "export")])
        ingest(conn, cid, [PostRecord(1, T0, "قبل السلسلة، معدل", "export")])
        conn.execute(
            text(
                "INSERT INTO reviews (post_id, decision, note, created_at) "
                "VALUES (1, 'confirmed', 'قديم', CURRENT_TIMESTAMP)"
            )
        )
    before = utcnow()
    upgrade(engine)
    with sessions() as s:
        entries = list(s.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))
        report = verify_database(s, tmp_path / "media", None)
    assert [(e.kind, e.subject) for e in entries] == [
        ("version", "old_channel/1/version/1"),
        ("version", "old_channel/1/version/1"),
        ("review", "old_channel/1/review/1"),
    ]
    assert all(e.created_at >= before for e in entries)  # dated at the upgrade
    assert report.ok, report.lines()
