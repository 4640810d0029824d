"""Collection cycle cost: 500 channels on the fake Telegram client, one idle cycle.

    python bench/collect.py [--channels N] [--posts N] [--postgres URL]

Prints API requests per channel (target 1.0 when idle) and the cycle's time per channel spent
outside the API (target < 2 ms; the fake answers instantly, so wall time is all ours).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from monitor.collect.collector import Collector
from monitor.collect.fake import FakeTelegramClient
from monitor.collect.telegram import TelethonSource
from monitor.config import Settings
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.migrate import upgrade


def run(url: str, channels: int, posts: int, var: Path) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    settings = Settings(database_url=url, var_dir=var)
    fake = FakeTelegramClient()
    with sessions.begin() as s:
        for i in range(channels):
            handle = f"channel_{i:04}"
            fake.add_channel(handle)
            for j in range(posts):
                fake.post(handle, f"منشور رقم {j} من القناة {i}")
            ensure_channel(s, handle, source="telethon")
    collector = Collector(
        build_pipeline(sessions, settings), settings, {"telethon": TelethonSource(fake)}
    )
    ids = collector.channel_ids()

    def cycle(label: str) -> None:
        requests, resolves = fake.requests, fake.resolves
        start = time.perf_counter()
        results = asyncio.run(collector.collect_many(ids))
        took = time.perf_counter() - start
        assert all(r.outcome == "ok" for r in results), [r for r in results if r.outcome != "ok"]
        print(
            f"{label:<14} {took:7.2f} s  {(fake.requests - requests) / channels:5.2f} requests/ch"
            f"  {(fake.resolves - resolves) / channels:4.2f} resolves/ch"
            f"  {took / channels * 1000:6.2f} ms/ch outside the API"
        )

    print(f"{engine.dialect.name}: {channels} channels, {posts} posts each")
    cycle("first cycle")
    cycle("idle cycle")
    for i in range(0, channels, 10):  # one channel in ten has a new post
        fake.post(f"channel_{i:04}", "خبر جديد")
    cycle("10% new posts")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument(
        "--postgres", help="also run on this PostgreSQL database (in a scratch schema)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", args.channels, args.posts, Path(tmp))
        if args.postgres:
            # A scratch schema of its own, dropped afterwards: the database is left as it was.
            with scratch_schema(args.postgres, "bench_collect") as url:
                run(url, args.channels, args.posts, Path(tmp))


if __name__ == "__main__":
    main()
