"""Batch entries (#17): the first versions of the posts one ingest batch stored share one
chain entry, whose record lists each version's subject and text sha256. One row and no
per-post index entry instead of a thousand: the chain's cost on ingest (bench/ingest.py).

Edited versions, deletions, media, OCR and reviews keep one entry each: they are few.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.evidence.canonical import SHA256, SUBJECT
from monitor.evidence.chain import entries_table

# How many batch entries that start at or below a post's id are read to find the one that
# holds it. On SQLite one writer numbers a batch's posts in a row, so it is the first; on
# PostgreSQL concurrent batches can interleave their ids, one more candidate per concurrent
# writer. Past this the search goes on through every batch of the channel (correct, slower).
NEAR = 64


class BadBatch(ValueError):
    """A batch record that is not lines of ``SUBJECT SHA256``."""


def parse_batch(text: str) -> list[tuple[str, str]]:
    if not text.endswith("\n"):
        raise BadBatch("the record does not end with a newline")
    out = []
    for n, line in enumerate(text[:-1].split("\n"), 1):
        name, _, sha = line.partition(" ")
        m = SUBJECT.fullmatch(name)
        if m is None or m["kind"] != "version" or not SHA256.fullmatch(sha):
            raise BadBatch(f"line {n} is not `HANDLE/MESSAGE_ID/version/POST_ID SHA256`")
        out.append((name, sha))
    return out


def batch_problem(leaves: list[tuple[str, str]], handle: str, first: int) -> str | None:
    """What is wrong with a batch's lines as capture.py writes them (one channel, its posts in
    ascending id order, the first the subject's), or None."""
    last = 0
    for n, (name, _) in enumerate(leaves, 1):
        owner, _, _, post = name.split("/")
        if owner != handle:
            return f"line {n} names channel {owner}, the batch {handle}"
        if int(post) <= last:
            return f"line {n}: posts out of order"
        last = int(post)
    if not leaves or int(leaves[0][0].rsplit("/", 1)[1]) != first:
        return f"its first line is not post {first}, as its subject says"
    return None


def version_subject(handle: str, message_id: int, post_id: int) -> str:
    return f"{handle}/{message_id}/version/{post_id}"


def line_of(payload: str, name: str) -> str | None:
    """The content sha256 that a batch record gives ``name``, or None."""
    at = payload.find(f"{name} ")
    while at != -1:
        if at == 0 or payload[at - 1] == "\n":
            end = payload.find("\n", at)
            return payload[at + len(name) + 1 : end if end != -1 else None]
        at = payload.find(f"{name} ", at + 1)
    return None


def covering_batch(session: Session, handle: str, message_id: int, post_id: int) -> Any | None:
    """The batch entry that holds the first version of post ``post_id``, if one does."""
    e = entries_table
    name = version_subject(handle, message_id, post_id)
    # A batch's post_id is its lowest post's: the one that holds this post starts at or below.
    near = (
        select(e)
        .where(
            e.c.kind == "batch",
            e.c.post_id <= post_id,
            e.c.subject.startswith(f"{handle}/", autoescape=True),
        )
        .order_by(e.c.post_id.desc(), e.c.seq.desc())
    )
    for query in (near.limit(NEAR), near.offset(NEAR)):
        for row in session.execute(query):
            if row.payload is not None and line_of(row.payload, name) is not None:
                return row
    return None
