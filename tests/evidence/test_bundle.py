"""Evidence bundles (#17): exported from the database, verified anywhere with only the package
(or by hand with sha256sum and openssl); tampering and hostile zips fail with a message."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from monitor.collect.records import PostRecord
from monitor.config import Settings
from monitor.evidence.checkpoint import checkpoint_now
from monitor.pipeline import Pipeline
from tests.conftest import REPO, CliRunner, Database, add_channel
from tests.evidence.conftest import HANDLE, OCR_TEXT, T0, Captured

PRINTF = r"printf 'monitor-evidence/1\n%s\n%s\n%s\n%s\n%s\n%s'"


def env(settings: Settings) -> dict[str, str]:
    return {
        "MONITOR_MEDIA_DIR": str(settings.media_dir),
        "MONITOR_EVIDENCE_KEY": str(settings.evidence_key),
    }


def export(run_cli: CliRunner, db: Database, settings: Settings, post: str, out: Path) -> None:
    result = run_cli("evidence", "export", post, "--out", str(out), db_url=db.url, **env(settings))
    assert result.code == 0, result


def verify(run_cli: CliRunner, path: Path, *extra: str) -> tuple[int, str]:
    # A database that does not exist: a bundle is checked without one.
    result = run_cli("evidence", "verify", str(path), *extra, db_url="sqlite:////nonexistent/x.db")
    assert "Traceback" not in result.err
    return result.code, result.out + result.err


def rewrite(src: Path, dst: Path, changes: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in changes:
                data = changes.pop(info.filename)
                if data is not None:
                    zout.writestr(info.filename, data)
            else:
                zout.writestr(info.filename, zin.read(info))
        for name, data in changes.items():
            if data is not None:
                zout.writestr(name, data)
    return dst


@pytest.fixture
def bundle(
    db: Database, captured: Captured, settings: Settings, run_cli: CliRunner, tmp_path: Path
) -> Path:
    out = tmp_path / "post4.zip"
    export(run_cli, db, settings, f"{HANDLE}/4", out)
    return out


def test_a_bundle_holds_the_post_its_image_its_ocr_and_the_proof(
    bundle: Path, captured: Captured
) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        post = json.loads(z.read("post.json"))
        ocr = json.loads(z.read("ocr.json"))
        meta = json.loads(z.read("metadata.json"))
        chain = [json.loads(line) for line in z.read("chain.jsonl").splitlines()]
        media = z.read(f"media/{captured.media_sha256}.jpg")
    assert post["channel"] == HANDLE and post["message_id"] == 4
    assert post["url"] == f"https://t.me/{HANDLE}/4"
    assert ocr[0]["text"] == OCR_TEXT and ocr[0]["engine"] == "tesseract"
    assert meta["source"] == "web" and meta["first_seen_at"]
    assert hashlib.sha256(media).hexdigest() == captured.media_sha256
    assert {"public_key.pem", "README.txt", "checkpoints.json", "checkpoints/1.msg"} <= names
    # From the post's first entry up to the checkpoint: every link a third party recomputes.
    seqs = [e["seq"] for e in chain]
    assert seqs == list(range(seqs[0], seqs[-1] + 1))


def test_a_bundle_verifies_and_names_its_key(bundle: Path, run_cli: CliRunner) -> None:
    code, out = verify(run_cli, bundle)
    assert code == 0, out
    assert "signed by key" in out and "ok" in out


def test_a_bundle_verifies_on_another_machine_with_only_the_package(
    bundle: Path, tmp_path: Path
) -> None:
    """No database, no configuration, no key: a fresh folder and the installed package."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = shutil.copy(bundle, elsewhere / "evidence.zip")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    clean["HOME"] = str(elsewhere)
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "evidence", "verify", "evidence.zip"],
        cwd=elsewhere,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == [Path(copy).name]  # nothing created


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_a_bundle_verifies_by_hand_as_its_readme_says(bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(folder)
    readme = (folder / "README.txt").read_text()
    assert "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin" in readme
    assert PRINTF in readme
    checked = subprocess.run(
        "openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin "
        "-in checkpoints/1.msg -sigfile checkpoints/1.sig",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Signature Verified Successfully" in checked.stdout, checked
    fingerprint = subprocess.run(
        "openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    assert fingerprint in readme
    chain = [json.loads(line) for line in (folder / "chain.jsonl").read_text().splitlines()]
    for e in chain:  # the printf line of the README, run by the shell
        fields = [str(e[k]) for k in ("seq", "kind", "subject", "content_sha256", "prev_hash")]
        digest = subprocess.run(
            ["sh", "-c", PRINTF + ' "$@" | sha256sum', "sh", *fields, e["created_at"]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]
        assert digest == e["entry_hash"]
    head = (folder / "checkpoints" / "1.msg").read_text().split("\n")
    assert head[2] == chain[-1]["entry_hash"]
    ocr = next(e for e in chain if e["kind"] == "ocr")
    record = folder / "records" / f"{ocr['seq']}.json"
    assert hashlib.sha256(record.read_bytes()).hexdigest() == ocr["content_sha256"]


def test_a_bundle_of_an_edited_and_reviewed_post_has_every_version(
    db: Database, captured: Captured, settings: Settings, run_cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "post2.zip"
    export(run_cli, db, settings, f"@{HANDLE}/2", out)
    with zipfile.ZipFile(out) as z:
        versions = sorted(
            n for n in z.namelist() if n.startswith("versions/") and n.endswith(".txt")
        )
        texts = {z.read(n).decode() for n in versions}
    assert texts == {"بيان أول", "بيان معدل"}
    assert verify(run_cli, out)[0] == 0
    linked = tmp_path / "linked.zip"
    export(run_cli, db, settings, f"https://t.me/{HANDLE}/2", linked)
    assert verify(run_cli, linked)[0] == 0
    reviewed = tmp_path / "post1.zip"
    export(run_cli, db, settings, f"{HANDLE}/1", reviewed)
    with zipfile.ZipFile(reviewed) as z:
        records = [
            json.loads(z.read(n))
            for n in z.namelist()
            if n.endswith(".json") and n.startswith("records/")
        ]
        batch = [
            z.read(n).decode()
            for n in z.namelist()
            if n.endswith(".txt") and n.startswith("records/")
        ]
    assert records[0]["decision"] == "escalated" and records[0]["note"] == "تهديد واضح"
    # Its first version is proven by the line its batch's record gives it (#17).
    assert len(batch) == 1 and f"{HANDLE}/1/version/" in batch[0]
    assert verify(run_cli, reviewed)[0] == 0


def _version_name(path: Path) -> str:  # versions/<sha256 of the text>.txt
    with zipfile.ZipFile(path) as z:
        return next(n for n in z.namelist() if n.startswith("versions/") and n.endswith(".txt"))


def test_each_tampering_of_a_bundle_is_named(
    bundle: Path, tmp_path: Path, run_cli: CliRunner, captured: Captured
) -> None:
    name = _version_name(bundle)
    with zipfile.ZipFile(bundle) as z:
        chain = z.read("chain.jsonl").splitlines()
        cps = json.loads(z.read("checkpoints.json"))
    changed = rewrite(bundle, tmp_path / "t1.zip", {name: "نص مزور".encode()})
    code, out = verify(run_cli, changed)
    assert code == 1 and f"{name} was changed" in out
    media = f"media/{captured.media_sha256}.jpg"
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "t2.zip", {media: None}))
    assert code == 1 and f"media/{captured.media_sha256} is missing" in out
    removed = b"\n".join(chain[:1] + chain[2:]) + b"\n"
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "t3.zip", {"chain.jsonl": removed}))
    assert code == 1 and "not linked to a valid signed checkpoint" in out
    swapped = b"\n".join([chain[1], chain[0], *chain[2:]]) + b"\n"
    swapped_zip = rewrite(bundle, tmp_path / "t4.zip", {"chain.jsonl": swapped})
    assert verify(run_cli, swapped_zip)[0] == 0  # the order of lines carries nothing
    first = json.loads(chain[0])
    first["seq"], second = first["seq"] + 1, json.loads(chain[1])
    second["seq"] -= 1
    reordered = b"\n".join(json.dumps(e).encode() for e in (second, first)) + b"\n"
    reordered += b"\n".join(chain[2:]) + b"\n"
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "t5.zip", {"chain.jsonl": reordered}))
    assert code == 1 and "its fields do not match its hash" in out
    cps[0]["head_hash"] = "f" * 64
    forged = json.dumps(cps).encode()
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "t6.zip", {"checkpoints.json": forged}))
    assert code == 1 and "checkpoint 1 (entry" in out and "signature does not match" in out


