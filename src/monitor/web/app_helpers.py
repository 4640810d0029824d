"""Small request helpers shared by the routers and the app's error handlers."""

from __future__ import annotations

from fastapi import Request

API_PREFIXES = ("/api/", "/export")


def wants_json(request: Request) -> bool:
    """API routes, and scripted requests asking for JSON, get JSON errors instead of pages."""
    if request.url.path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept
