"""Sessions, CSRF and roles.

The session is a signed, timestamped cookie (itsdangerous) holding the user id, the CSRF token,
a fingerprint of the password hash and the user's session epoch. The user row is re-read on
every request: a cookie whose epoch is not the row's is dead, and logout, a new password,
disabling, enabling and a role change all bump the epoch, so they end every session of that
user server-side, in every worker process (#11). Replaying a captured cookie after logout
gets nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from monitor.store.models import User
from monitor.web.throttle import LoginLimiter as LoginLimiter
from monitor.web.transport import is_https

COOKIE = "monitor_session"
SESSION_SECONDS = 12 * 3600
ROLE_RANK = {"analyst": 1, "operator": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class Principal:
    id: int
    username: str
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


class NotAuthenticated(Exception):
    """No valid session: pages redirect to /login, API routes answer 401."""


class Forbidden(Exception):
    """Signed in, but the role does not reach this route."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


class SessionCodec:
    def __init__(self, secret: str) -> None:
        self._s = URLSafeTimedSerializer(secret, salt="monitor.console.session")

    def dumps(self, data: dict[str, Any]) -> str:
        return self._s.dumps(data)

    def loads(self, value: str | None) -> dict[str, Any]:
        if not value:
            return {}
        try:
            data = self._s.loads(value, max_age=SESSION_SECONDS)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}


def fingerprint(user: User | Row[Any]) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def read_session(request: Request) -> dict[str, Any]:
    codec: SessionCodec = request.app.state.codec
    cached = request.scope.get("monitor.session")
    if cached is None:
        cached = codec.loads(request.cookies.get(COOKIE))
        request.scope["monitor.session"] = cached
    return dict(cached)


def write_session(request: Request, response: Response, data: dict[str, Any]) -> None:
    codec: SessionCodec = request.app.state.codec
    # Over https (directly, or as a trusted proxy says) the cookie never travels in clear.
    secure = is_https(request) or request.app.state.settings.console_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        codec.dumps(data),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def in_process(session: Session) -> bool:
    """Whether the database runs inside this process (SQLite): its calls never wait on a
    network, and an indexed read or a rollback takes microseconds, less than handing the work
    to a thread and back. Under load each hand-off also waits its turn for the interpreter
    lock; a page made three of them (#5 benchmark)."""
    return session.get_bind().dialect.name == "sqlite"


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session for the request. Async: opening one does no I/O, so it costs no round trip
    through the threadpool; closing one that talked to a database server (a rollback) does."""
    reads = request.method in ("GET", "HEAD")
    session: Session = (request.app.state.readers if reads else request.app.state.sessions)()
    try:
        yield session
    finally:
        # An autocommit session has no transaction on the server to roll back.
        if (
            session.in_transaction()
            and not session.info.get("autocommit")
            and not in_process(session)
        ):
            await run_in_threadpool(session.close)
        else:
            session.close()


DB = Annotated[Session, Depends(get_db)]


@cache
def _user_row() -> Select[Any]:
    """Built once; read without the ORM: this runs on every request (#5 benchmark)."""
    users = User.__table__.c
    return select(
        users.id,
        users.username,
        users.role,
        users.disabled,
        users.password_hash,
        users.session_epoch,
    ).where(users.id == bindparam("uid"))


async def optional_principal(request: Request, db: DB) -> Principal | None:
    """The signed-in user, re-read from the database: in a thread unless it is in-process."""
    if in_process(db):
        return _principal(request, db)
    return await run_in_threadpool(_principal, request, db)


def _principal(request: Request, db: Session) -> Principal | None:
    data = read_session(request)
    uid, csrf, epoch = data.get("u"), data.get("c"), data.get("e")
    if not isinstance(uid, int) or not isinstance(csrf, str) or not isinstance(epoch, int):
        return None
    user = db.connection().execute(_user_row(), {"uid": uid}).first()
    if (
        user is None
        or user.disabled
        or user.session_epoch != epoch
        or not hmac.compare_digest(str(data.get("k", "")), fingerprint(user))
    ):
        return None
    principal = Principal(user.id, user.username, user.role, csrf)
    request.state.principal = principal
    return principal


MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require(role: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency admitting signed-in users whose role reaches ``role``.

    Async because it does no I/O: a sync dependency costs a round trip through the threadpool."""

    async def dependency(principal: MaybePrincipal) -> Principal:
        if principal is None:
            raise NotAuthenticated()
        if not principal.can(role):
            raise Forbidden()
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


analyst = require("analyst")
operator = require("operator")
admin = require("admin")
Analyst = Annotated[Principal, Depends(analyst)]
Operator = Annotated[Principal, Depends(operator)]
Admin = Annotated[Principal, Depends(admin)]


async def check_csrf(request: Request) -> None:
    """Every state change carries the token: a form field, or a header for scripted requests.

    A request with no signed-in session at all is told to sign in (a redirect, or 401 for an
    API client) rather than refused as forged: it has no token to give, and it changes nothing.
    """
    session = read_session(request)
    if "u" not in session and request.url.path != "/login":
        raise NotAuthenticated()
    expected = session.get("c")
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        raise CsrfRejected()


def session_data(user_id: int, epoch: int, key: str) -> dict[str, Any]:
    """A fresh session for a user: a new CSRF token, so one planted before is worthless."""
    return {"u": user_id, "c": new_csrf(), "k": key, "e": epoch}


def safe_next(value: str | None) -> str:
    """Only same-origin paths: an open redirect would hand phishers our domain (#11).

    Browsers drop tab, CR and LF from URLs and read a backslash as a slash, so
    ``/%09/evil.example`` becomes ``//evil.example``: any control, format or space character,
    and any backslash, is refused outright rather than cleaned; what is left must parse as a
    bare path, with neither scheme nor host."""
    if not value or not value.startswith("/") or "\\" in value:
        return "/"
    if any(ch.isspace() or unicodedata.category(ch)[0] in "CZ" for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith("//"):
        return "/"
    return value
