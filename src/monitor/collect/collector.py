"""One collection pass over a channel: fetch, find deletions and gaps, store, record health.

Posts go to the store only through the Pipeline (so the matcher and alerts see them in the
same transaction), oldest first, and the cursor moves inside each batch's transaction: a pass
cut short at any point leaves the database consistent and the next pass resumes from it.
Failures are per channel: they end up in the channel's health row, never in a crashed run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from monitor import metrics
from monitor.collect.accounts import AccountRow
from monitor.collect.health import healthy
from monitor.collect.leases import Leases
from monitor.collect.listing import Window, changes, load_window
from monitor.collect.ranges import Ranges, merge
from monitor.collect.records import PostRecord, Source
from monitor.collect.source import (
    AccountUnusable,
    Batch,
    ChannelState,
    Cooldown,
    NotConfigured,
    PassResult,
    PostSource,
    SourceError,
)
from monitor.collect.telegram import StaleEntity
from monitor.config import Settings
from monitor.logs import channel_var
from monitor.pipeline import Pipeline
from monitor.store.channels import ensure_channel, get_channel
from monitor.store.db import unavailable
from monitor.store.models import Channel, Group, Post, utcnow

log = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


class Collector:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        sources: Mapping[str, PostSource],
        *,
        unavailable: Mapping[str, SourceError] | None = None,
        leases: Leases | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pipeline = pipeline
        self.sessions = pipeline.sessions
        self.settings = settings
        self.sources = dict(sources)
        self.unavailable = dict(unavailable or {})
        self.leases = leases
        self.clock = clock
        self.stopping = False
        self.resolve_blocked_until: datetime | None = None
        self.account = AccountRow(self.sessions, settings, clock)
        self._titles: dict[int, str | None] = {}
        # Metric labels per channel: (source, group); group names cached by group id.
        self._labels: dict[int, tuple[str, str]] = {}
        self._groups: dict[int | None, str] = {None: metrics.group_label(None)}

    # -- selection -------------------------------------------------------------------------

    def channel_ids(self, handle: str | None = None) -> list[int]:
        with self.sessions() as s:
            if handle is not None:
                ch = get_channel(s, handle)
                return [ch.id] if ch is not None else []
            return list(
                s.scalars(
                    select(Channel.id)
                    .where(Channel.enabled.is_(True), Channel.source != "export")
                    .order_by(Channel.id)
                )
            )

    async def collect_many(self, ids: list[int]) -> list[PassResult]:
        gate = asyncio.Semaphore(self.settings.collect_concurrency)

        async def one(cid: int) -> PassResult:
            async with gate:
                return await self.collect_channel(cid)

        return list(await asyncio.gather(*(one(cid) for cid in ids)))

    # -- one channel -----------------------------------------------------------------------

    def _source(self, kind: str) -> PostSource:
        if kind in self.unavailable:
            raise self.unavailable[kind]
        if kind not in self.sources:
            raise NotConfigured(
                "the Telethon source is not configured: set MONITOR_TELEGRAM_API_ID and "
                "MONITOR_TELEGRAM_API_HASH, then run `monitor login`"
                if kind == "telethon"
                else f"no live source for {kind!r} channels"
            )
        return self.sources[kind]

    async def collect_channel(self, channel_id: int) -> PassResult:
        """One pass over one channel; every log line inside it names the channel."""
        start = time.perf_counter()
        token = channel_var.set(f"#{channel_id}")
        try:
            result = await self._collect_channel(channel_id)
        finally:
            channel_var.reset(token)
        if result.outcome != "skipped" and channel_id in self._labels:
            metrics.COLLECTION_SECONDS.labels(self._labels[channel_id][0], result.outcome).observe(
                time.perf_counter() - start
            )
        return result

    def _group_name(self, s: Session, group_id: int | None) -> str:
        if group_id not in self._groups:
            self._groups[group_id] = metrics.group_label(
                s.scalar(select(Group.name).where(Group.id == group_id))
            )
        return self._groups[group_id]

    async def _collect_channel(self, channel_id: int) -> PassResult:
        handle = f"#{channel_id}"
        try:
            if self.stopping:
                return PassResult(handle, "skipped", "shutting down")
            if self.leases is not None and not self.leases.hold(channel_id):
                owner = self.leases.holder(channel_id) or "another worker"
                return PassResult(handle, "skipped", f"being collected by {owner}")
            now = self.clock()
            with self.sessions() as s:
                ch = s.get(Channel, channel_id)
                if ch is None or not ch.enabled:
                    return PassResult(handle, "skipped", "disabled or removed")
                handle = ch.handle
                channel_var.set(handle)
                self._labels[channel_id] = (ch.source, self._group_name(s, ch.group_id))
                state = ChannelState(ch.id, ch.handle, ch.cursor, ch.telegram_id, ch.access_hash)
                kind, gaps, cooldown = (
                    ch.source,
                    [list(g) for g in ch.gaps or []],
                    ch.cooldown_until,
                )
                window = load_window(
                    s,
                    channel_id,
                    now,
                    self.settings.recent_window_hours,
                    self.settings.recent_window_posts,
                )
            if kind == "export":
                return PassResult(
                    handle, "skipped", "export channels are filled by `monitor import`"
                )
            if cooldown is not None and cooldown > now:
                return PassResult(
                    handle,
                    "cooldown",
                    f"cooling down until {cooldown:%Y-%m-%d %H:%M} UTC",
                    "cooldown",
                )
            try:
                source = self._source(kind)
                if kind == "telethon" and state.telegram_id is None:
                    state = await self._resolve(source, state)
                return await self._pass(source, state, kind, window, gaps)
            except SourceError as exc:
                return self._failed(channel_id, handle, kind, exc)
        except Exception as exc:
            if unavailable(exc):
                # Nothing to record it in; uncommitted batches left the cursor where it was,
                # so the pass after the outage reads them again (issue #7).
                log.warning("collect %s: database unavailable: %s", handle, _first_line(exc))
                return PassResult(
                    handle, "error", f"database unavailable: {_first_line(exc)}", "database"
                )
            # A bug: still only this channel.
            log.exception("collecting %s failed", handle)
            return self._failed(
                channel_id, handle, "", SourceError(f"internal error: {type(exc).__name__}: {exc}")
            )

    async def _resolve(self, source: PostSource, state: ChannelState) -> ChannelState:
        if self.resolve_blocked_until and self.resolve_blocked_until > self.clock():
            raise Cooldown(
                "Telegram limits username lookups for this account; new channels wait until "
                f"{self.resolve_blocked_until:%H:%M} UTC",
                until=self.resolve_blocked_until,
            )
        try:
            found = await source.resolve(state)
        except Cooldown as exc:
            self.resolve_blocked_until = exc.until
            raise
        if found is None:
            return state
        with self.sessions.begin() as s:
            ch = ensure_channel(s, state.handle, title=found.title)
            ch.telegram_id, ch.access_hash = found.telegram_id, found.access_hash
            # An access hash is only valid for the account that obtained it.
            ch.account_id = self.account.id(s)
        return ChannelState(
            state.channel_id, state.handle, state.cursor, found.telegram_id, found.access_hash
        )

    async def _read(
        self, batches: AsyncIterator[Batch]
    ) -> tuple[dict[int, PostRecord], Ranges, str | None, SourceError | None]:
        fetched: dict[int, PostRecord] = {}
        covered: Ranges = []
        title, error = None, None
        try:
            async for batch in batches:
                for rec in batch.records:
                    fetched[rec.message_id] = rec
                covered.append([batch.low, batch.high])
                title = batch.title or title
                if self.stopping:  # SIGTERM: keep the batch in hand, read no further
                    break
        except SourceError as exc:
            error = exc
        return fetched, merge(covered), title, error

    def _store(
        self,
        state: ChannelState,
        kind: str,
        fetched: dict[int, PostRecord],
        covered: Ranges,
        window: Window,
        gaps: Ranges,
        *,
        backfill: bool = False,
    ) -> tuple[PassResult | None, Ranges]:
        """Store what a listing showed; None when nothing changed (no pipeline run at all)."""
        found = changes(state.cursor, fetched, covered, window, gaps, backfill=backfill)
        new_gaps, records, gone = found.gaps, found.records, found.gone
        if new_gaps != gaps:
            # Before the posts: if we die in between, a recorded gap is back-filled harmlessly,
            # while an unrecorded one would be lost behind the advanced cursor.
            with self.sessions.begin() as s:
                s.get_one(Channel, state.channel_id).gaps = new_gaps
        # Posts re-read exactly as stored are left out: an idle pass costs no write at all.
        if not records and not gone:
            return None, new_gaps
        if gone:
            with self.sessions() as s:
                rows = s.execute(
                    select(Post.message_id, Post.date, Post.text).where(
                        Post.channel_id == state.channel_id, Post.message_id.in_(gone)
                    )
                ).all()
            src = cast(Source, kind)
            records += [PostRecord(r.message_id, r.date, r.text, src, deleted=True) for r in rows]
        summary = self.pipeline.run(state.channel_id, records, source=kind)
        result = PassResult(state.handle, "ok", new=summary.stored.new)
        result.edited, result.deleted = summary.stored.edited, summary.stored.deleted
        return result, new_gaps

    async def _pass(
        self, source: PostSource, state: ChannelState, kind: str, window: Window, gaps: Ranges
    ) -> PassResult:
        recheck_from = min(window) if window else state.cursor + 1
        fetched, covered, title, error = await self._read(
            source.fetch(state, state.cursor, recheck_from)
        )
        if fetched and state.channel_id in self._labels:
            kind_label, group = self._labels[state.channel_id]
            metrics.POSTS_COLLECTED.labels(group, kind_label).inc(len(fetched))
        stored, gaps = self._store(state, kind, fetched, covered, window, gaps)
        result = stored or PassResult(state.handle, "ok")
        if error is None and gaps and not self.stopping:
            # Newest gap first: recent posts matter most; one gap per pass bounds the cost.
            lo, hi = max(gaps, key=lambda g: g[1])
            fetched, covered, _, error = await self._read(source.fetch_range(state, lo, hi))
            more, gaps = self._store(state, kind, fetched, covered, {}, gaps, backfill=True)
            stored = stored or more
            result.new += more.new if more else 0
        if error is not None:
            self._failed(state.channel_id, state.handle, kind, error)
            result.outcome, result.message, result.status = (
                "cooldown" if isinstance(error, Cooldown) else "error",
                str(error),
                error.status,
            )
            return result
        params: dict[str, object] = {"cid": state.channel_id, "gaps": gaps}
        if stored is None:  # the pipeline did not run, so it did not stamp the success
            params["at"] = self.clock()
        with self.sessions.begin() as s:
            if stored is None and s.get_bind().dialect.name == "postgresql":
                # Only a health stamp: losing it in a server crash costs nothing (the next
                # pass writes it again), so it need not wait for the WAL flush.
                s.execute(text("SET LOCAL synchronous_commit TO OFF"))
            s.execute(healthy(stamp=stored is None), params)
            if title and title != self._titles.get(state.channel_id):
                ensure_channel(s, state.handle, title=title)
        return result

    def _failed(self, channel_id: int, handle: str, kind: str, exc: SourceError) -> PassResult:
        now = self.clock()
        log.warning("collect %s: %s", handle, exc)
        with self.sessions.begin() as s:
            ch = s.get(Channel, channel_id)
            if ch is not None:
                ch.last_error, ch.last_error_at, ch.status = str(exc), now, exc.status
                if isinstance(exc, Cooldown):
                    ch.cooldown_until = exc.until
                if isinstance(exc, StaleEntity):
                    ch.telegram_id = ch.access_hash = None
        if (
            kind == "telethon"
            and isinstance(exc, AccountUnusable)
            and "telethon" not in self.unavailable
        ):
            # Every further Telethon pass in this process stops here, without calling Telegram.
            self.unavailable["telethon"] = exc
            log.error("telegram account %s unusable: %s", self.settings.telegram_account, exc)
            self.account.mark("revoked", str(exc))
        elif kind == "telethon" and isinstance(exc, Cooldown):
            self.account.mark("cooldown", str(exc), exc.until)
        outcome = "cooldown" if isinstance(exc, Cooldown) else "error"
        return PassResult(handle, outcome, str(exc), exc.status)
