"""The incidents page's pictures as plain geometry for server-rendered SVG (#16): a timeline of
incidents by claiming group and by target, and a schematic of the gazetteer's sites.

No map: the package lists show no small public-domain boundary set that installs and works
offline without a GIS stack (geodatasets and the Natural Earth loaders fetch their files at run
time), so the sites are placed by their coordinates on a plain box, an equirectangular
projection with the longitudes shrunk by the cosine of the middle latitude, each country's name
at the middle of its sites. Numbers and strings only: templates/incidents.html draws them, escaped.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.actors.incidents_read import IncidentView
from monitor.actors.registry import Site
from monitor.web.charts import day_label

WIDTH = 900
LABEL_W = 190  # the row names left of the timeline
ROW_H = 20
TOP, BOTTOM = 24, 28
MAX_ROWS = 25  # a lane's rows; the rest are counted, not drawn
COLOURS = {"claimed": "#d08700", "corroborated": "#b3261e"}
NO_SITE, NO_GROUP = "(no known site)", "(no group)"


@dataclass(frozen=True, slots=True)
class Mark:
    x: float
    y: float
    w: float  # 0: a dot
    colour: str
    title: str
    href: str


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    y: float
    count: int

    @property
    def label(self) -> str:
        return self.name if len(self.name) <= 28 else self.name[:27] + "…"


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass
class Lane:
    title: str
    rows: list[Row] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    left_out: int = 0
    width: int = WIDTH
    height: int = TOP + BOTTOM
    left: int = LABEL_W
    top: int = TOP
    right: int = WIDTH - 10
    bottom: int = TOP


def _title(v: IncidentView) -> str:
    i = v.incident
    what = f"{i.weapon or 'attack'} on {v.target_name or 'an unnamed site'}"
    by = ", ".join(v.claimants) or "unknown claimant"
    when = f"{i.first_claim_at:%Y-%m-%d %H:%M} UTC"
    return f"#{i.id} {what}, {i.status}: {by}; {v.source_count} source(s) from {when}"


def _span(views: Sequence[IncidentView]) -> tuple[datetime, datetime]:
    lo = min(v.incident.first_claim_at for v in views)
    hi = max(v.incident.last_claim_at for v in views)
    if hi - lo < timedelta(days=1):
        mid = lo + (hi - lo) / 2
        lo, hi = mid - timedelta(hours=12), mid + timedelta(hours=12)
    return lo, hi


def lane(title: str, views: Sequence[IncidentView], by_group: bool) -> Lane:
    """One row per group (or target), each incident a mark from its first to its last claim."""
    out = Lane(title)
    if not views:
        return out
    keys: dict[int, list[str]] = {}
    for v in views:
        if by_group:
            keys[v.incident.id] = v.claimants or [NO_GROUP]
        else:
            keys[v.incident.id] = [v.target_name or NO_SITE]
    counts = Counter(k for ks in keys.values() for k in ks)
    names = sorted(counts, key=lambda k: (-counts[k], k))
    shown, out.left_out = names[:MAX_ROWS], max(0, len(names) - MAX_ROWS)
    ys = {name: TOP + r * ROW_H + ROW_H / 2 for r, name in enumerate(shown)}
    out.rows = [Row(n, ys[n], counts[n]) for n in shown]
    out.bottom = TOP + ROW_H * len(shown)
    out.height = out.bottom + BOTTOM
    lo, hi = _span(views)
    scale = (out.right - out.left) / (hi - lo).total_seconds()

    def x(t: datetime) -> float:
        return round(out.left + (t - lo).total_seconds() * scale, 1)

    for v in views:
        i = v.incident
        for k in keys[i.id]:
            if k in ys:
                x0, x1 = x(i.first_claim_at), x(i.last_claim_at)
                out.marks.append(
                    Mark(
                        x0,
                        ys[k],
                        round(x1 - x0, 1) if x1 - x0 >= 4 else 0,
                        COLOURS.get(i.status, "#555555"),
                        _title(v),
                        f"/incidents/{i.id}",
                    )
                )
    days = max(1, (hi - lo).days)
    step = max(1, math.ceil(days / 8))
    day = datetime(lo.year, lo.month, lo.day, tzinfo=lo.tzinfo) + timedelta(days=1)
    while day <= hi:
        out.ticks.append(Tick(x(day), day_label(day.date())))
        day += timedelta(days=step)
    return out


@dataclass(frozen=True, slots=True)
class SiteMark:
    id: str
    name: str
    x: float
    y: float
    r: float
    count: int
    corroborated: int
    colour: str
    href: str
    title: str
    anchor: str


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str


@dataclass
class Schematic:
    sites: list[SiteMark] = field(default_factory=list)
    countries: list[Label] = field(default_factory=list)
    width: int = WIDTH
    height: int = 420


PAD = 40


def schematic(sites: Sequence[Site], views: Sequence[IncidentView]) -> Schematic:
    """Every site of the gazetteer at its coordinates; those with incidents larger, coloured
    by whether any is corroborated, each linking to its incidents."""
    out = Schematic()
    if not sites:
        return out
    lats, lons = [s.lat for s in sites], [s.lon for s in sites]
    lat0, lat1 = min(lats) - 0.5, max(lats) + 0.5
    lon0, lon1 = min(lons) - 0.5, max(lons) + 0.5
    shrink = math.cos(math.radians((lat0 + lat1) / 2))
    w, h = (lon1 - lon0) * shrink, lat1 - lat0
    scale = min((out.width - 2 * PAD) / w, 2000 / h)
    out.height = int(h * scale + 2 * PAD)

    def at(lat: float, lon: float) -> tuple[float, float]:
        return (
            round(PAD + (lon - lon0) * shrink * scale, 1),
            round(PAD + (lat1 - lat) * scale, 1),
        )

    counts = Counter(v.incident.site for v in views if v.incident.site)
    strong = Counter(
        v.incident.site for v in views if v.incident.site and v.incident.status == "corroborated"
    )
    by_country: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in sorted(sites, key=lambda s: (counts[s.id], s.id)):  # busy sites drawn on top
        x, y = at(s.lat, s.lon)
        by_country[s.country].append((x, y))
        n = counts[s.id]
        colour = COLOURS["corroborated"] if strong[s.id] else COLOURS["claimed"] if n else "#9e9e9e"
        out.sites.append(
            SiteMark(
                s.id,
                s.name,
                x,
                y,
                round(3 + 3 * math.sqrt(n), 1) if n else 3,
                n,
                strong[s.id],
                colour,
                f"/incidents?site={s.id}",
                f"{s.name} ({s.country}, {s.lat:.2f}, {s.lon:.2f}): {n} incident(s), "
                f"{strong[s.id]} corroborated",
                "end" if x > out.width * 0.75 else "start",
            )
        )
    for country, points in sorted(by_country.items()):
        cx = sum(p[0] for p in points) / len(points)
        cy = sum(p[1] for p in points) / len(points)
        out.countries.append(Label(round(cx, 1), round(cy, 1), country))
    return out
