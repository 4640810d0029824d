"""The console's app factory: nothing is built at import time."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from monitor.config import Settings
from monitor.store.db import reader_sessions
from monitor.web import (
    actors,
    admin,
    alerts,
    auth,
    discovered,
    graph_page,
    incidents,
    login,
    media,
    operators,
    overview,
    posts,
    queue,
    registry_edit,
    suppressions,
)
from monitor.web.app_helpers import validation_problems, wants_json
from monitor.web.auth import CsrfRejected, Forbidden, LoginLimiter, NotAuthenticated, SessionCodec
from monitor.web.balance import LoadBoard, Rebalance
from monitor.web.bodylimit import BodyLimit
from monitor.web.limits import ConcurrencyLimit, pool_capacity
from monitor.web.metrics import Metrics, MetricsMiddleware
from monitor.web.render import make_env, render
from monitor.web.security import SecurityHeaders
from monitor.web.transport import Transport

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    demo: bool = False,
    secret: str | None = None,
    board: LoadBoard | None = None,
) -> FastAPI:
    """The console over ``sessions``; ``secret`` defaults to ``settings.console_secret(demo)``,
    which refuses a placeholder key outside the demo. ``board``: where the processes of
    ``monitor serve --workers N`` even out their connections."""
    app = FastAPI(
        title="monitor review console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.readers = reader_sessions(sessions)
    app.state.demo = demo
    app.state.codec = SessionCodec(secret or settings.console_secret(demo=demo))
    app.state.limiter = LoginLimiter()
    app.state.jinja = make_env()
    metrics = Metrics(sessions)
    app.state.metrics = metrics

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (login, queue, posts, media, operators, suppressions, overview, admin, alerts):
        app.include_router(module.router)
    app.include_router(discovered.router)
    app.include_router(graph_page.router)
    app.include_router(actors.router)
    app.include_router(registry_edit.router)
    app.include_router(incidents.router)
    _add_probes(app, sessions, metrics)
    _add_error_handlers(app)
    # Added last = outermost: headers wrap everything, metrics see the final status and the
    # time a request waited for its turn.
    limit = min(settings.console_concurrency, pool_capacity(sessions))
    app.add_middleware(ConcurrencyLimit, limit=limit)
    # Outside the door and everything that reads a body: an oversized one is refused before
    # it waits for a turn, is authenticated or parsed (#11).
    app.add_middleware(BodyLimit, limit=settings.console_max_body)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders, hsts_seconds=settings.hsts_seconds)
    app.add_middleware(Rebalance, board=board)
    # Outermost: every layer sees the client and scheme a trusted proxy vouches for (#11).
    app.add_middleware(Transport, trusted=settings.trusted_proxies)
    return app


def from_environment() -> FastAPI:
    """The console as each process of ``monitor serve --workers N`` builds it (a uvicorn
    factory): settings from the environment, which the parent already checked."""
    from monitor.config import load_settings
    from monitor.store.db import make_engine, session_factory

    settings = load_settings()
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")  # set by the parent: see cli/web.py
    board = LoadBoard(Path(shared) / "connections") if shared else None
    sessions = session_factory(make_engine(settings.database_url))
    return settle(create_app(settings, sessions, board=board))


def settle(app: FastAPI) -> FastAPI:
    """Ready the app of a serving process: templates compiled now, then everything built so far
    frozen out of the garbage collector's sight. Its full collections otherwise walk some 120 k
    long-lived objects (the ORM, routes, templates): a ~100 ms pause of the whole process
    about every hundred pages."""
    env = app.state.jinja
    for name in env.list_templates():
        env.get_template(name)
    gc.collect()
    gc.freeze()
    return app


def _add_probes(app: FastAPI, sessions: sessionmaker[Session], metrics: Metrics) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> PlainTextResponse:
        try:
            with sessions() as s:
                s.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("readiness check failed: %s", type(exc).__name__)
            return PlainTextResponse("database unreachable\n", status_code=503)
        return PlainTextResponse("ok\n")

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint() -> Response:
        try:
            body = metrics.render()
        except Exception as exc:
            log.warning("metrics scrape failed: %s", type(exc).__name__)
            return PlainTextResponse("database unreachable\n", status_code=503)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "not signed in"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        nxt = "" if target == "/" else "?" + auth_next(target)
        return RedirectResponse("/login" + nxt, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Exception) -> Response:
        return error_response(
            request, 403, "Your role does not allow this page.", "your role does not allow this"
        )

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        return error_response(
            request,
            403,
            "The form expired or did not come from this console. Reload the page and try again.",
            "missing or wrong CSRF token",
        )

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: Exception) -> Response:
        log.warning("database unavailable: %s", type(exc).__name__)
        return error_response(
            request, 503, "The database is unavailable; try again shortly.", "database unavailable"
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: Exception) -> Response:
        problems = validation_problems(getattr(exc, "errors", list)())
        listed = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
        return error_response(request, 422, f"Not accepted: {listed}.", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: Any) -> Response:
        return error_response(request, exc.status_code, str(exc.detail), exc.detail)


def error_response(request: Request, status: int, message: str, api_message: Any) -> Response:
    """The error page, or ``{"error": …}`` for API clients."""
    if wants_json(request):
        return JSONResponse({"error": api_message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status)


def auth_next(target: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"next": target})


__all__ = ["auth", "create_app"]
