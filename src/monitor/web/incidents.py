"""GET /incidents, the attacks built from the claims, with filters, a timeline and a schematic
of the sites; GET /incidents/{id}, one incident with its source posts, a page at a time; and
the analysts' merge, split and correct (#16), audited. The page reads actors/incidents_read.py,
as `monitor export incidents` does, so the two agree; the edits are actors/incidents_edit.py's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.incidents_edit import Correction, EditError, correct, merge, split
from monitor.actors.incidents_read import Filters, NoSuchSource, read_incident, read_incidents
from monitor.actors.registry import Registry, cached_loader
from monitor.store.models import INCIDENT_STATUSES, WEAPONS, AuditLog, Group
from monitor.web.auth import DB, Analyst, Principal, check_csrf
from monitor.web.incidents_draw import COLOURS, lane, schematic
from monitor.web.params import BadParameter, as_id, parse_day, path_id
from monitor.web.render import render

router = APIRouter()
SHOWN = 500  # the table's rows; the export has all
# An incident page's sources: a flood of claims of one site makes one incident of thousands
# (#16); the rest are a page further (?after=), all of them in `monitor export incidents`.
SOURCES_SHOWN = 200
IncidentId = Annotated[int, path_id("incident_id", "incident")]


def registry(request: Request) -> Registry:
    """The registry as the pipeline reads it: read again only when its files change."""
    loader: Callable[[], Registry] | None = getattr(request.app.state, "incident_registry", None)
    if loader is None:
        loader = cached_loader(request.app.state.settings.config_dir)
        request.app.state.incident_registry = loader
    return loader()


def _audit(db: Session, me: Principal, action: str, target: str, **detail: Any) -> None:
    db.add(AuditLog(actor=me.username, action=action, target=target, detail=detail))


def _back(incident_id: int, msg: str) -> RedirectResponse:
    return RedirectResponse(f"/incidents/{incident_id}?{urlencode({'msg': msg})}", status_code=303)


def _choice(request: Request, name: str, allowed: list[str] | tuple[str, ...]) -> str | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    if raw not in allowed:
        shown = ", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else "")
        raise BadParameter(name, f"one of {shown}" if allowed else "none is known yet")
    return raw


def _start(day: Any) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=UTC) if day is not None else None


def filters(request: Request, db: Session, reg: Registry) -> tuple[Filters, dict[str, str]]:
    """The page's filters, validated: a bad value is a 400 naming the parameter."""
    groups = list(db.scalars(select(Group.name).order_by(Group.name)))
    status = _choice(request, "status", INCIDENT_STATUSES)
    site = _choice(request, "site", sorted(reg.sites))
    group = _choice(request, "group", groups)
    since = parse_day("from", request.query_params.get("from"))
    until = parse_day("to", request.query_params.get("to"))
    if since and until and until < since:
        raise BadParameter("to", "a day on or after 'from'")
    f = Filters(
        status=status,
        site=site,
        group=group,
        since=_start(since),
        until=_start(until + timedelta(days=1)) if until else None,
    )
    given = {
        "status": status or "",
        "site": site or "",
        "group": group or "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    return f, given


@router.get("/incidents")
def incidents_page(request: Request, me: Analyst, db: DB) -> Response:
    reg = registry(request)
    f, given = filters(request, db, reg)
    views = read_incidents(db, reg, f, limit=SHOWN + 1, sources=False)
    more = len(views) > SHOWN
    views = views[:SHOWN]
    return render(
        request,
        "incidents.html",
        {
            "views": views,
            "more": more,
            "given": given,
            "statuses": INCIDENT_STATUSES,
            "sites": sorted(reg.sites.values(), key=lambda s: s.name),
            "groups": list(db.scalars(select(Group.name).order_by(Group.name))),
            "by_group": lane("By claiming group", views, by_group=True),
            "by_target": lane("By target", views, by_group=False),
            "schematic": schematic(list(reg.sites.values()), views),
            "colours": COLOURS,
        },
    )


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, me: Analyst, db: DB, incident_id: IncidentId) -> Response:
    reg = registry(request)
    raw = request.query_params.get("after")
    after = as_id(raw) if raw else None
    if raw and after is None:
        raise BadParameter("after", "a post id")
    try:
        view = read_incident(db, reg, incident_id, page=SOURCES_SHOWN, after=after)
    except NoSuchSource:
        raise BadParameter("after", "a source post of this incident") from None
    if view is None:
        raise HTTPException(404, "No such incident.")
    return render(
        request,
        "incident.html",
        {
            "v": view,
            "page_size": SOURCES_SHOWN,
            "sites": sorted(reg.sites.values(), key=lambda s: s.name),
            "weapons": WEAPONS,
            "statuses": INCIDENT_STATUSES,
        },
    )


