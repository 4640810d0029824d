"""Admins: console accounts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from monitor.errors import MonitorError
from monitor.store.models import AuditLog, User
from monitor.store.users import ROLES, add_user, end_sessions
from monitor.web.auth import DB, Admin, check_csrf
from monitor.web.params import UserId
from monitor.web.render import render

router = APIRouter()


def _back(msg: str) -> RedirectResponse:
    return RedirectResponse(f"/users?{urlencode({'msg': msg})}", status_code=303)


@router.get("/users")
def users_page(request: Request, me: Admin, db: DB) -> Response:
    users = list(db.scalars(select(User).order_by(User.username)))
    return render(request, "users.html", {"users": users, "roles": ROLES})


@router.post("/users", dependencies=[Depends(check_csrf)])
def user_add(
    request: Request,
    me: Admin,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    role: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    try:
        with request.app.state.sessions.begin() as db:
            add_user(db, username.strip(), role, password, actor=me.username)
    except MonitorError as exc:
        return _back(f"not added: {exc}")
    return _back(f"added {role} {username.strip()}")


@router.post("/users/{user_id}", dependencies=[Depends(check_csrf)])
def user_update(
    request: Request,
    me: Admin,
    user_id: UserId,
    role: Annotated[str, Form()] = "",
    disabled: Annotated[str, Form()] = "",
) -> Response:
    with request.app.state.sessions.begin() as db:
        user = db.get(User, user_id)
        if user is None:
            raise HTTPException(404, "No such user.")
        if user.id == me.id and (disabled == "1" or (role and role != "admin")):
            # The last admin locking themselves out would need the CLI to undo.
            return _back("you cannot disable or demote your own account here")
        detail: dict[str, object] = {}
        if role:
            if role not in ROLES:
                raise HTTPException(400, "unknown role")
            if role != user.role:
                detail["role"] = role
            user.role = role
        if disabled in ("0", "1"):
            if user.disabled != (disabled == "1"):
                detail["disabled"] = disabled == "1"
            user.disabled = disabled == "1"
        if detail:
            # A new role or a disable/enable ends the user's sessions: re-enabling must not
            # revive cookies from before, nor a demoted admin keep an admin's session (#11).
            end_sessions(user)
            detail["sessions_ended"] = True
        db.add(
            AuditLog(actor=me.username, action="user.update", target=user.username, detail=detail)
        )
        name = user.username
    return _back(f"updated {name}")
