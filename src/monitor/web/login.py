"""GET/POST /login, POST /logout, and the signed-in user's own password (#11)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from monitor.demo_logins import DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_USERNAMES, shows_demo_logins
from monitor.store.models import AuditLog, User
from monitor.store.users import authenticate, end_sessions, set_password, verify_password
from monitor.strength import password_problem
from monitor.web.auth import (
    Analyst,
    CsrfRejected,
    LoginLimiter,
    MaybePrincipal,
    Principal,
    check_csrf,
    clear_session,
    fingerprint,
    new_csrf,
    read_session,
    safe_next,
    session_data,
    write_session,
)
from monitor.web.render import render
from monitor.web.throttle import IN_FLIGHT, Claim

router = APIRouter()
Password = Annotated[str, Form(max_length=1000)]
IN_FLIGHT_WAIT = 10.0  # seconds an attempt waits for checks in progress before giving up


@dataclass(frozen=True, slots=True)
class Outcome:
    """A password check: ``session`` when it was right; ``wait`` seconds when refused (no
    check made) or when a wrong guess came from an address over its failure limit."""

    session: dict[str, Any] | None = None
    wait: int = 0


def _login_page(request: Request, nxt: str, error: str = "", status: int = 200) -> Response:
    session = read_session(request)
    csrf = session.get("c") if isinstance(session.get("c"), str) else None
    fresh = csrf is None
    csrf = csrf or new_csrf()
    request.scope["monitor.session"] = {"c": csrf}
    shown = shows_demo_logins(request.app.state.demo, request.app.state.settings.demo_logins)
    context = {
        "next": nxt,
        "error": error,
        "demo_accounts": DEMO_ACCOUNTS if shown else (),
        "demo_password": DEMO_PASSWORD if shown else "",
    }
    response = render(request, "login.html", context, status)
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
    password: Password = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        await check_csrf(request)
    except CsrfRejected:
        # Also what a visitor sees after their login form expired: a fresh form, not a dead end.
        return _login_page(request, safe_next(next), "The form expired; please sign in again.", 403)
    client = request.client.host if request.client else "?"
    claim = await claim_check(request, client, username)
    if isinstance(claim, int):
        outcome = Outcome(wait=claim)
    else:
        outcome = await run_in_threadpool(_authenticate, request, claim, username, password, client)
    if outcome.session is None:
        if not outcome.wait:
            return _login_page(request, safe_next(next), "Wrong username or password.", 401)
        response = _login_page(
            request,
            safe_next(next),
            f"Too many failed attempts; try again in {outcome.wait} s.",
            429,
        )
        response.headers["Retry-After"] = str(outcome.wait)
        return response
    response = RedirectResponse(safe_next(next), status_code=303)
    write_session(request, response, outcome.session)
    return response


async def claim_check(request: Request, client: str, username: str) -> Claim | int:
    """One password check from the account's budget, or the seconds to wait for one.

    While the budget is held by checks still in flight, ask again shortly: they will either
    fail (and this attempt is refused) or succeed (and free their place). Waiting here, not in
    a thread, so that a burst of sign-ins holds no threads."""
    limiter: LoginLimiter = request.app.state.limiter
    sessions = request.app.state.sessions

    def once() -> Claim | int:
        # Committed before the (slow) check, so that parallel attempts see each other.
        with sessions.begin() as s:
            return limiter.claim(s, client, username)

    deadline = time.monotonic() + IN_FLIGHT_WAIT
    while True:
        claim = await run_in_threadpool(once)
        if claim != IN_FLIGHT:
            return claim
        if time.monotonic() > deadline:
            return 1  # still contended: ask the client to retry shortly
        await anyio.sleep(0.05)


def _authenticate(
    request: Request, claim: Claim, username: str, password: str, client: str
) -> Outcome:
    limiter: LoginLimiter = request.app.state.limiter
    with request.app.state.sessions.begin() as s:
        user = authenticate(s, username, password)
        if user is not None and user.username in DEMO_USERNAMES and not request.app.state.demo:
            user = None  # their password is published: they sign in on the demo's console only
        if user is None:
            limiter.failed(s, claim)
            detail: dict[str, Any] = {"client": client}
            if claim.noisy:
                detail["throttled"] = True
            s.add(
                AuditLog(
                    actor=username[:100] or "?", action="login.failed", target=None, detail=detail
                )
            )
            return Outcome(wait=claim.client_wait)
        limiter.succeeded(s, claim, client, username)
        s.add(AuditLog(actor=user.username, action="login", target=None, detail={"client": client}))
        return Outcome(session_data(user.id, user.session_epoch, fingerprint(user)))


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, principal: MaybePrincipal) -> Response:
    if principal is not None:
        # Ends the session server-side, not only in this browser: a copied cookie dies too,
        # and so do the user's sessions elsewhere ("sign out everywhere").
        with request.app.state.sessions.begin() as s:
            user = s.get(User, principal.id)
            if user is not None:
                end_sessions(user)
                s.add(AuditLog(actor=user.username, action="logout", target=None, detail={}))
    response = RedirectResponse("/login", status_code=303)
    clear_session(response)
    return response


# --- the signed-in user's password ------------------------------------------------------------


def _password_page(request: Request, error: str = "", status: int = 200) -> Response:
    return render(request, "password.html", {"error": error}, status)


@router.get("/account/password")
def password_form(request: Request, me: Analyst) -> Response:
    return _password_page(request)


@router.post("/account/password", dependencies=[Depends(check_csrf)])
async def password_change(
    request: Request,
    me: Analyst,
    current_password: Password = "",
    new_password: Password = "",
    confirm_password: Password = "",
) -> Response:
    """Asks for the current password (a stolen session alone cannot take the account over),
    ends every other session, and re-issues this one."""
    if new_password != confirm_password:
        return _password_page(request, "The two new passwords differ.", 400)
    problem = password_problem(new_password)
    if problem is not None:
        return _password_page(request, f"Not changed: {problem}.", 400)
    client = request.client.host if request.client else "?"
    # Guesses of the current password spend the same budget as guesses at /login.
    claim = await claim_check(request, client, me.username)
    if isinstance(claim, int):
        outcome = Outcome(wait=claim)
    else:
        outcome = await run_in_threadpool(
            _change_password, request, me, claim, current_password, new_password, client
        )
    if outcome.session is None:
        if outcome.wait:
            response = _password_page(
                request, f"Too many failed attempts; try again in {outcome.wait} s.", 429
            )
            response.headers["Retry-After"] = str(outcome.wait)
            return response
        return _password_page(request, "Not changed: the current password is wrong.", 400)
    response = RedirectResponse(
        "/account/password?msg=Password+changed%3B+your+other+sessions+are+signed+out.",
        status_code=303,
    )
    write_session(request, response, outcome.session)
    return response


def _change_password(
    request: Request, me: Principal, claim: Claim, current: str, new: str, client: str
) -> Outcome:
    limiter: LoginLimiter = request.app.state.limiter
    with request.app.state.sessions.begin() as s:
        user = s.get(User, me.id)
        if user is None or not verify_password(user.password_hash, current):
            limiter.failed(s, claim)
            s.add(AuditLog(actor=me.username, action="passwd.failed", target=me.username))
            return Outcome()
        limiter.succeeded(s, claim, client, user.username)
        set_password(s, user, new, actor=me.username)
        s.refresh(user)
        return Outcome(session_data(user.id, user.session_epoch, fingerprint(user)))
