"""`monitor evidence verify` on the database: the chain links, every entry's content against
what is stored now (texts, media files, OCR results, reviews, deletions), the head, and every
checkpoint's signature. Each failure names its record; nothing stops at the first."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from monitor.evidence.batches import BadBatch, batch_problem, parse_batch
from monitor.evidence.canonical import (
    GENESIS,
    SUBJECT,
    checkpoint_bytes,
    deletion_record,
    entry_hash,
    ocr_record,
    payload,
    payload_sha256,
    review_record,
    sha256_hex,
    text_bytes,
    timestamp,
)
from monitor.evidence.chain import HEAD_ID, entries_table, ids_in
from monitor.evidence.keys import PublicKey
from monitor.evidence.report import Report
from monitor.evidence.timestamp import token_problem
from monitor.evidence.verify_owners import MAX_ID, Owners
from monitor.store.models import (
    EvidenceCheckpoint,
    EvidenceHead,
    MediaFile,
    Post,
    PostVersion,
    Review,
    User,
)

DECISIONS = ("confirmed", "dismissed", "escalated")
CHUNK = 2000
VERSIONS_AT_ONCE = 2000


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _label(row: Any) -> str:
    return f"entry {row.seq} ({row.subject})"


def _entries(session: Session) -> Iterator[list[Row[Any]]]:
    e = entries_table
    last = 0
    while True:
        # Keyset pages: a chain of millions is read in bounded memory.
        rows = list(session.execute(select(e).where(e.c.seq > last).order_by(e.c.seq).limit(CHUNK)))
        if not rows:
            return
        yield rows
        last = rows[-1].seq


class _Checker:
    def __init__(self, session: Session, media_dir: Path, report: Report) -> None:
        self.s = session
        self.media_dir = media_dir
        self.r = report
        self.versions: set[tuple[int, str]] = set()  # (post id, text sha256)
        self.media: set[tuple[int, str]] = set()
        self.reviews: set[int] = set()
        self.files: dict[str, str | None] = {}  # sha256 -> failure (None: fine)
        # The latest payload entry per subject, compared with the row as it is now.
        self.latest: dict[str, Row[Any]] = {}
        self.owners = Owners(report)

    def chunk(self, rows: list[Row[Any]]) -> None:
        version_rows: dict[tuple[int, str], str] = {}  # -> the label a failure names
        for row in rows:
            m = SUBJECT.fullmatch(row.subject)
            if m is None or m["kind"] != row.kind:
                self.r.fail(f"{_label(row)}: subject does not name a {row.kind} record")
                continue
            ident = int(m["id"])
            if ident > MAX_ID or int(m["message"]) > MAX_ID:
                self.r.fail(f"{_label(row)}: names an id past any this database holds")
                continue
            if row.kind in ("version", "batch", "deletion") and row.post_id != ident:
                # The column bundles find a post's entries by; not hashed, so checked here.
                self.r.fail(
                    f"{_label(row)}: its post_id column says post {row.post_id}, its subject "
                    f"post {ident} (altered)"
                )
            elif row.kind in ("media", "ocr", "review"):
                self.owners.record(row.kind, ident, row.post_id, _label(row))
            if row.kind == "version":
                version_rows[(ident, row.content_sha256)] = _label(row)
                self.versions.add((ident, row.content_sha256))
                self.owners.name(ident, m["handle"], int(m["message"]), _label(row))
            elif row.kind == "batch":
                if row.payload is None or payload_sha256(row.payload) != row.content_sha256:
                    self.r.fail(f"{_label(row)}: recorded batch does not match its hash")
                    continue
                try:
                    leaves = parse_batch(row.payload)
                except BadBatch as exc:
                    self.r.fail(f"{_label(row)}: recorded batch is malformed ({exc})")
                    continue
                problem = batch_problem(leaves, m["handle"], ident)
                if problem:
                    self.r.fail(f"{_label(row)}: {problem}")
                    continue
                for name, sha in leaves:
                    handle, message, _, post = name.split("/")
                    label = f"entry {row.seq} ({name}, in its batch)"
                    key = (int(post), sha)
                    version_rows[key] = label
                    self.versions.add(key)
                    self.owners.name(int(post), handle, int(message), label)
                if len(version_rows) >= VERSIONS_AT_ONCE:
                    # A page of batch entries holds millions of versions: their texts are
                    # read a bounded number at a time (and SQLite bounds an IN list).
                    self._versions(version_rows)
                    version_rows = {}
            elif row.kind == "media":
                self.media.add((ident, row.content_sha256))
                self._file(row)
            else:
                if row.payload is None or payload_sha256(row.payload) != row.content_sha256:
                    self.r.fail(f"{_label(row)}: recorded {row.kind} does not match its hash")
                    continue
                self.latest[row.subject] = row
                if row.kind == "review":
                    self.reviews.add(ident)
        if version_rows:
            self._versions(version_rows)

    def _versions(self, wanted: dict[tuple[int, str], str]) -> None:
        """A version entry names its post and the sha256 of its text: the text as stored now
        is hashed again, so a text changed with its sha256 column is found all the same."""
        conn = self.s.connection()
        by_column: dict[tuple[int, str], int] = {}
        by_text: set[tuple[int, str]] = set()
        for vid, pid, sha, text in conn.execute(
            select(PostVersion.id, PostVersion.post_id, PostVersion.sha256, PostVersion.text).where(
                ids_in(conn, PostVersion.post_id, sorted({pid for pid, _ in wanted}))
            )
        ):
            by_column[(pid, sha)] = vid
            by_text.add((pid, sha256_hex(text_bytes(text))))
        for key, label in wanted.items():
            if key in by_text:
                continue
            if key in by_column:
                self.r.fail(f"{label}: the text of post version {by_column[key]} was changed")
            else:
                self.r.fail(
                    f"{label}: the version of post {key[0]} with sha256 {key[1][:16]}… "
                    "is missing from the database, or its text was changed"
                )

    def _file(self, row: Any) -> None:
        sha = row.content_sha256
        if sha not in self.files:
            path = self.media_dir / sha[:2] / sha
            problem = None
            try:
                if file_sha256(path) != sha:
                    problem = f"media file {sha} in the store was changed"
            except FileNotFoundError:
                problem = f"media file {sha} is missing from the store ({path})"
            except OSError as exc:
                problem = f"media file {sha} cannot be read: {exc}"
            self.files[sha] = problem
            self.r.files += 1
        if self.files[sha]:
            self.r.fail(f"{_label(row)}: {self.files[sha]}")

    def live_rows(self) -> None:
        """The latest recorded OCR result, review and deletion of each record against the row
        as the database holds it now."""
        for name, row in self.latest.items():
            ident = int(name.rsplit("/", 1)[1])
            now = self._now(row.kind, ident, row.payload)
            if now is None:
                self.r.fail(f"{_label(row)}: the {row.kind} record is missing from the database")
            elif now != row.payload:
                self.r.fail(
                    f"{_label(row)}: the {row.kind} record was changed since it was captured"
                )

    def _now(self, kind: str, ident: int, recorded: str) -> str | None:
        if kind == "ocr":
            m = self.s.get(MediaFile, ident)
            if m is None:
                return None
            if m.sha256 != json.loads(recorded).get("media_sha256"):
                # The post now shows another image, not read yet: this result was of the old one.
                return recorded
            return payload(
                ocr_record(m.sha256, m.ocr_engine, m.ocr_version, m.ocr_text, m.ocr_confidence)
            )
        if kind == "review":
            found = self.s.execute(
                select(Review, User.username)
                .outerjoin(User, User.id == Review.user_id)
                .where(Review.id == ident)
            ).first()
            if found is None:
                return None
            r, by = found
            return payload(review_record(r.id, r.post_id, r.decision, r.note, by, r.created_at))
        post = self.s.get(Post, ident)
        if post is None or post.deleted_at is None:
            return None
        return payload(deletion_record(post.id, post.deleted_at))

    def coverage(self) -> None:
        """Everything captured has its entry: a record without one was added behind the chain's
        back, or its entry was removed from the end."""
        for vid, pid, sha in self.s.execute(
            select(PostVersion.id, PostVersion.post_id, PostVersion.sha256).order_by(PostVersion.id)
        ):
            if (pid, sha) not in self.versions:
                self.r.fail(f"post version {vid} (post {pid}) has no chain entry")
        for mid, file_sha in self.s.execute(
            select(MediaFile.id, MediaFile.sha256)
            .where(MediaFile.sha256.is_not(None))
            .order_by(MediaFile.id)
        ):
            if (mid, file_sha) not in self.media:
                self.r.fail(f"media {mid} (file {file_sha}) has no chain entry")
        for (rid,) in self.s.execute(
            select(Review.id).where(Review.decision.in_(DECISIONS)).order_by(Review.id)
        ):
            if rid not in self.reviews:
                self.r.fail(f"review {rid} has no chain entry")


def verify_database(
    session: Session,
    media_dir: Path,
    trusted: PublicKey | None,
    tsa_roots: list[x509.Certificate] | None = None,
) -> Report:
    report = Report()
    checkpoints = list(session.scalars(select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.id)))
    wanted = {c.seq for c in checkpoints}
    at_seq: dict[int, str] = {0: GENESIS}
    checker = _Checker(session, media_dir, report)
    expected, prev = 1, GENESIS
    for rows in _entries(session):
        for row in rows:
            report.entries += 1
            if row.seq != expected:
                report.fail(
                    f"entry {row.seq} ({row.subject}): expected entry {expected} here; "
                    f"entries {expected}–{row.seq - 1} were removed"
                    if row.seq > expected
                    else f"entry {row.seq}: out of order"
                )
            # The entry before is hashed in: an entry altered, or one removed, inserted or
            # moved before it, and this hash no longer comes out.
            digest = entry_hash(
                row.seq, row.kind, row.subject, row.content_sha256, prev, timestamp(row.created_at)
            )
            if digest != row.entry_hash:
                report.fail(
                    f"{_label(row)}: does not match its hash: the entry was altered, or the one "
                    "before it removed, inserted or reordered"
                )
            if row.seq in wanted:
                at_seq[row.seq] = row.entry_hash
            expected, prev = row.seq + 1, row.entry_hash
        checker.chunk(rows)
    checker.live_rows()
    checker.coverage()
    checker.owners.check(session, checker.versions)
    head = session.get(EvidenceHead, HEAD_ID)
    if head is None:
        report.fail("the chain head (evidence_head) is missing")
    elif head.seq != expected - 1 or head.entry_hash != prev:
        report.fail(
            f"the chain head says entry {head.seq} ({head.entry_hash[:16]}…) but the chain "
            f"ends at entry {expected - 1} ({prev[:16]}…): entries were removed from the end"
        )
    for c in checkpoints:
        report.checkpoints += 1
        check_checkpoint(report, c, at_seq.get(c.seq), trusted)
        if c.tsa_token is not None:
            check_time_stamp(report, c, tsa_roots)
    return report


def check_checkpoint(
    report: Report, c: EvidenceCheckpoint, hash_at_seq: str | None, trusted: PublicKey | None
) -> None:
    name = f"checkpoint {c.id} (entry {c.seq})"
    if trusted is None:
        report.fail(f"{name}: no public key to check its signature against")
        return
    if c.key_fingerprint != trusted.fingerprint:
        report.fail(
            f"{name}: signed by another key ({c.key_fingerprint[:16]}…), not this monitor's"
        )
        return
    message = checkpoint_bytes(c.seq, c.head_hash, timestamp(c.signed_at))
    if not trusted.verifies(c.signature, message):
        report.fail(f"{name}: the signature does not match (forged or altered checkpoint)")
    if hash_at_seq is None:
        report.fail(f"{name}: entry {c.seq} is not in the chain (entries were removed)")
    elif hash_at_seq != c.head_hash:
        report.fail(f"{name}: the chain at entry {c.seq} is not what was signed")


def check_time_stamp(
    report: Report, c: EvidenceCheckpoint, tsa_roots: list[x509.Certificate] | None
) -> None:
    """The token must time-stamp the bytes the checkpoint signed: a token moved from another
    checkpoint, or a checkpoint altered under its token, fails here."""
    message = checkpoint_bytes(c.seq, c.head_hash, timestamp(c.signed_at))
    problem = token_problem(c.tsa_token or b"", message, tsa_roots)
    if problem is not None:
        report.fail(f"checkpoint {c.id} (entry {c.seq}): its RFC 3161 time-stamp {problem}")
