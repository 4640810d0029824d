"""`monitor evidence verify FILE.zip`: a bundle checked on its own, without the database.

The zip may come from anyone: nothing is extracted, member names are only compared with the
names a bundle has (never joined to a path), sizes are capped before anything is read, and
bad JSON or a bad key is a failure naming the member, never a traceback."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from cryptography import x509

from monitor.errors import ConfigError
from monitor.evidence.canonical import (
    SHA256,
    SUBJECT,
    checkpoint_bytes,
    entry_hash,
    parse_timestamp,
)
from monitor.evidence.keys import PublicKey, public_key_from_pem
from monitor.evidence.timestamp import token_problem
from monitor.evidence.verify import Report

NAMES = re.compile(
    r"(post|metadata|versions|ocr|checkpoints)\.json|chain\.jsonl|public_key\.pem|README\.txt"
    r"|versions/[0-9a-f]{64}\.txt|media/[0-9a-f]{64}\.[a-z0-9]{1,5}|records/\d{1,20}\.json"
    r"|checkpoints/\d{1,20}\.(msg|sig|tsr)"
    # Folder entries, as `zip -r` writes them: never read.
    r"|(versions|media|records|checkpoints)/"
)
MAX_MEMBERS = 10_000
MAX_DOC = 64 << 20  # one JSON or text member
MAX_MEDIA = 1 << 30
MAX_TOTAL = 4 << 30
MAX_RATIO = 200  # uncompressed / compressed: past this a member is a zip bomb
_FIELDS = ("seq", "kind", "subject", "content_sha256", "prev_hash", "entry_hash", "created_at")


# A hostile zip: truncated members end in EOFError, an encrypted one is a RuntimeError, a
# damaged stream a zlib.error; each is a bad bundle, said so, never a traceback.
_UNREADABLE = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    NotImplementedError,
    EOFError,
    RuntimeError,
    zlib.error,
)


class _Bad(Exception):
    """The bundle cannot be read any further; the message names the member."""


@dataclass
class _Entry:
    seq: int
    kind: str
    subject: str
    content: str
    prev: str
    hash: str
    line: int


class _Zip:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise _Bad(f"{len(members)} members: more than a bundle has")
        for info in members:
            name = info.filename
            if not NAMES.fullmatch(name):
                raise _Bad(f"unexpected member {name[:200]!r}: not part of an evidence bundle")
            if name in self.infos:
                raise _Bad(f"member {name} appears twice")
            cap = MAX_MEDIA if name.startswith("media/") else MAX_DOC
            if info.file_size > cap:
                raise _Bad(f"{name}: {info.file_size} bytes, more than a bundle member may be")
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise _Bad(f"{name}: compressed {MAX_RATIO}-fold or more (a zip bomb?)")
            total += info.file_size
            self.infos[name] = info
        if total > MAX_TOTAL:
            raise _Bad(f"{total} bytes uncompressed: more than a bundle may be")

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise _Bad(f"{name} is missing")
        try:
            with self.zf.open(info) as f:
                data = f.read(info.file_size + 1)
        except _UNREADABLE as exc:
            raise _Bad(f"{name}: cannot be read ({exc})") from None
        if len(data) > info.file_size:
            raise _Bad(f"{name}: longer than its header says")
        return data

    def sha256(self, name: str) -> str:
        h = hashlib.sha256()
        info = self.infos[name]
        try:
            with self.zf.open(info) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except _UNREADABLE as exc:
            raise _Bad(f"{name}: cannot be read ({exc})") from None
        return h.hexdigest()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (ValueError, RecursionError) as exc:
            raise _Bad(f"{name}: not valid JSON ({str(exc)[:200]})") from None


def _entries(z: _Zip, report: Report) -> list[_Entry]:
    out = []
    for n, raw in enumerate(z.read("chain.jsonl").splitlines(), 1):
        where = f"chain.jsonl line {n}"
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise _Bad(f"{where}: not valid JSON") from None
        if not isinstance(doc, dict) or any(k not in doc for k in _FIELDS):
            raise _Bad(f"{where}: an entry needs {', '.join(_FIELDS)}")
        seq, kind, subject = doc["seq"], doc["kind"], doc["subject"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise _Bad(f"{where}: seq must be a positive number")
        hashes = (doc["content_sha256"], doc["prev_hash"], doc["entry_hash"])
        if not all(isinstance(h, str) and SHA256.match(h) for h in hashes):
            raise _Bad(f"{where}: hashes must be 64 lower-case hex digits")
        if (
            not isinstance(kind, str)
            or not isinstance(subject, str)
            or not isinstance(doc["created_at"], str)
        ):
            raise _Bad(f"{where}: kind, subject and created_at must be strings")
        try:
            parse_timestamp(doc["created_at"])
        except ValueError:
            raise _Bad(f"{where}: created_at is not a UTC time stamp") from None
        digest = entry_hash(seq, kind, subject, *hashes[:2], doc["created_at"])
        if digest != hashes[2]:
            report.fail(
                f"entry {seq} ({subject[:120]}): its fields do not match its hash (altered)"
            )
        out.append(_Entry(seq, kind, subject, hashes[0], hashes[1], hashes[2], n))
    return out


def _checkpoints(
    z: _Zip, key: PublicKey, report: Report, tsa_roots: list[x509.Certificate] | None
) -> dict[int, str]:
    """seq -> head hash of every checkpoint whose signature holds."""
    docs = z.json("checkpoints.json")
    if not isinstance(docs, list):
        raise _Bad("checkpoints.json: must be a list")
    good: dict[int, str] = {}
    for n, c in enumerate(docs, 1):
        if not isinstance(c, dict):
            raise _Bad(f"checkpoints.json item {n}: must be an object")
        try:
            cid, seq, head, signed_at, sig = (
                c[k] for k in ("id", "seq", "head_hash", "signed_at", "signature")
            )
            if not (isinstance(cid, int) and isinstance(seq, int) and isinstance(head, str)):
                raise TypeError
            message = checkpoint_bytes(seq, head, str(signed_at))
            parse_timestamp(str(signed_at))
        except (KeyError, TypeError, ValueError):
            raise _Bad(
                f"checkpoints.json item {n}: needs id, seq, head_hash, signed_at, signature"
            ) from None
        name = f"checkpoint {cid} (entry {seq})"
        if not isinstance(sig, str) or not key.verifies(sig, message):
            report.fail(f"{name}: the signature does not match (forged or altered checkpoint)")
            continue
        stem = f"checkpoints/{cid}"
        if z.has(f"{stem}.msg") and z.read(f"{stem}.msg") != message:
            report.fail(f"{stem}.msg: not the bytes that were signed")
        if z.has(f"{stem}.sig") and z.read(f"{stem}.sig") != base64.b64decode(sig):
            report.fail(f"{stem}.sig: not the signature in checkpoints.json")
        if z.has(f"{stem}.tsr"):
            # A time-stamp of other bytes (another checkpoint's, or this one altered) fails.
            problem = token_problem(z.read(f"{stem}.tsr"), message, tsa_roots)
            if problem is not None:
                report.fail(f"{name}: its RFC 3161 time-stamp ({stem}.tsr) {problem}")
        report.checkpoints += 1
        good[seq] = head
    return good


def _anchored(entries: list[_Entry], signed: dict[int, str], report: Report) -> set[int]:
    """The seqs of entries linked, entry by entry, to a checkpoint whose signature holds."""
    by_seq: dict[int, _Entry] = {}
    for e in entries:
        if e.seq in by_seq:
            report.fail(f"entry {e.seq} appears twice in chain.jsonl")
        by_seq[e.seq] = e
    ordered = sorted(by_seq.values(), key=lambda e: e.seq)
    linked_to_next: dict[int, bool] = {}
    for a, b in pairwise(ordered):
        joined = b.seq == a.seq + 1
        if joined and b.prev != a.hash:
            report.fail(
                f"entry {b.seq} ({b.subject[:120]}): does not link to entry {a.seq} "
                "(an entry was removed, inserted or reordered)"
            )
        linked_to_next[a.seq] = joined and b.prev == a.hash
    anchored: set[int] = set()
    held = False
    for e in reversed(ordered):
        held = held and linked_to_next.get(e.seq, False)
        if signed.get(e.seq) == e.hash:
            held = True
        if held:
            anchored.add(e.seq)
    for seq, head in signed.items():
        if seq in by_seq and by_seq[seq].hash != head:
            report.fail(f"entry {seq}: not the chain head its checkpoint signed")
    return anchored


def _content(z: _Zip, own: list[_Entry], report: Report) -> None:
    covered: set[str] = set()
    for e in own:
        if e.kind == "version":
            name = f"versions/{e.content}.txt"
        elif e.kind == "media":
            found = [n for n in z.infos if n.startswith(f"media/{e.content}.")]
            name = found[0] if found else f"media/{e.content}"
        else:
            name = f"records/{e.seq}.json"
        covered.add(name)
        if not z.has(name):
            report.fail(f"entry {e.seq} ({e.subject}): {name} is missing from the bundle")
            continue
        report.files += 1
        if z.sha256(name) != e.content:
            report.fail(f"entry {e.seq} ({e.subject}): {name} was changed")
    for name in z.infos:
        folder = name.endswith("/")
        if (
            name.startswith(("versions/", "media/", "records/"))
            and not folder
            and name not in covered
        ):
            report.fail(f"{name}: not covered by any chain entry of this post")


def check(
    z: _Zip,
    trusted: PublicKey | None,
    report: Report,
    tsa_roots: list[x509.Certificate] | None = None,
) -> str:
    key = public_key_from_pem(z.read("public_key.pem"), "public_key.pem")
    if trusted is not None and trusted.fingerprint != key.fingerprint:
        raise _Bad(
            f"signed by key {key.fingerprint}, "
            f"not by the key given with --key ({trusted.fingerprint})"
        )
    post = z.json("post.json")
    if (
        not isinstance(post, dict)
        or not isinstance(post.get("channel"), str)
        or not isinstance(post.get("message_id"), int)
    ):
        raise _Bad("post.json: needs channel and message_id")
    prefix = f"{post['channel']}/{post['message_id']}/"
    entries = _entries(z, report)
    report.entries = len(entries)
    signed = _checkpoints(z, key, report, tsa_roots)
    anchored = _anchored(entries, signed, report)
    own = []
    for e in entries:
        if not e.subject.startswith(prefix):
            continue
        if not SUBJECT.match(e.subject) or e.subject.split("/")[2] != e.kind:
            report.fail(f"entry {e.seq}: subject {e.subject[:120]!r} does not name a {e.kind}")
            continue
        own.append(e)
        if e.seq not in anchored:
            report.fail(f"entry {e.seq} ({e.subject}): not linked to a valid signed checkpoint")
    if not own:
        raise _Bad(f"chain.jsonl: no entry of {post['channel']}/{post['message_id']}")
    _content(z, own, report)
    return key.fingerprint


def verify_bundle(
    path: Path, trusted: PublicKey | None, tsa_roots: list[x509.Certificate] | None = None
) -> tuple[Report, str | None]:
    report = Report()
    fingerprint = None
    try:
        with zipfile.ZipFile(path) as zf:
            fingerprint = check(_Zip(zf), trusted, report, tsa_roots)
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}", key="BUNDLE") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        report.fail(f"{path.name}: not a readable zip file ({exc})")
    except ConfigError as exc:  # a bad public_key.pem
        report.fail(str(exc))
    except _Bad as exc:
        report.fail(str(exc))
    return report, fingerprint
