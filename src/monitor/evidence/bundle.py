"""`monitor evidence export`: one post's evidence as a self-contained zip that a third party
verifies without the database (bundle_check.py, or by hand as README.txt says).

Every name inside the zip is built here from a sha256 or an id, never from channel content.
The post's entries are linked to signed checkpoints by the entries between them: with a linear
chain that is all a third party can recompute, so each entry is tied to the first checkpoint
after it, which keeps a bundle within one checkpoint interval of entries per entry."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor import __version__
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.evidence.batches import covering_batch, line_of, version_subject
from monitor.evidence.bundle_readme import README
from monitor.evidence.canonical import GENESIS, checkpoint_bytes, sha256_hex, text_bytes, timestamp
from monitor.evidence.chain import entries_table
from monitor.evidence.checkpoint import sign_head
from monitor.evidence.keys import SigningKey, load_signing_key
from monitor.evidence.timestamp import token_time
from monitor.media.store import MediaStore
from monitor.store.channels import post_link
from monitor.store.models import (
    Channel,
    EvidenceCheckpoint,
    MediaFile,
    Post,
    PostVersion,
    utcnow,
)

FORMAT = "monitor-evidence-bundle/1"
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif"}


class NoEvidence(MonitorError):
    """The post has nothing in the chain to prove (exit 1)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    data: bytes
    entries: int  # chain entries in the bundle
    post_entries: int
    checkpoints: list[int]


def _iso(value: datetime | None) -> str | None:
    return timestamp(value) if value is not None else None


def _dump(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _entry_json(row: Any, prev: str) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "kind": row.kind,
        "subject": row.subject,
        "content_sha256": row.content_sha256,
        "prev_hash": prev,
        "entry_hash": row.entry_hash,
        "created_at": timestamp(row.created_at),
    }


def _anchors(session: Session, key: SigningKey, last_seq: int) -> list[EvidenceCheckpoint]:
    checkpoints = list(session.scalars(select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.seq)))
    checkpoints = [c for c in checkpoints if c.key_fingerprint == key.public.fingerprint]
    if not checkpoints or checkpoints[-1].seq < last_seq:
        # Nothing signed covers the post's newest entry yet: sign the head now.
        made = sign_head(session, key, force=True)
        assert made is not None
        checkpoints.append(made)
    return checkpoints


