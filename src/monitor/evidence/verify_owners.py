"""What ties each entry to its post, checked against the database (#17): the columns an entry
is found by (``post_id``) are not hashed, and the post a subject names can be renumbered or
moved to another channel behind the chain's back. Each is named, as the rest of verify does.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.evidence.canonical import sha256_hex, text_bytes
from monitor.evidence.chain import ids_in
from monitor.evidence.report import Report
from monitor.store.models import Channel, MediaFile, Post, Review

MAX_ID = (1 << 63) - 1  # BIGINT: a subject naming more is no record of this database
CHUNK = 1000


class Owners:
    def __init__(self, report: Report) -> None:
        self.r = report
        self.names: dict[int, tuple[str, int, str]] = {}  # post id -> handle, message, label
        self.records: dict[str, dict[int, tuple[int | None, str]]] = {"media": {}, "review": {}}

    def name(self, post_id: int, handle: str, message_id: int, label: str) -> None:
        """A version (or a batch's line) names post ``post_id`` as ``handle/message_id``."""
        self.names.setdefault(post_id, (handle, message_id, label))

    def record(self, kind: str, ident: int, post_id: int | None, label: str) -> None:
        """A media, OCR or review entry found by ``post_id``: it must be that record's post."""
        table = "review" if kind == "review" else "media"
        self.records[table].setdefault(ident, (post_id, label))

    def check(self, session: Session, versions: set[tuple[int, str]]) -> None:
        conn = session.connection()
        for table, model in (("media", MediaFile), ("review", Review)):
            wanted = self.records[table]
            for part in _parts(sorted(wanted)):
                found = dict(
                    conn.execute(
                        select(model.id, model.post_id).where(ids_in(conn, model.id, part))
                    ).all()
                )
                for ident in part:
                    post_id, label = wanted[ident]
                    if ident in found and found[ident] != post_id:
                        self.r.fail(
                            f"{label}: its post_id column says post {post_id}, the {table} "
                            f"record's post is {found[ident]} (altered)"
                        )
        chained = {pid for pid, _ in versions}
        for part in _parts(sorted(self.names)):
            rows = conn.execute(
                select(Post.id, Post.message_id, Channel.handle, Post.text, Post.text_sha256)
                .join(Channel, Channel.id == Post.channel_id)
                .where(ids_in(conn, Post.id, part))
            )
            for pid, message_id, handle, text, sha in rows:
                named_handle, named_message, label = self.names[pid]
                if (handle, message_id) != (named_handle, named_message):
                    self.r.fail(
                        f"{label}: names post {pid} {named_handle}/{named_message}, the database "
                        f"has it as {handle}/{message_id} (renumbered or moved)"
                    )
                if pid in chained and (
                    sha256_hex(text_bytes(text)) != sha or (pid, sha) not in versions
                ):
                    self.r.fail(
                        f"post {pid} ({handle}/{message_id}): its current text is not one of its "
                        "chained versions (changed)"
                    )


def _parts(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]
