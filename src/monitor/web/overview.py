"""GET /overview: flags per day by group and by signal kind (server-rendered SVG), and the
channels that flagged most this week."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import distinct, func, select

from monitor.store.models import Channel, Group, Match, Post, SignalRow
from monitor.web.auth import DB, Analyst
from monitor.web.render import render

router = APIRouter()
DAYS = 30
MAX_SERIES = 7  # more colours than this stop being distinguishable; the rest become "other"
WIDTH, HEIGHT, PAD = 720, 180, 24


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    series: int
    title: str


@dataclass
class Chart:
    title: str
    series: list[str]
    bars: list[Bar] = field(default_factory=list)
    peak: int = 0
    days: list[date] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT + PAD


def chart(title: str, days: list[date], counts: dict[tuple[date, str], int]) -> Chart:
    totals: dict[str, int] = {}
    for (_, name), n in counts.items():
        totals[name] = totals.get(name, 0) + n
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    keep = ranked[:MAX_SERIES]
    series = keep + (["other"] if len(ranked) > MAX_SERIES else [])
    per_day: dict[date, list[int]] = {d: [0] * len(series) for d in days}
    for (d, name), n in counts.items():
        if d in per_day:
            per_day[d][keep.index(name) if name in keep else len(keep)] += n
    peak = max((sum(v) for v in per_day.values()), default=0)
    c = Chart(title, series, peak=peak, days=days)
    if peak == 0:
        return c
    step = WIDTH / len(days)
    for i, d in enumerate(days):
        y = float(HEIGHT)
        for s, n in enumerate(per_day[d]):
            if not n:
                continue
            h = HEIGHT * n / peak
            y -= h
            c.bars.append(
                Bar(
                    round(i * step + 1, 1),
                    round(y, 1),
                    round(step - 2, 1),
                    round(h, 1),
                    s,
                    f"{d}: {series[s]} {n}",
                )
            )
    return c


def _day(value: Any) -> date:
    # SQLite's date() gives text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@router.get("/overview")
def overview_page(request: Request, me: Analyst, db: DB) -> Response:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    start = datetime.combine(days[0], datetime.min.time(), UTC)
    day = func.date(Post.date)
    flagged = (
        select()
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        .where(Match.flagged.is_(True), Post.date >= start)
    )
    by_group = {
        (_day(d), name or "(no group)"): n
        for d, name, n in db.execute(
            flagged.add_columns(day, Group.name, func.count())
            .join(Channel, Channel.id == Post.channel_id)
            .outerjoin(Group, Group.id == Channel.group_id)
            .group_by(day, Group.name)
        )
    }
    by_kind = {
        (_day(d), kind): n
        for d, kind, n in db.execute(
            flagged.add_columns(day, SignalRow.kind, func.count(distinct(Match.id)))
            .join(SignalRow, SignalRow.match_id == Match.id)
            .group_by(day, SignalRow.kind)
        )
    }
    week = datetime.now(UTC) - timedelta(days=7)
    top = db.execute(
        select(
            Channel.id,
            Channel.handle,
            Group.name,
            func.count().label("n"),
            func.max(Match.severity_rank),
        )
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(Group, Group.id == Channel.group_id)
        .where(Match.flagged.is_(True), Post.date >= week)
        .group_by(Channel.id, Channel.handle, Group.name)
        .order_by(func.count().desc(), Channel.handle)
        .limit(10)
    ).all()
    return render(
        request,
        "overview.html",
        {
            "charts": [
                chart("Flags per day by group", days, by_group),
                chart("Flags per day by signal kind", days, by_kind),
            ],
            "top": top,
            "ranks": ["none", "low", "medium", "high", "critical"],
        },
    )
