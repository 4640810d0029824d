"""RFC 3161 time-stamps of checkpoints (#17), against a real TSA served on 127.0.0.1: a token
is requested for each checkpoint and kept; a TSA that fails costs no checkpoint; verification
(database and bundle) names a checkpoint whose token does not time-stamp what it signed."""

from __future__ import annotations

import logging
import random
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response
from sqlalchemy import select, update

from monitor.collect.records import PostRecord
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.evidence.canonical import checkpoint_bytes, timestamp
from monitor.evidence.checkpoint import checkpoint_now
from monitor.evidence.keys import load_signing_key
from monitor.evidence.timestamp import TimestampError, request_token, token_problem
from monitor.evidence.verify import verify_database
from monitor.pipeline import build_pipeline
from monitor.store.models import EvidenceCheckpoint
from tests.conftest import CliRunner, Database, add_channel
from tests.evidence.conftest import HANDLE, T0
from tests.evidence.tsa import TestTsa


@pytest.fixture
def tsa() -> Iterator[TestTsa]:
    server = TestTsa()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stamped(settings: Settings, tsa: TestTsa) -> Settings:
    return settings.model_copy(update={"evidence_tsa_url": tsa.url})


def post_and_checkpoint(db: Database, settings: Settings, message_id: int) -> EvidenceCheckpoint:
    cid = add_channel(db, HANDLE)
    record = PostRecord(message_id, T0, f"بيان رقم {message_id}", "telethon")
    build_pipeline(db.sessions, settings).store(cid, [record])
    made = checkpoint_now(db.sessions, settings)
    assert made is not None
    with db.sessions() as s:
        row = s.get_one(EvidenceCheckpoint, made.id)
        s.expunge(row)
        return row


def message_of(c: EvidenceCheckpoint) -> bytes:
    return checkpoint_bytes(c.seq, c.head_hash, timestamp(c.signed_at))


def failures(db: Database, settings: Settings, roots: list[x509.Certificate] | None) -> list[str]:
    key = load_signing_key(settings.evidence_key, create=False)
    with db.sessions() as s:
        return verify_database(s, settings.media_dir, key.public, roots).lines()


def set_token(db: Database, checkpoint_id: int, token: bytes) -> None:
    with db.sessions.begin() as s:
        s.execute(
            update(EvidenceCheckpoint)
            .where(EvidenceCheckpoint.id == checkpoint_id)
            .values(tsa_token=token)
        )


