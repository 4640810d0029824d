"""collect → store → match → alert outbox, one transaction per batch.

Every source (export import, Telethon, web preview) hands its records to ``Pipeline.run``; the
hooks (matcher, alert outbox) see what each batch changed inside the batch's own transaction,
so a post is never stored without its verdict, nor a verdict without its alerts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from monitor.match import Matcher

from monitor import metrics
from monitor.collect.records import SOURCES, PostRecord, Source
from monitor.config import Settings
from monitor.logs import collection_run_var
from monitor.store.ingest import Changed, IngestResult, ingest
from monitor.store.models import Channel, CollectionRun, Group, Post, utcnow

INTERRUPTED = "the pass ended without recording its result (process killed or database lost)"

Hook = Callable[[Session, Channel, list[Changed]], None]


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input record that could not be used: reported, skipped, and nothing of it stored."""

    where: str  # "line 12", "message 345 (#12)"
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(slots=True)
class RunSummary:
    fetched: int = 0
    stored: IngestResult = field(default_factory=IngestResult)
    rejected: list[Rejection] = field(default_factory=list)

    def line(self) -> str:
        s = self.stored
        return (
            f"{self.fetched} read, {s.new} new, {s.edited} edited, {s.deleted} deleted, "
            f"{s.unchanged} unchanged, {len(self.rejected)} rejected"
        )


def _source(name: str) -> Source:
    for known in SOURCES:
        if known == name:
            return known
    return "export"


