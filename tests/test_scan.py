from __future__ import annotations

import io
import json

import pytest

from monitor.match import Matcher, scan_jsonl

from .conftest_match import shared_matcher


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return shared_matcher(tmp_path_factory.getbasetemp() / "match-cache")


def test_scan_outputs_in_order_and_reports_bad_lines(matcher: Matcher) -> None:
    lines = [
        json.dumps({"id": "a", "text": "وَأَنتُمُ الْأَعْلَوْنَ 🔥", "channel": "x"}, ensure_ascii=False),
        "not json",
        json.dumps([1, 2]),
        json.dumps({"text": "no id"}),
        json.dumps({"id": 7}),
        json.dumps({"id": 8, "text": 5}),
        json.dumps({"id": True, "text": "bool id"}),
        "",
        json.dumps({"id": 9, "text": "صباح الخير"}),
    ]
    out, err = io.StringIO(), io.StringIO()
    rejected = scan_jsonl(lines, matcher, out, err)
    assert rejected == 6
    results = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["id"] for r in results] == ["a", 9]
    first = results[0]
    assert first["flagged"] is True
    sig = first["signals"][0]
    text = json.loads(lines[0])["text"]
    assert text[sig["start"] : sig["end"]] == sig["matched"] == "وَأَنتُمُ الْأَعْلَوْنَ"
    assert sig["ref"] == "3:139"
    assert "\\u" not in out.getvalue()  # ensure_ascii=False
    errs = err.getvalue().splitlines()
    assert [e.split(":")[0] for e in errs] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)]
    assert results[1] == {
        "id": 9,
        "flagged": False,
        "severity": "none",
        "score": 0.0,
        "signals": [],
    }
