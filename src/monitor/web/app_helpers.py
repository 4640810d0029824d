"""Small request helpers shared by the routers and the app's error handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request

API_PREFIXES = ("/api/", "/export")


def wants_json(request: Request) -> bool:
    """API routes, and scripted requests asking for JSON, get JSON errors instead of pages."""
    if request.url.path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def validation_problems(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Which field was refused and why, without the submitted value: FastAPI's own 422 echoes
    every input back, a password included, into pages, logs and proxies (#11)."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        message = str(error.get("msg", "invalid"))
        given = error.get("input")
        if isinstance(given, str) and len(given) >= 3 and given in message:
            message = message.replace(given, "…")
        problems.append({"field": ".".join(loc) or "request", "problem": message})
    return problems
