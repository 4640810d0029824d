"""Per-kind precision/recall of the matcher on tests/eval/dev.jsonl (or --eval FILE).

A post's optional `channel_kind` (group, leader, media, news) is the kind of the channel it
came from and is scored as such (#12); a post without one is a group's own.

Run: PYTHONPATH=src .venv/bin/python bench/eval_report.py [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from monitor.match import MatchContext, Matcher, load_rules

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("verse_cue", "verse_quote", "readiness", "threat", "allegiance", "attack_claim", "target")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    flag: Counts
    per_kind: dict[str, Counts]
    errors: list[str]
    # confusion[want][got]: posts labelled `want` in which the matcher found `got` ("-": none of
    # the kinds), so a claim read as a threat shows apart from a claim missed.
    confusion: dict[str, dict[str, int]]
    per_form: dict[str, Counts]  # flagging by how the post is written (msa, dialect, english…)


def evaluate(matcher: Matcher, path: Path) -> Report:
    flag = Counts()
    per_kind = {k: Counts() for k in KINDS}
    errors: list[str] = []
    confusion = {k: dict.fromkeys((*KINDS, "-"), 0) for k in KINDS}
    per_form: dict[str, Counts] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        post = json.loads(line)
        result = matcher.match(post["text"], MatchContext(channel_kind=post.get("channel_kind")))
        got = {s.kind for s in result.signals}
        want = set(post["kinds"])
        for w in want & set(KINDS):
            for g in (got & set(KINDS)) or {"-"}:
                confusion[w][g] += 1
        form = per_form.setdefault(post.get("form", "-"), Counts())
        form.tp += result.flagged and post["flagged"]
        form.fp += result.flagged and not post["flagged"]
        form.fn += post["flagged"] and not result.flagged
        if result.flagged and post["flagged"]:
            flag.tp += 1
        elif result.flagged:
            flag.fp += 1
            errors.append(f"FP {post['id']}: {post['text'][:70]!r} {sorted(got)}")
        elif post["flagged"]:
            flag.fn += 1
            errors.append(f"FN {post['id']}: {post['text'][:70]!r} {sorted(got)}")
        for k in KINDS:
            c = per_kind[k]
            if k in got and k in want:
                c.tp += 1
            elif k in got:
                c.fp += 1
                errors.append(f"kind FP {k} {post['id']}: {post['text'][:60]!r}")
            elif k in want:
                c.fn += 1
                errors.append(f"kind FN {k} {post['id']}: {post['text'][:60]!r}")
    return Report(flag, per_kind, errors, confusion, per_form)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-errors", action="store_true")
    ap.add_argument("--eval", type=Path, default=ROOT / "tests" / "eval" / "dev.jsonl")
    args = ap.parse_args()
    matcher = Matcher(load_rules(ROOT / "config" / "rules"))
    report = evaluate(matcher, args.eval)
    flag, per_kind, errors = report.flag, report.per_kind, report.errors
    print(f"{'kind':<14}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}")
    for k, c in per_kind.items():
        print(f"{k:<14}{c.tp:>5}{c.fp:>5}{c.fn:>5}{c.precision:>11.3f}{c.recall:>8.3f}")
    print(
        f"{'FLAGGED':<14}{flag.tp:>5}{flag.fp:>5}{flag.fn:>5}"
        f"{flag.precision:>11.3f}{flag.recall:>8.3f}"
    )
    names = ("cue", "quote", "ready", "threat", "pledge", "claim", "target")
    short = dict(zip(KINDS, names, strict=True))
    print("\nconfusion: posts labelled <row> in which the matcher found <column>")
    print(f"{'':<14}" + "".join(f"{short[k]:>8}" for k in KINDS) + f"{'none':>8}")
    for want, row in report.confusion.items():
        print(f"{want:<14}" + "".join(f"{row[g]:>8}" for g in (*KINDS, "-")))
    if len(report.per_form) > 1:
        print("\nflagging by form")
        for form, c in sorted(report.per_form.items()):
            print(f"{form:<14}{c.tp:>5}{c.fp:>5}{c.fn:>5}{c.precision:>11.3f}{c.recall:>8.3f}")
    if args.show_errors:
        print("\n".join(errors), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
