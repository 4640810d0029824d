"""The byte strings that are hashed and signed, format 1. They never change once released:
docs/evidence.md gives each one so that a third party can recompute it with ``sha256sum``
and check a signature with ``openssl``. A new format gets a new tag, never an edit here."""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

ENTRY_TAG = "monitor-evidence/1"
CHECKPOINT_TAG = "monitor-checkpoint/1"
GENESIS = "0" * 64
KINDS = ("version", "batch", "media", "ocr", "review", "deletion")

# Subjects are built from a channel handle (word characters) and numeric ids only: no tab,
# newline or slash of channel content can shift the fields of the hashed line. ASCII digits
# (\d takes Arabic-Indic ones too), and always fullmatch: `$` lets a final newline through.
SUBJECT = re.compile(
    r"^(?P<handle>\w{1,100})/(?P<message>[0-9]{1,20})/"
    r"(?P<kind>version|batch|media|ocr|review|deletion)/(?P<id>[0-9]{1,20})$"
)
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_bytes(text: str) -> bytes:
    # The same encoding as PostRecord.sha256 (collect/records.py): a lone surrogate that
    # Telegram let through is kept, not replaced.
    return text.encode("utf-8", "surrogatepass")


def timestamp(value: datetime) -> str:
    """UTC, microseconds, ``Z``: the one text form of a time inside hashed bytes."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in evidence")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def subject(handle: str, message_id: int, kind: str, ident: int) -> str:
    value = f"{handle}/{message_id}/{kind}/{ident}"
    if not SUBJECT.fullmatch(value):
        raise ValueError(f"cannot name evidence subject {value!r}")
    return value


def entry_bytes(
    seq: int, kind: str, subject: str, content_sha256: str, prev_hash: str, created_at: str
) -> bytes:
    """Seven lines joined by ``\\n``, no newline at the end, UTF-8 (all ASCII in practice)."""
    return "\n".join(
        (ENTRY_TAG, str(seq), kind, subject, content_sha256, prev_hash, created_at)
    ).encode("utf-8")


def entry_hash(
    seq: int, kind: str, subject: str, content_sha256: str, prev_hash: str, created_at: str
) -> str:
    return sha256_hex(entry_bytes(seq, kind, subject, content_sha256, prev_hash, created_at))


def checkpoint_bytes(seq: int, head_hash: str, signed_at: str) -> bytes:
    """What the Ed25519 key signs: four lines joined by ``\\n``, no newline at the end."""
    return "\n".join((CHECKPOINT_TAG, str(seq), head_hash, signed_at)).encode("utf-8")


def payload(record: dict[str, Any]) -> str:
    """Canonical JSON: sorted keys, no spaces, non-ASCII kept as UTF-8, floats as Python's
    shortest repr. Hashed as its UTF-8 bytes."""
    for value in record.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a non-finite number has no canonical JSON form")
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_sha256(text: str) -> str:
    return sha256_hex(text_bytes(text))


def ocr_record(
    media_sha256: str | None,
    engine: str | None,
    version: str | None,
    text: str | None,
    confidence: float | None,
) -> dict[str, Any]:
    return {
        "media_sha256": media_sha256,
        "engine": engine,
        "version": version,
        "text": text or "",
        "confidence": confidence,
    }


def review_record(
    review_id: int, post_id: int, decision: str, note: str, by: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "review": review_id,
        "post": post_id,
        "decision": decision,
        "note": note,
        "by": by,
        "at": timestamp(at),
    }


def batch_lines(leaves: list[tuple[str, str]]) -> str:
    """A batch's record (#17): one ``SUBJECT CONTENT_SHA256`` line per first version, in the
    order given (by post id), each ending in ``\n``. Text, not JSON, so that a third party
    finds the post's line with ``grep`` and hashes the file with ``sha256sum``."""
    return "".join(f"{name} {sha}\n" for name, sha in leaves)


def deletion_record(post_id: int, deleted_at: datetime) -> dict[str, Any]:
    return {"post": post_id, "deleted_at": timestamp(deleted_at)}
