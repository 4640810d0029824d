"""GET /overview: flagged posts per day by group and by signal kind, the severity of each
group's days, and the channels that flagged most, over a date range (#14).

The charts are server-rendered SVG (``web/charts.py``): a y-axis with round ticks, dated
x-axis labels, each bar's value on hover, and every bar, cell and legend entry a link to the
queue filtered to the posts it counts (the queue's own ``group`` — ``-`` for channels in no
group —, ``kind``, ``since`` and ``until`` parameters, in every review state, so following it
lists exactly those posts).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Select, distinct, func, select

from monitor.match.rules import KINDS
from monitor.store.models import Channel, Group, Match, Post, SignalRow
from monitor.web.auth import DB, Analyst
from monitor.web.charts import BarChart, HeatMap, Series, bar_chart, day_label, heat_map, long_day
from monitor.web.kinds import kind_label
from monitor.web.params import BadParameter, parse_day
from monitor.web.queries import ALL_STATES, SEVERITIES
from monitor.web.queries import NO_GROUP as NO_GROUP_FILTER
from monitor.web.render import render

router = APIRouter()
DAYS = 30  # the default range
PRESETS = (7, 30, 90)
MAX_DAYS = 366
MAX_SERIES = 7  # more colours than this stop being distinguishable; the rest become "other"
MAX_HEAT_ROWS = 12
NO_GROUP = "(no group)"
OTHER = "other groups"
RANKS = ("none", *SEVERITIES)


def queue_href(**params: Any) -> str:
    """A link to the queue with these filters (None values left out), newest first. In every
    review state: the charts count reviewed posts too, and the queue alone shows unreviewed."""
    kept = {k: str(v) for k, v in params.items() if v is not None}
    return "/?" + urlencode({**kept, "state": ALL_STATES, "sort": "newest"})


def date_range(request: Request, today: date) -> tuple[date, date, int | None]:
    """(since, until, preset): ``since``/``until`` (inclusive days) win over ``days``
    (7, 30 or 90 up to today); the default is the last DAYS days."""
    p = request.query_params
    until = parse_day("until", p.get("until")) or today
    since = parse_day("since", p.get("since"))
    preset: int | None = None
    if since is None:
        raw = p.get("days", "")
        n = int(raw) if raw in {str(k) for k in PRESETS} else DAYS
        since = until - timedelta(days=n - 1)
        preset = n if until == today else None
    if since > until:
        raise BadParameter("since", "a day no later than 'until'")
    if (until - since).days + 1 > MAX_DAYS:
        raise BadParameter("since", f"at most {MAX_DAYS} days before 'until'")
    return since, until, preset


def _day(value: Any) -> date:
    # SQLite's date() gives text, PostgreSQL's a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _flagged(since: date, until: date) -> Select[Any]:
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    return (
        select()
        .select_from(Match)
        .join(Post, Post.id == Match.post_id)
        .where(Match.flagged.is_(True), Post.date >= start, Post.date < end)
    )


def group_charts(
    db: DB, days: list[date], since: date, until: date
) -> tuple[BarChart, HeatMap, dict[date, int]]:
    """Flags per day by group (each post once, under its channel's group) and the heat map of
    each group's days by highest severity; also the flagged posts of each day."""
    day = func.date(Post.date)
    rows = db.execute(
        _flagged(since, until)
        .add_columns(day, Group.id, Group.name, Match.severity_rank, func.count())
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(Group, Group.id == Channel.group_id)
        .group_by(day, Group.id, Group.name, Match.severity_rank)
    ).all()
    names: dict[int | None, str] = {}
    totals: dict[int | None, int] = {}
    cells: dict[tuple[date, int | None], dict[str, int]] = {}
    day_totals: dict[date, int] = {}
    for d, gid, gname, rank, n in rows:
        d = _day(d)
        names[gid] = gname if gid is not None else NO_GROUP
        totals[gid] = totals.get(gid, 0) + n
        sev = RANKS[min(max(rank or 1, 1), len(RANKS) - 1)]
        by_sev = cells.setdefault((d, gid), {})
        by_sev[sev] = by_sev.get(sev, 0) + n
        day_totals[d] = day_totals.get(d, 0) + n
    ranked = sorted(totals, key=lambda g: (-totals[g], g is None, names[g]))
    keep = ranked[:MAX_SERIES]
    rest = ranked[MAX_SERIES:]
    window = {"since": since.isoformat(), "until": until.isoformat()}

    def group_href(gid: int | None, **extra: Any) -> str:
        # None: the channels in no group (the queue's group=-).
        return queue_href(group=NO_GROUP_FILTER if gid is None else gid, **{**window, **extra})

    def other_href(**extra: Any) -> str:
        # "Other groups" are several: no one filter lists them, so the link is the period's.
        return queue_href(**{**window, **extra})

    series = [Series(names[g], f"s{i}", totals[g], group_href(g)) for i, g in enumerate(keep)]
    if rest:
        series.append(Series(OTHER, "s7", sum(totals[g] for g in rest), other_href()))
    index = {g: i for i, g in enumerate(keep)} | {g: len(keep) for g in rest}
    counts: dict[tuple[date, int], int] = {}
    for (d, gid), by_sev in cells.items():
        key = (d, index[gid])
        counts[key] = counts.get(key, 0) + sum(by_sev.values())

    def bar_href(d: date, s: int) -> str:
        day = {"since": d.isoformat(), "until": d.isoformat()}
        return group_href(keep[s], **day) if s < len(keep) else other_href(**day)

    def describe(d: date, s: int, n: int) -> str:
        return f"{long_day(d)} · {series[s].name}: {n} flagged (day: {day_totals.get(d, 0)})"

    bars = bar_chart(
        "group",
        "Flagged posts per day, by group",
        "Each flagged post counts once, under the group of its channel.",
        "flagged posts",
        days,
        series,
        counts,
        describe,
        bar_href,
    )
    heat_ids = ranked[:MAX_HEAT_ROWS]
    heat_rows = [(names[g], group_href(g)) for g in heat_ids]
    heat_counts = {
        (d, heat_ids.index(gid)): by_sev for (d, gid), by_sev in cells.items() if gid in heat_ids
    }
    heat = heat_map(
        "severity",
        "Severity over time, per group",
        "Each cell is one group's day, coloured by the highest severity flagged that day; "
        "hover for the count of each severity.",
        days,
        heat_rows,
        heat_counts,
        SEVERITIES,
        lambda d, r: group_href(heat_ids[r], since=d.isoformat(), until=d.isoformat()),
    )
    return bars, heat, day_totals


def kind_chart(
    db: DB, days: list[date], since: date, until: date, day_totals: dict[date, int]
) -> BarChart:
    """Flagged posts per day with a signal of each kind: a post counts once per kind."""
    day = func.date(Post.date)
    counts_by_kind = {
        (_day(d), kind): n
        for d, kind, n in db.execute(
            _flagged(since, until)
            .add_columns(day, SignalRow.kind, func.count(distinct(Match.id)))
            .join(SignalRow, SignalRow.match_id == Match.id)
            .group_by(day, SignalRow.kind)
        )
    }
    present = [k for k in KINDS if any(kind == k for _, kind in counts_by_kind)]
    window = {"since": since.isoformat(), "until": until.isoformat()}
    series = [
        Series(
            kind_label(k),
            f"kind-{k}",
            sum(n for (_, kind), n in counts_by_kind.items() if kind == k),
            queue_href(kind=k, **window),
        )
        for k in present
    ]
    counts = {(d, present.index(k)): n for (d, k), n in counts_by_kind.items() if k in present}

    def describe(d: date, s: int, n: int) -> str:
        return (
            f"{long_day(d)} · {kind_label(present[s])}: {n} flagged post(s) with this kind "
            f"(day: {day_totals.get(d, 0)} flagged)"
        )

    return bar_chart(
        "kind",
        "Flagged posts per day, by signal kind",
        "A post counts once under each kind it has: one with a cue verse and a threat is in "
        "both, so a day's bar can be taller than its number of flagged posts.",
        "posts, once per kind",
        days,
        series,
        counts,
        describe,
        lambda d, s: queue_href(kind=present[s], since=d.isoformat(), until=d.isoformat()),
    )


@router.get("/overview")
def overview_page(request: Request, me: Analyst, db: DB) -> Response:
    today = datetime.now(UTC).date()
    since, until, preset = date_range(request, today)
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    by_group, heat, day_totals = group_charts(db, days, since, until)
    by_kind = kind_chart(db, days, since, until, day_totals)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    top = db.execute(
        _flagged(since, until)
        .add_columns(
            Channel.id,
            Channel.handle,
            Group.name,
            func.count().label("n"),
            func.max(Match.severity_rank),
        )
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(Group, Group.id == Channel.group_id)
        .group_by(Channel.id, Channel.handle, Group.name)
        .order_by(func.count().desc(), Channel.handle)
        .limit(10)
    ).all()
    span = f"{day_label(since, year=True)} – {day_label(until, year=True)}"
    return render(
        request,
        "overview.html",
        {
            "bar_charts": [by_group, by_kind],
            "heat": heat,
            "severities": SEVERITIES,
            "top": [
                (queue_href(channel=cid, **window), handle, gname, n, rank)
                for cid, handle, gname, n, rank in top
            ],
            "ranks": RANKS,
            "since": since,
            "until": until,
            "preset": preset,
            "presets": PRESETS,
            "span": span,
            "total": sum(day_totals.values()),
        },
    )
