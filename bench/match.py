"""Throughput of the matcher against a naive fuzzy baseline and an exact AC scan.

Run: PYTHONPATH=src .venv/bin/python bench/match.py [--posts 20000] [--naive 20] [--no-huge]

All three are timed in this one process over the same generated posts:
  matcher  Matcher.match (normalisation + Quran index + phrase families + severity)
  naive    rapidfuzz fuzz.partial_ratio of each normalised post against every
           normalised verse (timed on a small sample; posts/s extrapolated)
  exact    normalize(post) + ahocorasick_rs scan of the folded post for all verse
           word 4-grams (normalisation is included, as in the matcher)
The index build is timed without a cache (cold) and from the on-disk cache. The matcher and
exact scans alternate over the same chunks of posts, so machine load affects both alike. Last,
single posts of 10 KB, 100 KB and 1 MB (eval statements and random letters) show that the cost
is linear in the text (#11).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import ahocorasick_rs
from rapidfuzz import fuzz

from monitor.match import Matcher, load_rules, normalize

ROOT = Path(__file__).resolve().parent.parent

_NEWS = [
    "أفادت مصادر محلية بأن الأمطار الغزيرة تسببت بقطع عدد من الطرق في محافظة ذي قار",
    "عقد مجلس المحافظة اجتماعا لمناقشة الخطة الاستثمارية للعام المقبل وتوزيع المشاريع",
    "وزارة الكهرباء تعلن عن جدول جديد لتوزيع الطاقة خلال أشهر الصيف في بغداد",
    "استقبل رئيس الوزراء وفدا من رجال الأعمال لبحث سبل تعزيز التعاون الاقتصادي",
    "انطلاق الزيارة الأربعينية وسط إجراءات أمنية وخدمية مكثفة على طريق كربلاء",
    "ارتفاع أسعار الدولار في الأسواق المحلية مع نهاية الأسبوع وسط ترقب للقرارات",
    "مباراة حماسية بين الزوراء والشرطة في الدوري العراقي انتهت بالتعادل الإيجابي",
    "تفقد المحافظ مشروع المجاري في قضاء الزبير ووجه بالإسراع في إنجاز الأعمال",
    "الحشد الشعبي يشارك في حملة تشجير واسعة في أطراف المدينة بمشاركة المتطوعين",
    "بيان صادر عن المكتب الإعلامي حول الأوضاع السياسية الراهنة في المنطقة",
    "نبارك للأمة الإسلامية حلول شهر رمضان المبارك أعاده الله علينا بالخير والبركات",
    "صور من الاحتفال بذكرى المولد النبوي الشريف في الصحن الحسيني الشريف",
    "The ministry announced new electricity schedules for the summer months in Baghdad",
    "تغطية مباشرة لمراسم تشييع الشهداء في مدينة النجف الأشرف بحضور جماهيري واسع",
]
_DECOR = ["🔴", "📌", "#عاجل", "#العراق", "ـــــــــــ", "🇮🇶", "‏", "..."]
_SIGNALS = [
    "نعلن جاهزيتنا الكاملة لقتال العدو الأمريكي",
    "استهدف مجاهدو المقاومة قاعدة عين الأسد بطائرة مسيرة",
    "نحن رهن إشارة القائد",
    "والقادم أعظم على قوات الاحتلال",
]


def make_posts(n: int, matcher: Matcher, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    idx = matcher.index
    posts: list[str] = []
    for _ in range(n):
        parts: list[str] = []
        roll = rng.random()
        if roll < 0.10:
            # a quote of 5-14 words somewhere in the Quran (imla'i, folded)
            start = rng.randrange(len(idx.words) - 20)
            parts.append("قال تعالى: " + " ".join(idx.words[start : start + rng.randint(5, 14)]))
        elif roll < 0.13:
            parts.append(rng.choice(_SIGNALS))
        while sum(len(p) + 1 for p in parts) < 280:
            parts.append(rng.choice(_NEWS))
            if rng.random() < 0.3:
                parts.append(rng.choice(_DECOR))
        rng.shuffle(parts)
        posts.append(" ".join(parts)[:320])
    return posts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--naive", type=int, default=20)
    ap.add_argument("--no-huge", action="store_true", help="skip the 10 KB-1 MB single posts")
    args = ap.parse_args()

    rules = load_rules(ROOT / "config" / "rules")
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        matcher = Matcher(rules, cache_dir=Path(tmp))
        cold = time.perf_counter() - t
        t = time.perf_counter()
        Matcher(rules, cache_dir=Path(tmp))
        warm = time.perf_counter() - t
    print(f"index build: cold {cold:.2f} s, from disk cache {warm:.2f} s")

    posts = make_posts(args.posts, matcher)
    avg = sum(map(len, posts)) / len(posts)
    print(f"posts: {len(posts)}, average {avg:.0f} chars")

    # exact Aho-Corasick scan over all verse word 4-grams
    words = matcher.index.words
    grams = sorted({" ".join(words[i : i + 4]) for i in range(len(words) - 3)})
    t = time.perf_counter()
    ac = ahocorasick_rs.AhoCorasick(grams)
    print(f"exact: built automaton of {len(grams):,} 4-grams in {time.perf_counter() - t:.2f} s")

    # The two scans alternate chunk by chunk, so a neighbour's load on this shared machine
    # slows both alike and their ratio stays meaningful.
    t_match = t_exact = 0.0
    flagged = quotes = hits = 0
    chunk = max(1, len(posts) // 20)
    for i in range(0, len(posts), chunk):
        part = posts[i : i + chunk]
        t = time.perf_counter()
        for p in part:
            r = matcher.match(p)
            flagged += r.flagged
            quotes += any(s.kind.startswith("verse") for s in r.signals)
        t_match += time.perf_counter() - t
        t = time.perf_counter()
        for p in part:
            hits += bool(ac.find_matches_as_indexes(normalize(p).text, overlapping=True))
        t_exact += time.perf_counter() - t
    rate_match = len(posts) / t_match
    rate_exact = len(posts) / t_exact
    print(f"matcher: {rate_match:,.0f} posts/s ({quotes} with quotes, {flagged} flagged)")
    print(f"exact (normalize + AC): {rate_exact:,.0f} posts/s ({hits} posts with a 4-gram)")

    verses = []
    for k in range(len(matcher.index.ayah_keys)):
        a0 = matcher.index.ayah_starts[k]
        a1 = (
            matcher.index.ayah_starts[k + 1]
            if k + 1 < len(matcher.index.ayah_starts)
            else len(words)
        )
        verses.append(" ".join(words[a0:a1]))
    sample = posts[: args.naive]
    t = time.perf_counter()
    for p in sample:
        text = normalize(p).text
        max(fuzz.partial_ratio(v, text) for v in verses)
    t_naive = time.perf_counter() - t
    rate_naive = len(sample) / t_naive
    print(f"naive (partial_ratio vs {len(verses)} verses): {rate_naive:,.2f} posts/s")

    print(f"matcher / naive = {rate_match / rate_naive:,.0f}x (target >= 1000x)")
    print(f"matcher / exact = {rate_match / rate_exact:.2f}x (target >= 0.5x)")
    if not args.no_huge:
        huge_posts(matcher)


def huge_post(size: int, rng: random.Random) -> str:
    """Real-looking statements (the eval set) mixed with random letters, up to ``size`` chars."""
    eval_posts = ROOT / "tests" / "eval" / "dev.jsonl"
    texts = [json.loads(line)["text"] for line in eval_posts.read_text("utf-8").splitlines()]
    noise = "abcdefghij klmnop ابتثجحخدذرزسشصضطظعغفقكلمنهوي 0123 \n"
    parts: list[str] = []
    total = 0
    while total < size:
        if rng.random() < 0.7:
            part = rng.choice(texts)
        else:
            part = "".join(rng.choice(noise) for _ in range(rng.randint(5, 80)))
        parts.append(part)
        total += len(part) + 1
    return " ".join(parts)[:size]


def huge_posts(matcher: Matcher) -> None:
    """Issue #11 (finding 14): one post of 10 KB, 100 KB and 1 MB; the cost must be linear."""
    rng = random.Random(11)
    times: list[float] = []
    for size in (10_000, 100_000, 1_000_000):
        text = huge_post(size, rng)
        best = float("inf")
        for _ in range(3):  # the best of three: neighbours on a shared machine only add time
            t = time.perf_counter()
            result = matcher.match(text)
            best = min(best, time.perf_counter() - t)
        times.append(best)
        print(f"one post of {size:>9,} chars: {best:.3f} s ({len(result.signals):,} signals)")
    print(
        f"ratios: 100 KB / 10 KB = {times[1] / times[0]:.1f}, 1 MB / 100 KB = "
        f"{times[2] / times[1]:.1f} (linear = 10); 1 MB in {times[2]:.2f} s (target < 1 s)"
    )


if __name__ == "__main__":
    main()
