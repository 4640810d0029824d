"""Prometheus metrics of the collector process (``monitor run``), in one registry.

Served on ``http://127.0.0.1:{metrics_port}/metrics`` when ``metrics_port`` is set; the console
has its own ``/metrics`` (request latency, database gauges) and adds these too, so a process
that does both (``monitor demo``) shows everything. Updating a metric costs a dictionary lookup
and an addition: the hot path (ingest, matcher) stays cheap.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

POSTS_COLLECTED = Counter(
    "monitor_posts_collected",
    "Posts read from a source (new, changed or re-read)",
    ["group", "source"],
    registry=REGISTRY,
)
POSTS_INGESTED = Counter(
    "monitor_posts_ingested",
    "Posts stored for the first time",
    ["group", "source"],
    registry=REGISTRY,
)
POSTS_FLAGGED = Counter(
    "monitor_posts_flagged",
    "New or changed posts the matcher flagged",
    ["group", "source"],
    registry=REGISTRY,
)
COLLECTION_SECONDS = Histogram(
    "monitor_collection_duration_seconds",
    "One channel's collection pass, fetch and store",
    ["source", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
    registry=REGISTRY,
)
FLOOD_WAIT_SECONDS = Counter(
    "monitor_flood_wait_seconds",
    "Seconds of Telegram FloodWait: slept through, or sat out as a channel cooldown",
    ["action"],
    registry=REGISTRY,
)
ALERT_DELIVERIES = Counter(
    "monitor_alert_deliveries",
    "Outbox rows after a delivery attempt: sent, retry (will be tried again) or failed",
    ["result"],
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge(
    "monitor_alert_outbox_depth",
    "Alerts not yet delivered, after the last delivery round",
    ["status"],
    registry=REGISTRY,
)
MATCHER_SECONDS = Histogram(
    "monitor_matcher_seconds",
    "Matcher time per post",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
    registry=REGISTRY,
)
MEDIA_QUEUE_DEPTH = Gauge(
    "monitor_media_queue_depth",
    "Media jobs waiting (queued or leased), after the last media round (#13)",
    registry=REGISTRY,
)
OCR_SECONDS = Histogram(
    "monitor_ocr_seconds",
    "Tesseract time per image, both page modes",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
MEDIA_JOBS = Counter(
    "monitor_media_jobs",
    "Media jobs after an attempt: read (OCR stored), hashed (no OCR), retry, failed",
    ["result"],
    registry=REGISTRY,
)
DATABASE_UP = Gauge(
    "monitor_database_up",
    "1 while the service reaches its database, 0 during an outage",
    registry=REGISTRY,
)
DATABASE_UP.set(1)


def group_label(name: str | None) -> str:
    return name or "none"


def serve(port: int) -> None:
    """Serve this registry on 127.0.0.1:``port`` (a daemon thread)."""
    start_http_server(port, addr="127.0.0.1", registry=REGISTRY)
