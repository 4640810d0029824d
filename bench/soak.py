"""Soak (issue #7): the `monitor run` service with 500 channels on the fake Telegram client.

    python bench/soak.py [--minutes 10] [--channels 500] [--interval 10] [--postgres URL]

Builds the service as `monitor run` does (scheduler, leases, collector, pipeline with matcher and
alert outbox, alert sender), with the recording fake Telegram client instead of the network and
an in-process notifier instead of apprise. New posts keep arriving (a few per second, one in ten
quoting a cue verse). Samples the process RSS every 10 s, prints the series, and the slope of a
least-squares line over the second half of the run (after warm-up): flat memory means a slope
near 0 MB/min.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, update

from monitor.alerts.render import Message, Renderer
from monitor.alerts.sender import Sender
from monitor.alerts.subscriptions import add_subscription
from monitor.collect.collector import Collector
from monitor.collect.fake import FakeTelegramClient
from monitor.collect.leases import Leases
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.match import Matcher, load_rules
from monitor.pipeline import build_pipeline
from monitor.scheduler import Service
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.migrate import upgrade
from monitor.store.models import Channel, Post

REPO = Path(__file__).resolve().parents[1]
CUE = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope in MB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(m for _, m in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return sum((t - mx) * (m - my) for t, m in points) / var * 60 if var else 0.0


async def soak(url: str, var: Path, minutes: float, channels: int, interval: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    settings = Settings(
        database_url=url,
        var_dir=var,
        alert_group_seconds=0,
        alert_poll_seconds=5,
        alert_rate_per_minute=100_000,
        worker_id="soak",
    )
    fake = FakeTelegramClient()
    rng = random.Random(3)
    with sessions.begin() as s:
        for i in range(channels):
            handle = f"soak_{i:04}"
            fake.add_channel(handle)
            for j in range(20):
                fake.post(handle, f"منشور رقم {j} من القناة {i}")
            ensure_channel(s, handle, source="telethon", group=f"Group {i % 12}")
        s.execute(update(Channel).values(interval_seconds=interval))
        add_subscription(s, "soak", "json://127.0.0.1:9/hook", min_severity="low")
    matcher = Matcher(load_rules(REPO / "config" / "rules"), cache_dir=settings.cache_dir)
    pipeline = build_pipeline(sessions, settings, matcher=matcher)
    leases = Leases(sessions, "soak", ttl=settings.lease_seconds)
    delivered = 0

    def notify(url: str, message: Message) -> tuple[bool, str | None]:
        nonlocal delivered
        delivered += 1
        return True, None

    collector = Collector(pipeline, settings, {"telethon": TelethonSource(fake)}, leases=leases)
    sender = Sender(sessions, settings, Renderer(REPO / "config"), notify=notify)
    service = Service(collector, leases, sender)
    stop = asyncio.Event()
    samples: list[tuple[float, float]] = []
    start = time.monotonic()

    async def post() -> None:
        n = 0
        while not stop.is_set():
            await asyncio.sleep(0.25)
            handle = f"soak_{rng.randrange(channels):04}"
            n += 1
            fake.post(handle, CUE if n % 10 == 0 else f"خبر جديد رقم {n}")

    async def sample() -> None:
        while not stop.is_set():
            t = time.monotonic() - start
            mb = rss_mb()
            samples.append((t, mb))
            with sessions() as s:
                posts = s.scalar(select(func.count()).select_from(Post))
            print(
                f"{t:6.0f} s  RSS {mb:7.1f} MB  posts {posts}  GetHistory {fake.requests}  "
                f"alerts delivered {delivered}",
                flush=True,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10)

    async def timer() -> None:
        await asyncio.sleep(minutes * 60)
        stop.set()

    tasks = [asyncio.create_task(x()) for x in (post, sample, timer)]
    await service.serve(stop)
    await asyncio.gather(*tasks)
    half = [p for p in samples if p[0] >= samples[-1][0] / 2]
    print(
        f"{engine.dialect.name}: {channels} channels, {minutes:g} min: RSS "
        f"{samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB (max {max(m for _, m in samples):.1f}); "
        f"slope over the second half {slope(half):+.2f} MB/min; "
        f"{fake.requests} GetHistory requests, {delivered} alert messages"
    )
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--channels", type=int, default=500)
    ap.add_argument("--interval", type=int, default=10, help="seconds between passes of a channel")
    ap.add_argument("--postgres", help="run on this PostgreSQL database instead of SQLite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.postgres:
            url = f"sqlite:///{tmp}/soak.db"
            asyncio.run(soak(url, Path(tmp), args.minutes, args.channels, args.interval))
            return
        with scratch_schema(args.postgres, "bench_soak") as url:
            asyncio.run(soak(url, Path(tmp), args.minutes, args.channels, args.interval))


if __name__ == "__main__":
    main()
