"""What appends to the chain: the pipeline hook (text versions, deletions), the media job
(the file, its OCR result) and the console's review decisions; each in its own caller's
transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.evidence.batches import version_subject
from monitor.evidence.canonical import (
    batch_lines,
    deletion_record,
    ocr_record,
    payload,
    payload_sha256,
    review_record,
    subject,
)
from monitor.evidence.chain import Item, append, entries_table, ids_in
from monitor.store.ingest import Changed
from monitor.store.models import Channel, MediaFile, Post, PostVersion, Review, User

_e = entries_table


class EvidenceHook:
    """The last pipeline stage: every text version a batch stored, and every deletion it saw,
    gets its entry in the batch's transaction."""

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        items = version_items(session, channel.handle, changed)
        if items:
            append(session, items)


def version_items(session: Session, handle: str, changed: list[Changed]) -> list[Item]:
    """The batch's new posts' first versions go into one ``batch`` entry (evidence/batches.py)
    and need no query at all: ingest.py gave each its first version. An edit's new version
    gets its own entry."""
    conn = session.connection()
    subject(handle, 1, "version", 1)  # the handle makes a valid subject: checked once a batch
    by_post = {c.post_id: c for c in changed}
    edited = [c.post_id for c in changed if c.status == "edited"]
    gone = [c.post_id for c in changed if c.status == "deleted"]
    items = []
    fresh = sorted((c.post_id, c.message_id, c.record.sha256) for c in changed if c.status == "new")
    if fresh:
        lines = batch_lines([(version_subject(handle, mid, pid), sha) for pid, mid, sha in fresh])
        first, first_message, _ = fresh[0]
        name = subject(handle, first_message, "batch", first)
        items.append(Item("batch", name, payload_sha256(lines), first, lines))
    if edited:
        # An edit back to an earlier text stores no new version (ingest.py): that version has
        # its entry from when it was first captured — its own, or its batch's for the post's
        # first version.
        covered = {
            (pid, sha)
            for pid, sha in conn.execute(
                select(_e.c.post_id, _e.c.content_sha256).where(
                    ids_in(conn, _e.c.post_id, edited), _e.c.kind == "version"
                )
            )
        }
        first_versions = conn.execute(
            select(PostVersion.post_id, PostVersion.sha256)
            .where(ids_in(conn, PostVersion.post_id, edited))
            .order_by(PostVersion.post_id, PostVersion.id)
        )
        seen: set[int] = set()
        for pid, sha in first_versions:
            if pid not in seen:
                seen.add(pid)
                covered.add((pid, sha))
        items += [
            Item(
                "version",
                version_subject(handle, by_post[pid].message_id, pid),
                by_post[pid].record.sha256,
                pid,
            )
            for pid in edited
            if (pid, by_post[pid].record.sha256) not in covered
        ]
    if gone:
        for pid, at in conn.execute(
            select(Post.id, Post.deleted_at).where(ids_in(conn, Post.id, gone)).order_by(Post.id)
        ):
            if at is None:
                continue
            body = payload(deletion_record(pid, at))
            name = subject(handle, by_post[pid].message_id, "deletion", pid)
            items.append(Item("deletion", name, payload_sha256(body), pid, body))
    return items


def _covered(session: Session, post_id: int, name: str, content: str) -> bool:
    # By post first: its index is there for bundles, and a post has a handful of entries.
    return (
        session.scalar(
            select(_e.c.seq)
            .where(_e.c.post_id == post_id, _e.c.subject == name, _e.c.content_sha256 == content)
            .limit(1)
        )
        is not None
    )


def media_captured(session: Session, media_id: int, *, with_ocr: bool) -> None:
    """The media's file (by the sha256 just stored on its row) and, ``with_ocr``, the OCR
    result on the row; each once: a file hashed again, or read again to the same result, is
    not a new capture."""
    # Columns, not the ORM object: the job wrote the row with a bulk UPDATE.
    row = session.execute(
        select(
            MediaFile.post_id,
            MediaFile.sha256,
            MediaFile.ocr_engine,
            MediaFile.ocr_version,
            MediaFile.ocr_text,
            MediaFile.ocr_confidence,
            Post.message_id,
            Channel.handle,
        )
        .join(Post, Post.id == MediaFile.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(MediaFile.id == media_id)
    ).first()
    if row is None or row.sha256 is None:
        return
    items = []
    name = subject(row.handle, row.message_id, "media", media_id)
    if not _covered(session, row.post_id, name, row.sha256):
        items.append(Item("media", name, row.sha256, row.post_id))
    if with_ocr:
        text = payload(
            ocr_record(
                row.sha256, row.ocr_engine, row.ocr_version, row.ocr_text, row.ocr_confidence
            )
        )
        name = subject(row.handle, row.message_id, "ocr", media_id)
        digest = payload_sha256(text)
        if not _covered(session, row.post_id, name, digest):
            items.append(Item("ocr", name, digest, row.post_id, text))
    if items:
        append(session, items)


def review_captured(session: Session, review: Review) -> None:
    """A review decision, as the analyst made it, in the transaction that stores it."""
    row = session.execute(
        select(Post.message_id, Channel.handle)
        .join(Channel, Channel.id == Post.channel_id)
        .where(Post.id == review.post_id)
    ).one()
    by = session.scalar(select(User.username).where(User.id == review.user_id))
    text = payload(
        review_record(
            review.id, review.post_id, review.decision, review.note, by, review.created_at
        )
    )
    name = subject(row.handle, row.message_id, "review", review.id)
    append(session, [Item("review", name, payload_sha256(text), review.post_id, text)])
