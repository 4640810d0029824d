"""`monitor demo --once`: the sample channel through the real pipeline, the flagged queue out."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE, CliRunner

EXPECTED = json.loads((SAMPLE.parent / "expected.json").read_text(encoding="utf-8"))
SEED = {3320: "verse_cue", 3322: "threat", 3324: "allegiance", 3325: "readiness"}


def parse_queue(out: str) -> dict[int, tuple[str, set[str], str]]:
    queue = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 5 and parts[0] == "sarayat_alfajr":
            queue[int(parts[1])] = (parts[2], set(parts[3].split(",")), parts[4])
    return queue


def test_demo_once_prints_the_flagged_queue(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--once")
    assert result.code == 0, result.err
    assert "46 posts stored" in result.out
    assert "demo login: demo-analyst / " in result.out
    queue = parse_queue(result.out)
    expected_flagged = {int(k) for k, v in EXPECTED.items() if v["flagged"]}
    clear_cut = {int(k) for k in EXPECTED}
    assert set(queue) & clear_cut == expected_flagged
    for mid in expected_flagged:
        assert set(EXPECTED[str(mid)]["kinds"]) <= queue[mid][1], mid
    for mid, kind in SEED.items():
        assert kind in queue[mid][1]
    assert queue[3320][2] == "3:139"
    # most severe first
    ranks = ["critical", "high", "medium", "low"]
    severities = [ranks.index(sev) for sev, _, _ in queue.values()]
    assert severities == sorted(severities)


def test_demo_is_repeatable(run_cli: CliRunner) -> None:
    first = run_cli("demo", "--once")
    second = run_cli("demo", "--once")
    assert second.code == 0
    assert "0 new" in second.out and "46 unchanged" in second.out
    assert parse_queue(first.out) == parse_queue(second.out)
    password = [ln for ln in first.out.splitlines() if ln.startswith("demo login:")]
    assert password != [ln for ln in second.out.splitlines() if ln.startswith("demo login:")]
