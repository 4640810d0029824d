"""Matcher verdicts in the database: the pipeline hook, rule-set versions, and rematch.

A post has at most one Match row (its current verdict, with the rule-set version that gave it),
so re-running the rules over history replaces verdicts instead of piling up duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from monitor import metrics
from monitor.config import Settings
from monitor.match.affiliates import (
    affiliated_group_ids,
    echo_channels,
    echo_members,
    same_cue,
    same_cue_channels,
)
from monitor.match.engine import Matcher
from monitor.match.normalize import normalize
from monitor.match.severity import SEVERITIES
from monitor.signals import MatchContext, MatchResult, Suppressed
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import (
    Channel,
    EchoMember,
    Match,
    Post,
    RuleSetVersion,
    SignalRow,
    Suppression,
    utcnow,
)


def ensure_rule_set(session: Session, matcher: Matcher) -> int:
    """The id of the current rule set's version row, recorded the first time it is used.

    Two workers' first batches on a fresh database both find no row: the insert ignores the
    other's (ON CONFLICT DO NOTHING waits for it on PostgreSQL), so neither batch fails on
    the unique version and is retried."""
    rules = matcher.rules
    found = select(RuleSetVersion.id).where(RuleSetVersion.version == rules.version)
    row_id = session.scalar(found)
    if row_id is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        summary = {
            "cues": len(rules.cues),
            "formulas": len(rules.formulas),
            "rules": len(rules.rules),
        }
        session.execute(
            dialect.insert(RuleSetVersion)
            .values(version=rules.version, summary=summary)
            .on_conflict_do_nothing(index_elements=["version"])
        )
        row_id = session.scalar(found)
        assert row_id is not None
    return int(row_id)


def _suppressions(session: Session, channel_id: int) -> tuple[Suppressed, ...]:
    rows = session.execute(
        select(Suppression.phrase_norm, Suppression.kind, Suppression.rule).where(
            Suppression.enabled.is_(True),
            or_(Suppression.channel_id.is_(None), Suppression.channel_id == channel_id),
        )
    )
    return tuple(Suppressed(p, k, r) for p, k, r in rows if p)


class MatchStore:
    """Matches posts and stores each verdict; used by the pipeline hook and by rematch."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        scorer = matcher.scorer
        self.window = timedelta(hours=scorer.affiliated_window_hours)
        self.deleted_soon = timedelta(hours=scorer.deleted_soon_hours)

    def context(self, session: Session, post: Post, channel: Channel) -> MatchContext:
        deleted_soon = post.deleted_at is not None and (
            post.deleted_at - post.date <= self.deleted_soon
        )
        return MatchContext(
            channel=channel.handle,
            group=channel.group.name if channel.group else None,
            group_weight=channel.group.weight if channel.group else 1.0,
            channel_kind=channel.kind,  # who speaks decides what a cue or claim counts (#12)
            deleted_soon=deleted_soon,
            suppressed=_suppressions(session, channel.id),
        )

    def evaluate(
        self,
        session: Session,
        post: Post,
        channel: Channel,
        ocr: str | None = None,
        groups: set[int] | None = None,
    ) -> MatchResult:
        """The verdict on ``post``; ``ocr`` is the text read from its image (#13), matched
        with the caption; ``groups``: the channel's affiliated groups, if already read."""
        ctx = self.context(session, post, channel)
        if groups is None:
            groups = affiliated_group_ids(session, channel.group_id)
        # The statement's echoes on affiliated channels (#15), known before matching: they
        # are in the database already when this runs after the echo hook or in a rematch.
        echoes = echo_channels(session, groups, post, channel, self.window)
        ctx.affiliated_echoes = len(echoes)
        start = time.perf_counter()
        result = self.matcher.match(post.text, ctx, ocr=ocr)
        metrics.MATCHER_SECONDS.observe(time.perf_counter() - start)
        cue_refs = {s.ref for s in result.signals if s.kind == "verse_cue" and s.ref}
        if cue_refs:
            cues = same_cue_channels(session, groups, post, channel, cue_refs, self.window)
            if cues:
                # A channel that posted the cue and echoed the statement counts once.
                ctx.affiliated_same_cue = len(cues)
                ctx.affiliated_echoes = len(echoes - cues)
                result = self.matcher.match(post.text, ctx, ocr=ocr)
        return result

    def save(self, session: Session, post: Post, result: MatchResult, rule_set_id: int) -> Match:
        # Locked (PostgreSQL): another worker re-scoring the same post (an echo, a cue
        # answered) commits first, and this one then reads its rows, not ones it deleted.
        match = session.scalar(select(Match).where(Match.post_id == post.id).with_for_update())
        if match is None:
            match = Match(post_id=post.id)
            session.add(match)
        match.rule_set_id = rule_set_id
        match.text_sha256 = post.text_sha256
        match.flagged = result.flagged
        match.severity = result.severity
        match.severity_rank = SEVERITIES.index(result.severity)
        match.score = result.score
        match.explanation = list(result.explanation)
        match.matched_at = utcnow()
        match.signals = [
            SignalRow(
                kind=s.kind,
                rule=s.rule,
                ref=s.ref,
                refs=list(s.refs),
                start=s.start,
                end=s.end,
                matched=s.matched,
                score=s.score,
                roles={k: r.to_dict() for k, r in s.roles.items()} or None,
                layer=s.layer,
            )
            for s in result.signals
        ]
        return match

    def affiliated_posts(
        self, session: Session, channel: Channel, refs: set[str], posts: Sequence[Post]
    ) -> list[tuple[Post, Channel]]:
        """Posts of the other affiliated channels that carry one of the cues ``refs`` within
        the window of ``posts``."""
        groups = affiliated_group_ids(session, channel.group_id)
        if not groups:
            return []
        lo = min(p.date for p in posts) - self.window
        hi = max(p.date for p in posts) + self.window
        ids = same_cue(groups, channel, refs, lo, hi)
        rows = session.execute(
            select(Post, Channel)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Post.id.in_(ids))
            .order_by(Post.id)
        )
        return [(p, c) for p, c in rows]

    def match_posts(
        self, session: Session, posts: Iterable[tuple[Post, Channel]], rule_set_id: int
    ) -> list[tuple[int, MatchResult]]:
        rows = list(posts)
        ocr = ocr_layers(session, [p.id for p, _ in rows])
        groups: dict[int, set[int]] = {}
        out = []
        for post, channel in rows:
            if channel.id not in groups:
                groups[channel.id] = affiliated_group_ids(session, channel.group_id)
            result = self.evaluate(session, post, channel, ocr.get(post.id), groups[channel.id])
            self.save(session, post, result, rule_set_id)
            out.append((post.id, result))
        return out


