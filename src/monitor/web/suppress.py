"""Suppressions: an analyst's ruling, made while dismissing a post, that a phrase (from one
channel) is not a signal. The matcher reads them through ``active_suppressions``.

One ruling silences every signal of the channel whose words contain the phrase, so a careless or
phished analyst could silence a channel with one word ("ولا" stopped 3:139 from ever flagging
there, #11). Hence: a phrase made only of stop words is refused (``stop_words_only``), the
console shows what a ruling would have silenced before it is saved (``preview``), and operators
see what each one hides (``hidden_counts``) and can lift it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from monitor.match.normalize import normalize
from monitor.match.stopwords import stop_words
from monitor.signals import Suppressed
from monitor.store.models import AuditLog, Match, Post, SignalRow, Suppression

EXAMPLES = 5
MIN_LETTERS = 3
# An analyst's ruling may silence at most this share of the channel's flagged posts (or
# WIDE_FLOOR of them, for small channels); operators may go further.
WIDE_SHARE = 0.2
WIDE_FLOOR = 3


def stop_words_only(phrase_norm: str) -> bool:
    """Whether a folded phrase has no word but stop words (or none at all)."""
    words = stop_words()
    return all(w in words for w in phrase_norm.split())


def refusal(phrase: str) -> str | None:
    """Why ``phrase`` cannot be a suppression, or None when it can."""
    norm = normalize(phrase.strip()[:1000]).text
    if not norm:
        return "the phrase has no words to match"
    if stop_words_only(norm):
        return (
            f"{phrase.strip()!r} is made only of common words (stop words): it would silence "
            "every signal that contains them. Choose the words that make this post harmless."
        )
    # A ruling matches inside words: "ه" or "1" would be found in nearly every signal.
    if not any(sum(ch.isalpha() for ch in w) >= MIN_LETTERS for w in norm.split()):
        return (
            f"{phrase.strip()!r} has no word of {MIN_LETTERS} letters or more: it would match "
            "inside almost every signal. Choose the words that make this post harmless."
        )
    return None


def too_wide(seen: Preview, channel_flagged: int) -> str | None:
    """Why an analyst may not save a ruling this wide, or None. A common content word ("الله")
    passes the stop-word test yet silences most of a religious channel's signals (review of
    #11), so beyond a share of the channel's flagged posts the ruling is an operator's call."""
    limit = max(WIDE_FLOOR, int(channel_flagged * WIDE_SHARE))
    if seen.flagged <= limit:
        return None
    return (
        f"it would silence {seen.flagged} of this channel's {channel_flagged} flagged posts; "
        "a ruling that wide needs an operator (ask one to make it from this post)"
    )


def flagged_posts(session: Session, channel_id: int) -> int:
    """How many stored posts of the channel are flagged now."""
    stmt = (
        select(func.count())
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        .where(Post.channel_id == channel_id, Match.flagged.is_(True))
    )
    return int(session.scalar(stmt) or 0)


@dataclass
class Preview:
    """What a suppression would have silenced among the stored verdicts of its scope."""

    posts: int = 0
    flagged: int = 0
    examples: list[tuple[int, int, str]] = field(default_factory=list)  # post id, msg id, span


def preview(
    session: Session, channel_id: int | None, phrase: str, kind: str | None, rule: str | None
) -> Preview:
    """The stored posts (of ``channel_id``, or all) with a signal this suppression would drop:
    the matcher's own predicate over the signals of the verdicts stored now."""
    ruling = Suppressed(normalize(phrase.strip()[:1000]).text, kind, rule)
    stmt = (
        select(Post.id, Post.message_id, Match.flagged, SignalRow.kind, SignalRow.rule)
        .add_columns(SignalRow.matched)
        .select_from(SignalRow)
        .join(Match, Match.id == SignalRow.match_id)
        .join(Post, Post.id == Match.post_id)
        .order_by(Post.id.desc())
    )
    if channel_id is not None:
        stmt = stmt.where(Post.channel_id == channel_id)
    if kind is not None:
        stmt = stmt.where(SignalRow.kind == kind)
    if rule is not None:
        stmt = stmt.where(SignalRow.rule == rule)
    out, seen = Preview(), set()
    for pid, message_id, flagged, k, r, matched in session.execute(stmt):
        if pid in seen or not ruling.applies(k, r, normalize(matched).text):
            continue
        seen.add(pid)
        out.posts += 1
        out.flagged += bool(flagged)
        if len(out.examples) < EXAMPLES:
            out.examples.append((pid, message_id, matched[:200]))
    return out


def hidden_counts(session: Session, sups: Iterable[Suppression]) -> dict[int, int]:
    """Per suppression, the stored verdicts in which the matcher dropped a signal on its
    account: it writes "… (analyst ruling 'phrase')" into the verdict's explanation."""
    wanted = {s.id: s for s in sups}
    counts = dict.fromkeys(wanted, 0)
    if not wanted:
        return counts
    stmt = (
        select(Post.channel_id, Match.explanation)
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        # The JSON holds escaped Arabic on SQLite: filter on the ASCII marker, check below.
        .where(cast(Match.explanation, Text).like("%analyst ruling%"))
    )
    channels = {s.channel_id for s in wanted.values()}
    if None not in channels:
        stmt = stmt.where(Post.channel_id.in_(channels))
    for channel_id, explanation in session.execute(stmt):
        lines = [x for x in explanation or () if x.startswith("suppressed ")]
        for sid, s in wanted.items():
            if s.channel_id is not None and s.channel_id != channel_id:
                continue
            marker = f"(analyst ruling {s.phrase_norm!r})"
            if any(
                line.endswith(marker)
                and (s.kind is None or line.startswith(f"suppressed {s.kind} "))
                and (s.rule is None or f" {s.rule}: " in line)
                for line in lines
            ):
                counts[sid] += 1
    return counts


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
    """Record a suppression (None when the phrase folds to nothing, is made only of stop
    words, or an equal one exists). Callers show ``refusal()`` and ``preview()`` first."""
    phrase = phrase.strip()[:1000]
    norm = normalize(phrase).text
    if not norm or stop_words_only(norm):
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