def test_a_bundle_unzipped_and_zipped_again_with_folders_still_verifies(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    folders = {"versions/": b"", "media/": b"", "records/": b"", "checkpoints/": b""}
    again = rewrite(bundle, tmp_path / "again.zip", dict(folders))
    assert verify(run_cli, again)[0] == 0


def test_a_bundle_signed_by_another_key_fails_with_key_given(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    from monitor.evidence.keys import load_signing_key

    other = tmp_path / "other.pem"
    other.write_text(load_signing_key(tmp_path / "other.key").public.pem)
    code, out = verify(run_cli, bundle, "--key", str(other))
    assert code == 1 and "not by the key given with --key" in out


def test_hostile_zips_fail_cleanly_and_nothing_is_written(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    traversal = rewrite(bundle, tmp_path / "h1.zip", {"../../escaped.txt": b"x"})
    code, out = verify(run_cli, traversal)
    assert code == 1 and "unexpected member '../../escaped.txt'" in out
    assert not (tmp_path.parent / "escaped.txt").exists()
    bomb = tmp_path / "h2.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("post.json", b" " * (8 << 20))
    code, out = verify(run_cli, bomb)
    assert code == 1 and "zip bomb" in out
    bad = rewrite(bundle, tmp_path / "h3.zip", {"post.json": b"{not json"})
    code, out = verify(run_cli, bad)
    assert code == 1 and "post.json: not valid JSON" in out
    junk = tmp_path / "h4.zip"
    junk.write_bytes(b"PK\x03\x04 this is not really a zip")
    code, out = verify(run_cli, junk)
    assert code == 1 and "not a readable zip file" in out
    deep = rewrite(bundle, tmp_path / "h5.zip", {"checkpoints.json": b"[" * 100_000})
    code, out = verify(run_cli, deep)
    assert code == 1 and "checkpoints.json: not valid JSON" in out
    code, out = verify(run_cli, tmp_path / "missing.zip")
    assert code == 2 and "no such file" in out


def test_export_names_a_bad_argument_or_an_unknown_post(
    db: Database, captured: Captured, settings: Settings, run_cli: CliRunner, tmp_path: Path
) -> None:
    out = str(tmp_path / "x.zip")
    bad = run_cli("evidence", "export", "no-slash", "--out", out, db_url=db.url, **env(settings))
    assert bad.code == 2 and "CHANNEL/MESSAGE_ID" in bad.err
    unknown = run_cli(
        "evidence", "export", f"{HANDLE}/999", "--out", out, db_url=db.url, **env(settings)
    )
    assert unknown.code == 1 and f"no post {HANDLE}/999" in unknown.err
    assert not Path(out).exists()


def test_readme_mentions_what_is_not_proven() -> None:
    text = (REPO / "src" / "monitor" / "evidence" / "bundle_readme.py").read_text()
    assert "does NOT prove that what Telegram served was true" in text


def _flag_member(data: bytearray, name: bytes, *, encrypted: bool = False) -> bytearray:
    """The zip with ``name``'s headers lying: marked encrypted, or sizes past the file's end."""
    for sig, name_len_at, name_at, flag_at in (
        (b"PK\x03\x04", 26, 30, 6),
        (b"PK\x01\x02", 28, 46, 8),
    ):
        i = 0
        while (i := data.find(sig, i)) != -1:
            n = struct.unpack_from("<H", data, i + name_len_at)[0]
            if data[i + name_at : i + name_at + n] == name:
                if encrypted:
                    data[i + flag_at] |= 1
                elif sig == b"PK\x01\x02":
                    struct.pack_into("<II", data, i + 20, 10_000_000, 10_000_000)
            i += 4
    return data


def test_lying_zip_headers_fail_with_a_message(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    stored = tmp_path / "stored.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as z:
        for info in src.infolist():
            z.writestr(info.filename, src.read(info))
    for encrypted in (True, False):
        path = tmp_path / f"lying-{encrypted}.zip"
        data = _flag_member(bytearray(stored.read_bytes()), b"public_key.pem", encrypted=encrypted)
        path.write_bytes(data)
        code, out = verify(run_cli, path)
        assert code == 1 and "public_key.pem: cannot be read" in out, out
        assert "Traceback" not in out


def test_a_changed_batch_record_or_a_line_of_it_moved_to_another_post_is_named(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    """Post 4's first version is proven by its batch's record (#17): the record is checked
    against the entry's hash, and the post's line in it against the version's file."""
    with zipfile.ZipFile(bundle) as z:
        name = next(n for n in z.namelist() if n.startswith("records/") and n.endswith(".txt"))
        record = z.read(name).decode()
    mine = next(line for line in record.splitlines() if line.startswith(f"{HANDLE}/4/"))
    forged = record.replace(mine, mine[:-64] + "0" * 64)
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "b1.zip", {name: forged.encode()}))
    assert code == 1 and f"{name} was changed" in out
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "b2.zip", {name: None}))
    assert code == 1 and "not covered by any chain entry" in out
    # The record kept, its post's line dropped: the entry no longer matches it.
    dropped = record.replace(mine + "\n", "")
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "b3.zip", {name: dropped.encode()}))
    assert code == 1 and f"{name} was changed" in out and "not covered by any chain entry" in out
    # Not UTF-8 (a handle is any word character, so records are UTF-8): changed, not a crash.
    garbled = rewrite(bundle, tmp_path / "b4.zip", {name: record.encode() + b"\xff"})
    code, out = verify(run_cli, garbled)
    assert code == 1 and f"{name} was changed" in out


