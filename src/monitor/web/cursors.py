"""The queue's keyset cursors (``after``): one per sort order, opaque to the analyst.

Out of web/queries.py to keep that module small (#14); the sort they belong to is passed in.
The severity cursor carries the score too (``s<rank>.<post id>.<score>``, #14: the order is
severity band, then score, then post id): the score as the 64 bits of its float, so that the
position is exact whatever the score's decimals.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime
from typing import Any

from monitor.web.params import INT64_MAX, BadParameter

_CURSOR = re.compile(r"[snr]-?[0-9]{1,19}\.[0-9]{1,19}(\.-?[0-9]{1,19})?")


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
    tail, _, bits = tail.partition(".")
    if abs(int(head)) > INT64_MAX or int(tail) > INT64_MAX or abs(int(bits or 0)) > INT64_MAX:
        raise BadParameter("after", expected)
    if bits and (raw[0] != "s" or _float(int(bits)) is None):
        raise BadParameter("after", expected)
    if raw[0] == "n":
        try:
            datetime.fromtimestamp(int(head) / 1_000_000, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadParameter("after", expected) from None
    return raw


def _bits(score: float) -> int:
    return int(struct.unpack(">q", struct.pack(">d", float(score)))[0])


def _float(bits: int) -> float | None:
    """The score of ``bits``; None for a NaN or an infinity, which no score is."""
    try:
        value = float(struct.unpack(">d", struct.pack(">q", bits))[0])
    except struct.error:
        return None
    return value if value == value and abs(value) != float("inf") else None


def encode_cursor(
    sort: str, rank: int | None, when: datetime, post_id: int, score: float | None = None
) -> str:
    if sort == "severity":
        return f"s{rank}.{post_id}.{_bits(score or 0.0)}"
    if sort == "recent":
        return f"r0.{post_id}"
    micros = int(when.timestamp() * 1_000_000)
    return f"n{micros}.{post_id}"


def decode_cursor(sort: str, raw: str) -> tuple[Any, ...] | None:
    """The position ``raw`` names in ``sort``, or None (no cursor, or one of another sort).
    A severity position is (rank, score, post id); one from before the score was part of the
    order (no score) starts over at the first page."""
    if len(raw) < 4 or "." not in raw:
        return None
    head, _, tail = raw[1:].partition(".")
    tail, _, bits = tail.partition(".")
    key, pid = _int(head), _int(tail)
    if key is None or pid is None:
        return None
    if raw[0] == "s" and sort == "severity":
        score = _float(int(bits)) if _int(bits) is not None else None
        return None if score is None else (key, score, pid)
    if raw[0] == "r" and sort == "recent":
        return key, pid
    if raw[0] == "n" and sort == "newest":
        try:
            return datetime.fromtimestamp(key / 1_000_000, UTC), pid
        except (OverflowError, OSError, ValueError):
            return None
    return None
