"""Suppressions: an analyst's ruling, made while dismissing a post, that a phrase (from one
channel) is not a signal. The matcher reads them through ``active_suppressions``."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from monitor.match.engine import Suppressed
from monitor.match.normalize import normalize
from monitor.store.models import AuditLog, Suppression


def active_suppressions(session: Session, channel_id: int | None = None) -> list[Suppression]:
    """Enabled suppressions; with ``channel_id``, those for that channel plus global ones.

    A suppression applies to a signal when ``phrase_norm`` occurs in the folded text of the
    signal's ``matched`` span (``normalize(matched).text``), and ``kind``/``rule``, when set,
    equal the signal's.
    """
    stmt = select(Suppression).where(Suppression.enabled.is_(True))
    if channel_id is not None:
        stmt = stmt.where(
            or_(Suppression.channel_id == channel_id, Suppression.channel_id.is_(None))
        )
    return list(session.scalars(stmt.order_by(Suppression.id)))


def suppresses(s: Suppression, channel_id: int, kind: str, rule: str, matched: str) -> bool:
    """Whether suppression ``s`` silences a signal (kind, rule, matched text) in a channel."""
    if not s.enabled or (s.channel_id is not None and s.channel_id != channel_id):
        return False
    # The matcher's own predicate, so the console shows exactly what the matcher honours.
    return Suppressed(s.phrase_norm, s.kind, s.rule).applies(kind, rule, normalize(matched).text)


def add_suppression(
    session: Session,
    *,
    phrase: str,
    channel_id: int | None,
    kind: str | None,
    rule: str | None,
    review_id: int | None,
    user_id: int | None,
    actor: str,
) -> Suppression | None:
    """Record a suppression (None when the phrase folds to nothing, or an equal one exists)."""
    phrase = phrase.strip()[:1000]
    norm = normalize(phrase).text
    if not norm:
        return None
    duplicate = session.scalar(
        select(Suppression.id).where(
            Suppression.enabled.is_(True),
            Suppression.phrase_norm == norm,
            Suppression.channel_id.is_(None)
            if channel_id is None
            else Suppression.channel_id == channel_id,
            Suppression.kind.is_(None) if kind is None else Suppression.kind == kind,
            Suppression.rule.is_(None) if rule is None else Suppression.rule == rule,
        )
    )
    if duplicate is not None:
        return None
    sup = Suppression(
        channel_id=channel_id,
        kind=kind,
        rule=rule,
        phrase=phrase,
        phrase_norm=norm,
        review_id=review_id,
        created_by=user_id,
        enabled=True,
    )
    session.add(sup)
    session.flush()
    session.add(
        AuditLog(
            actor=actor,
            action="suppression.add",
            target=f"suppression:{sup.id}",
            detail={"phrase": phrase, "channel_id": channel_id, "kind": kind, "rule": rule},
        )
    )
    return sup
