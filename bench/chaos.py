"""Crash benchmark (issue #7): SIGKILL the service 100+ times at random points, then check.

    python bench/chaos.py [--kills 100] [--seed 7] [--postgres URL] [--channels 4]

Runs the harness of ``tests/chaos.py`` (the real service in a subprocess, collecting from the
fake Telegram client and delivering alerts to a webhook on 127.0.0.1) on a SQLite file, and on
PostgreSQL too when --postgres is given (in a scratch schema, dropped afterwards). Prints the
counts and exits 1 if anything was lost, stored twice, or delivered twice outside the crash
window. ``tests/test_chaos.py`` is the small version that runs in CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.chaos import run_chaos  # noqa: E402

from monitor.store.db import scratch_schema  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--life", type=float, default=4.0, help="longest life after start-up (s)")
    ap.add_argument("--postgres", help="also run on this PostgreSQL database")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    failed = False

    def one(url: str, work: Path) -> None:
        nonlocal failed
        report = run_chaos(
            url,
            work,
            kills=args.kills,
            seed=args.seed,
            life=(0.0, args.life),
            channels=args.channels,
            grow=max(80, args.kills * 2),
            progress=True,
        )
        print("\n".join(report.lines()), flush=True)
        for problem in report.problems():
            print("PROBLEM:", problem)
            failed = True
        print()

    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            one(f"sqlite:///{tmp}/chaos.db", Path(tmp) / "sqlite")
        if args.postgres:
            with scratch_schema(args.postgres, "bench_chaos") as url:
                one(url, Path(tmp) / "postgres")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
