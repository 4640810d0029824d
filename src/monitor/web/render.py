"""Template rendering: one autoescaping Jinja environment, and the common page context."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from monitor.web.auth import Principal, read_session

TEMPLATES = Path(__file__).parent / "templates"


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is not UTC:  # the database hands back UTC already: skip the conversion
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC) - value).total_seconds())
    if seconds < 0:
        return "in " + _span(-seconds)
    return _span(seconds) + " ago"


def _span(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def make_env() -> Environment:
    # Autoescape everything, whatever the file name: post text is hostile input.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from monitor.web.kinds import KIND_HELP, KINDS, kind_label
    from monitor.web.rows import kind_badges, options, queue_rows  # rows uses when() from here

    env.filters["when"] = when
    env.filters["ago"] = _ago
    env.globals["urlencode"] = urlencode
    env.globals["queue_rows"] = queue_rows
    env.globals["options"] = options
    # The seven kinds' names, words and palette classes (#14), for _kinds.html and badges.
    env.globals["kind_names"] = KINDS
    env.globals["kind_help"] = KIND_HELP
    env.globals["kind_label"] = kind_label
    env.globals["kind_badges"] = kind_badges
    # The registry's edit forms (#16, _registry_forms.html): an entry's values and the choices.
    from monitor.web.registry_edit import CHOICES, form_values

    env.globals["registry_form"] = form_values
    env.globals["registry_choices"] = CHOICES
    return env


def _flash(request: Request) -> str:
    """The notice a form's redirect carries in ``?msg=``. Only shown on the page the console's
    own redirect opened: a browser marks a link followed from a mail or another site
    (``Sec-Fetch-Site: none`` / ``cross-site``), and a notice there is somebody else's text
    dressed as ours ("session expired, sign in at …", a phishing lure)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return ""
    return request.query_params.get("msg", "")[:300]


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    env: Environment = request.app.state.jinja
    principal: Principal | None = getattr(request.state, "principal", None)
    ctx = {
        "request": request,
        "me": principal,
        "csrf": principal.csrf if principal else read_session(request).get("c", ""),
        "demo": request.app.state.demo,
        "flash": _flash(request),
        **context,
    }
    return HTMLResponse(env.get_template(name).render(ctx), status_code=status_code)
