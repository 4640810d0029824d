"""GET/POST /login and POST /logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from monitor.store.models import AuditLog
from monitor.store.users import authenticate
from monitor.web.auth import (
    DB,
    CsrfRejected,
    LoginLimiter,
    MaybePrincipal,
    check_csrf,
    clear_session,
    fingerprint,
    new_csrf,
    read_session,
    safe_next,
    write_session,
)
from monitor.web.render import render

router = APIRouter()


def _login_page(request: Request, nxt: str, error: str = "", status: int = 200) -> Response:
    session = read_session(request)
    csrf = session.get("c") if isinstance(session.get("c"), str) else None
    fresh = csrf is None
    csrf = csrf or new_csrf()
    request.scope["monitor.session"] = {"c": csrf}
    response = render(request, "login.html", {"next": nxt, "error": error}, status)
    if fresh:
        write_session(request, response, {"c": csrf})
    return response


@router.get("/login")
def login_form(
    request: Request,
    principal: MaybePrincipal,
    next: str = "/",
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        await check_csrf(request)
    except CsrfRejected:
        # Also what a visitor sees after their login form expired: a fresh form, not a dead end.
        return _login_page(request, safe_next(next), "The form expired; please sign in again.", 403)
    client = request.client.host if request.client else "?"
    outcome = await run_in_threadpool(_authenticate, request, username, password, client)
    if isinstance(outcome, int):
        response = _login_page(
            request, safe_next(next), f"Too many failed attempts; try again in {outcome} s.", 429
        )
        response.headers["Retry-After"] = str(outcome)
        return response
    if outcome is None:
        return _login_page(request, safe_next(next), "Wrong username or password.", 401)
    user_id, csrf, key = outcome
    response = RedirectResponse(safe_next(next), status_code=303)
    # A new CSRF token at sign-in: a token planted before login is worthless afterwards.
    write_session(request, response, {"u": user_id, "c": csrf, "k": key})
    return response


def _authenticate(
    request: Request, username: str, password: str, client: str
) -> tuple[int, str, str] | int | None:
    """(user id, CSRF token, key) for a good password, None for a bad one, or the seconds to
    wait when the rate limit refuses the attempt before the password is even checked."""
    limiter: LoginLimiter = request.app.state.limiter
    with request.app.state.sessions.begin() as s:
        wait = limiter.retry_after(s, client, username)
        if wait is not None:
            return wait
        user = authenticate(s, username, password)
        if user is None:
            limiter.failed(s, client, username)
            s.add(
                AuditLog(
                    actor=username[:100] or "?",
                    action="login.failed",
                    target=None,
                    detail={"client": client},
                )
            )
            return None
        limiter.succeeded(s, client, username)
        s.add(AuditLog(actor=user.username, action="login", target=None, detail={"client": client}))
        return user.id, new_csrf(), fingerprint(user)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, db: DB) -> Response:
    response = RedirectResponse("/login", status_code=303)
    clear_session(response)
    return response
