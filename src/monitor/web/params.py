"""Ids and dates taken from URLs, validated once for every route (#11).

A number from a URL went to the database as it was: SQLite refuses integers past int64 with an
OverflowError and PostgreSQL with an error of its own, so ``/?group=`` with 30 digits or
``/posts/99999999999999999999`` answered 500 with a traceback in the log; a date of 9999-12-31
overflowed Python's datetime when the day after it was computed. Here an id is a decimal number
that fits a 64-bit row id, and a date an ISO day with room for a day either side of it. A bad
query parameter is answered 400 naming it; a path id that cannot exist is a 404 of what it names.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

INT64_MAX = 2**63 - 1
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)  # the day after must still be a datetime, in any time zone
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() would also take "٣" or "1_0"


class BadParameter(HTTPException):
    """400 naming the parameter; the console's error handler renders it as page or JSON."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(400, f"Bad parameter {name!r}: expected {expected}.")
        self.name = name


ID_EXPECTED = f"a whole number from 1 to {INT64_MAX}"
DAY_EXPECTED = f"a date from {FIRST_DAY} to {LAST_DAY} (YYYY-MM-DD)"


def as_id(raw: str) -> int | None:
    """``raw`` as a row id, or None when it is not one (not decimal, 0, or past int64)."""
    raw = raw.strip()
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= INT64_MAX else None


def parse_id(name: str, raw: str | None) -> int | None:
    """An optional id parameter: None when absent or blank, 400 when not an id."""
    if raw is None or not raw.strip():
        return None
    value = as_id(raw)
    if value is None:
        raise BadParameter(name, ID_EXPECTED)
    return value


def parse_day(name: str, raw: str | None) -> date | None:
    """An optional date parameter: None when absent or blank, 400 when not a usable day."""
    if raw is None or not raw.strip():
        return None
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        raise BadParameter(name, DAY_EXPECTED) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadParameter(name, DAY_EXPECTED)
    return day


def path_id(name: str, what: str) -> Any:
    """A dependency giving the path parameter ``name`` as an id; 404 "No such {what}." when it
    cannot be one, since no row has it."""

    def dependency(request: Request) -> int:
        value = as_id(str(request.path_params.get(name, "")))
        if value is None:
            raise HTTPException(404, f"No such {what}.")
        return value

    return Depends(dependency)


def query_id(name: str) -> Any:
    """A dependency giving the optional query parameter ``name`` as an id (400 when bad)."""

    def dependency(request: Request) -> int | None:
        return parse_id(name, request.query_params.get(name))

    return Depends(dependency)


PostId = Annotated[int, path_id("post_id", "post")]
ChannelId = Annotated[int, path_id("channel_id", "channel")]
UserId = Annotated[int, path_id("user_id", "user")]
SuppressionId = Annotated[int, path_id("sup_id", "suppression")]
SubscriptionId = Annotated[int, path_id("sub_id", "subscription")]
OutboxId = Annotated[int, path_id("outbox_id", "alert")]
Before = Annotated[int | None, query_id("before")]
