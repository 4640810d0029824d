"""OCR of statement images (#13): throughput, character error rate, and flag recall.

Run: PYTHONPATH=src .venv/bin/python bench/ocr.py [--images 24] [--posts 0] [--quick]

All images are made by scripts/statement_images.py, nothing is downloaded:
  throughput  ~1000x600 statements read one after another in this process, with both
              readings (block + sparse) and with passes="auto" (sparse only when the block
              reading looks doubtful); images/s is per core, as Tesseract is run one
              process at a time with one thread
  cer         character error rate (Levenshtein over monitor.match.normalize folded text)
              per font, clean and after re-posting (JPEG quality 60, 3° turn, noise sd 12);
              last row: the same images read with passes="auto"
  digits      Eastern Arabic digits (٠١٢…) apart: whole-line CER and CER of the digits alone
  recall      the flagged posts of tests/eval/dev.jsonl rendered as statements, read back
              and matched: recall on the images over recall on the same texts
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from rapidfuzz.distance import Levenshtein

from monitor.match import MatchContext, Matcher, load_rules, normalize
from monitor.media.images import open_image
from monitor.media.ocr import ocr_unavailable_reason, read_image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import scripts.statement_images as si  # noqa: E402

from machine import calibrate  # noqa: E402  # bench/machine.py

Passes = Literal["both", "auto"]
FONTS = ["naskh", "naskh-bold", "sans", "sans-bold", "kufi", "kufi-bold"]
BODIES = [
    "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة حرير في أربيل "
    "بطائرة مسيرة صباح اليوم وحققت إصابة مباشرة",
    "نحذر قوات الاحتلال الأمريكي من أن قواعدها في المنطقة أصبحت أهدافاً مشروعة لنا إن لم "
    "تنسحب وإن غداً لناظره قريب",
    "نعلن جاهزيتنا الكاملة للدفاع عن أرض العراق ومقدساته ونؤكد أن خيار المقاومة هو السبيل "
    "الوحيد لإخراج المحتل",
    "تتقدم المقاومة الإسلامية بأحر التعازي إلى عوائل الشهداء الذين ارتقوا في القصف الغادر "
    "على مقرات الحشد الشعبي",
    "إن استمرار وجود القوات الأجنبية على أرضنا يعد انتهاكاً صارخاً للسيادة الوطنية ولن نقف "
    "مكتوفي الأيدي أمام هذا العدوان",
]
VERSES = [
    "﴿ وَمَا النَّصْرُ إِلَّا مِنْ عِندِ اللَّهِ ﴾",
    "﴿ وَلَا تَهِنُوا وَلَا تَحْزَنُوا وَأَنتُمُ الْأَعْلَوْنَ ﴾",
    None,
]
DIGIT_LINES = [
    "في تمام الساعة ١٠:٣٠ من صباح يوم ١٥ حزيران ٢٠٢٤",
    "استهدفنا القاعدة بـ ٣ طائرات مسيرة و ٤ صواريخ",
    "البيان رقم ٤٧ الصادر بتاريخ ٢٣/٠٨/١٤٤٥ هـ",
]
_EASTERN = re.compile("[\u0660-\u0669]")


def drawable(text: str) -> str:
    """``text`` as a statement image would carry it: no emoji or other pictographs (no font
    here draws them), and in Arabic lines hashtags as words ("#" and "_" are missing from
    the Arabic fonts, so they would come out as empty boxes)."""
    kept = "".join(c for c in text if unicodedata.category(c) not in ("So", "Sk", "Cs", "Co", "Cf"))
    lines = []
    for line in kept.splitlines():
        if not si.is_latin(line):
            line = line.replace("#", " ").replace("_", " ")
        if line.strip():
            lines.append(" ".join(line.split()))
    return "\n".join(lines)


def folded(text: str) -> str:
    return " ".join(normalize(text).text.split())


def cer(got: str, want: str) -> float:
    return Levenshtein.distance(folded(got), folded(want)) / max(1, len(folded(want)))


def drawn(img: Image.Image) -> str:
    return "\n".join(text for text, _ in img.info["lines"])


def statements(n: int) -> list[Image.Image]:
    out = []
    for i in range(n):
        body = BODIES[i % len(BODIES)]
        out.append(
            si.render_statement(
                "بيان",
                [body],
                font=FONTS[i % len(FONTS)],
                letterhead="المقاومة الإسلامية في العراق",
                verse=VERSES[i % len(VERSES)],
            )
        )
    return out


def bench_throughput(imgs: list[Image.Image]) -> dict[str, tuple[float, float]]:
    """passes -> (images per second of wall time, CPU seconds per image incl. Tesseract)."""
    out: dict[str, tuple[float, float]] = {}
    jpegs = [si.to_jpeg(img) for img in imgs]
    read_image(open_image(jpegs[0]))  # warm: the version lookup, the page cache
    passes: Passes
    # In process (tesserocr) and through the command line alternately, in one run: the
    # machine is shared, so only figures measured side by side compare.
    for passes, in_process in (("both", True), ("both", False), ("auto", True), ("auto", False)):
        read_image(open_image(jpegs[0]), in_process=in_process)  # warm: loads the engine
        t0, c0 = time.perf_counter(), os.times()
        for data in jpegs:
            read_image(open_image(data), passes=passes, in_process=in_process)
        wall, c1 = time.perf_counter() - t0, os.times()
        cpu = sum(c1[:4]) - sum(c0[:4])
        out[f"{passes}, {'in process' if in_process else 'command'}"] = (
            len(jpegs) / wall,
            cpu / len(jpegs),
        )
    return out


def bench_cer(per_font: int, passes: Passes = "both") -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for font in FONTS:
        clean, worn, banner = [], [], []
        for i in range(per_font):
            img = si.render_statement(
                "بيان",
                [BODIES[(i + FONTS.index(font)) % len(BODIES)]],
                font=font,
                letterhead="المقاومة الإسلامية في العراق",
                verse=VERSES[i % len(VERSES)],
            )
            truth = drawn(img)
            clean.append(cer(read_image(open_image(si.to_jpeg(img)), passes=passes).text, truth))
            reposted = si.degrade(img, quality=60, rotate=3.0, noise=12.0, seed=i)
            worn.append(cer(read_image(open_image(reposted), passes=passes).text, truth))
        for text in (si.BANNER, BODIES[0][:60]):
            b = si.render_banner(text, font=font)
            banner.append(cer(read_image(open_image(si.to_jpeg(b)), passes=passes).text, text))
        table[font] = {
            "clean": statistics.mean(clean),
            "reposted": statistics.mean(worn),
            "banner": statistics.mean(banner),
        }
    return table


def bench_digits() -> tuple[float, float, float]:
    """(line CER, CER of the Eastern digits alone, same lines with Western digits: line CER)."""
    lines, digits, western = [], [], []
    to_western = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")
    for font in FONTS:
        for text in DIGIT_LINES:
            img = si.render_statement("بيان", [text], font=font)
            got = read_image(open_image(si.to_jpeg(img))).text
            lines.append(cer(got, drawn(img)))
            want_d, got_d = "".join(_EASTERN.findall(text)), "".join(_EASTERN.findall(got))
            digits.append(Levenshtein.distance(got_d, want_d) / len(want_d))
            w = text.translate(to_western)
            wimg = si.render_statement("بيان", [w], font=font)
            western.append(cer(read_image(open_image(si.to_jpeg(wimg))).text, drawn(wimg)))
    return statistics.mean(lines), statistics.mean(digits), statistics.mean(western)


def bench_recall(matcher: Matcher, limit: int) -> dict[str, Any]:
    posts = [
        json.loads(x)
        for x in (ROOT / "tests" / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    flagged = [p for p in posts if p["flagged"]]
    if limit:
        flagged = flagged[:limit]
    forms: dict[str, list[int]] = {}  # form -> [posts, by text, by drawn text, by image]
    lost: list[str] = []
    errors = []
    for i, post in enumerate(flagged):
        ctx = MatchContext(channel_kind=post.get("channel_kind"))
        shown = drawable(post["text"])
        img = si.render_statement(
            "بيان",
            shown.splitlines() or [""],
            font=FONTS[i % len(FONTS)],
            letterhead="المقاومة الإسلامية في العراق",
        )
        got = read_image(open_image(si.to_jpeg(img))).text
        hits = (
            matcher.match(post["text"], ctx).flagged,
            matcher.match(shown, ctx).flagged,
            matcher.match(got, ctx).flagged,
        )
        errors.append(cer(got, drawn(img)))
        row = forms.setdefault(post.get("form") or "-", [0, 0, 0, 0])
        row[0] += 1
        for k, hit in enumerate(hits, 1):
            row[k] += hit
        if hits[1] and not hits[2]:
            lost.append(f"{post['id']} ({post.get('form', '-')}): {shown[:50]!r} -> {got[:50]!r}")
    return {"forms": forms, "cer": statistics.mean(errors), "lost": lost}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=24, help="statements timed")
    ap.add_argument("--per-font", type=int, default=4, help="statements per font for CER")
    ap.add_argument("--posts", type=int, default=0, help="flagged eval posts (0: all)")
    ap.add_argument("--quick", action="store_true", help="fewer of everything")
    args = ap.parse_args()
    if args.quick:
        args.images, args.per_font, args.posts = 6, 1, 30
    reason = ocr_unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; "
        f"10 M Python loop steps in {calibrate():.2f} s"
    )
    speed = bench_throughput(statements(args.images))
    print(f"\nthroughput ({args.images} statements ~1000x600, one process, one thread)")
    print(f"{'passes, engine':<20}{'images/s':>10}{'CPU s/image':>13}")
    for passes, (rate, cpu) in speed.items():
        print(f"{passes:<20}{rate:>10.2f}{cpu:>13.3f}")

    table = bench_cer(args.per_font)
    print(f"\ncharacter error rate ({args.per_font} statements per font; 2 banners)")
    print(f"{'font':<12}{'clean':>8}{'reposted':>10}{'banner':>8}")
    for font, row in table.items():
        print(f"{font:<12}{row['clean']:>8.3f}{row['reposted']:>10.3f}{row['banner']:>8.3f}")
    means = {k: statistics.mean(r[k] for r in table.values()) for k in ("clean", "reposted")}
    banner = statistics.mean(r["banner"] for r in table.values())
    print(f"{'mean':<12}{means['clean']:>8.3f}{means['reposted']:>10.3f}{banner:>8.3f}")
    auto = bench_cer(args.per_font, "auto")
    a = {k: statistics.mean(r[k] for r in auto.values()) for k in ("clean", "reposted", "banner")}
    print(f"{'mean, auto':<12}{a['clean']:>8.3f}{a['reposted']:>10.3f}{a['banner']:>8.3f}")

    line, digits, western = bench_digits()
    print(f"\nEastern Arabic digits ({len(DIGIT_LINES)} lines x {len(FONTS)} fonts)")
    print(f"line CER {line:.3f}; digits alone CER {digits:.3f}; same lines, 0-9: {western:.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        matcher = Matcher(load_rules(ROOT / "config" / "rules"), cache_dir=Path(tmp))
        rec = bench_recall(matcher, args.posts)
    forms = rec["forms"]
    total = [sum(row[k] for row in forms.values()) for k in range(4)]
    print("\nflag recall on the flagged posts of tests/eval/dev.jsonl, as statement images")
    print("(text: the post; drawn: the text as drawn, without emoji or hashtag marks)")
    print(f"{'form':<12}{'posts':>6}{'text':>7}{'drawn':>7}{'image':>7}{'image/drawn':>13}")
    for form, row in [*sorted(forms.items()), ("ALL", total)]:
        n, t, d, im = row
        ratio = im / d if d else float("nan")
        print(f"{form:<12}{n:>6}{t / n:>7.3f}{d / n:>7.3f}{im / n:>7.3f}{ratio:>13.3f}")
    print(f"mean CER of these images {rec['cer']:.3f}")
    for miss in rec["lost"]:
        print(f"  lost: {miss}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
