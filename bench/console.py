"""Review console under load: 1 M posts / 100 k flags, 20 concurrent analysts on 127.0.0.1.

    python bench/console.py [--posts 1000000] [--flags 100000] [--clients 20] [--seconds 60]
                            [--think S] [--workers N] [--database-url URL] [--reseed]

Seeds the database once (reused while its post count matches; --reseed starts over), runs
`monitor serve --workers N` in a subprocess, then has each client sign in and mix queue pages
(filters, sorts, next pages), searches and post pages. Prints p50/p95/p99 per request kind
and overall, and the error count. Target (issue #5): p95 < 150 ms, 0 errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text

from machine import calibrate, cpu_seconds, database_cpu  # bench/machine.py
from monitor.collect.records import PostRecord
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, session_factory
from monitor.store.ingest import ingest
from monitor.store.migrate import upgrade
from monitor.store.models import Match, Post, Review, RuleSetVersion, SignalRow, User
from monitor.store.search import write_index
from monitor.store.users import add_user

USER, PASSWORD = "bench-analyst", "bench-password-1"
CHANNELS, GROUPS = 60, 12
KINDS = ("verse_cue", "verse_quote", "readiness", "threat", "allegiance", "attack_claim", "target")
SEVERITIES = [("low", 1, 0.45), ("medium", 2, 0.3), ("high", 3, 0.18), ("critical", 4, 0.07)]
# Common words make most posts; the rarer ones give searches a realistic spread of hit counts.
COMMON = (  # noqa: SIM905 - a sentence reads better than a list of words
    "المقاومة الإسلامية في العراق بيان عاجل القوات الأمريكية قاعدة نعلن الشعب العراقي الحشد "
    "الشعبي صلاة الجمعة الله أكبر الشهداء العدو الصهيوني اليوم news statement Baghdad"
).split()
RARE = (  # noqa: SIM905
    "جاهزيتنا عين الأسد وأنتم الأعلون مؤمنين مسيرة صواريخ أربيل التنف حرير البحر الأحمر "
    "الثأر الوعد drone Erbil Harir Tanf Ain al-Asad"
).split()
SEARCHES = ["عين الأسد", "وَأَنتُمُ الأَعلَونَ", "صواريخ", "الثأر", "drone", "مسيرة أربيل", "حرير"]


def seed(engine: Engine, posts: int, flags: int) -> None:
    sessions = session_factory(engine)
    rng = random.Random(5)
    with sessions.begin() as s:
        channel_ids = [
            ensure_channel(s, f"bench_{i:03d}", source="web", group=f"Group {i % GROUPS}").id
            for i in range(CHANNELS)
        ]
        rs = RuleSetVersion(version="bench", summary={})
        s.add(rs)
        if s.scalar(select(User.id).where(User.username == USER)) is None:
            add_user(s, USER, "analyst", PASSWORD, actor="bench")
        s.flush()
        rule_set = rs.id
    start = datetime.now(UTC) - timedelta(days=365)
    step = 365 * 86400 / posts
    t0 = time.perf_counter()
    batch = 10_000
    made = 0
    while made < posts:
        n = min(batch, posts - made)
        ch = channel_ids[(made // batch) % CHANNELS]
        records = []
        for k in range(n):
            i = made + k
            words = rng.choices(COMMON, k=rng.randint(8, 40))
            if rng.random() < 0.2:
                words.insert(rng.randrange(len(words)), rng.choice(RARE))
            records.append(
                PostRecord(i + 1, start + timedelta(seconds=i * step), " ".join(words), "web")
            )
        with engine.begin() as conn:
            result = ingest(conn, ch, records)
            write_index(conn, [(c.post_id, c.record.text) for c in result.changed], fresh=True)
        made += n
        if made % 100_000 == 0:
            rate = made / (time.perf_counter() - t0)
            print(f"  {made:,} posts ({rate:,.0f}/s)", file=sys.stderr)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(Post.id))]
    flagged = rng.sample(ids, min(flags, len(ids)))
    match_rows, signal_rows, review_rows = [], [], []
    for mid, pid in enumerate(flagged, start=1):
        sev, rank, _ = rng.choices(SEVERITIES, weights=[w for *_, w in SEVERITIES])[0]
        match_rows.append(
            {
                "id": mid,
                "post_id": pid,
                "rule_set_id": rule_set,
                "text_sha256": "0" * 64,
                "flagged": True,
                "severity": sev,
                "severity_rank": rank,
                "score": rank * 20.0 + rng.random() * 10,
                "explanation": [f"bench {sev}"],
                "matched_at": datetime.now(UTC),
            }
        )
        for kind in rng.sample(KINDS, rng.randint(1, 2)):
            signal_rows.append(
                {
                    "match_id": mid,
                    "kind": kind,
                    "rule": f"bench.{kind}",
                    "ref": "3:139" if kind.startswith("verse") else None,
                    "refs": ["3:139"] if kind.startswith("verse") else [],
                    "start": 0,
                    "end": 5,
                    "matched": "bench",
                    "score": 0.9,
                }
            )
        if rng.random() < 0.05:
            review_rows.append(
                {
                    "post_id": pid,
                    "decision": rng.choice(["confirmed", "dismissed", "escalated"]),
                    "note": "bench",
                    "created_at": datetime.now(UTC),
                }
            )
    with engine.begin() as conn:
        for table, rows in ((Match, match_rows), (SignalRow, signal_rows), (Review, review_rows)):
            for i in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[i : i + 5000])
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"seeded in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def client_loop(
    base: str, deadline: float, post_ids: list[int], groups: list[int], seed_: int, think: float
) -> tuple[dict[str, list[float]], int, list[str]]:
    import aiohttp

    rng = random.Random(seed_)
    lat: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    # aiohttp rather than httpx: on 2 shared cores the load generator competes with the server,
    # and aiohttp spends about a sixth of httpx's CPU per request. unsafe=True: keep the
    # session cookie of a server addressed by IP.
    jar = aiohttp.CookieJar(unsafe=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, cookie_jar=jar, timeout=timeout) as c:
        async with c.get("/login") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token, "no CSRF token on /login"
        form = {"username": USER, "password": PASSWORD, "csrf_token": token.group(1)}
        async with c.post("/login", data=form, allow_redirects=False) as r:
            assert r.status == 303, r.status
        cursor = ""
        while time.perf_counter() < deadline:
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))
            roll = rng.random()
            if roll < 0.25:
                kind, url = "queue", "/"
            elif roll < 0.45:
                kind = "queue-filter"
                params = rng.choice(
                    [
                        f"severity={rng.choice(['high', 'critical'])}",
                        f"kind={rng.choice(KINDS)}",
                        f"group={rng.choice(groups)}",
                        "state=unreviewed",
                        f"state={rng.choice(['confirmed', 'escalated'])}",
                        "sort=newest",
                        f"sort=newest&since={(datetime.now(UTC) - timedelta(days=30)).date()}",
                    ]
                )
                url = f"/?{params}"

            elif roll < 0.55 and cursor:
                kind, url = "queue-next", "/?" + cursor
            elif roll < 0.75:
                kind, url = "search", f"/?q={rng.choice(SEARCHES)}"
            else:
                kind, url = "post", f"/posts/{rng.choice(post_ids)}"
            t = time.perf_counter()
            body = ""
            try:
                async with c.get(url, allow_redirects=False) as r:
                    body = await r.text()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = 0
                errors.append(f"{url}: {type(exc).__name__}")
            lat[kind].append(time.perf_counter() - t)
            if status != 200:
                if status:
                    errors.append(f"{url}: HTTP {status}")
                continue
            if kind.startswith("queue"):
                nxt = re.search(r'<a rel="next" href="/\?([^"]+)"', body)
                cursor = nxt.group(1).replace("&amp;", "&") if nxt else ""
    return lat, len(errors), errors[:5]


def pct(values: list[float], p: float) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] * 1000


async def load(base: str, clients: int, seconds: float, engine: Engine, think: float) -> int:
    with engine.connect() as conn:
        post_ids = [r[0] for r in conn.execute(select(Match.post_id).limit(20_000))]
        groups = [r[0] for r in conn.execute(text("SELECT id FROM groups"))]
    deadline = time.perf_counter() + seconds
    results = await asyncio.gather(
        *(client_loop(base, deadline, post_ids, groups, i, think) for i in range(clients))
    )
    merged: dict[str, list[float]] = defaultdict(list)
    errors = 0
    for lat, n_err, sample in results:
        errors += n_err
        for k, v in lat.items():
            merged[k].extend(v)
        for line in sample:
            print("  error:", line, file=sys.stderr)
    everything = [x for v in merged.values() for x in v]
    print(f"{'kind':<14}{'n':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for k in sorted(merged):
        v = merged[k]
        print(f"{k:<14}{len(v):>8}{pct(v, 50):>10.1f}{pct(v, 95):>10.1f}{pct(v, 99):>10.1f}")
    print(
        f"{'ALL':<14}{len(everything):>8}{pct(everything, 50):>10.1f}"
        f"{pct(everything, 95):>10.1f}{pct(everything, 99):>10.1f}"
    )
    print(f"throughput {len(everything) / seconds:.0f} req/s, errors {errors}")
    # Clients keep their connection, so each stays with the server process that accepted it:
    # a spread here is processes serving unequal numbers of clients, not unequal pages.
    means = sorted(
        statistics.fmean(x for v in lat.values() for x in v) * 1000
        for lat, _, _ in results
        if any(lat.values())
    )
    if means:
        print(f"mean latency per client: {means[0]:.0f}–{means[-1]:.0f} ms")
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", default="sqlite:///var/bench/console.db")
    ap.add_argument("--posts", type=int, default=1_000_000)
    ap.add_argument("--flags", type=int, default=None, help="default: posts / 10")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean pause between a client's requests, in s (0: back to back, the worst case)",
    )
    ap.add_argument(
        "--workers", type=int, default=2, help="`monitor serve --workers N` (default 2)"
    )
    ap.add_argument("--reseed", action="store_true")
    args = ap.parse_args()
    flags = args.flags if args.flags is not None else args.posts // 10
    if args.reseed and args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    engine = make_engine(args.database_url)
    if args.reseed and engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    with engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(Post)) or 0
    if have != args.posts:
        if have:
            print(
                f"database holds {have:,} posts, not {args.posts:,}: use --reseed", file=sys.stderr
            )
            return 2
        print(f"seeding {args.posts:,} posts / {flags:,} flags…", file=sys.stderr)
        seed(engine, args.posts, flags)
    port = free_port()
    # The console as operators run it, minus the access log (log level WARNING).
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "serve",
            "--port",
            f"{port}",
            "--workers",
            f"{args.workers}",
        ],
        env={
            **os.environ,
            "MONITOR_DATABASE_URL": args.database_url,
            "MONITOR_SECRET_KEY": "bench-secret-key-0123456789",
            "MONITOR_LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        },
    )
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        print(
            f"{args.clients} clients, think {args.think} s, {args.seconds:.0f} s "
            f"against {engine.dialect.name}, {args.workers} server process(es)"
        )
        print(f"machine: 10 M Python loop steps in {calibrate():.2f} s")
        before, db_before, own_before = cpu_seconds(server.pid), database_cpu(), time.process_time()
        errors = asyncio.run(
            load(f"http://127.0.0.1:{port}", args.clients, args.seconds, engine, args.think)
        )
        used = [t - before.get(pid, 0.0) for pid, t in cpu_seconds(server.pid).items()]
        # Each worker's share shows whether the load reached every process; the database's
        # and the load generator's show what else took the same cores.
        print("server CPU per process: " + ", ".join(f"{u:.1f} s" for u in sorted(used)))
        others = f"load generator {time.process_time() - own_before:.1f} s"
        if engine.dialect.name == "postgresql":
            others = f"PostgreSQL {database_cpu() - db_before:.1f} s, {others}"
        print(f"other CPU: {others}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        engine.dispose()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