def build_bundle(session: Session, post_id: int, key: SigningKey, media_dir: Path) -> Bundle:
    e = entries_table
    post, channel = session.execute(
        select(Post, Channel).join(Channel, Channel.id == Post.channel_id).where(Post.id == post_id)
    ).one()
    own = list(session.execute(select(e).where(e.c.post_id == post_id).order_by(e.c.seq)))
    batch = covering_batch(session, channel.handle, post.message_id, post_id)
    if batch is not None and all(r.seq != batch.seq for r in own):
        own = sorted([*own, batch], key=lambda r: r.seq)
    if not own:
        raise NoEvidence(f"{channel.handle}/{post.message_id} has no entries in the evidence chain")
    checkpoints = _anchors(session, key, own[-1].seq)
    # Each entry's segment runs to the first checkpoint at or after it.
    ranges: list[tuple[int, int]] = []
    used: dict[int, EvidenceCheckpoint] = {}
    for row in own:
        anchor = next(c for c in checkpoints if c.seq >= row.seq)
        used[anchor.id] = anchor
        if ranges and ranges[-1][1] >= row.seq:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], anchor.seq))
        else:
            ranges.append((row.seq, anchor.seq))
    lines: list[bytes] = []
    for lo, hi in ranges:
        # From the entry before the range: its hash is the first entry's prev_hash.
        prev = GENESIS
        for r in session.execute(
            select(e).where(e.c.seq >= lo - 1, e.c.seq <= hi).order_by(e.c.seq)
        ):
            if r.seq >= lo:
                lines.append(json.dumps(_entry_json(r, prev), sort_keys=True).encode() + b"\n")
            prev = r.entry_hash
    files: dict[str, bytes] = {}
    files["chain.jsonl"] = b"".join(lines)
    for row in own:
        if row.payload is not None:
            record = f"records/{row.seq}.{'txt' if row.kind == 'batch' else 'json'}"
            files[record] = row.payload.encode("utf-8", "surrogatepass")
    versions = list(
        session.scalars(
            select(PostVersion).where(PostVersion.post_id == post_id).order_by(PostVersion.id)
        )
    )
    # Only what the chain covers is put in as a file, named by its sha256: a version stored
    # behind the chain's back (`monitor evidence verify` names it) is listed, marked unproven.
    covered = {r.content_sha256 for r in own if r.kind == "version"}
    if batch is not None:
        first = line_of(batch.payload, version_subject(channel.handle, post.message_id, post_id))
        covered |= {first} if first else set()
    listed = []
    for v in versions:
        data = text_bytes(v.text)
        sha = sha256_hex(data)
        name = f"versions/{sha}.txt" if sha in covered else None
        if name:
            files[name] = data
        listed.append(
            {
                "id": v.id,
                "sha256": sha,
                "captured_at": _iso(v.captured_at),
                "edit_date": _iso(v.edit_date),
                "file": name,
                "in_chain": name is not None,
            }
        )
    files["versions.json"] = _dump(listed)
    media = session.scalar(select(MediaFile).where(MediaFile.post_id == post_id))
    store = MediaStore(media_dir, max_bytes=1 << 62)
    media_json = None
    shas = {r.content_sha256 for r in own if r.kind == "media"}
    for sha in sorted(shas):
        mime = media.mime if media is not None and media.sha256 == sha else None
        name = f"media/{sha}.{_EXT.get(mime or '', 'bin')}"
        try:
            files[name] = store.read(sha)
        except (OSError, ValueError) as exc:
            raise MonitorError(f"media file {sha} of this post cannot be exported: {exc}") from None
    if media is not None:
        media_json = {
            "kind": media.kind,
            "origin": media.origin,
            "url": media.url,
            "sha256": media.sha256,
            "mime": media.mime,
            "size": media.size,
            "width": media.width,
            "height": media.height,
            "phash": media.phash,
            "status": media.status,
        }
    files["ocr.json"] = _dump(
        [
            {"entry": r.seq, "file": f"records/{r.seq}.json", **json.loads(r.payload)}
            for r in own
            if r.kind == "ocr" and r.payload is not None
        ]
    )
    fwd = (
        {"channel": post.fwd_channel, "message_id": post.fwd_message_id, "name": post.fwd_name}
        if post.fwd_channel or post.fwd_name
        else None
    )
    files["post.json"] = _dump(
        {
            "channel": channel.handle,
            "channel_title": channel.title,
            "message_id": post.message_id,
            "post_id": post.id,
            "url": post_link(channel.handle, post.message_id),
            "date": _iso(post.date),
            "text": post.text,
            "text_sha256": post.text_sha256,
            "views": post.views,
            "forwards": post.forwards,
            "forwarded_from": fwd,
            "reply_to": post.reply_to,
            "edited_at": _iso(post.edited_at),
            "deleted_at": _iso(post.deleted_at),
            "media": media_json,
        }
    )
    files["metadata.json"] = _dump(
        {
            "format": FORMAT,
            "exported_at": timestamp(utcnow()),
            "monitor_version": __version__,
            "source": post.source,
            "collector": {
                "telethon": "Telegram API (MTProto)",
                "web": "t.me public web preview",
                "export": "Telegram Desktop export",
            }.get(post.source, post.source),
            "url": post_link(channel.handle, post.message_id),
            "first_seen_at": _iso(post.first_seen_at),
            "captured": [{"version": v.id, "captured_at": _iso(v.captured_at)} for v in versions],
            "entries": [r.seq for r in own],
            "key_fingerprint": key.public.fingerprint,
        }
    )
    cps = []
    for c in sorted(used.values(), key=lambda c: c.seq):
        stem = f"checkpoints/{c.id}"
        files[f"{stem}.msg"] = checkpoint_bytes(c.seq, c.head_hash, timestamp(c.signed_at))
        files[f"{stem}.sig"] = base64.b64decode(c.signature)
        doc = {
            "id": c.id,
            "seq": c.seq,
            "head_hash": c.head_hash,
            "signed_at": timestamp(c.signed_at),
            "signature": c.signature,
            "key_fingerprint": c.key_fingerprint,
            "message_file": f"{stem}.msg",
            "signature_file": f"{stem}.sig",
            "tsa_url": c.tsa_url,
            "tsa_token_file": None,
        }
        if c.tsa_token:
            files[f"{stem}.tsr"] = c.tsa_token
            doc["tsa_token_file"] = f"{stem}.tsr"
            doc["tsa_time"] = token_time(c.tsa_token)  # for reading; the token is what counts
        cps.append(doc)
    files["checkpoints.json"] = _dump(cps)
    files["public_key.pem"] = key.public.pem.encode("ascii")
    files["README.txt"] = README.format(
        channel=channel.handle, message_id=post.message_id, fingerprint=key.public.fingerprint
    ).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            zf.writestr(name, files[name])
    return Bundle(buf.getvalue(), len(lines), len(own), sorted(used))


def export_post(session: Session, post_id: int, settings: Settings) -> Bundle:
    """The bundle of one post with the configured key and media store.

    The key is never made here: a console or export host without the service's key must not
    sign with a new one of its own, whose bundles the published key would not verify."""
    key = load_signing_key(settings.evidence_key, create=False)
    return build_bundle(session, post_id, key, settings.media_dir)
