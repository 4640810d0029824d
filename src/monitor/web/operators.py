"""Operators' views: channels with their health, groups, rule sets, audit log (suppressions:
web/suppressions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.channel_kinds import CHANNEL_KINDS
from monitor.errors import MonitorError
from monitor.store.channels import ensure_channel, get_channel, get_group, normalise_handle
from monitor.store.models import AuditLog, Channel, Group
from monitor.web.alerts import audit_shown
from monitor.web.auth import DB, Operator, Principal, check_csrf
from monitor.web.params import Before, ChannelId
from monitor.web.render import render

router = APIRouter()
AUDIT_PAGE = 100
GROUP_KINDS = ("militia", "facade")


def _back(path: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'msg': msg})}", status_code=303)


def _audit(db: Session, me: Principal, action: str, target: str, **detail: Any) -> None:
    db.add(AuditLog(actor=me.username, action=action, target=target, detail=detail))


# --- channels ----------------------------------------------------------------------------


@router.get("/channels")
def channels_page(request: Request, me: Operator, db: DB) -> Response:
    channels = list(db.scalars(select(Channel).order_by(Channel.handle)))
    groups = list(db.scalars(select(Group).order_by(Group.name)))
    return render(
        request,
        "channels.html",
        {
            "channels": channels,
            "groups": {g.id: g for g in groups},
            "group_list": groups,
            "channel_kinds": CHANNEL_KINDS,
            "now": datetime.now(UTC),
        },
    )


@router.post("/channels", dependencies=[Depends(check_csrf)])
def channel_add(
    request: Request,
    me: Operator,
    handle: Annotated[str, Form(max_length=200)],
    group: Annotated[str, Form(max_length=200)] = "",
    interval: Annotated[int, Form(ge=10, le=86400)] = 300,
    source: Annotated[str, Form()] = "web",
    kind: Annotated[str, Form()] = "group",
) -> Response:
    if source not in ("web", "telethon"):
        raise HTTPException(400, "source must be web or telethon")
    _check_kind(kind)
    with request.app.state.sessions.begin() as db:
        try:
            name = normalise_handle(handle)
        except MonitorError as exc:
            return _back("/channels", str(exc))
        if get_channel(db, name) is not None:
            return _back("/channels", f"channel {name} already exists")
        ensure_channel(
            db, name, source=source, group=group.strip() or None, interval=interval, kind=kind
        )
        _audit(
            db,
            me,
            "channel.add",
            f"channel:{name}",
            group=group or None,
            interval=interval,
            kind=kind,
        )
    return _back("/channels", f"added {name}")


@router.post("/channels/{channel_id}", dependencies=[Depends(check_csrf)])
def channel_update(
    request: Request,
    me: Operator,
    channel_id: ChannelId,
    enabled: Annotated[str, Form()] = "",
    group: Annotated[str | None, Form(max_length=200)] = None,
    interval: Annotated[int | None, Form(ge=10, le=86400)] = None,
    kind: Annotated[str | None, Form()] = None,
) -> Response:
    if kind is not None:
        _check_kind(kind)
    with request.app.state.sessions.begin() as db:
        channel = db.get(Channel, channel_id)
        if channel is None:
            raise HTTPException(404, "No such channel.")
        changes: dict[str, Any] = {}
        if enabled in ("0", "1"):
            channel.enabled = enabled == "1"
            changes["enabled"] = channel.enabled
        if group is not None:
            channel.group = get_group(db, group.strip()) if group.strip() else None
            changes["group"] = group.strip() or None
        if interval is not None:
            channel.interval_seconds = interval
            changes["interval"] = interval
        if kind is not None and kind != channel.kind:
            # Scores new posts from now on; stored verdicts change with a rematch (rules page).
            changes["kind"] = {"from": channel.kind, "to": kind}
            channel.kind = kind
        _audit(db, me, "channel.update", f"channel:{channel.handle}", **changes)
        handle = channel.handle
    return _back("/channels", f"updated {handle}")


def _check_kind(kind: str) -> None:
    if kind not in CHANNEL_KINDS:
        raise HTTPException(400, f"kind must be one of {', '.join(CHANNEL_KINDS)}")


# --- groups ------------------------------------------------------------------------------


def _aliases(raw: str) -> list[str]:
    seen: list[str] = []
    for part in raw.replace("\n", ",").split(","):
        alias = part.strip()
        if alias and alias not in seen:
            seen.append(alias[:200])
    return seen


@router.get("/groups")
def groups_page(request: Request, me: Operator, db: DB) -> Response:
    groups = list(db.scalars(select(Group).order_by(Group.name)))
    counts: dict[int, int] = {}
    for gid in db.scalars(select(Channel.group_id)):
        if gid is not None:
            counts[gid] = counts.get(gid, 0) + 1
    return render(
        request,
        "groups.html",
        {
            "groups": groups,
            "by_id": {g.id: g for g in groups},
            "counts": counts,
            "kinds": GROUP_KINDS,
        },
    )


@router.post("/groups", dependencies=[Depends(check_csrf)])
def group_save(
    request: Request,
    me: Operator,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    kind: Annotated[str, Form()] = "militia",
    parent: Annotated[str, Form(max_length=200)] = "",
    aliases: Annotated[str, Form(max_length=5000)] = "",
    weight: Annotated[float, Form(ge=0, le=10)] = 1.0,
) -> Response:
    """Create a group, or update the one with this name."""
    if kind not in GROUP_KINDS:
        raise HTTPException(400, "kind must be militia or facade")
    name = name.strip()
    with request.app.state.sessions.begin() as db:
        group = get_group(db, name, create=True)
        assert group is not None
        group.kind = kind
        group.aliases = _aliases(aliases)
        group.weight = weight
        parent_group = get_group(db, parent.strip(), create=False) if parent.strip() else None
        if parent.strip() and parent_group is None:
            return _back("/groups", f"no group named {parent.strip()}")
        group.parent = parent_group if parent_group is not group else None
        _audit(
            db, me, "group.save", f"group:{name}", kind=kind, aliases=group.aliases, weight=weight
        )
    return _back("/groups", f"saved {name}")


# --- rules -------------------------------------------------------------------------------


def rules_dir(request: Request) -> Path:
    return Path(request.app.state.settings.config_dir) / "rules"


@router.get("/rules")
def rules_page(request: Request, me: Operator, file: str = "") -> Response:
    folder = rules_dir(request)
    files = sorted(p.name for p in folder.glob("*.yaml")) if folder.is_dir() else []
    content = None
    if file:
        # Only names from the listing: the parameter never becomes a path by itself.
        if file not in files:
            raise HTTPException(404, "No such rule file.")
        content = (folder / file).read_text(encoding="utf-8", errors="replace")
    return render(
        request,
        "rules.html",
        {
            "files": files,
            "file": file,
            "content": content,
        },
    )


@router.post("/rules/reload", dependencies=[Depends(check_csrf)])
def rules_reload(request: Request, me: Operator) -> Response:
    """Validate the rule files as the matcher would load them, and report the version."""
    from monitor.match import load_rules

    try:
        rs = load_rules(rules_dir(request))
    except MonitorError as exc:
        msg = f"rules NOT loaded: {exc}"
        version = None
    else:
        version = rs.version
        msg = (
            f"rules valid: version {rs.version}, {len(rs.rules)} phrase rules, "
            f"{len(rs.cues)} cue verses"
        )
    with request.app.state.sessions.begin() as db:
        _audit(db, me, "rules.reload", "rules", version=version, ok=version is not None)
    return _back("/rules", msg)


@router.post("/rules/rematch", dependencies=[Depends(check_csrf)])
def rules_rematch(request: Request, me: Operator) -> Response:
    """Re-run the rule files as they are now over every stored post (runs in the request)."""
    from monitor.match import Matcher, load_rules
    from monitor.match.persist import rematch

    settings = request.app.state.settings
    try:
        matcher = Matcher(load_rules(rules_dir(request)), cache_dir=settings.cache_path)
    except MonitorError as exc:
        return _back("/rules", f"rules NOT loaded, nothing rematched: {exc}")
    summary = rematch(request.app.state.sessions, matcher, settings=settings)
    msg = (
        f"rematched {summary.posts} posts with rules {matcher.rules.version[:12]}: "
        f"{summary.changed} verdicts changed, {summary.flagged} flagged"
    )
    with request.app.state.sessions.begin() as db:
        _audit(db, me, "rules.rematch", "rules", version=matcher.rules.version, result=msg)
    return _back("/rules", msg)


# --- audit -------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    me: Operator,
    db: DB,
    actor: str = "",
    action: str = "",
    target: str = "",
    before: Before = None,
) -> Response:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(AUDIT_PAGE + 1)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if target:
        stmt = stmt.where(AuditLog.target == target)
    if before is not None:
        stmt = stmt.where(AuditLog.id < before)
    rows = list(db.scalars(stmt))
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    params = {k: v for k, v in (("actor", actor), ("action", action), ("target", target)) if v}
    return render(
        request,
        "audit.html",
        {
            "rows": audit_shown(db, rows),  # subscription URLs and errors redacted (#11)
            "filters": params,
            "next_params": {**params, "before": str(rows[-1].id)} if more else None,
        },
    )
