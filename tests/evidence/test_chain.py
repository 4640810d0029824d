"""The chain (#17): every captured text version, media file, OCR result, deletion and review
decision gets an entry linked to the one before, in the transaction of what it covers."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from monitor.collect.records import PostRecord
from monitor.evidence.canonical import GENESIS, entry_hash, sha256_hex, text_bytes, timestamp
from monitor.evidence.chain import ChainError, Item, append
from monitor.pipeline import Pipeline
from monitor.store.ingest import Changed
from monitor.store.models import Channel, EvidenceEntry, EvidenceHead, Post, PostVersion
from tests.conftest import Database, add_channel
from tests.evidence.conftest import HANDLE, OCR_TEXT, T0, Captured


def chain(db: Database) -> list[EvidenceEntry]:
    with db.sessions() as s:
        rows = list(s.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))
        s.expunge_all()
        return rows


def test_everything_captured_is_entered_in_order_each_linked_to_the_one_before(
    db: Database, captured: Captured
) -> None:
    rows = chain(db)
    kinds = [(r.kind, r.subject) for r in rows]
    with db.sessions() as s:
        versions = [
            (v.post_id, v.sha256, v.text)
            for v in s.scalars(select(PostVersion).order_by(PostVersion.id))
        ]
    by_message = {pid: mid for mid, pid in captured.posts.items()}
    # The four first versions share their batch's entry; the edit has its own (#17).
    batch = rows[0]
    assert batch.kind == "batch" and batch.subject == f"{HANDLE}/1/batch/{captured.posts[1]}"
    assert batch.payload is not None
    assert batch.content_sha256 == sha256_hex(batch.payload.encode())
    leaves = [line.split(" ") for line in batch.payload.splitlines()]
    edits = [(r.subject, r.content_sha256) for r in rows if r.kind == "version"]
    assert [tuple(x) for x in leaves] + edits == [
        (f"{HANDLE}/{by_message[pid]}/version/{pid}", sha) for pid, sha, _ in versions
    ]
    assert len(versions) == 5 and len(leaves) == 4 and len(edits) == 1  # four posts, one edit
    m = captured.media_id
    assert ("deletion", f"{HANDLE}/3/deletion/{captured.posts[3]}") in kinds
    assert kinds[-3:] == [
        ("media", f"{HANDLE}/4/media/{m}"),
        ("ocr", f"{HANDLE}/4/ocr/{m}"),
        ("review", f"{HANDLE}/1/review/{captured.review_id}"),
    ]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    prev = GENESIS
    for r in rows:  # each hash covers the one before
        assert r.entry_hash == entry_hash(
            r.seq, r.kind, r.subject, r.content_sha256, prev, timestamp(r.created_at)
        )
        prev = r.entry_hash
    assert leaves[0][1] == sha256_hex(versions[0][2].encode("utf-8"))
    media = next(r for r in rows if r.kind == "media")
    assert media.content_sha256 == captured.media_sha256
    ocr = next(r for r in rows if r.kind == "ocr")
    assert ocr.payload is not None and OCR_TEXT in ocr.payload
    assert ocr.content_sha256 == sha256_hex(text_bytes(ocr.payload))
    with db.sessions() as s:
        head = s.get_one(EvidenceHead, 1)
        assert (head.seq, head.entry_hash) == (rows[-1].seq, rows[-1].entry_hash)


def test_storing_the_same_posts_again_or_an_edit_back_adds_no_entry(
    db: Database, pipeline: Pipeline
) -> None:
    cid = add_channel(db, HANDLE)
    one = PostRecord(1, T0, "النص الأول", "telethon")
    pipeline.store(cid, [one])
    pipeline.store(cid, [PostRecord(1, T0, "النص الثاني", "telethon")])
    assert len(chain(db)) == 2
    pipeline.store(cid, [one])  # back to the first text: that version has its entry already
    pipeline.store(cid, [one])
    assert [r.kind for r in chain(db)] == ["batch", "version"]


def test_a_batch_that_fails_after_the_chain_leaves_neither_posts_nor_entries(
    db: Database, pipeline: Pipeline
) -> None:
    cid = add_channel(db, HANDLE)

    def crash(session: Session, channel: Channel, changed: list[Changed]) -> None:
        raise RuntimeError("power cut")

    pipeline.hooks.append(crash)
    with pytest.raises(RuntimeError):
        pipeline.store(cid, [PostRecord(1, T0, "نص", "telethon")])
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0
    assert chain(db) == []


def test_a_post_is_not_stored_when_its_entry_cannot_be(db: Database, pipeline: Pipeline) -> None:
    cid = add_channel(db, HANDLE)
    with db.sessions.begin() as s:
        s.execute(delete(EvidenceHead))
    with pytest.raises(ChainError, match="evidence_head"):
        pipeline.store(cid, [PostRecord(1, T0, "نص", "telethon")])
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 0


def test_two_workers_appending_at_once_never_share_a_place(db: Database) -> None:
    """Each append is its own transaction, as a collector's batch or a media job is."""
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(name: str) -> None:
        try:
            start.wait()
            for i in range(40):
                with db.sessions.begin() as s:
                    items: Sequence[Item] = [
                        Item("version", f"{name}/{i}/version/{j}", "ab" * 32, None)
                        for j in range(3)
                    ]
                    append(s, items)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    rows = chain(db)
    assert [r.seq for r in rows] == list(range(1, 241))
    prev = GENESIS
    for r in rows:
        assert r.entry_hash == entry_hash(
            r.seq, r.kind, r.subject, r.content_sha256, prev, timestamp(r.created_at)
        )
        prev = r.entry_hash
    # A batch's entries stay together: a worker's three are never split by the other's.
    for k in range(0, 240, 3):
        assert len({r.subject.rsplit("/", 2)[0] for r in rows[k : k + 3]}) == 1


def test_an_image_hashed_again_or_read_again_alike_is_not_a_new_capture(
    db: Database, captured: Captured
) -> None:
    from monitor.evidence.capture import media_captured

    before = len(chain(db))
    with db.sessions.begin() as s:
        media_captured(s, captured.media_id, with_ocr=True)
    assert len(chain(db)) == before


def test_a_payload_is_stored_byte_for_byte_whatever_it_holds(db: Database) -> None:
    """PostgreSQL's entries go in by COPY's text format, where a backslash, tab or newline
    is markup: a record holding them must come back as it was hashed."""
    body = '{"note":"a\\\\b\\tc\\nd\r\\\\N","x":"قال \\u2028"}\n\t\\'
    with db.sessions.begin() as s:
        append(s, [Item("review", "chan/1/review/1", sha256_hex(body.encode()), 7, body)])
        append(s, [Item("version", "chan/1/version/1", "cd" * 32, None)])
    rows = chain(db)
    assert [(r.payload, r.post_id) for r in rows] == [(body, 7), (None, None)]
    assert rows[0].content_sha256 == sha256_hex(body.encode())