class MatchHook:
    """Pipeline hook: every new, edited or deleted post gets its verdict in the same transaction."""

    def __init__(self, matcher: Matcher) -> None:
        self.store = MatchStore(matcher)
        self._rule_set_ids: dict[int, int] = {}  # per engine: ids differ between databases

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        key = id(session.get_bind())
        if key not in self._rule_set_ids:
            self._rule_set_ids[key] = ensure_rule_set(session, self.store.matcher)
        ids = [c.post_id for c in changed]
        posts = session.scalars(select(Post).where(Post.id.in_(ids)).order_by(Post.id)).all()
        out = self.store.match_posts(
            session, ((p, channel) for p in posts), self._rule_set_ids[key]
        )
        # An echo raises the cue it answers, not only itself: the affiliated channels' posts
        # of the same cue within the window are scored again now that it exists, so their
        # verdicts are what `monitor rematch` would store (one hop: theirs changes nothing here).
        cues = {s.ref for _, r in out for s in r.signals if s.kind == "verse_cue" and s.ref}
        if cues and posts:
            earlier = self.store.affiliated_posts(session, channel, cues, posts)
            self.store.match_posts(session, earlier, self._rule_set_ids[key])
        flagged = sum(result.flagged for _, result in out)
        if flagged:
            group = metrics.group_label(channel.group.name if channel.group else None)
            metrics.POSTS_FLAGGED.labels(group, changed[0].record.source).inc(flagged)

    def rescore_echoes(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        """Pipeline hook, after the echo hook (#15): posts that just joined an echo cluster,
        and the affiliated channels' posts of those clusters near them in time, are scored
        again with the statement's echoes counted, so the first publisher rises too, as
        `monitor rematch` would score them. A channel repeating its own statement changes no
        count, and its history stays as scored (rematch re-scores it)."""
        key = id(session.get_bind())
        if key not in self._rule_set_ids:
            return  # the matcher hook has not run on this database: nothing is scored yet
        ids = {c.post_id for c in changed if c.status in ("new", "edited", "layer")}
        groups = affiliated_group_ids(session, channel.group_id)
        theirs = echo_members(session, ids, channel, groups, self.store.window)
        if not theirs:
            return
        ours = set(session.scalars(select(EchoMember.post_id).where(EchoMember.post_id.in_(ids))))
        # In id order, whichever worker: two batches of one cluster lock the same verdicts in
        # the same order, so they wait for each other instead of deadlocking.
        rows = session.execute(
            select(Post, Channel)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Post.id.in_(ours | set(theirs)))
            .order_by(Post.id)
        ).all()
        self.store.match_posts(session, [(p, c) for p, c in rows], self._rule_set_ids[key])