def batched(
    items: Iterable[PostRecord | Rejection], size: int
) -> Iterator[list[PostRecord | Rejection]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class Pipeline:
    def __init__(self, sessions: sessionmaker[Session], *, batch_size: int = 1000) -> None:
        self.sessions = sessions
        self.batch_size = batch_size
        self.hooks: list[Hook] = []
        self._groups: dict[int | None, str] = {None: metrics.group_label(None)}

    def store(
        self, channel_id: int, records: list[PostRecord], *, now: datetime | None = None
    ) -> IngestResult:
        """Ingest one batch and run the hooks on what changed; all in one transaction."""
        with self.sessions.begin() as session:
            channel = session.get_one(Channel, channel_id)
            result = ingest(session.connection(), channel_id, records, now=now)
            if result.changed:
                for hook in self.hooks:
                    hook(session, channel, result.changed)
            group = self._group(session, channel.group_id)
        if result.new and records:
            metrics.POSTS_INGESTED.labels(group, records[0].source).inc(result.new)
        return result

    def relayer(self, session: Session, channel: Channel, posts: list[Post]) -> None:
        """Run the hooks again on posts a new layer was added to (the text read from their
        image, #13), in the caller's transaction: the matcher sees the post whole again,
        search indexes the new text, and alerts go out for what is now flagged."""
        changed = [
            Changed(
                post_id=p.id,
                message_id=p.message_id,
                status="layer",
                record=PostRecord(
                    message_id=p.message_id, date=p.date, text=p.text, source=_source(p.source)
                ),
            )
            for p in posts
        ]
        for hook in self.hooks:
            hook(session, channel, changed)

    def _group(self, session: Session, group_id: int | None) -> str:
        if group_id not in self._groups:
            name = session.scalar(select(Group.name).where(Group.id == group_id))
            self._groups[group_id] = metrics.group_label(name)
        return self._groups[group_id]

    def run(
        self,
        channel_id: int,
        items: Iterable[PostRecord | Rejection],
        *,
        source: str,
        on_reject: Callable[[Rejection], None] | None = None,
        summary: RunSummary | None = None,
    ) -> RunSummary:
        """Store a stream of records batch by batch, recording the run in collection_runs.

        Batches already committed stay committed if the stream fails part-way; the run row
        then says ``error`` with the reason, and the exception propagates. A caller that must
        say what was stored before the failure passes its own ``summary`` to fill (#14).
        """
        summary = RunSummary() if summary is None else summary
        with self.sessions.begin() as session:
            # One pass per channel and source at a time (leases), so a "running" row left
            # from before is a pass that never recorded its end: killed, or the database lost.
            session.execute(
                update(CollectionRun)
                .where(
                    CollectionRun.channel_id == channel_id,
                    CollectionRun.source == source,
                    CollectionRun.status == "running",
                )
                .values(status="interrupted", finished_at=utcnow(), error=INTERRUPTED)
            )
            run = CollectionRun(channel_id=channel_id, source=source, status="running")
            session.add(run)
            session.flush()
            run_id = run.id
        token = collection_run_var.set(run_id)  # log lines of this run carry its id
        status, error = "ok", None
        try:
            for chunk in batched(items, self.batch_size):
                records = []
                for item in chunk:
                    if isinstance(item, Rejection):
                        summary.rejected.append(item)
                        if on_reject:
                            on_reject(item)
                    else:
                        records.append(item)
                summary.fetched += len(records)
                if records:
                    summary.stored.add(self.store(channel_id, records))
        except BaseException as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            collection_run_var.reset(token)
            if status == "ok" and summary.rejected:
                status = "partial"
            self._finish_run(run_id, summary, status, error)
        return summary

    def _finish_run(self, run_id: int, summary: RunSummary, status: str, error: str | None) -> None:
        with self.sessions.begin() as session:
            run = session.get_one(CollectionRun, run_id)
            run.finished_at = utcnow()
            run.status = status
            run.error = error
            run.fetched = summary.fetched
            run.new = summary.stored.new
            run.edited = summary.stored.edited
            run.deleted = summary.stored.deleted
            run.rejected = len(summary.rejected)
            if status in ("ok", "partial"):
                channel = session.get_one(Channel, run.channel_id)
                channel.last_success_at = run.finished_at


def build_pipeline(
    sessions: sessionmaker[Session], settings: Settings, *, matcher: Matcher | None = None
) -> Pipeline:
    """The pipeline every command uses, with its hooks in order (each in the batch transaction)."""
    from monitor.media.enqueue import MediaHook
    from monitor.store.search import index_hook as search_index_hook

    pipeline = Pipeline(sessions, batch_size=settings.ingest_batch_size)
    # The search index (issue #5) holds every post, flagged or not.
    pipeline.hooks.append(search_index_hook)
    # A post's image is queued for download and OCR (#13); the job hands it back via relayer.
    pipeline.hooks.append(MediaHook(settings))
    from monitor.network.refs import RefHook

    # The channels a post forwards, mentions or links (#15), matched or not.
    pipeline.hooks.append(RefHook())
    if matcher is not None:
        from monitor.match.persist import MatchHook

        match_hook = MatchHook(matcher)
        pipeline.hooks.append(match_hook)
        from monitor.network.echo import EchoHook

        # After the matcher: two statements of one template differ by the sites it found.
        pipeline.hooks.append(EchoHook())
        # Then the statement's echoes raise the scores of its cluster (#15).
        pipeline.hooks.append(match_hook.rescore_echoes)
        from monitor.actors.mentions import MentionHook
        from monitor.actors.registry import cached_loader

        # actors/ (#16): mentions, then incidents
        # The registry's people, groups and sites each post names, in the roles the matcher found.
        pipeline.hooks.append(MentionHook(cached_loader(settings.config_dir)))
        from monitor.actors.incidents import IncidentHook

        # Attack claims become incidents, from the sites and groups the mentions just found.
        loader = cached_loader(settings.config_dir)
        pipeline.hooks.append(IncidentHook(loader, settings.incident_window_hours))
        from monitor.alerts.outbox import OutboxHook

        # After the matcher: alerts are queued from the verdicts it just stored.
        pipeline.hooks.append(OutboxHook(settings))
        from monitor.alerts.incidents import IncidentAlertHook

        # A new incident and its corroboration are alerted once each (#16).
        pipeline.hooks.append(IncidentAlertHook(settings, loader))
    from monitor.evidence.capture import EvidenceHook

    # Last: every version stored gets its chain entry in the same transaction (#17).
    pipeline.hooks.append(EvidenceHook())
    return pipeline
