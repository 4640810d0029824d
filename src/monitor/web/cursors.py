"""The queue's keyset cursors (``after``): one per sort order, opaque to the analyst.

Out of web/queries.py to keep that module small (#14); the sort they belong to is passed in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from monitor.web.params import INT64_MAX, BadParameter

_CURSOR = re.compile(r"[snr]-?[0-9]{1,19}\.[0-9]{1,19}")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def parse_cursor(raw: str) -> str:
    """``after``, the opaque cursor of the console's own "next page" links. One whose numbers
    could not be a position (past int64, or a time no datetime holds) is refused here, before
    any query or export stream starts, rather than failing in the database (#11)."""
    if not raw:
        return ""
    expected = "a page cursor from the console's own links"
    if not _CURSOR.fullmatch(raw):
        raise BadParameter("after", expected)
    head, _, tail = raw[1:].partition(".")
    if abs(int(head)) > INT64_MAX or int(tail) > INT64_MAX:
        raise BadParameter("after", expected)
    if raw[0] == "n":
        try:
            datetime.fromtimestamp(int(head) / 1_000_000, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadParameter("after", expected) from None
    return raw


def encode_cursor(sort: str, rank: int | None, when: datetime, post_id: int) -> str:
    if sort == "severity":
        return f"s{rank}.{post_id}"
    if sort == "recent":
        return f"r0.{post_id}"
    micros = int(when.timestamp() * 1_000_000)
    return f"n{micros}.{post_id}"


def decode_cursor(sort: str, raw: str) -> tuple[Any, int] | None:
    """The position ``raw`` names in ``sort``, or None (no cursor, or one of another sort)."""
    if len(raw) < 4 or "." not in raw:
        return None
    head, _, tail = raw[1:].partition(".")
    key, pid = _int(head), _int(tail)
    if key is None or pid is None:
        return None
    if (raw[0], sort) in (("s", "severity"), ("r", "recent")):
        return key, pid
    if raw[0] == "n" and sort == "newest":
        try:
            return datetime.fromtimestamp(key / 1_000_000, UTC), pid
        except (OverflowError, OSError, ValueError):
            return None
    return None