def test_a_checkpoint_is_time_stamped_by_the_configured_tsa(
    db: Database, stamped: Settings, tsa: TestTsa
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    made = post_and_checkpoint(db, stamped, 1)
    assert (made.tsa_url, tsa.requests) == (tsa.url, 1)
    assert made.tsa_token is not None
    tsr = decode_timestamp_response(made.tsa_token)
    assert before <= tsr.tst_info.gen_time <= datetime.now(UTC) + timedelta(seconds=1)
    # What the TSA signed is the sha256 of the checkpoint's signed bytes, and its signature
    # holds under the TSA's CA.
    assert token_problem(made.tsa_token, message_of(made), [tsa.ca]) is None
    assert failures(db, stamped, [tsa.ca]) == []
    assert failures(db, stamped, None) == []


def _refuse(der: bytes) -> tuple[int, bytes]:
    return 500, b""


@pytest.mark.parametrize("how", ["http 500", "not a token", "other bytes", "too big", "down"])
def test_a_failing_tsa_costs_no_checkpoint_and_is_logged(
    db: Database, stamped: Settings, tsa: TestTsa, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    if how == "http 500":
        tsa.answer = _refuse
    elif how == "not a token":
        tsa.answer = lambda der: (200, b"<html>maintenance</html>")
    elif how == "other bytes":
        tsa.answer = lambda der: (200, tsa.respond(der, imprint=b"\x00" * 32))
    elif how == "too big":  # refused at a mebibyte, not read whole into memory first
        tsa.answer = lambda der: (200, tsa.respond(der) + b"\x00" * (2 << 20))
    else:
        tsa.stop()
    with caplog.at_level(logging.WARNING):
        made = post_and_checkpoint(db, stamped, 1)
    assert (made.tsa_url, made.tsa_token) == (None, None)
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"checkpoint {made.id} kept without a time-stamp" in warning
    assert failures(db, stamped, [tsa.ca]) == []  # no token is not a failure: none was had


def test_each_tampering_of_a_time_stamp_is_named(
    db: Database, stamped: Settings, tsa: TestTsa
) -> None:
    first = post_and_checkpoint(db, stamped, 1)
    second = post_and_checkpoint(db, stamped, 2)
    assert first.tsa_token and second.tsa_token
    name = f"checkpoint {first.id} (entry {first.seq}): its RFC 3161 time-stamp"

    # Another checkpoint's token moved onto this one: its imprint is of other bytes.
    set_token(db, first.id, second.tsa_token)
    for roots in (None, [tsa.ca]):
        assert failures(db, stamped, roots) == [
            f"{name} time-stamps other bytes than the checkpoint's (its message imprint differs)"
        ]

    # A token of the right bytes from a TSA that is not the configured one: only the
    # signature check against the configured CA can tell, so it needs the certificate.
    rogue = TestTsa("rogue TSA")
    request = TimestampRequestBuilder().data(message_of(first))
    der = request.hash_algorithm(HashAlgorithm.SHA256).build().as_bytes()
    set_token(db, first.id, rogue.respond(der))
    assert failures(db, stamped, None) == []
    [line] = failures(db, stamped, [tsa.ca])
    assert line.startswith(f"{name} is not validly signed by a TSA under evidence_tsa_certificate")

    # One byte of the genuine token's signature changed.
    token = bytearray(first.tsa_token)
    token[-10] ^= 0x01
    set_token(db, first.id, bytes(token))
    [line] = failures(db, stamped, [tsa.ca])
    assert line.startswith(name)

    set_token(db, first.id, b"\x30\x03\x02\x01\x00")
    assert failures(db, stamped, None) == [f"{name} is not an RFC 3161 time-stamp response"]

    set_token(db, first.id, first.tsa_token)
    assert failures(db, stamped, [tsa.ca]) == []


def test_the_cli_checks_time_stamps_against_the_configured_certificate(
    db: Database, stamped: Settings, tsa: TestTsa, run_cli: CliRunner, tmp_path: Path
) -> None:
    first = post_and_checkpoint(db, stamped, 1)
    env = {
        "MONITOR_MEDIA_DIR": str(stamped.media_dir),
        "MONITOR_EVIDENCE_KEY": str(stamped.evidence_key),
        "MONITOR_EVIDENCE_TSA_CERTIFICATE": str(tsa.ca_pem(tmp_path / "tsa-ca.pem")),
    }
    ok = run_cli("evidence", "verify", db_url=db.url, **env)
    assert ok.code == 0, ok
    set_token(db, first.id, TestTsa("rogue TSA").respond(_request(message_of(first))))
    bad = run_cli("evidence", "verify", db_url=db.url, **env)
    assert bad.code == 1
    assert f"FAIL checkpoint {first.id} (entry {first.seq}): its RFC 3161 time-stamp" in bad.err

    # The bundle carries the token; swapped for a token of other bytes, it is named.
    out = tmp_path / "post1.zip"
    set_token(db, first.id, first.tsa_token or b"")
    exported = run_cli("evidence", "export", f"{HANDLE}/1", "--out", str(out), db_url=db.url, **env)
    assert exported.code == 0, exported
    stem = f"checkpoints/{first.id}"
    with zipfile.ZipFile(out) as z:
        assert z.read(f"{stem}.tsr") == first.tsa_token
    checked = run_cli("evidence", "verify", str(out), db_url="sqlite:////nonexistent/x.db", **env)
    assert checked.code == 0, checked
    if shutil.which("openssl"):  # by hand, as the bundle's README.txt says
        with zipfile.ZipFile(out) as z:
            z.extract(f"{stem}.msg", tmp_path / "unzipped")
            z.extract(f"{stem}.tsr", tmp_path / "unzipped")
        ca = env["MONITOR_EVIDENCE_TSA_CERTIFICATE"]
        by_hand = subprocess.run(
            [
                "openssl",
                "ts",
                "-verify",
                "-data",
                f"{stem}.msg",
                "-in",
                f"{stem}.tsr",
                "-CAfile",
                ca,
            ],
            cwd=tmp_path / "unzipped",
            capture_output=True,
            text=True,
            check=False,
        )
        assert "Verification: OK" in by_hand.stdout, by_hand
    swapped = tmp_path / "swapped.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(swapped, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == f"{stem}.tsr":
                data = tsa.respond(_request(b"another checkpoint"))
            zout.writestr(info.filename, data)
    bad = run_cli("evidence", "verify", str(swapped), db_url="sqlite:////nonexistent/x.db", **env)
    assert bad.code == 1
    assert (
        f"FAIL checkpoint {first.id} (entry {first.seq}): its RFC 3161 time-stamp ({stem}.tsr) "
        "time-stamps other bytes" in bad.err
    )


def _request(message: bytes) -> bytes:
    builder = TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256)
    return builder.build().as_bytes()


def test_a_tsa_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"evidence.tsa.url.*http"):
        load_settings(evidence_tsa_url="file:///etc/passwd")
    with pytest.raises(ConfigError, match="evidence_tsa_url"):
        request_token("ftp://127.0.0.1/tsa", b"x")
    with pytest.raises(TimestampError):  # nothing listens there: an error, not a hang
        request_token("http://127.0.0.1:9/tsa", b"x", timeout=2)
    with pytest.raises(TimestampError):  # an address httpx cannot parse: logged, not raised on
        request_token("http://[::1", b"x", timeout=2)


def test_nothing_is_requested_without_a_tsa(db: Database, settings: Settings, tsa: TestTsa) -> None:
    made = post_and_checkpoint(db, settings, 1)
    assert (made.tsa_token, tsa.requests) == (None, 0)
    with db.sessions() as s:
        assert s.scalar(select(EvidenceCheckpoint.tsa_url)) is None


def test_a_corrupted_token_is_named_never_a_traceback(tsa: TestTsa) -> None:
    """Bytes of a stored token cut off or changed at random (seeded): each is named or, when
    it still verifies, still time-stamps the same bytes at the same time — the bytes changed
    were outside what the TSA signed (an unsigned algorithm field, a version)."""
    message = b"monitor-checkpoint/1\n1\n" + b"a" * 64 + b"\n2026-12-04T02:00:00.000000Z"
    token = tsa.respond(_request(message))
    genuine = decode_timestamp_response(token).tst_info
    rng = random.Random(17)
    named = 0
    for n in range(400):
        bad = bytearray(token)
        if n % 3 == 0:
            bad = bad[: rng.randrange(len(bad))]
        else:
            for _ in range(rng.randint(1, 3)):
                bad[rng.randrange(len(bad))] = rng.randrange(256)
        token_problem(bytes(bad), message, None)  # the imprint check alone: no exception
        problem = token_problem(bytes(bad), message, [tsa.ca])
        if problem is not None:
            named += 1
            continue
        info = decode_timestamp_response(bytes(bad)).tst_info
        assert (info.gen_time, info.message_imprint.message) == (
            genuine.gen_time,
            genuine.message_imprint.message,
        )
    assert named > 350
