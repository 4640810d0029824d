"""`monitor evidence verify FILE.zip`: a bundle checked on its own, without the database.

The zip may come from anyone: nothing is extracted, member names are only compared with the
names a bundle has (never joined to a path), sizes are capped before anything is read, and
bad JSON or a bad key is a failure naming the member, never a traceback."""

from __future__ import annotations

import base64
import json
import zipfile
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from cryptography import x509

from monitor.errors import ConfigError
from monitor.evidence.batches import BadBatch, parse_batch
from monitor.evidence.bundle_zip import BadBundle, BundleZip
from monitor.evidence.canonical import (
    SHA256,
    SUBJECT,
    checkpoint_bytes,
    entry_hash,
    parse_timestamp,
    sha256_hex,
    text_bytes,
)
from monitor.evidence.keys import PublicKey, public_key_from_pem
from monitor.evidence.report import Report
from monitor.evidence.timestamp import token_problem

_FIELDS = ("seq", "kind", "subject", "content_sha256", "prev_hash", "entry_hash", "created_at")


@dataclass
class _Entry:
    seq: int
    kind: str
    subject: str
    content: str
    prev: str
    hash: str
    line: int


def _entries(z: BundleZip, report: Report) -> list[_Entry]:
    out = []
    for n, raw in enumerate(z.read("chain.jsonl").splitlines(), 1):
        where = f"chain.jsonl line {n}"
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadBundle(f"{where}: not valid JSON") from None
        if not isinstance(doc, dict) or any(k not in doc for k in _FIELDS):
            raise BadBundle(f"{where}: an entry needs {', '.join(_FIELDS)}")
        seq, kind, subject = doc["seq"], doc["kind"], doc["subject"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise BadBundle(f"{where}: seq must be a positive number")
        hashes = (doc["content_sha256"], doc["prev_hash"], doc["entry_hash"])
        if not all(isinstance(h, str) and SHA256.fullmatch(h) for h in hashes):
            raise BadBundle(f"{where}: hashes must be 64 lower-case hex digits")
        if (
            not isinstance(kind, str)
            or not isinstance(subject, str)
            or not isinstance(doc["created_at"], str)
        ):
            raise BadBundle(f"{where}: kind, subject and created_at must be strings")
        try:
            parse_timestamp(doc["created_at"])
        except ValueError:
            raise BadBundle(f"{where}: created_at is not a UTC time stamp") from None
        digest = entry_hash(seq, kind, subject, *hashes[:2], doc["created_at"])
        if digest != hashes[2]:
            report.fail(
                f"entry {seq} ({subject[:120]}): its fields do not match its hash (altered)"
            )
        out.append(_Entry(seq, kind, subject, hashes[0], hashes[1], hashes[2], n))
    return out


def _checkpoints(
    z: BundleZip, key: PublicKey, report: Report, tsa_roots: list[x509.Certificate] | None
) -> dict[int, str]:
    """seq -> head hash of every checkpoint whose signature holds."""
    docs = z.json("checkpoints.json")
    if not isinstance(docs, list):
        raise BadBundle("checkpoints.json: must be a list")
    good: dict[int, str] = {}
    for n, c in enumerate(docs, 1):
        if not isinstance(c, dict):
            raise BadBundle(f"checkpoints.json item {n}: must be an object")
        try:
            cid, seq, head, signed_at, sig = (
                c[k] for k in ("id", "seq", "head_hash", "signed_at", "signature")
            )
            if not (isinstance(cid, int) and isinstance(seq, int) and isinstance(head, str)):
                raise TypeError
            message = checkpoint_bytes(seq, head, str(signed_at))
            parse_timestamp(str(signed_at))
        except (KeyError, TypeError, ValueError):
            raise BadBundle(
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


def _batch_line(z: BundleZip, e: _Entry, prefix: str) -> str | None:
    """The sha256 the batch record gives the post's version (None: it lists no such line, or
    more than one). Found by searching for the line, not by parsing the record: a crafted
    bundle's records cost one pass each (#17)."""
    try:
        text = z.read(f"records/{e.seq}.txt").decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    start = f"{prefix}version/"
    found = [m for m in (_line_at(text, start, at) for at in _starts(text, start)) if m]
    return found[0] if len(found) == 1 else None


def _starts(text: str, start: str) -> list[int]:
    at = [0] if text.startswith(start) else []
    pos = text.find(f"\n{start}")
    while pos != -1 and len(at) < 2:
        at.append(pos + 1)
        pos = text.find(f"\n{start}", pos + 1)
    return at


def _line_at(text: str, start: str, at: int) -> str | None:
    end = text.find("\n", at)
    try:
        [(_, sha)] = parse_batch(text[at : end + 1] if end != -1 else text[at:])
    except (BadBatch, ValueError):
        return None
    return sha


def _content(z: BundleZip, own: list[_Entry], report: Report, prefix: str) -> set[str]:
    """Checks every file against its entry; returns the sha256s of the proven text versions."""
    covered: set[str] = set()
    proven: set[str] = set()
    for e in own:
        if e.kind == "batch":
            name = f"records/{e.seq}.txt"
            covered.add(name)
            if not z.has(name):  # an entry named after this post, its record taken out
                report.fail(f"entry {e.seq} ({e.subject}): {name} is missing from the bundle")
                continue
            report.files += 1
            if z.sha256(name) != e.content:
                report.fail(f"entry {e.seq} ({e.subject}): {name} was changed")
                continue
            sha = _batch_line(z, e, prefix)
            if sha is None:
                report.fail(f"entry {e.seq} ({e.subject}): {name} lists no version of this post")
                continue
            # The post's first version, proven through the batch's record.
            e = replace(e, kind="version", content=sha)
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
        elif e.kind == "version":
            proven.add(e.content)
    for name in z.infos:
        folder = name.endswith("/")
        if (
            name.startswith(("versions/", "media/", "records/"))
            and not folder
            and name not in covered
        ):
            report.fail(f"{name}: not covered by any chain entry of this post")
    return proven


def _readable(z: BundleZip, post: dict[str, Any], proven: set[str], report: Report) -> None:
    """post.json and versions.json are for reading, but a reader trusts them: a text or a
    listed version that no chained file proves is named, not passed over in silence."""
    text = post.get("text")
    if not isinstance(text, str) or sha256_hex(text_bytes(text)) not in proven:
        report.fail("post.json: its text is not one of the post's chained versions")
    listed = z.json("versions.json")
    if not isinstance(listed, list):
        raise BadBundle("versions.json: must be a list")
    for n, item in enumerate(listed, 1):
        if not isinstance(item, dict) or not isinstance(item.get("sha256"), str):
            raise BadBundle(f"versions.json item {n}: needs sha256")
        if item.get("in_chain") and item["sha256"] not in proven:
            report.fail(
                f"versions.json item {n}: marked in the chain, but no chained file proves it"
            )


def check(
    z: BundleZip,
    trusted: PublicKey | None,
    report: Report,
    tsa_roots: list[x509.Certificate] | None = None,
) -> str:
    key = public_key_from_pem(z.read("public_key.pem"), "public_key.pem")
    if trusted is not None and trusted.fingerprint != key.fingerprint:
        raise BadBundle(
            f"signed by key {key.fingerprint}, "
            f"not by the key given with --key ({trusted.fingerprint})"
        )
    post = z.json("post.json")
    if (
        not isinstance(post, dict)
        or not isinstance(post.get("channel"), str)
        or not isinstance(post.get("message_id"), int)
    ):
        raise BadBundle("post.json: needs channel and message_id")
    prefix = f"{post['channel']}/{post['message_id']}/"
    entries = _entries(z, report)
    report.entries = len(entries)
    signed = _checkpoints(z, key, report, tsa_roots)
    anchored = _anchored(entries, signed, report)
    own = []
    for e in entries:
        if e.kind == "batch" and e.subject.startswith(f"{post['channel']}/"):
            # A batch of the post's channel is the post's when its subject names the post or
            # its record is in the bundle: then its record must hash right and list the post.
            if not (e.subject.startswith(prefix) or z.has(f"records/{e.seq}.txt")):
                continue
        elif not e.subject.startswith(prefix):
            continue
        if not SUBJECT.fullmatch(e.subject) or e.subject.split("/")[2] != e.kind:
            report.fail(f"entry {e.seq}: subject {e.subject[:120]!r} does not name a {e.kind}")
            continue
        own.append(e)
        if e.seq not in anchored:
            report.fail(f"entry {e.seq} ({e.subject}): not linked to a valid signed checkpoint")
    if not own:
        raise BadBundle(f"chain.jsonl: no entry of {post['channel']}/{post['message_id']}")
    proven = _content(z, own, report, prefix)
    _readable(z, post, proven, report)
    return key.fingerprint


def verify_bundle(
    path: Path, trusted: PublicKey | None, tsa_roots: list[x509.Certificate] | None = None
) -> tuple[Report, str | None]:
    report = Report()
    fingerprint = None
    try:
        with zipfile.ZipFile(path) as zf:
            fingerprint = check(BundleZip(zf), trusted, report, tsa_roots)
    except FileNotFoundError:
        raise ConfigError(f"no such file: {path}", key="BUNDLE") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        report.fail(f"{path.name}: not a readable zip file ({exc})")
    except ConfigError as exc:  # a bad public_key.pem
        report.fail(str(exc))
    except BadBundle as exc:
        report.fail(str(exc))
    return report, fingerprint
