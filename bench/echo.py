"""Echo clusters (#15): recall and precision of the joins, and the cost of placing a post.

    PYTHONPATH=src .venv/bin/python bench/echo.py [--statements N] [--stored N] [--postgres URL]

quality  the flagged statements of the dev split (tests/eval/dev.jsonl, ≥ 8 content words)
         posted by one channel, then by another channel hours later as an echo: a prefix
         ("عاجل |", "🔴", a group's name), hashtags, emoji, a link, and a fifth of the content
         words replaced by others of the split (recall: the echo joins the statement's cluster).
         Against them, for precision: the same statements with the site, the day or the
         count changed (other statements from the same template) and every other statement.
         Tuned on nothing else; the test split is not read.
cost     the time to place one new post (band keys, candidates, verification, insert) with N
         posts already indexed (synthetic band rows), at two sizes, on SQLite and PostgreSQL.
Targets: recall ≥ 0.95, precision ≥ 0.95; ≤ 2 ms a post with 1 M posts stored, flat in N.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from monitor.collect.records import PostRecord
from monitor.config import load_settings
from monitor.match import Matcher, load_rules
from monitor.network.echo import place
from monitor.network.shingles import BANDS, jaccard, words
from monitor.pipeline import build_pipeline
from monitor.store.channels import ensure_channel
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.export import iter_posts
from monitor.store.migrate import upgrade
from monitor.store.models import EchoBand, Post

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
PREFIXES = ["عاجل | ", "🔴 ", "بيان | ", "#عاجل ", "المقاومة الإسلامية في العراق: ", ""]
TAILS = [" #المقاومة_الإسلامية_في_العراق", " 🔥🔥", " https://t.me/some_channel/123", " ✌️🇮🇶", ""]
SITES = [("حرير", "عين الأسد"), ("عين الأسد", "التنف"), ("التنف", "الشدادي"), ("فكتوريا", "حرير")]
DAYS = [("الثلاثاء", "الخميس"), ("الجمعة", "الأحد")]


def dev_statements(n: int) -> list[str]:
    posts = [json.loads(x) for x in (ROOT / "tests/eval/dev.jsonl").read_text().splitlines()]
    texts: list[str] = []
    seen: list[frozenset[str]] = []
    for p in posts:
        ws = words(p["text"])
        # Distinct statements only: the split holds rewordings of one statement (the seed's),
        # which are echoes of each other, not errors when they join.
        if p["flagged"] and len(ws) >= 8 and all(jaccard(ws, o) < 0.3 for o in seen):
            texts.append(p["text"])
            seen.append(ws)
    return texts[:n] if n else texts


def echo_of(text: str, vocab: list[str], rng: random.Random) -> str:
    toks = text.split()
    for i in rng.sample(range(len(toks)), k=max(1, len(toks) // 5)):
        toks[i] = rng.choice(vocab)
    return rng.choice(PREFIXES) + " ".join(toks) + rng.choice(TAILS)


def variant_of(text: str) -> str | None:
    """The same statement's template with another site, day or count, or None."""
    for a, b in SITES + DAYS:
        # whole words only ("حرير" is in "تحرير"), and not a site the post already names
        if re.search(rf"(?<!\w)[وب]?{a}(?!\w)", text) and b not in text:
            return re.sub(rf"(?<!\w)([وب]?){a}(?!\w)", rf"\g<1>{b}", text, count=1)
    for d in "123456789":
        if d in text:
            return text.replace(d, str(int(d) % 9 + 1), 1)
    return None


