"""``monitor scan`` core: JSONL posts in, one JSON result line per valid post out."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from monitor.channel_kinds import CHANNEL_KINDS, channel_kind
from monitor.collect.export import MAX_DEPTH, MAX_MESSAGE_BYTES, Rejected, read_export
from monitor.collect.export_guard import nested_deeper_than

from .engine import MatchContext, Matcher

__all__ = ["OversizedLine", "bounded_lines", "scan_export", "scan_jsonl"]

MAX_LINE_BYTES = 16 << 20  # default of the scan_max_line_bytes setting


@dataclass(frozen=True)
class OversizedLine:
    """A JSONL line longer than the limit; only its length was kept (#11)."""

    size: int
    limit: int


def bounded_lines(fh: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[str | OversizedLine]:
    """The lines of ``fh`` as text; one longer than ``max_bytes`` is skipped in small reads,
    never held whole, and stands as an OversizedLine so that its number is still counted."""
    while line := fh.readline(max_bytes + 1):
        if len(line) > max_bytes and not line.endswith(b"\n"):
            size = len(line)
            while line and not line.endswith(b"\n"):
                line = fh.readline(1 << 16)
                size += len(line)
            yield OversizedLine(size, max_bytes)
            continue
        yield line.decode("utf-8", "replace")


def scan_jsonl(
    lines: Iterable[str | OversizedLine],
    matcher: Matcher,
    out: TextIO,
    err: TextIO,
    *,
    max_depth: int = MAX_DEPTH,
) -> int:
    """Match every JSONL post; report bad lines on ``err`` as "line N: reason".

    Returns the number of rejected lines (the CLI turns >0 into exit code 3).
    Blank lines are ignored rather than rejected: editors and ``cat`` add them.
    """
    rejected = 0
    for n, line in enumerate(lines, start=1):
        if isinstance(line, OversizedLine):
            err.write(f"line {n}: longer than {line.limit} bytes ({line.size}); skipped\n")
            rejected += 1
            continue
        if not line.strip():
            continue
        reason = None
        obj = None
        # Judged on the text before parsing, so json.loads never recurses that deep (#11);
        # counting brackets first keeps ordinary lines off the scan.
        nested = line.count("[") + line.count("{") > max_depth
        if nested and nested_deeper_than(line.encode("utf-8", "replace"), max_depth):
            reason = f"nested deeper than {max_depth} levels"
        else:
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                reason = f"not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})"
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
            elif obj.get("channel_kind") is not None and channel_kind(obj["channel_kind"]) is None:
                # Refused, not read as `group`: a misspelt "News" would flag what news should not.
                reason = f"'channel_kind' must be one of {', '.join(CHANNEL_KINDS)}"
        if reason is not None or not isinstance(obj, dict):
            err.write(f"line {n}: {reason}\n")
            rejected += 1
            continue
        channel = obj.get("channel")
        ctx = MatchContext(
            channel=channel if isinstance(channel, str) else None,
            channel_kind=channel_kind(obj.get("channel_kind")),  # optional; none: group (#12)
        )
        result = matcher.match(obj["text"], ctx)
        out.write(json.dumps(result.to_dict(obj["id"]), ensure_ascii=False) + "\n")
    return rejected


def scan_export(
    fp: BinaryIO,
    matcher: Matcher,
    out: TextIO,
    err: TextIO,
    *,
    max_depth: int = MAX_DEPTH,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> int:
    """Match every post of a Telegram Desktop export; ids are the message ids."""
    rejected = 0
    for item in read_export(fp, max_depth=max_depth, max_message_bytes=max_message_bytes):
        if isinstance(item, Rejected):
            err.write(f"{item.where}: {item.reason}\n")
            rejected += 1
            continue
        result = matcher.match(item.text)
        out.write(json.dumps(result.to_dict(item.message_id), ensure_ascii=False) + "\n")
    return rejected