def test_a_reading_copy_that_no_chained_file_proves_is_named(
    bundle: Path, tmp_path: Path, run_cli: CliRunner
) -> None:
    with zipfile.ZipFile(bundle) as z:
        post = json.loads(z.read("post.json"))
        listed = json.loads(z.read("versions.json"))
    post["text"] = "نص مزور في نسخة القراءة"
    forged = json.dumps(post).encode()
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "r1.zip", {"post.json": forged}))
    assert code == 1 and "post.json: its text is not one of the post's chained versions" in out
    listed[0]["sha256"] = "0" * 64
    forged = json.dumps(listed).encode()
    code, out = verify(run_cli, rewrite(bundle, tmp_path / "r2.zip", {"versions.json": forged}))
    assert code == 1 and "versions.json item 1: marked in the chain" in out


def test_a_channel_with_a_handle_in_another_script_gets_a_bundle_that_verifies(
    db: Database, pipeline: Pipeline, settings: Settings, run_cli: CliRunner, tmp_path: Path
) -> None:
    """Handles are any word characters (`monitor import --channel канал`): their subjects
    and batch records are UTF-8, and the bundle reads them so."""
    cid = add_channel(db, "канал")
    pipeline.store(cid, [PostRecord(m, T0, f"بيان رقم {m}", "telethon") for m in (1, 12)])
    assert checkpoint_now(db.sessions, settings) is not None
    for message in (1, 12):
        out = tmp_path / f"k{message}.zip"
        export(run_cli, db, settings, f"канал/{message}", out)
        code, text = verify(run_cli, out)
        assert code == 0, text


def test_a_batch_record_taken_out_of_the_bundle_of_the_post_it_is_named_after_is_named(
    db: Database, captured: Captured, settings: Settings, run_cli: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "post1.zip"
    export(run_cli, db, settings, f"{HANDLE}/1", out)
    with zipfile.ZipFile(out) as z:
        name = next(n for n in z.namelist() if n.startswith("records/") and n.endswith(".txt"))
    code, text = verify(run_cli, rewrite(out, tmp_path / "gone.zip", {name: None}))
    assert code == 1 and f"{name} is missing from the bundle" in text
