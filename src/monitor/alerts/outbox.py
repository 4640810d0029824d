"""The transactional outbox: alert rows written in the same transaction as the flag (issue #6).

Each row has a unique dedup key, so storing the same flag twice (a re-import, a second
collector) never queues a second alert. What a row will say is captured now, when it is
queued: a follow-up about an edit can then quote the text the subscriber was first sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.alerts import echoes
from monitor.alerts.incidents import NOTHING, named
from monitor.alerts.subscriptions import Verdict, in_quiet_hours, parse_quiet_hours, wants
from monitor.config import Settings
from monitor.match.severity import SEVERITIES
from monitor.store.channels import post_link
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import (
    AlertOutbox,
    Channel,
    Match,
    Post,
    RuleSetVersion,
    Subscription,
    utcnow,
)


def outbox_depth(session: Session) -> dict[str, int]:
    """Alerts not yet delivered, by status (pending, sending, failed)."""
    rows = session.execute(
        select(AlertOutbox.status, func.count())
        .where(AlertOutbox.status != "sent")
        .group_by(AlertOutbox.status)
    )
    return {status: count for status, count in rows}


def event_key(match: Match, post: Post, cluster: int | None = None) -> str:
    """Flags about the same event share a key: the same statement (its echo cluster, #15),
    or the same cue verse, whoever posts it."""
    if cluster is not None:
        return f"echo:{cluster}"
    cues = sorted({s.ref for s in match.signals if s.kind == "verse_cue" and s.ref})
    return f"cue:{cues[0]}" if cues else f"post:{post.id}"


def alert_payload(
    post: Post,
    channel: Channel,
    match: Match,
    version: str,
    settings: Settings,
    ocr_text: str | None = None,
    cluster: echoes.Cluster | None = None,
) -> dict[str, Any]:
    return {
        "event": event_key(match, post, cluster.id if cluster else None),
        "post_id": post.id,
        "channel": channel.handle,
        "channel_title": channel.title,
        "group": channel.group.name if channel.group else None,
        "message_id": post.message_id,
        "date": post.date.isoformat(),
        "severity": match.severity,
        "score": match.score,
        "kinds": sorted({s.kind for s in match.signals}),
        "refs": sorted({r for s in match.signals for r in s.refs}),
        "text": post.text,
        "spans": [
            [s.start, s.end, s.kind, s.rule, s.ref] for s in match.signals if s.layer != "ocr"
        ],
        # The statement read from the post's image, quoted with its own spans (#13).
        "ocr_text": ocr_text,
        "ocr_spans": [
            [s.start, s.end, s.kind, s.rule, s.ref] for s in match.signals if s.layer == "ocr"
        ],
        "explanation": list(match.explanation),
        "post_url": post_link(channel.handle, post.message_id),
        "console_url": f"{settings.console_url}/posts/{post.id}",
        "rule_set": version,
        # Every channel that posted the statement, first publisher first (#15), or None.
        "echo": cluster.summary() if cluster else None,
    }


class OutboxHook:
    """Pipeline hook, after the matcher: queue alerts for flags, follow-ups for changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.group_delay = timedelta(seconds=settings.alert_group_seconds)

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        subs = session.scalars(select(Subscription).where(Subscription.enabled.is_(True))).all()
        if not subs:
            return
        now = utcnow()
        ids = [c.post_id for c in changed]
        rows = session.execute(
            select(Post, Match, RuleSetVersion.version)
            .join(Match, Match.post_id == Post.id)
            .join(RuleSetVersion, RuleSetVersion.id == Match.rule_set_id)
            .where(Post.id.in_(ids))
        ).all()
        status = {c.post_id: c.status for c in changed}
        ocr = ocr_layers(session, ids)
        clusters = echoes.clusters(session, ids)
        names = named(session, ids)  # sites, people, incident: the filters of #16
        queued: list[dict[str, Any]] = []
        for post, match, version in rows:
            # A post whose image was just read ("layer") is alerted like a new one, once: the
            # dedup key is the same, so a post already alerted on its caption is not again.
            if status[post.id] in ("edited", "deleted"):
                queued += self._follow_ups(session, post, match, status[post.id], now)
            cluster = clusters.get(post.id)
            verdict = names.get(post.id, NOTHING).on(
                Verdict(
                    severity=match.severity,
                    kinds=frozenset(s.kind for s in match.signals),
                    refs=frozenset(r for s in match.signals for r in s.refs),
                    channel=channel.handle,
                    group=channel.group.name if channel.group else None,
                )
            )
            payload = alert_payload(
                post, channel, match, version, self.settings, ocr.get(post.id), cluster
            )
            told: dict[int, echoes.Told] = {}
            if cluster and status[post.id] != "deleted":
                told = echoes.told(session, cluster, post.id)
                queued += self._echoes(subs, post, channel, match, verdict, payload, told, now)
            if not match.flagged:
                continue
            if cluster:
                echoes.regroup(session, cluster, post.id, payload)
            for sub in subs:
                # An echoed statement is alerted once (#15): its echoes are follow-ups.
                if sub.id not in told and wants(sub, verdict):
                    queued.append(self._row(sub, post, "flag", payload, now, version))
        if queued:
            insert_ignoring_duplicates(session.connection(), queued)

    def _echoes(
        self,
        subs: Sequence[Subscription],
        post: Post,
        channel: Channel,
        match: Match,
        verdict: Verdict,
        payload: dict[str, Any],
        told: dict[int, echoes.Told],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Whoever was sent the statement hears of each channel that picks it up (once a
        channel and cluster, whatever it edits and reposts), within their own filters; a
        channel's repost that says more is alerted as a flag."""
        out = []
        rules = {(s.kind, s.rule) for s in match.signals}
        for sub in subs:
            t = told.get(sub.id)
            if t is None or not wants(sub, verdict):
                continue
            if channel.id not in t.channels:
                echo = {**payload, "change": "echo"}
                out.append(
                    self._row(sub, post, "echo", echo, now, f"{payload['event']}:{channel.id}")
                )
            elif echoes.says_more(t, match.severity, rules):
                out.append(self._row(sub, post, "flag", payload, now, str(payload["rule_set"])))
        return out

    def _row(
        self,
        sub: Subscription,
        post: Post,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        version: str = "",
    ) -> dict[str, Any]:
        # A flag is keyed by post and rule set (flagged under new rules when it next passes
        # the pipeline, e.g. edited, it alerts anew; `monitor rematch` queues nothing); an
        # echo follow-up by cluster and channel (``version``: "echo:CLUSTER:CHANNEL"), so a
        # channel leaving the cluster by an edit and joining again is not told twice.
        key = f"{sub.id}:{post.id}:{version}" if kind == "flag" else f"{sub.id}:{version}"
        return {
            "subscription_id": sub.id,
            "post_id": post.id,
            "dedup_key": key,
            "kind": kind,
            "status": "pending",
            "payload": payload,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": self._due(sub, payload, now),
        }

    def _due(self, sub: Subscription, payload: dict[str, Any], now: datetime) -> datetime:
        # A cue verse is held a little, so affiliated channels echoing it go out as one alert.
        # So is an echoed statement: its channels picking it up together are one message.
        held = payload["event"].startswith(("cue:", "echo:"))
        due = now + self.group_delay if held else now
        if sub.digest_minutes:
            due = max(due, now + timedelta(minutes=sub.digest_minutes))
        if in_quiet_hours(sub, due) and payload["severity"] != SEVERITIES[-1]:
            due = _end_of_quiet(sub, due)
        return due

    def _follow_ups(
        self, session: Session, post: Post, match: Match, change: str, now: datetime
    ) -> list[dict[str, Any]]:
        """Everyone already alerted about this post hears that it was edited or deleted."""
        sent = session.scalars(
            select(AlertOutbox).where(
                AlertOutbox.post_id == post.id,
                AlertOutbox.kind == "flag",
                AlertOutbox.status != "failed",
            )
        ).all()
        out = []
        for row in sent:
            key = f"{row.subscription_id}:{post.id}:{change}"
            if change == "edited":
                key += f":{post.text_sha256[:16]}"
            payload = dict(row.payload)
            payload.update(
                event=f"post:{post.id}",
                change=change,
                original_text=row.payload.get("text", ""),
                text=post.text,
                # Spans are marked on the text as it is now, by its current verdict.
                spans=[
                    [x.start, x.end, x.kind, x.rule, x.ref]
                    for x in match.signals
                    if x.layer != "ocr"
                ],
            )
            out.append(
                {
                    "subscription_id": row.subscription_id,
                    "post_id": post.id,
                    "dedup_key": key,
                    "kind": change,
                    "status": "pending",
                    "payload": payload,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
        return out


def _end_of_quiet(sub: Subscription, when: datetime) -> datetime:
    window = parse_quiet_hours(sub.quiet_hours)
    assert window is not None
    end = when.replace(hour=window[1].hour, minute=window[1].minute, second=0, microsecond=0)
    return end if end > when else end + timedelta(days=1)


def insert_ignoring_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> None:
    table: Table = AlertOutbox.__table__  # type: ignore[assignment]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=["dedup_key"]), rows)
