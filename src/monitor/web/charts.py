"""The overview's charts as plain geometry for server-rendered SVG (#14): no JavaScript, no CDN.

A chart here is numbers and strings only; ``templates/overview.html`` draws them, so every label
(a group's name is whatever an operator typed) goes through Jinja's escaping. Each bar segment
and heat-map cell carries its hover text (an SVG ``<title>``) and the queue link that lists the
posts it counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

WIDTH = 900  # also the largest width console.css draws a chart at (1:1)
LEFT, RIGHT, TOP = 44, 8, 22  # room for the y-axis labels on the left, its name above
PLOT_H = 180
BOTTOM = 30  # room for the date labels
HEAT_LEFT, HEAT_ROW = 170, 22  # the heat map's group names, and its row height
ROW_CHARS = 26
MAX_LABELS = 8
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_label(d: date, *, year: bool = False) -> str:
    """``27 Nov`` (``27 Nov 2026`` with ``year``): the same in every locale."""
    return f"{d.day} {MONTHS[d.month - 1]}" + (f" {d.year}" if year else "")


def long_day(d: date) -> str:
    return f"{WEEKDAYS[d.weekday()]} {day_label(d, year=True)}"


def nice_ticks(peak: int, most: int = 5) -> list[int]:
    """0 and round steps (1, 2, 5 × 10ⁿ) up to the first at or above ``peak``, at most
    ``most`` steps."""
    if peak <= 0:
        return [0, 1]
    raw = peak / most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, round(step))
    top = math.ceil(peak / step) * step
    return list(range(0, top + 1, step))


@dataclass
class Segment:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str
    href: str


@dataclass
class Series:
    name: str
    css: str
    total: int
    href: str


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class BarChart:
    """Bars per day, stacked by series, over a y-axis with round ticks."""

    key: str
    title: str
    note: str
    axis_label: str
    series: list[Series]
    segments: list[Segment] = field(default_factory=list)
    yticks: list[Tick] = field(default_factory=list)
    xticks: list[Tick] = field(default_factory=list)
    peak: int = 0
    width: int = WIDTH
    height: int = TOP + PLOT_H + BOTTOM
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = TOP + PLOT_H


def x_ticks(days: list[date], left: float, step: float) -> list[Tick]:
    """A date label under every k-th day (at most MAX_LABELS), centred on its bar; the first
    label and any 1 January carry the year."""
    every = max(1, math.ceil(len(days) / MAX_LABELS))
    return [
        Tick(
            round(left + (i + 0.5) * step, 1),
            day_label(d, year=i == 0 or (d.month == 1 and d.day == 1)),
        )
        for i, d in enumerate(days)
        if i % every == 0
    ]


def bar_chart(
    key: str,
    title: str,
    note: str,
    axis_label: str,
    days: list[date],
    series: list[Series],
    counts: dict[tuple[date, int], int],
    describe: Callable[[date, int, int], str],
    href: Callable[[date, int], str],
) -> BarChart:
    """``counts[(day, series index)]`` as stacked bars; ``describe(day, index, n)`` is a
    segment's hover text and ``href(day, index)`` its queue link."""
    chart = BarChart(key, title, note, axis_label, series)
    per_day = {d: sum(counts.get((d, s), 0) for s in range(len(series))) for d in days}
    chart.peak = max(per_day.values(), default=0)
    ticks = nice_ticks(chart.peak)
    scale = PLOT_H / ticks[-1]
    chart.yticks = [Tick(round(chart.bottom - t * scale, 1), str(t)) for t in ticks]
    step = (chart.right - chart.left) / max(len(days), 1)
    chart.xticks = x_ticks(days, chart.left, step)
    gap = 1.0 if step > 4 else 0.0
    for i, d in enumerate(days):
        y = float(chart.bottom)
        for s, item in enumerate(series):
            n = counts.get((d, s), 0)
            if not n:
                continue
            h = n * scale
            y -= h
            chart.segments.append(
                Segment(
                    round(chart.left + i * step + gap, 1),
                    round(y, 1),
                    round(max(step - 2 * gap, 0.5), 1),
                    round(h, 1),
                    item.css,
                    describe(d, s, n),
                    href(d, s),
                )
            )
    return chart


@dataclass
class Cell:
    x: float
    y: float
    w: float
    h: float
    css: str
    label: str  # the count, drawn inside when the cell is wide enough
    title: str
    href: str


@dataclass
class HeatRow:
    name: str
    y: float
    href: str

    @property
    def label(self) -> str:
        """The name as it fits left of the cells (the whole name is its hover text)."""
        return self.name if len(self.name) <= ROW_CHARS else self.name[: ROW_CHARS - 1] + "…"


@dataclass
class HeatMap:
    """One row per group, one cell per day, coloured by the day's highest severity."""

    key: str
    title: str
    note: str
    rows: list[HeatRow] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    xticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = TOP + BOTTOM
    left: int = HEAT_LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = TOP
    text_in_cells: bool = True


def heat_map(
    key: str,
    title: str,
    note: str,
    days: list[date],
    rows: list[tuple[str, str]],
    counts: dict[tuple[date, int], dict[str, int]],
    severities: tuple[str, ...],
    href: Callable[[date, int], str],
) -> HeatMap:
    """``rows`` are (name, link to the row's queue); ``counts[(day, row)]`` maps a severity
    to its number of flagged posts. ``severities`` run from the lowest to the highest."""
    heat = HeatMap(key, title, note)
    heat.bottom = TOP + HEAT_ROW * len(rows)
    heat.height = heat.bottom + BOTTOM
    step = (heat.right - heat.left) / max(len(days), 1)
    heat.text_in_cells = step >= 14
    heat.xticks = x_ticks(days, heat.left, step)
    for r, (name, row_href) in enumerate(rows):
        y = TOP + r * HEAT_ROW
        heat.rows.append(HeatRow(name, y + HEAT_ROW / 2, row_href))
        for i, d in enumerate(days):
            by_sev = counts.get((d, r), {})
            total = sum(by_sev.values())
            if not total:
                continue
            highest = max(by_sev, key=severities.index)
            parts = ", ".join(f"{by_sev[s]} {s}" for s in reversed(severities) if by_sev.get(s))
            heat.cells.append(
                Cell(
                    round(heat.left + i * step + 0.5, 1),
                    y + 1,
                    round(max(step - 1, 0.5), 1),
                    HEAT_ROW - 2,
                    f"heat-{highest}",
                    str(total),
                    f"{long_day(d)} · {name}: {total} flagged ({parts}); highest {highest}",
                    href(d, r),
                )
            )
    return heat
