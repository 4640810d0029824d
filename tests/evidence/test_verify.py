"""`monitor evidence verify` on the database (#17): each kind of tampering is found and the
record named; an untouched chain verifies."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.evidence.canonical import (
    batch_lines,
    entry_hash,
    payload_sha256,
    sha256_hex,
    text_bytes,
    timestamp,
)
from monitor.evidence.chain import Item, append
from monitor.evidence.checkpoint import sign_head
from monitor.evidence.keys import load_signing_key
from monitor.evidence.report import Report
from monitor.evidence.verify import verify_database
from monitor.store.models import (
    EvidenceCheckpoint,
    EvidenceEntry,
    EvidenceHead,
    MediaFile,
    Post,
    PostVersion,
    Review,
)
from tests.conftest import CliRunner, Database
from tests.evidence.conftest import HANDLE, Captured, capture


def verify(db: Database, settings: Settings) -> Report:
    key = load_signing_key(settings.evidence_key, create=False)
    with db.sessions() as s:
        return verify_database(s, settings.media_dir, key.public)


def failures(db: Database, settings: Settings) -> str:
    report = verify(db, settings)
    assert not report.ok, "tampering not detected"
    return "\n".join(report.lines())


def test_an_untouched_chain_verifies(db: Database, captured: Captured, settings: Settings) -> None:
    report = verify(db, settings)
    assert report.ok, report.lines()
    # Four posts' first versions in one batch entry, an edit, a deletion, media, OCR, a review.
    assert report.entries == 6 and report.checkpoints == 1 and report.files == 1


def _first_version(s: Session) -> PostVersion:
    return s.scalars(select(PostVersion).order_by(PostVersion.id)).first()  # type: ignore[return-value]


def test_a_changed_text_is_named(db: Database, captured: Captured, settings: Settings) -> None:
    with db.sessions.begin() as s:
        v = _first_version(s)
        vid = v.id
        # The stored sha256 changed too, as a careful forger would: the text itself is hashed.
        s.execute(
            update(PostVersion).where(PostVersion.id == vid).values(text="نص مزور", sha256="0" * 64)
        )
    out = failures(db, settings)
    assert f"post version {vid} (post " in out and "its text was changed" in out


def test_a_changed_or_missing_media_file_is_named(
    db: Database, captured: Captured, settings: Settings
) -> None:
    sha = captured.media_sha256
    path = settings.media_dir / sha[:2] / sha
    path.write_bytes(path.read_bytes() + b"x")
    assert f"media file {sha} in the store was changed" in failures(db, settings)
    path.unlink()
    assert f"media file {sha} is missing from the store" in failures(db, settings)


def test_a_removed_entry_is_named(db: Database, captured: Captured, settings: Settings) -> None:
    with db.sessions.begin() as s:
        s.execute(text("DELETE FROM evidence_entries WHERE seq = 3"))
    out = failures(db, settings)
    assert "entry 4 (" in out and "entries 3–3 were removed" in out
    assert "the one before it removed" in out


def test_an_entry_removed_from_the_end_with_the_head_moved_back_is_named(
    db: Database, captured: Captured, settings: Settings
) -> None:
    with db.sessions.begin() as s:
        last = s.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq.desc())).first()
        assert last is not None and last.kind == "review"
        before = s.get_one(EvidenceEntry, last.seq - 1)
        s.execute(update(EvidenceHead).values(seq=before.seq, entry_hash=before.entry_hash))
        s.delete(last)
    out = failures(db, settings)
    assert f"review {captured.review_id} has no chain entry" in out
    assert "checkpoint 1 (entry 6): entry 6 is not in the chain" in out


def test_reordered_entries_are_named(db: Database, captured: Captured, settings: Settings) -> None:
    with db.sessions.begin() as s:
        s.execute(text("UPDATE evidence_entries SET seq = -2 WHERE seq = 2"))
        s.execute(text("UPDATE evidence_entries SET seq = 2 WHERE seq = 3"))
        s.execute(text("UPDATE evidence_entries SET seq = 3 WHERE seq = -2"))
    out = failures(db, settings)
    assert "entry 2 (" in out and "does not match its hash" in out


def test_a_chain_rewritten_with_recomputed_hashes_is_caught_by_the_checkpoint(
    db: Database, captured: Captured, settings: Settings
) -> None:
    """A forger who changes a text and recomputes every hash after it: only the signed
    checkpoint (made before) can tell, and it does."""
    with db.sessions.begin() as s:
        v = _first_version(s)
        v.text = "نص مزور"
        rows = list(s.scalars(select(EvidenceEntry).order_by(EvidenceEntry.seq)))
        from monitor.evidence.canonical import GENESIS, sha256_hex, text_bytes

        batch = rows[0]
        assert batch.kind == "batch" and batch.payload is not None
        old = batch.payload.split()[1]  # the first line's: the first post's first version
        batch.payload = batch.payload.replace(old, sha256_hex(text_bytes(v.text)), 1)
        batch.content_sha256 = sha256_hex(text_bytes(batch.payload))
        prev = GENESIS
        for r in rows:
            r.entry_hash = entry_hash(
                r.seq, r.kind, r.subject, r.content_sha256, prev, timestamp(r.created_at)
            )
            prev = r.entry_hash
        s.execute(update(EvidenceHead).values(entry_hash=prev))
    out = failures(db, settings)
    assert "checkpoint 1 (entry 6): the chain at entry 6 is not what was signed" in out


def _forge_with_other_key(s: Session, settings: Settings, tmp: Path) -> None:
    other = load_signing_key(tmp / "other.key")
    made = sign_head(s, other, force=True)
    assert made is not None


def _alter_head_hash(s: Session, settings: Settings, tmp: Path) -> None:
    s.execute(update(EvidenceCheckpoint).values(head_hash="f" * 64))


def _alter_signature(s: Session, settings: Settings, tmp: Path) -> None:
    c = s.scalars(select(EvidenceCheckpoint)).one()
    c.signature = ("A" if c.signature[0] != "A" else "B") + c.signature[1:]


@pytest.mark.parametrize(
    ("forge", "expected"),
    [
        (_forge_with_other_key, "checkpoint 2 (entry 6): signed by another key"),
        (_alter_head_hash, "checkpoint 1 (entry 6): the signature does not match"),
        (_alter_signature, "checkpoint 1 (entry 6): the signature does not match"),
    ],
)
def test_a_forged_checkpoint_is_named(
    db: Database,
    captured: Captured,
    settings: Settings,
    tmp_path: Path,
    forge: Callable[[Session, Settings, Path], None],
    expected: str,
) -> None:
    with db.sessions.begin() as s:
        forge(s, settings, tmp_path)
    assert expected in failures(db, settings)


def test_a_changed_ocr_text_or_review_note_is_named(
    db: Database, captured: Captured, settings: Settings
) -> None:
    with db.sessions.begin() as s:
        s.execute(update(MediaFile).values(ocr_text="نص آخر"))
        s.execute(update(Review).values(note="لا شيء"))
    out = failures(db, settings)
    assert f"/ocr/{captured.media_id}): the ocr record was changed" in out
    assert f"/review/{captured.review_id}): the review record was changed" in out


def test_an_altered_entry_is_named(db: Database, captured: Captured, settings: Settings) -> None:
    with db.sessions.begin() as s:
        s.execute(update(EvidenceEntry).where(EvidenceEntry.seq == 5).values(kind="media"))
    assert "entry 5 (" in failures(db, settings)


def test_the_command_line_names_the_failure_and_exits_1(
    db: Database, run_cli: CliRunner, tmp_path: Path
) -> None:
    env = {"MONITOR_MEDIA_DIR": str(tmp_path / "m"), "MONITOR_EVIDENCE_KEY": str(tmp_path / "k")}
    ok = run_cli("evidence", "verify", db_url=db.url, **env)
    assert ok.code == 0 and "ok" in ok.out, ok
    from monitor.config import load_settings
    from monitor.pipeline import build_pipeline

    settings = load_settings(media_dir=tmp_path / "m", evidence_key=tmp_path / "k")
    capture(db, build_pipeline(db.sessions, settings), settings)
    assert run_cli("evidence", "verify", db_url=db.url, **env).code == 0
    with db.sessions.begin() as s:
        vid = _first_version(s).id
        s.execute(update(PostVersion).where(PostVersion.id == vid).values(text="x"))
    bad = run_cli("evidence", "verify", db_url=db.url, **env)
    assert bad.code == 1
    assert f"the text of post version {vid} was changed" in bad.err
    assert "Traceback" not in bad.err


def test_the_key_is_made_0600_printed_and_refused_when_others_can_read_it(
    run_cli: CliRunner, tmp_path: Path
) -> None:
    key = tmp_path / "ev" / "signing.key"
    first = run_cli("evidence", "key", MONITOR_EVIDENCE_KEY=str(key))
    assert first.code == 0, first
    assert first.out.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in first.out
    assert os.stat(key).st_mode & 0o777 == 0o600
    again = run_cli("evidence", "key", MONITOR_EVIDENCE_KEY=str(key))
    assert again.out == first.out  # generated once, then reused
    key.chmod(0o644)
    refused = run_cli("evidence", "key", MONITOR_EVIDENCE_KEY=str(key))
    assert refused.code == 2
    assert "evidence_key" in refused.err and "chmod 600" in refused.err


def test_a_changed_batch_record_is_named_with_the_versions_it_no_longer_covers(
    db: Database, captured: Captured, settings: Settings
) -> None:
    with db.sessions.begin() as s:
        batch = s.scalars(select(EvidenceEntry).where(EvidenceEntry.kind == "batch")).one()
        assert batch.payload is not None
        batch.payload = batch.payload.replace(f"{captured.posts[2]} ", f"{captured.posts[3]} ", 1)
        seq = batch.seq
    out = failures(db, settings)
    assert f"entry {seq} (" in out and "recorded batch does not match its hash" in out
    assert "has no chain entry" in out


def test_what_ties_an_entry_to_its_post_is_checked(
    db: Database, captured: Captured, settings: Settings
) -> None:
    """The columns entries are found by, and the post a subject names, are not hashed: an
    insider changing them is named all the same (#17)."""
    first, second = captured.posts[1], captured.posts[2]
    with db.sessions.begin() as s:
        s.execute(update(EvidenceEntry).where(EvidenceEntry.kind == "batch").values(post_id=second))
        s.execute(
            update(EvidenceEntry).where(EvidenceEntry.kind == "review").values(post_id=second)
        )
        s.execute(update(Post).where(Post.id == captured.posts[4]).values(message_id=999))
        text = "نص بديل"
        s.execute(
            update(Post)
            .where(Post.id == first)
            .values(text=text, text_sha256=sha256_hex(text_bytes(text)))
        )
    out = failures(db, settings)
    assert f"its post_id column says post {second}, its subject post {first} (altered)" in out
    assert f"the review record's post is {first} (altered)" in out
    assert f"names post {captured.posts[4]} {HANDLE}/4, the database has it as {HANDLE}/999" in out
    assert f"post {first} ({HANDLE}/1): its current text is not one of its chained versions" in out


def test_an_id_past_any_the_database_holds_is_named_not_a_crash(
    db: Database, captured: Captured, settings: Settings
) -> None:
    huge = "9" * 20
    lines = batch_lines([(f"{HANDLE}/5/version/{huge}", "ab" * 32)])
    with db.sessions.begin() as s:
        append(s, [Item("batch", f"{HANDLE}/5/batch/{huge}", payload_sha256(lines), None, lines)])
    out = failures(db, settings)
    assert f"({HANDLE}/5/batch/{huge}): names an id past any this database holds" in out
