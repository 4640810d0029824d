"""`monitor scan` end to end, on one core: a JSONL file of channel-like posts in, verdicts out.

Run: PYTHONPATH=src .venv/bin/python bench/scan.py [--posts 50000]

The posts are bench/match.py's (news, decoration, quoted verses, a few signals), with a channel
kind each. `monitor scan` runs as a user runs it, a process reading the file and writing one
JSON line per post, pinned to one CPU (`taskset`, where there is one). Its start (settings,
rules, the matcher's indexes from the disk cache) is timed apart on a one-post file, so the
figures are the whole run and the scanning rate without the start; the target (#12) is the
latter, >= 5 000 posts/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from match import make_posts
from monitor.match import Matcher, load_rules

ROOT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], env: dict[str, str], out: Path) -> float:
    t = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run(cmd, env=env, stdout=fh, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=50_000)
    args = ap.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "cache"
        matcher = Matcher(load_rules(ROOT / "config" / "rules"), cache_dir=cache)
        kinds = ("group", "group", "media", "leader", "news")
        big, one = work / "posts.jsonl", work / "one.jsonl"
        with big.open("w", encoding="utf-8") as fh:
            for i, text in enumerate(make_posts(args.posts, matcher)):
                post = {"id": i, "text": text, "channel_kind": rng.choice(kinds)}
                fh.write(json.dumps(post, ensure_ascii=False) + "\n")
        one.write_text(json.dumps({"id": 0, "text": "نحن رهن إشارة القائد"}) + "\n", "utf-8")
        env = {
            **os.environ,
            "MONITOR_CONFIG_DIR": str(ROOT / "config"),
            "MONITOR_CACHE_DIR": str(cache),
            "MONITOR_VAR_DIR": str(work / "var"),
        }
        pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
        cmd = [*pin, sys.executable, "-m", "monitor", "scan"]
        run([*cmd, str(one)], env, work / "warm.out")  # the cache is written by the matcher above
        start = min(run([*cmd, str(one)], env, work / "one.out") for _ in range(3))
        whole = run([*cmd, str(big)], env, work / "big.out")
        lines = (work / "big.out").read_text(encoding="utf-8").splitlines()
        assert len(lines) == args.posts, len(lines)
        flagged = sum(json.loads(x)["flagged"] for x in lines)
    print(f"posts: {args.posts:,} ({flagged:,} flagged), one core: {'yes' if pin else 'no'}")
    print(f"start (one-post file): {start:.2f} s")
    print(f"whole run: {whole:.2f} s, {args.posts / whole:,.0f} posts/s")
    rate = args.posts / max(whole - start, 1e-9)
    print(f"scanning without the start: {rate:,.0f} posts/s (target >= 5,000)")


if __name__ == "__main__":
    main()
