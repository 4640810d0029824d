"""Hostile input files (#11, finding 7): deep nesting and oversized records are rejected one by
one, while streaming, and the rest of the file is read."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.collect.export import Rejected, read_export
from monitor.collect.export_guard import ExportGuard
from monitor.collect.records import PostRecord
from monitor.match import Matcher
from monitor.match.scan import bounded_lines, scan_jsonl
from monitor.store.models import Post
from tests.conftest import CONFIG, CliRunner, Database

from .conftest_match import shared_matcher


def _message(mid: int, text: str = "بيان") -> bytes:
    return json.dumps(
        {"id": mid, "type": "message", "date_unixtime": "1698800000", "text": text},
        ensure_ascii=False,
    ).encode()


def _export(*messages: bytes) -> bytes:
    head = b'{"name": "T", "type": "public_channel", "id": 5, "messages": [\n'
    return head + b",\n".join(messages) + b"\n]}\n"


def _deep(mid: int, depth: int) -> bytes:
    return (
        b'{"id": %d, "type": "message", "date_unixtime": "1698800000", "text": ' % mid
        + b"[" * depth
        + b'"x"'
        + b"]" * depth
        + b"}"
    )


def _capped(limit: int = 1 << 30) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_scan_of_an_export_nested_100k_deep_rejects_that_message_in_bounded_memory(
    tmp_path: Path,
) -> None:
    # 200 KB that drove `monitor import` to 23 GB: run it in a child capped at 1 GB of address
    # space, so that a regression fails here instead of taking the machine down.
    path = tmp_path / "result.json"
    path.write_bytes(_export(_message(1), _deep(2, 100_000), _message(3)))
    assert path.stat().st_size < 250_000
    env = {**os.environ, "MONITOR_CONFIG_DIR": str(CONFIG), "MONITOR_VAR_DIR": str(tmp_path)}
    child = subprocess.run(
        [sys.executable, "-m", "monitor", "scan", str(path)],
        capture_output=True, text=True, env=env, preexec_fn=_capped, timeout=120, check=False,
    )  # fmt: skip
    assert child.returncode == 3, child.stderr
    assert [json.loads(line)["id"] for line in child.stdout.splitlines()] == [1, 3]
    assert child.stderr == "message 2 (#2): nested deeper than 32 levels\n"


def test_reading_a_deep_message_allocates_little() -> None:
    # In-process, so kept far below the depth that exhausts memory (the test above does that).
    raw = _export(_message(1), _deep(2, 5000), _message(3))
    tracemalloc.start()
    try:
        items = list(read_export(io.BytesIO(raw)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [type(i).__name__ for i in items] == ["PostRecord", "Rejected", "PostRecord"]
    assert peak < 2_000_000, f"peak {peak} bytes for a {len(raw)}-byte export"


def test_import_rejects_a_message_1000_deep_and_imports_the_others(
    run_cli: CliRunner, db: Database, tmp_path: Path
) -> None:
    # At depth 1 000 a RecursionError used to abort the whole import.
    path = tmp_path / "result.json"
    path.write_bytes(_export(_message(1), _deep(2, 1000), _message(3)))
    result = run_cli("import", str(path), "--channel", "hostile", db_url=db.url)
    assert result.code == 3, result.err
    assert f"{path}: message 2 (#2): nested deeper than 32 levels" in result.err
    with db.sessions() as s:
        assert sorted(s.scalars(select(Post.message_id))) == [1, 3]


def test_depth_is_counted_from_the_root_and_its_limit_can_be_raised() -> None:
    # root > messages > message, then 29 lists (text and 28 inside it) = 32 levels: fine.
    raw = _export(_deep(1, 29), _deep(2, 30))
    items = list(read_export(io.BytesIO(raw)))
    assert isinstance(items[0], Rejected) and "not a text piece" in items[0].reason
    assert isinstance(items[1], Rejected) and items[1].reason == "nested deeper than 32 levels"
    loose = list(read_export(io.BytesIO(raw), max_depth=40))
    assert all("not a text piece" in i.reason for i in loose if isinstance(i, Rejected))


def test_oversized_message_is_rejected_with_its_id_without_holding_it() -> None:
    big = _message(2, "ا" * 3_000_000)  # 6 MB of text in one message
    raw = _export(_message(1), big, _message(3, "الأخير"))
    tracemalloc.start()
    try:
        items = list(read_export(io.BytesIO(raw), max_message_bytes=64 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(items[1], Rejected) and items[1].message_id == 2
    assert items[1].reason == "message is larger than 65536 bytes"
    assert [i.text for i in items if isinstance(i, PostRecord)] == ["بيان", "الأخير"]
    assert peak < len(raw) // 4, f"peak {peak} bytes for a {len(raw)}-byte export"


def test_a_message_of_many_small_pieces_counts_as_one_size() -> None:
    pieces = json.dumps([{"type": "plain", "text": "ب"}] * 20_000, ensure_ascii=False)
    raw = _export(_message(1), b'{"id": 9, "type": "message", "text": %s}' % pieces.encode())
    items = list(read_export(io.BytesIO(raw), max_message_bytes=64 * 1024))
    assert isinstance(items[1], Rejected) and items[1].message_id == 9


# A JSON value with the strings that a byte scanner gets wrong: quotes, backslashes and brackets
# inside strings, escapes split across reads.
_tricky = st.text(alphabet=st.sampled_from('ab"\\[]{}ا \n\u0000'), max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_values, max_size=6), st.integers(min_value=1, max_value=64))
def test_guard_passes_any_shallow_export_through_unchanged(values: list[Any], chunk: int) -> None:
    messages = [
        {"id": n + 1, "type": "message", "text": "t", "extra": v} for n, v in enumerate(values)
    ]
    raw = json.dumps({"name": 'x"[{', "messages": messages}).encode()
    guard = ExportGuard(max_depth=32, max_bytes=1 << 20)
    out = b"".join(guard.feed(raw[i : i + chunk]) for i in range(0, len(raw), chunk))
    assert out + guard.flush() == raw


# --------------------------------------------------------------------------- JSONL


def test_jsonl_lines_too_long_or_too_deep_are_rejected_by_number(tmp_path: Path) -> None:
    matcher: Matcher = shared_matcher(tmp_path / "cache")
    deep = '{"id": 2, "text": "x", "channel": ' + "[" * 5000 + "]" * 5000 + "}"
    raw = "\n".join(
        [
            json.dumps({"id": 1, "text": "صباح الخير"}, ensure_ascii=False),
            deep,
            json.dumps({"id": 3, "text": "ب" * 100_000}, ensure_ascii=False),
            json.dumps({"id": 4, "text": "مساء الخير"}, ensure_ascii=False),
        ]
    ).encode()
    out, err = io.StringIO(), io.StringIO()
    lines = bounded_lines(io.BytesIO(raw), max_bytes=64 * 1024)
    assert scan_jsonl(lines, matcher, out, err) == 2
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [1, 4]
    assert err.getvalue().splitlines() == [
        "line 2: nested deeper than 32 levels",
        "line 3: longer than 65536 bytes (200022); skipped",
    ]