def _form_id(raw: str, field: str) -> int:
    value = as_id(raw)
    if value is None:
        raise HTTPException(400, f"Bad field {field!r}: expected an incident or post id.")
    return value


@router.post("/incidents/{incident_id}/merge", dependencies=[Depends(check_csrf)])
def incident_merge(
    request: Request,
    me: Analyst,
    incident_id: IncidentId,
    other: Annotated[str, Form(max_length=30)],
) -> Response:
    """Merge incident ``other`` into this one."""
    other_id = _form_id(other.lstrip("#"), "other")
    with request.app.state.sessions.begin() as db:
        try:
            moved = merge(db, incident_id, other_id, me.username)
        except EditError as exc:
            return _back(incident_id, f"not merged: {exc}")
        _audit(db, me, "incident.merge", f"incident:{incident_id}", merged=other_id, sources=moved)
    return _back(incident_id, f"merged incident #{other_id} into this one ({moved} source(s))")


@router.post("/incidents/{incident_id}/split", dependencies=[Depends(check_csrf)])
def incident_split(
    request: Request,
    me: Analyst,
    incident_id: IncidentId,
    post: Annotated[str, Form(max_length=30)],
) -> Response:
    """Move one source post out of this incident into a new one."""
    post_id = _form_id(post, "post")
    with request.app.state.sessions.begin() as db:
        try:
            new_id = split(db, incident_id, post_id, me.username)
        except EditError as exc:
            return _back(incident_id, f"not split: {exc}")
        _audit(db, me, "incident.split", f"incident:{incident_id}", post_id=post_id, new=new_id)
    return _back(new_id, f"split off from incident #{incident_id}")


@router.post("/incidents/{incident_id}/correct", dependencies=[Depends(check_csrf)])
def incident_correct(
    request: Request,
    me: Analyst,
    incident_id: IncidentId,
    site: Annotated[str, Form(max_length=100)] = "",
    weapon: Annotated[str, Form(max_length=20)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Set the site, weapon, status and note; "(keep)" fields are left as they are."""
    keep = "(keep)"
    c = Correction(
        site=None if site == keep else site.strip(),
        weapon=None if weapon == keep else weapon.strip(),
        status=None if status in (keep, "") else status,
        note=note.strip(),
    )
    with request.app.state.sessions.begin() as db:
        before = read_incident(db, registry(request), incident_id, page=0)
        if before is None:
            raise HTTPException(404, "No such incident.")
        old = {
            "site": before.incident.site,
            "weapon": before.incident.weapon,
            "status": before.incident.status,
            "note": before.incident.note,
        }
        try:
            changed = correct(db, incident_id, c, me.username, set(registry(request).sites))
        except EditError as exc:
            return _back(incident_id, f"not corrected: {exc}")
        if not changed:
            return _back(incident_id, "nothing changed")
        _audit(
            db,
            me,
            "incident.correct",
            f"incident:{incident_id}",
            **{k: {"from": old[k], "to": getattr(before.incident, k)} for k in changed},
        )
    return _back(incident_id, f"corrected: {', '.join(changed)}")
