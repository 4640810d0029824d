"""Ingest throughput: 200k generated posts into SQLite and PostgreSQL, then the same posts again.

    python bench/ingest.py [--posts N] [--batch N] [--postgres URL]

Targets (issue #2): >= 20,000 posts/s for the first ingest and for the re-ingest, on both
databases, and the re-ingest changes nothing (same row counts, no new versions).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.ingest import ingest
from monitor.store.migrate import upgrade
from monitor.store.models import Post, PostVersion

WORDS = (  # noqa: SIM905 - one sentence reads better than a list of words
    "المقاومة الإسلامية في العراق بيان عاجل القوات الأمريكية قاعدة عين الأسد نعلن جاهزيتنا "
    "الشعب العراقي الحشد الشعبي صلاة الجمعة الله أكبر وأنتم الأعلون إن كنتم مؤمنين "
    "news statement resistance drone base Baghdad Erbil"
).split()


def generate(n: int, channels: int) -> list[tuple[int, PostRecord]]:
    rng = random.Random(7)
    start = datetime(2023, 10, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ch = i % channels
        text = " ".join(rng.choices(WORDS, k=rng.randint(10, 60)))
        out.append(
            (
                ch,
                PostRecord(
                    message_id=i // channels + 1,
                    date=start + timedelta(seconds=i * 7),
                    text=text,
                    source="telethon",
                    views=rng.randint(100, 50_000),
                    forwards=rng.randint(0, 500),
                    forwarded_from=ForwardInfo("somechannel", i, "Some Channel")
                    if i % 20 == 0
                    else None,
                    reply_to=i // channels if i % 15 == 0 else None,
                    media=MediaInfo("photo", "image/jpeg", 120_000) if i % 5 == 0 else None,
                ),
            )
        )
    return out


def run(engine: Engine, posts: list[tuple[int, PostRecord]], channels: int, batch: int) -> None:
    upgrade(engine)
    factory = session_factory(engine)
    with factory.begin() as s:
        ids = [ensure_channel(s, f"bench_{c}", source="telethon").id for c in range(channels)]
    by_channel: dict[int, list[PostRecord]] = {}
    for ch, rec in posts:
        by_channel.setdefault(ids[ch], []).append(rec)

    def one_pass() -> tuple[float, int, int]:
        t0 = time.perf_counter()
        new = edited = 0
        for cid, recs in by_channel.items():
            for i in range(0, len(recs), batch):
                with engine.begin() as conn:
                    r = ingest(conn, cid, recs[i : i + batch])
                new += r.new
                edited += r.edited
        return time.perf_counter() - t0, new, edited

    first, new, _ = one_pass()
    with engine.connect() as conn:
        counts = (
            conn.scalar(select(func.count()).select_from(Post)),
            conn.scalar(select(func.count()).select_from(PostVersion)),
        )
    second, new2, edited2 = one_pass()
    with engine.connect() as conn:
        counts2 = (
            conn.scalar(select(func.count()).select_from(Post)),
            conn.scalar(select(func.count()).select_from(PostVersion)),
        )
    n = len(posts)
    print(f"  first ingest : {n / first:>9,.0f} posts/s  ({n} posts, {new} new, {first:.2f} s)")
    print(
        f"  re-ingest    : {n / second:>9,.0f} posts/s  ({new2} new, {edited2} edited, "
        f"rows {'unchanged' if counts == counts2 else f'CHANGED {counts} -> {counts2}'})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("MONITOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    args = ap.parse_args()
    posts = generate(args.posts, args.channels)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite (file, WAL)")
        run(make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}"), posts, args.channels, args.batch)
    print(f"PostgreSQL ({args.postgres.split('@')[-1]})")
    with scratch_schema(args.postgres, "bench_ingest") as url:
        pg = make_engine(url)
        try:
            run(pg, posts, args.channels, args.batch)
        finally:
            pg.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
