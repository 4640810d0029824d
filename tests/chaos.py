"""Crash harness (issue #7): the real service in a subprocess, killed with SIGKILL again and again.

Shared by ``tests/test_chaos.py`` (a dozen kills, in CI) and ``bench/chaos.py`` (100+ kills).

- ``World``: a deterministic "Telegram": channel ``c`` has ``backlog`` posts at ``t0`` and one more
  every ``period`` seconds until ``total``; the text of every post follows from (seed, c, n), and
  about one in five quotes a cue verse, so it must be flagged and alerted. Every process that
  builds the World from the same arguments sees the same channels at the same wall-clock time,
  which is what lets a restarted worker find the "Telegram" its killed predecessor saw.
- ``python -m tests.chaos worker``: the service as ``monitor run`` builds it (Runtime settings,
  pipeline with matcher and outbox, leases, scheduler, alert Sender through apprise), except that
  the Telethon source is the recording fake client fed by the World.
- ``run_chaos``: set up the database and a subscription to a local webhook, then start the worker,
  SIGKILL it at a random moment, restart, ... ``kills`` times; finally let it run until everything
  is stored and delivered, stop it with SIGTERM, and collect the evidence in a ``ChaosReport``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Cue-verse quotes the matcher flags on their own (severity medium), one per event.
CUES = (
    "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين",
    "أليس الصبح بقريب",
    "وما النصر إلا من عند الله العزيز الحكيم",
    "جاء الحق وزهق الباطل إن الباطل كان زهوقا",
)
NEUTRAL = ("نشرة الأخبار والطقس", "صور من الزيارة", "جدول المحاضرات", "تهنئة بالعيد")


@dataclass(frozen=True)
class World:
    seed: int
    t0: float  # wall-clock time (time.time()) when the backlog exists
    channels: int = 4
    backlog: int = 120
    total: int = 200  # posts per channel in the end
    period: float = 0.25  # seconds between new posts of a channel after t0

    def handle(self, c: int) -> str:
        return f"chaos_{c}"

    def date(self, n: int) -> datetime:
        return datetime.fromtimestamp(self.t0 - 86_400 + n * 60, UTC)

    def visible(self, now: float | None = None) -> int:
        """How many posts each channel shows at ``now``."""
        elapsed = (time.time() if now is None else now) - self.t0
        return max(0, min(self.total, self.backlog + int(elapsed / self.period)))

    @property
    def end(self) -> float:
        return self.t0 + (self.total - self.backlog) * self.period

    def text(self, c: int, n: int) -> tuple[str, bool]:
        """The text of post n (1-based) of channel c, and whether it quotes a cue verse."""
        digest = hashlib.sha256(f"{self.seed}:{c}:{n}".encode()).digest()
        if digest[0] < 52:  # ~ one in five
            # Numbered, so that no two are one statement: the echo rules (#15) would alert a
            # repeated statement once, and this world counts one alert a flag.
            return f"{CUES[digest[1] % len(CUES)]}\nبيان رقم {c * 1000 + n}\n#بيان_{c}_{n}", True
        return f"منشور رقم {n} من القناة {c}: {NEUTRAL[digest[1] % len(NEUTRAL)]}", False

    def expected(self) -> dict[tuple[str, int], bool]:
        return {
            (self.handle(c), n): self.text(c, n)[1]
            for c in range(self.channels)
            for n in range(1, self.total + 1)
        }


def world_client(world: World) -> Any:
    """A FakeTelegramClient whose channels grow with the wall clock as ``world`` says."""
    from monitor.collect.fake import FakeTelegramClient

    class WorldClient(FakeTelegramClient):
        def grow(self) -> None:
            shown = world.visible()
            for c in range(world.channels):
                handle = world.handle(c)
                ch = self.channels[handle]
                while ch.last_id < shown:
                    n = ch.last_id + 1
                    self.post(handle, world.text(c, n)[0], date=world.date(n))

        async def get_entity(self, entity: Any) -> Any:
            self.grow()
            return await super().get_entity(entity)

        async def iter_messages(self, entity: Any, *args: Any, **kw: Any) -> AsyncIterator[Any]:
            self.grow()
            async for msg in super().iter_messages(entity, *args, **kw):
                yield msg

    client = WorldClient()
    for c in range(world.channels):  # same order in every process: same ids and access hashes
        client.add_channel(world.handle(c))
    return client


# -- the worker (child process) ----------------------------------------------------------


async def _serve(world: World) -> None:
    from monitor.alerts.render import Renderer
    from monitor.alerts.sender import Sender
    from monitor.cli.context import Runtime
    from monitor.collect.collector import Collector
    from monitor.collect.leases import Leases
    from monitor.collect.wiring import live_sources, worker_name
    from monitor.logs import configure_logging
    from monitor.scheduler import Service

    rt = Runtime()
    settings = rt.settings
    configure_logging(settings)
    pipeline = rt.pipeline()
    leases = Leases(pipeline.sessions, worker_name(settings), ttl=settings.lease_seconds)
    async with live_sources(settings, telegram_client=world_client(world)) as (sources, bad):
        collector = Collector(pipeline, settings, sources, unavailable=bad, leases=leases)
        sender = Sender(pipeline.sessions, settings, Renderer(settings.config_dir))
        print("ready", flush=True)
        await Service(collector, leases, sender).serve()
    rt.close()


def worker_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--t0", type=float, required=True)
    ap.add_argument("--channels", type=int, required=True)
    ap.add_argument("--backlog", type=int, required=True)
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--period", type=float, required=True)
    a = ap.parse_args(argv)
    world = World(a.seed, a.t0, a.channels, a.backlog, a.total, a.period)
    asyncio.run(_serve(world))


# -- the webhook (parent process) --------------------------------------------------------


@dataclass
class Receipts:
    """Every alert key the webhook received, with the time of each receipt."""

    delay: float = 0.05  # answer after this long: a real receiver is not instant
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        import json

        receipts = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                keys = json.loads(raw)["alert_keys"].split(",")
                now = time.time()
                with receipts.lock:
                    for key in keys:
                        receipts.times[key].append(now)
                time.sleep(receipts.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"json://127.0.0.1:{server.server_address[1]}/hook"

    def snapshot(self) -> dict[str, list[float]]:
        with self.lock:
            return {k: list(v) for k, v in self.times.items()}


# -- the driver --------------------------------------------------------------------------


@dataclass
class ChaosReport:
    database: str
    kills: int = 0
    lives: list[float] = field(default_factory=list)  # seconds each killed worker lived
    startup: list[float] = field(default_factory=list)  # seconds from spawn to serving
    posts_expected: int = 0
    posts_stored: int = 0
    post_rows_duplicated: int = 0  # (channel, message id) stored more than once
    versions_extra: int = 0  # post_versions beyond one per post: a post written twice
    flags_expected: int = 0
    flags_missing: list[str] = field(default_factory=list)
    flags_unexpected: list[str] = field(default_factory=list)
    alerts_queued: int = 0
    alerts_unsent: int = 0
    keys_never_received: int = 0
    keys_unknown: int = 0  # received but not in the outbox
    duplicates: int = 0  # receipts beyond the first, counted by dedup key
    crash_window: int = 0  # keys a kill left received-but-not-marked (each may be resent once)
    duplicates_outside_window: list[str] = field(default_factory=list)
    posts_before_final: int = 0  # stored by the workers that were killed
    kills_while_posting: int = 0  # kills before the world's last post appeared
    receipts_before_final: int = 0  # alert keys the killed workers delivered
    final_seconds: float = 0.0  # from the last restart to everything stored and delivered
    final_exit: int | None = None
    total_seconds: float = 0.0

    def problems(self) -> list[str]:
        out = []
        if self.posts_stored != self.posts_expected:
            out.append(f"{self.posts_stored} posts stored, {self.posts_expected} expected")
        if self.post_rows_duplicated or self.versions_extra:
            out.append(
                f"{self.post_rows_duplicated} posts stored twice, {self.versions_extra} extra "
                "versions"
            )
        if self.flags_missing or self.flags_unexpected:
            out.append(
                f"flags missing {self.flags_missing[:5]}, unexpected {self.flags_unexpected[:5]}"
            )
        if self.alerts_queued != self.flags_expected:
            out.append(f"{self.alerts_queued} alerts queued for {self.flags_expected} flags")
        if self.alerts_unsent or self.keys_never_received or self.keys_unknown:
            out.append(
                f"{self.alerts_unsent} alerts not marked sent, {self.keys_never_received} "
                f"never received, {self.keys_unknown} unknown keys received"
            )
        if self.duplicates > self.crash_window or self.duplicates_outside_window:
            out.append(
                f"{self.duplicates} duplicate deliveries for {self.crash_window} keys in a crash "
                f"window; outside it: {self.duplicates_outside_window[:5]}"
            )
        if self.final_exit != 0:
            out.append(f"the last worker exited with {self.final_exit} on SIGTERM")
        return out

    def lines(self) -> list[str]:
        lives = sorted(self.lives) or [0.0]
        return [
            f"database: {self.database}",
            f"kills: {self.kills} (SIGKILL after {lives[0]:.2f}-{lives[-1]:.2f} s of life, "
            f"median {lives[len(lives) // 2]:.2f} s; start-up took a median "
            f"{sorted(self.startup or [0.0])[len(self.startup) // 2]:.2f} s)",
            f"posts: {self.posts_stored} stored of {self.posts_expected} expected, "
            f"{self.post_rows_duplicated} twice, {self.versions_extra} extra versions",
            f"flags: {self.flags_expected} expected, {len(self.flags_missing)} missing, "
            f"{len(self.flags_unexpected)} unexpected",
            f"alerts: {self.alerts_queued} queued, {self.alerts_unsent} not sent, "
            f"{self.keys_never_received} never received",
            f"duplicates: {self.duplicates} (crash window: {self.crash_window} keys received "
            "but not yet marked when a kill landed)",
            f"before the last restart: {self.posts_before_final} posts stored, "
            f"{self.receipts_before_final} alert keys delivered; "
            f"{self.kills_while_posting} of {self.kills} kills while posts were still arriving",
            f"recovery after the last restart: {self.final_seconds:.1f} s; "
            f"SIGTERM exit code {self.final_exit}; total {self.total_seconds:.0f} s",
        ]


def _env(url: str, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        MONITOR_DATABASE_URL=url,
        MONITOR_CONFIG_DIR=str(REPO / "config"),
        MONITOR_VAR_DIR=str(work / "var"),
        MONITOR_WORKER_ID="chaos",  # a restarted worker takes its predecessor's leases at once
        MONITOR_LEASE_SECONDS="30",
        MONITOR_INGEST_BATCH_SIZE="10",  # many transactions per pass: many places to die in
        MONITOR_COLLECT_INITIAL_POSTS="10000",  # the whole backlog, not the newest 100
        MONITOR_ALERT_GROUP_SECONDS="0",
        MONITOR_ALERT_LEASE_SECONDS="5",
        MONITOR_ALERT_POLL_SECONDS="0.3",
        MONITOR_ALERT_RETRY_INITIAL="1",
        MONITOR_ALERT_RATE_PER_MINUTE="100000",
        MONITOR_LOG_LEVEL="WARNING",
        PYTHONPATH=str(REPO),
    )
    return env


def _setup(url: str, world: World, hook_url: str, work: Path) -> None:
    from sqlalchemy import update

    from monitor.alerts.subscriptions import add_subscription
    from monitor.config import Settings
    from monitor.match import Matcher, load_rules
    from monitor.store.channels import ensure_channel
    from monitor.store.db import make_engine, session_factory
    from monitor.store.migrate import upgrade
    from monitor.store.models import Channel

    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        for c in range(world.channels):
            ensure_channel(s, world.handle(c), source="telethon", group="Chaos")
        # One second between passes: far below what settings allow, to keep the worker busy.
        s.execute(update(Channel).values(interval_seconds=1))
        add_subscription(s, "chaos", hook_url, min_severity="low")
    engine.dispose()
    # Warm the Quran index cache, as a long-running deployment has it.
    settings = Settings(var_dir=work / "var")
    Matcher(load_rules(REPO / "config" / "rules"), cache_dir=settings.cache_path)


def _spawn(world: World, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    args = [
        sys.executable,
        "-m",
        "tests.chaos",
        "worker",
        f"--seed={world.seed}",
        f"--t0={world.t0!r}",
        f"--channels={world.channels}",
        f"--backlog={world.backlog}",
        f"--total={world.total}",
        f"--period={world.period}",
    ]
    with log.open("ab") as err:
        return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err)


def _wait_for_receipts(
    receipts: Receipts, proc: subprocess.Popen[bytes], since: float, timeout: float
) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if any(t >= since for ts in receipts.snapshot().values() for t in ts):
            return
        time.sleep(0.05)


def _reap(proc: subprocess.Popen[bytes]) -> int:
    code = proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    return code


def _wait_ready(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """Seconds until the worker says it is serving (its imports and set-up are done)."""
    assert proc.stdout is not None
    start = time.monotonic()
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready or proc.stdout.readline().strip() != b"ready":
        raise RuntimeError(f"worker not ready after {timeout} s (exit code {proc.poll()})")
    return time.monotonic() - start


def _unsent(url: str) -> set[str]:
    from sqlalchemy import select

    from monitor.store.db import make_engine, session_factory
    from monitor.store.models import AlertOutbox

    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return set(s.scalars(select(AlertOutbox.dedup_key).where(AlertOutbox.status != "sent")))
    finally:
        engine.dispose()


def _count_posts(url: str) -> int:
    from sqlalchemy import func, select

    from monitor.store.db import make_engine, session_factory
    from monitor.store.models import Post

    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            return s.scalar(select(func.count()).select_from(Post)) or 0
    finally:
        engine.dispose()


def _done(url: str, world: World) -> bool:
    from sqlalchemy import func, select

    from monitor.store.db import make_engine, session_factory
    from monitor.store.models import AlertOutbox, Post

    if time.time() < world.end:
        return False
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            posts = s.scalar(select(func.count()).select_from(Post)) or 0
            unsent = s.scalar(
                select(func.count()).select_from(AlertOutbox).where(AlertOutbox.status != "sent")
            )
        return posts >= world.channels * world.total and unsent == 0
    finally:
        engine.dispose()


def run_chaos(
    url: str,
    work: Path,
    *,
    kills: int,
    seed: int = 7,
    life: tuple[float, float] = (0.0, 3.0),
    channels: int = 4,
    backlog: int = 120,
    grow: int = 80,
    final_timeout: float = 90.0,
    progress: bool = False,
) -> ChaosReport:
    """Kill the worker ``kills`` times, let it finish, and check what it left behind."""
    rng = random.Random(seed)
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    receipts = Receipts()
    server, hook_url = receipts.serve()
    # The world grows for longer than the kill phase usually lasts, so posts keep arriving
    # while workers die (a slow machine stretches the phase: the last life alone may wait up
    # to a minute for its first alert).
    expected_phase = 1.5 * kills * (sum(life) / 2 + 1.5)
    world = World(
        seed,
        time.time() + 3.0,
        channels=channels,
        backlog=backlog,
        total=backlog + grow,
        period=max(0.05, expected_phase / max(grow, 1)),
    )
    report = ChaosReport(database=url.split(":", 1)[0])
    log = work / "worker.log"
    env = _env(url, work)
    proc: subprocess.Popen[bytes] | None = None
    try:
        _setup(url, world, hook_url, work)
        window: Counter[str] = Counter()
        for k in range(kills):
            proc = _spawn(world, env, log)
            born = time.time()
            if k == kills - 1:
                # The last life surely dies while delivering: once alerts flow, soon after.
                report.startup.append(_wait_ready(proc))
                _wait_for_receipts(receipts, proc, born, timeout=60)
                time.sleep(rng.uniform(0.0, 0.5))
            elif rng.random() < 0.1:  # now and then, die while starting up
                time.sleep(rng.uniform(0.0, 1.0))
            else:
                report.startup.append(_wait_ready(proc))
                time.sleep(rng.uniform(*life))
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited by itself with {_reap(proc)}; see {log}")
            proc.send_signal(signal.SIGKILL)
            _reap(proc)
            died = time.time()
            report.kills += 1
            report.kills_while_posting += died < world.end
            report.lives.append(died - born)
            time.sleep(0.15)  # let the webhook finish recording a request that was in flight
            # Keys this life delivered that are still not marked sent: the crash window.
            seen = receipts.snapshot()
            unsent = _unsent(url)
            for key, times in seen.items():
                if key in unsent and any(born <= t <= died for t in times):
                    window[key] += 1
            if progress:
                print(
                    f"kill {k + 1}/{kills} after {died - born:.2f} s; "
                    f"{sum(len(t) for t in seen.values())} receipts, crash window "
                    f"{sum(window.values())}",
                    flush=True,
                )
        report.crash_window = sum(window.values())
        report.posts_before_final = _count_posts(url)
        report.receipts_before_final = sum(len(t) for t in receipts.snapshot().values())
        proc = _spawn(world, env, log)
        last = time.monotonic()
        _wait_ready(proc)
        deadline = time.time() + final_timeout + max(0.0, world.end - time.time())
        while not _done(url, world):
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited by itself with {_reap(proc)}; see {log}")
            if time.time() > deadline:
                break
            time.sleep(0.5)
        report.final_seconds = time.monotonic() - last
        time.sleep(0.5)  # anything still in flight would show up as a duplicate
        proc.send_signal(signal.SIGTERM)
        try:
            report.final_exit = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            report.final_exit = proc.wait()
        finally:
            _reap(proc)
        _check(report, url, world, receipts.snapshot(), window)
    finally:
        if proc is not None and proc.poll() is None:  # the harness failed: leave no worker
            proc.kill()
        if proc is not None:
            _reap(proc)
        server.shutdown()
        server.server_close()
    report.total_seconds = time.monotonic() - started
    return report


def _check(
    report: ChaosReport,
    url: str,
    world: World,
    received: dict[str, list[float]],
    window: Counter[str],
) -> None:
    from sqlalchemy import func, select

    from monitor.store.db import make_engine, session_factory
    from monitor.store.models import AlertOutbox, Channel, Match, Post, PostVersion

    expected = world.expected()
    report.posts_expected = len(expected)
    report.flags_expected = sum(expected.values())
    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            rows = s.execute(
                select(Channel.handle, Post.message_id, Match.flagged)
                .join(Post, Post.channel_id == Channel.id)
                .outerjoin(Match, Match.post_id == Post.id)
            ).all()
            report.posts_stored = len({(h, m) for h, m, _ in rows})
            report.post_rows_duplicated = len(rows) - report.posts_stored
            versions = s.scalar(select(func.count()).select_from(PostVersion)) or 0
            report.versions_extra = versions - report.posts_stored
            flagged = {f"{h}/{m}" for h, m, f in rows if f}
            want = {f"{h}/{m}" for (h, m), cue in expected.items() if cue}
            report.flags_missing = sorted(want - flagged)
            report.flags_unexpected = sorted(flagged - want)
            outbox = dict(s.execute(select(AlertOutbox.dedup_key, AlertOutbox.status)).all())
    finally:
        engine.dispose()
    report.alerts_queued = len(outbox)
    report.alerts_unsent = sum(status != "sent" for status in outbox.values())
    report.keys_never_received = len(set(outbox) - set(received))
    report.keys_unknown = len(set(received) - set(outbox))
    for key, times in received.items():
        extra = len(times) - 1
        report.duplicates += extra
        if extra > window[key]:
            report.duplicates_outside_window.append(key)


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker_main(sys.argv[2:])
    else:
        sys.exit("usage: python -m tests.chaos worker ... (see bench/chaos.py)")
