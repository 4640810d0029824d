"""Discovered channels (#15): the channels monitored ones forward, mention or link that nobody
watches yet; operators promote one (start monitoring it, with a group and a kind) or ignore
it, each decision in the audit log. The decisions themselves are network/refs.py's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.channel_kinds import CHANNEL_KINDS, DEFAULT_CHANNEL_KIND
from monitor.network.refs import (
    MAX_REASON,
    SOURCES,
    Refused,
    discovered,
    ignore,
    ignored,
    promote,
    target_of,
    unignore,
)
from monitor.store.models import AuditLog, Group, IgnoredChannel
from monitor.web.auth import DB, Operator, Principal, check_csrf
from monitor.web.render import render

router = APIRouter()
PAGE = 200  # the most referenced; the CLI's --limit reads further


def _back(msg: str) -> RedirectResponse:
    return RedirectResponse(f"/discovered?{urlencode({'msg': msg})}", status_code=303)


def _audit(db: Session, me: Principal, action: str, target: str, **detail: Any) -> None:
    db.add(AuditLog(actor=me.username, action=action, target=f"channel:{target}", detail=detail))


@router.get("/discovered")
def discovered_page(request: Request, me: Operator, db: DB) -> Response:
    rows = discovered(db, limit=PAGE)
    return render(
        request,
        "discovered.html",
        {
            "rows": rows,
            "full": len(rows) >= PAGE,
            "ignored": ignored(db),
            "group_names": list(db.scalars(select(Group.name).order_by(Group.name))),
            "channel_kinds": CHANNEL_KINDS,
            "default_kind": DEFAULT_CHANNEL_KIND,
            "sources": SOURCES,
            "interval": request.app.state.settings.collect_interval,
            "max_reason": MAX_REASON,
        },
    )


def _interval(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise Refused(f"the interval must be a number of seconds, not {value[:20]!r}") from None


@router.post("/discovered/promote", dependencies=[Depends(check_csrf)])
def discovered_promote(
    request: Request,
    me: Operator,
    target: Annotated[str, Form(max_length=200)],
    group: Annotated[str, Form(max_length=200)] = "",
    kind: Annotated[str, Form(max_length=50)] = DEFAULT_CHANNEL_KIND,
    source: Annotated[str, Form(max_length=50)] = "web",
    interval: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        default = request.app.state.settings.collect_interval
        seconds = _interval(interval) if interval.strip() else default
        with request.app.state.sessions.begin() as db:
            t = target_of(target)
            was_ignored = db.get(IgnoredChannel, t) is not None  # promote lifts the ignore
            channel = promote(db, t, group=group, kind=kind, source=source, interval=seconds)
            _audit(
                db,
                me,
                "channel.promote",
                channel.handle,
                group=group.strip() or None,
                kind=channel.kind,
                source=channel.source,
                interval=channel.interval_seconds,
                was_ignored=was_ignored,
            )
            handle = channel.handle
    except Refused as exc:
        return _back(f"not promoted: {exc}")
    except IntegrityError:
        # Another operator added it between the check and the insert.
        return _back(f"not promoted: {target.strip()[:100]} was added meanwhile; reload")
    return _back(f"promoted {handle}: now monitored (Channels page)")


@router.post("/discovered/ignore", dependencies=[Depends(check_csrf)])
def discovered_ignore(
    request: Request,
    me: Operator,
    target: Annotated[str, Form(max_length=200)],
    reason: Annotated[str, Form(max_length=4 * MAX_REASON)] = "",
) -> Response:
    try:
        with request.app.state.sessions.begin() as db:
            row = ignore(db, target, me.username, reason)
            _audit(db, me, "channel.ignore", row.target, reason=row.reason)
            name = row.target
    except Refused as exc:
        return _back(f"not ignored: {exc}")
    except IntegrityError:
        return _back(f"not ignored: {target.strip()[:100]} was ignored meanwhile")
    return _back(f"ignored {name}: no longer listed here or by `monitor channels discovered`")


@router.post("/discovered/unignore", dependencies=[Depends(check_csrf)])
def discovered_unignore(
    request: Request, me: Operator, target: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        with request.app.state.sessions.begin() as db:
            row = unignore(db, target)
            _audit(
                db,
                me,
                "channel.unignore",
                row.target,
                ignored_by=row.ignored_by,
                ignored_at=row.ignored_at.isoformat(),
                reason=row.reason,
            )
            name = row.target
    except Refused as exc:
        return _back(f"not un-ignored: {exc}")
    return _back(f"{name} is listed again")
