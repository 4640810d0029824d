"""``monitor scan`` core: JSONL posts in, one JSON result line per valid post out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import BinaryIO, TextIO

from monitor.collect.export import Rejected, read_export

from .engine import MatchContext, Matcher

__all__ = ["scan_export", "scan_jsonl"]


def scan_jsonl(lines: Iterable[str], matcher: Matcher, out: TextIO, err: TextIO) -> int:
    """Match every JSONL post; report bad lines on ``err`` as "line N: reason".

    Returns the number of rejected lines (the CLI turns >0 into exit code 3).
    Blank lines are ignored rather than rejected: editors and ``cat`` add them.
    """
    rejected = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        reason = None
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
            obj = None
        if reason is None:
            if not isinstance(obj, dict):
                reason = "not a JSON object"
            elif "id" not in obj:
                reason = "missing 'id'"
            elif isinstance(obj["id"], bool) or not isinstance(obj["id"], str | int):
                reason = "'id' must be a string or an integer"
            elif "text" not in obj:
                reason = "missing 'text'"
            elif not isinstance(obj["text"], str):
                reason = "'text' must be a string"
        if reason is not None or not isinstance(obj, dict):
            err.write(f"line {n}: {reason}\n")
            rejected += 1
            continue
        channel = obj.get("channel")
        ctx = MatchContext(channel=channel if isinstance(channel, str) else None)
        result = matcher.match(obj["text"], ctx)
        out.write(json.dumps(result.to_dict(obj["id"]), ensure_ascii=False) + "\n")
    return rejected


def scan_export(fp: BinaryIO, matcher: Matcher, out: TextIO, err: TextIO) -> int:
    """Match every post of a Telegram Desktop export; ids are the message ids."""
    rejected = 0
    for item in read_export(fp):
        if isinstance(item, Rejected):
            err.write(f"message {item.message_id} (#{item.index + 1}): {item.reason}\n")
            rejected += 1
            continue
        result = matcher.match(item.text)
        out.write(json.dumps(result.to_dict(item.message_id), ensure_ascii=False) + "\n")
    return rejected
