"""Ingest throughput: 200k generated posts into SQLite and PostgreSQL, then the same posts again;
then the cost of the evidence chain on ingest.

    python bench/ingest.py [--posts N] [--batch N] [--postgres URL] [--evidence-only]

Targets (issue #2): >= 20,000 posts/s for the first ingest and for the re-ingest, on both
databases, and the re-ingest changes nothing (same row counts, no new versions).
Target (issue #17): the pipeline with the evidence hook (a chain entry per version, in the
batch's transaction) stores at most 10 % fewer posts/s than without it. Both are measured in
one run into two fresh databases, batch by batch in alternation (which goes first alternates
too), so drift of the machine's load falls on both alike; the ratio is what counts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.config import load_settings
from monitor.evidence.capture import EvidenceHook
from monitor.pipeline import Pipeline, build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.ingest import ingest
from monitor.store.migrate import upgrade
from monitor.store.models import EvidenceEntry, Post, PostVersion

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


def _pipeline(
    engine: Engine, channels: int, batch: int, chained: bool, stages: bool
) -> tuple[Pipeline, list[int]]:
    """The bare pipeline (ingest alone), or ``stages``: as `monitor` builds it without the
    matcher (search index, media queue, channel refs); with or without the evidence hook.
    Not with the matcher: these generated posts, drawn from forty words, are all echoes of
    each other, and echo clustering (#15) would be all that is measured."""
    upgrade(engine)
    factory = session_factory(engine)
    with factory.begin() as s:
        ids = [ensure_channel(s, f"bench_{c}", source="telethon").id for c in range(channels)]
    if stages:
        pipeline = build_pipeline(factory, load_settings(ingest_batch_size=batch))
        pipeline.hooks = [h for h in pipeline.hooks if not isinstance(h, EvidenceHook)]
    else:
        pipeline = Pipeline(factory, batch_size=batch)
    if chained:
        pipeline.hooks.append(EvidenceHook())
    return pipeline, ids


def evidence_cost(
    make: Callable[[str], AbstractContextManager[Engine]],
    posts: list[tuple[int, PostRecord]],
    channels: int,
    batch: int,
    stages: bool,
) -> None:
    with make("plain") as plain_engine, make("chain") as chain_engine:
        plain, ids = _pipeline(plain_engine, channels, batch, chained=False, stages=stages)
        chain, ids2 = _pipeline(chain_engine, channels, batch, chained=True, stages=stages)
        assert ids == ids2
        by_channel: dict[int, list[PostRecord]] = {}
        for ch, rec in posts:
            by_channel.setdefault(ids[ch], []).append(rec)
        batches = [
            (cid, recs[i : i + batch])
            for cid, recs in by_channel.items()
            for i in range(0, len(recs), batch)
        ]
        spent = {"plain": 0.0, "chain": 0.0}
        pairs: list[float] = []
        for n, (cid, chunk) in enumerate(batches):
            order = [("plain", plain), ("chain", chain)]
            took = {}
            for name, pipeline in order if n % 2 else order[::-1]:
                t0 = time.perf_counter()
                pipeline.store(cid, chunk)
                took[name] = time.perf_counter() - t0
                spent[name] += took[name]
            pairs.append(took["plain"] / took["chain"])
        with chain_engine.connect() as conn:
            entries = conn.scalar(select(func.count()).select_from(EvidenceEntry))
    n = len(posts)
    without, with_chain = n / spent["plain"], n / spent["chain"]
    print(f"  without chain: {without:>9,.0f} posts/s")
    print(f"  with chain   : {with_chain:>9,.0f} posts/s  ({entries} entries)")
    print(
        f"  ratio        : {with_chain / without:.3f}  "
        f"({(1 - with_chain / without):.1%} fewer posts/s)"
    )
    # The same batch stored both ways, one right after the other: a burst of load on the
    # shared machine falls on one pair, and the median leaves it out.
    print(f"  median of the {len(pairs)} batches' ratios: {statistics.median(pairs):.3f}")


def _sqlite_engines(tmp: str) -> Callable[[str], AbstractContextManager[Engine]]:
    @contextmanager
    def make(name: str) -> Iterator[Engine]:
        engine = make_engine(f"sqlite:///{Path(tmp) / f'evidence_{name}.db'}")
        try:
            yield engine
        finally:
            engine.dispose()

    return make


def _postgres_engines(url: str) -> Callable[[str], AbstractContextManager[Engine]]:
    @contextmanager
    def make(name: str) -> Iterator[Engine]:
        with scratch_schema(url, f"bench_ev_{name}") as scratch:
            engine = make_engine(scratch)
            try:
                yield engine
            finally:
                engine.dispose()

    return make


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("MONITOR_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test"),
    )
    ap.add_argument(
        "--evidence-only", action="store_true", help="only the cost of the evidence chain"
    )

    args = ap.parse_args()
    posts = generate(args.posts, args.channels)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if not args.evidence_only:
        base(args, posts)
    for stages in (False, True):
        what = "the pipeline's stages (no matcher)" if stages else "ingest alone"
        some = posts
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, {what}: the evidence chain's cost ({len(some)} posts)")
            evidence_cost(_sqlite_engines(tmp), some, args.channels, args.batch, stages)
        print(f"PostgreSQL, {what}: the evidence chain's cost ({len(some)} posts)")
        evidence_cost(_postgres_engines(args.postgres), some, args.channels, args.batch, stages)
    return 0


def base(args: argparse.Namespace, posts: list[tuple[int, PostRecord]]) -> None:
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


if __name__ == "__main__":
    raise SystemExit(main())
