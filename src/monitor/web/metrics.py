"""Prometheus metrics: request counts and latency, plus database gauges read at scrape time."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor import metrics as process_metrics
from monitor.alerts.outbox import outbox_depth
from monitor.match.severity import SEVERITIES as ALL_SEVERITIES
from monitor.store.models import Match, Post

SEVERITIES = ALL_SEVERITIES[1:]


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self.sessions() as s:
            posts = s.scalar(select(func.count()).select_from(Post)) or 0
            flags = dict(
                s.execute(
                    select(Match.severity, func.count())
                    .where(Match.flagged.is_(True))
                    .group_by(Match.severity)
                ).all()
            )
            depth = outbox_depth(s)
        yield GaugeMetricFamily("monitor_posts_total", "Posts stored", value=posts)
        g = GaugeMetricFamily(
            "monitor_flags_total", "Flagged posts by severity", labels=["severity"]
        )
        for sev in sorted(set(SEVERITIES) | set(flags)):
            g.add_metric([sev], flags.get(sev, 0))
        yield g
        o = GaugeMetricFamily(
            "monitor_alert_outbox_depth", "Alerts not yet delivered", labels=["status"]
        )
        for status in sorted({"pending", "failed"} | set(depth)):
            o.add_metric([status], depth.get(status, 0))
        yield o


class ProcessMetrics(Collector):
    """The collector-side metrics of this process (monitor.metrics), for a process that collects
    and serves at once (``monitor demo``); families the console computes itself are left out."""

    def __init__(self, skip: set[str]) -> None:
        self.skip = skip

    def collect(self) -> Iterator[Metric]:
        for family in process_metrics.REGISTRY.collect():
            if family.name not in self.skip:
                yield family


class SharedMetrics(Collector):
    """The request metrics of every worker of ``monitor serve --workers N``, summed.

    prometheus_client's multiprocess mode keeps each process's values in files under
    PROMETHEUS_MULTIPROC_DIR; a scrape reaches one worker, which reads them all. Only the
    console's own families are taken: the collector-side ones are never updated here."""

    def __init__(self, path: str, names: set[str]) -> None:
        self.files = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
        self.names = names

    def collect(self) -> Iterator[Metric]:
        for family in self.files.collect():  # type: ignore[no-untyped-call]
            if family.name in self.names:
                yield family


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        own = None if shared else self.registry
        self.requests = Counter(
            "monitor_http_requests",
            "Console HTTP requests",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "monitor_http_request_duration_seconds",
            "Console request latency",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=own,
        )
        self.registry.register(DatabaseCollector(sessions))
        if shared:
            names = {"monitor_http_requests", "monitor_http_request_duration_seconds"}
            self.registry.register(SharedMetrics(shared, names))
        else:
            self.registry.register(
                ProcessMetrics({"monitor_alert_outbox_depth", "monitor_database_up"})
            )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            # The route template, never the raw path: ids in paths would explode the label set.
            label = getattr(route, "path", None) or (
                "/static" if scope["path"].startswith("/static/") else "other"
            )
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - start)
