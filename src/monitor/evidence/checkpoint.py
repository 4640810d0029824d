"""Signed checkpoints: the chain head at a moment, signed with the Ed25519 key, so that an
entry under a checkpoint cannot be changed, removed or reordered without the key."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.evidence.canonical import checkpoint_bytes, timestamp
from monitor.evidence.chain import HEAD_ID, ChainError
from monitor.evidence.keys import SigningKey, load_signing_key
from monitor.evidence.timestamp import request_token
from monitor.store.models import EvidenceCheckpoint, EvidenceHead, utcnow

log = logging.getLogger(__name__)


def latest_checkpoint(session: Session) -> EvidenceCheckpoint | None:
    return session.scalar(
        select(EvidenceCheckpoint)
        .order_by(EvidenceCheckpoint.seq.desc(), EvidenceCheckpoint.id.desc())
        .limit(1)
    )


def sign_head(
    session: Session,
    key: SigningKey,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> EvidenceCheckpoint | None:
    """A checkpoint of the current head, unless the latest one already covers it (``force``:
    sign anyway). None when there was nothing new to sign."""
    head = session.scalar(select(EvidenceHead).where(EvidenceHead.id == HEAD_ID))
    if head is None:
        raise ChainError(
            "the evidence chain has no head row (evidence_head): run `monitor db upgrade`"
        )
    last = latest_checkpoint(session)
    if not force and last is not None and last.seq == head.seq:
        return None
    if head.seq == 0 and not force:
        return None
    signed_at = now or utcnow()
    message = checkpoint_bytes(head.seq, head.entry_hash, timestamp(signed_at))
    public = key.public
    checkpoint = EvidenceCheckpoint(
        seq=head.seq,
        head_hash=head.entry_hash,
        signed_at=signed_at,
        signature=key.sign(message),
        key_fingerprint=public.fingerprint,
        public_key=public.pem,
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint


def checkpoint_now(
    sessions: sessionmaker[Session], settings: Settings, *, force: bool = False
) -> EvidenceCheckpoint | None:
    """What the scheduler runs every ``evidence_checkpoint_seconds``."""
    key = load_signing_key(settings.evidence_key)
    with sessions.begin() as session:
        made = sign_head(session, key, force=force)
        if made is not None:
            log.info("evidence checkpoint at seq %d signed (%s)", made.seq, made.head_hash[:16])
            session.expunge(made)
    if made is not None and settings.evidence_tsa_url:
        time_stamp(sessions, made, settings.evidence_tsa_url)
    return made


def time_stamp(sessions: sessionmaker[Session], checkpoint: EvidenceCheckpoint, url: str) -> None:
    """Ask the TSA for a token of the checkpoint's signed bytes and keep it on the row.

    After the checkpoint has committed, not in its transaction: a slow TSA (up to the
    request's timeout) must not hold a transaction open, and a TSA that fails must not cost
    the checkpoint, which stands on its own signature."""
    message = checkpoint_bytes(
        checkpoint.seq, checkpoint.head_hash, timestamp(checkpoint.signed_at)
    )
    try:
        token = request_token(url, message)
    except MonitorError as exc:
        log.warning("evidence checkpoint %d kept without a time-stamp: %s", checkpoint.id, exc)
        return
    with sessions.begin() as session:
        session.execute(
            update(EvidenceCheckpoint)
            .where(EvidenceCheckpoint.id == checkpoint.id)
            .values(tsa_url=url, tsa_token=token)
        )
    checkpoint.tsa_url, checkpoint.tsa_token = url, token
    log.info("evidence checkpoint %d time-stamped by %s", checkpoint.id, url)