def quality(n: int, show: bool = False) -> None:
    rng = random.Random(15)
    texts = dev_statements(n)
    vocab = sorted({w for t in texts for w in t.split()})
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'echo.db'}")
        upgrade(engine)
        sessions = session_factory(engine)
        matcher = Matcher(load_rules(ROOT / "config/rules"), cache_dir=Path(tmp) / "mc")
        pipe = build_pipeline(sessions, load_settings(), matcher=matcher)
        with sessions.begin() as s:
            a, b, c = (ensure_channel(s, h).id for h in ("first_a", "echo_b", "template_c"))
        pipe.store(
            a, [PostRecord(i, T0 + timedelta(hours=i), t, "export") for i, t in enumerate(texts, 1)]
        )
        pipe.store(
            b,
            [
                PostRecord(i, T0 + timedelta(hours=i + 3), echo_of(t, vocab, rng), "export")
                for i, t in enumerate(texts, 1)
            ],
        )
        variants = [(i, v) for i, t in enumerate(texts, 1) if (v := variant_of(t))]
        pipe.store(
            c, [PostRecord(i, T0 + timedelta(hours=i + 5), v, "export") for i, v in variants]
        )
        with sessions() as s:
            got = {(d["channel"], d["message_id"]): d["cluster"] for d in iter_posts(s)}

    def cid(ch: str, i: int) -> int | None:
        c = got.get((ch, i))
        return c["id"] if c else None

    found = sum(
        1
        for i in range(1, len(texts) + 1)
        if cid("echo_b", i) and cid("echo_b", i) == cid("first_a", i)
    )
    # Wrong joins: an echo in another statement's cluster, a template variant in any cluster
    # holding its statement or its echo, two different statements of first_a together.
    wrong = sum(
        1
        for i in range(1, len(texts) + 1)
        if cid("echo_b", i) and cid("echo_b", i) != cid("first_a", i)
    )
    joined = [
        (i, v)
        for i, v in variants
        if cid("template_c", i) and cid("template_c", i) in (cid("first_a", i), cid("echo_b", i))
    ]
    wrong_variants = len(joined)
    if show:
        for i, v in joined:
            print("  variant joined:", texts[i - 1][:60].replace("\n", " "), "->", v[:60])
        for i in range(1, len(texts) + 1):
            if not (cid("echo_b", i) and cid("echo_b", i) == cid("first_a", i)):
                print("  echo missed:", texts[i - 1][:60].replace("\n", " "))
    firsts = [cid("first_a", i) for i in range(1, len(texts) + 1) if cid("first_a", i)]
    merged_firsts = len(firsts) - len(set(firsts))
    joins = found + wrong + wrong_variants + merged_firsts
    print(
        f"quality: {len(texts)} statements, {len(texts)} echoes, {len(variants)} template variants"
    )
    print(f"  recall    {found / len(texts):.3f}  ({found} echoes joined their statement)")
    print(
        f"  precision {found / joins if joins else 1:.3f}  (wrong: {wrong} echoes elsewhere, "
        f"{wrong_variants} variants joined, {merged_firsts} statements merged)"
    )


def cost(url: str | None, sizes: list[int]) -> None:
    rng = random.Random(2)
    vocab = [f"كلمة{i}" for i in range(5000)]
    for stored in sizes:
        ctx = scratch_schema(url) if url else None
        with tempfile.TemporaryDirectory() as tmp:
            target = ctx.__enter__() if ctx else f"sqlite:///{Path(tmp) / 'cost.db'}"
            try:
                engine = make_engine(target)
                upgrade(engine)
                sessions = session_factory(engine)
                with sessions.begin() as s:
                    ch = ensure_channel(s, "bench").id
                with engine.begin() as conn:
                    step = 20_000
                    for lo in range(0, stored, step):
                        hi = min(stored, lo + step)
                        conn.execute(
                            insert(Post),
                            [
                                {
                                    "id": i + 1,
                                    "channel_id": ch,
                                    "message_id": i + 1,
                                    "date": T0,
                                    "text": "",
                                    "text_sha256": "x",
                                    "source": "export",
                                    "first_seen_at": T0,
                                }
                                for i in range(lo, hi)
                            ],
                        )
                        conn.execute(
                            insert(EchoBand),
                            [
                                {"post_id": i + 1, "key": rng.getrandbits(63)}
                                for i in range(lo, hi)
                                for _ in range(BANDS)
                            ],
                        )
                if url:
                    # What autovacuum does after a bulk load; without it the planner guesses.
                    with engine.connect() as conn:
                        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                            "ANALYZE"
                        )
                texts = [" ".join(rng.choices(vocab, k=30)) for _ in range(300)]
                with sessions.begin() as s:
                    for j, t in enumerate(texts):
                        s.add(
                            Post(
                                id=stored + j + 1,
                                channel_id=ch,
                                message_id=stored + j + 1,
                                date=T0,
                                text=t,
                                text_sha256="y",
                                source="export",
                                first_seen_at=T0,
                            )
                        )
                times = []
                with sessions.begin() as s:
                    for j, t in enumerate(texts[:200]):
                        start = time.perf_counter()
                        place(s, stored + j + 1, t, fresh=True)
                        times.append(time.perf_counter() - start)
                    # Memory apart from the timing (tracemalloc slows every allocation): the
                    # peak Python allocation while placing 100 more posts, which must not
                    # grow with the posts stored (#15).
                    tracemalloc.start()
                    for j, t in enumerate(texts[200:], start=200):
                        place(s, stored + j + 1, t, fresh=True)
                    peak = tracemalloc.get_traced_memory()[1] / 1024
                    tracemalloc.stop()
                    s.scalar(select(EchoBand.id).limit(1))
                backend = "postgresql" if url else "sqlite"
                median = statistics.median(times) * 1000
                p95 = sorted(times)[int(len(times) * 0.95)] * 1000
                print(
                    f"cost {backend:<10} {stored:>9,} posts stored: median {median:.2f} ms, "
                    f"p95 {p95:.2f} ms a post; peak memory placing 100 posts {peak:,.0f} KiB"
                )
            finally:
                if ctx:
                    ctx.__exit__(None, None, None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--statements", type=int, default=0, help="dev statements (0: all)")
    ap.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--postgres", help="also measure the cost on this PostgreSQL URL")
    ap.add_argument("--show", action="store_true", help="print the wrong joins")
    args = ap.parse_args()
    quality(args.statements, args.show)
    cost(None, args.stored)
    if args.postgres:
        cost(args.postgres, args.stored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