@dataclass
class RematchSummary:
    posts: int = 0
    changed: int = 0
    flagged: int = 0


def rematch(
    sessions: sessionmaker[Session],
    matcher: Matcher,
    *,
    settings: Settings,
    since: datetime | None = None,
    batch: int = 500,
) -> RematchSummary:
    """Re-run the current rules over stored posts, replacing each post's verdict in place, and
    then, in the batch's transaction, what is read from the verdicts (#16): each post's
    mentions (with the registry as it is now, console edits included) and its incident source,
    by the hooks' own code, so that history ends as a fresh ingest of the same posts would
    leave it. Analysts' incident edits stand (actors/incidents.py, ``sync``).

    Alerts: a rematch queues none, neither flags (it never ran the outbox hook) nor incidents:
    the incident events its batches record are dropped. A rematch re-reads history; what is
    new is alerted when it is stored."""
    from monitor.actors.incidents import IncidentHook, take_events
    from monitor.actors.mentions import MentionHook
    from monitor.actors.registry import cached_loader

    loader = cached_loader(settings.config_dir)
    mentions = MentionHook(loader)
    incidents = IncidentHook(loader, settings.incident_window_hours)
    store = MatchStore(matcher)
    summary = RematchSummary()
    last_id = 0
    while True:
        with sessions.begin() as session:
            rule_set_id = ensure_rule_set(session, matcher)
            q = (
                select(Post, Channel)
                .join(Channel, Channel.id == Post.channel_id)
                .where(Post.id > last_id)
                .order_by(Post.id)
                .limit(batch)
            )
            if since is not None:
                q = q.where(Post.date >= since)
            rows = [(p, c) for p, c in session.execute(q)]
            if not rows:
                return summary
            before = {
                m.post_id: (m.flagged, m.severity, m.score)
                for m in session.scalars(
                    select(Match).where(
                        and_(Match.post_id >= rows[0][0].id, Match.post_id <= rows[-1][0].id)
                    )
                )
            }
            for post_id, r in store.match_posts(session, rows, rule_set_id):
                summary.posts += 1
                summary.flagged += r.flagged
                if before.get(post_id) != (r.flagged, r.severity, r.score):
                    summary.changed += 1
            # Mentions first: the claims read the sites and groups they name.
            mentions.rebuild(session, {p.id: p.text for p, _ in rows}, [p.id for p, _ in rows])
            incidents.rebuild(session, [p.id for p, _ in rows], rematch=True)
            take_events(session)  # no alerts from a rematch (docstring)
            last_id = rows[-1][0].id


def normalise_phrase(phrase: str) -> str:
    """The form suppressions are stored in: the matcher's own normalisation."""
    return normalize(phrase).text
