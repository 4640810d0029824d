"""Operators edit the registry in the console (#16): every field of a group, person or site,
a new entry, and "back to the file" (the console's row removed). Each is audited
(``registry.edit``, ``registry.add``, ``registry.revert``) and stored by actors/overrides.py
over ``config/registry/``, checked exactly as the files are. Also a site's own page (groups and
people have theirs in web/actors.py).

Form fields are the YAML's keys; a field an edit does not post keeps its value, so the older
aliases-and-note form keeps working."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.actors.incidents_read import Filters, read_incidents
from monitor.actors.overrides import (
    KINDS,
    EditRefused,
    alias_lines,
    entry_fields,
    parse_aliases,
    registry_for,
    revert_entry,
    save_entry,
)
from monitor.actors.registry import (
    CHANNEL_ROLES,
    COUNTRIES,
    GROUP_KINDS,
    PERSON_ROLES,
    Actor,
    Person,
    Registry,
    Site,
    cached_loader,
)
from monitor.errors import ConfigError
from monitor.store.channels import normalise_handle
from monitor.store.models import AuditLog
from monitor.web.auth import DB, Analyst, Operator, check_csrf
from monitor.web.render import render

router = APIRouter()
RECENT = 50
PAGES = {"group": "/actors/groups/", "person": "/actors/people/", "site": "/actors/sites/"}
# The form fields of each kind, besides name, aliases and note.
FIELDS = {
    "group": ("kind", "parent", "affiliates", "channels"),
    "person": ("group", "role"),
    "site": ("country", "lat", "lon"),
}
CHOICES = {"kind": GROUP_KINDS, "role": PERSON_ROLES, "country": COUNTRIES}
# The longest value a field takes (the body limit bounds the request as a whole).
LIMITS = {"aliases": 40_000, "channels": 40_000, "note": 8_000, "affiliates": 10_000}
_loaders: dict[Path, Callable[[], Registry]] = {}


def _loader(request: Request) -> Callable[[], Registry]:
    config_dir: Path = request.app.state.settings.config_dir
    if config_dir not in _loaders:
        _loaders[config_dir] = cached_loader(config_dir)
    return _loaders[config_dir]


def form_values(entry: Actor | Person | Site) -> dict[str, str]:
    """An entry as the console's form shows it (the reverse of ``parse_form``)."""
    out: dict[str, str] = {}
    for key, value in entry_fields(entry).items():
        if key == "channels":
            out[key] = "\n".join(f"{c['handle']} | {c['role']}" for c in value)
        elif key == "affiliates":
            out[key] = ", ".join(value)
        elif key != "aliases":
            out[key] = "" if value is None else str(value)
    out["aliases"] = alias_lines(entry.aliases, entry.needs)
    return out


def _channels(text: str) -> list[dict[str, str]]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        handle, _, role = (part.strip() for part in line.partition("|"))
        if not handle and not role:
            continue
        if role not in CHANNEL_ROLES:
            what = f"{role!r} is no role" if role else "no role"
            raise EditRefused(
                f"channels, line {number}: {what}: write handle | {' or '.join(CHANNEL_ROLES)}"
            )
        try:
            out.append({"handle": normalise_handle(handle), "role": role})
        except ConfigError as exc:
            raise EditRefused(f"channels, line {number}: {exc.message}") from None
    return out


def parse_form(posted: dict[str, str]) -> dict[str, Any]:
    """The posted fields as the YAML spells them; the models judge the values."""
    changes: dict[str, Any] = {}
    for key, value in posted.items():
        if key == "aliases":
            changes[key] = parse_aliases(value)
        elif key == "channels":
            changes[key] = _channels(value)
        elif key == "affiliates":
            changes[key] = [a for a in re.split(r"[\s,]+", value) if a]
        elif key in ("parent", "group"):
            changes[key] = value.strip() or None
        else:
            changes[key] = value.strip()
    return changes


async def posted_form(request: Request) -> dict[str, str]:
    """The form as posted, an empty field included: FastAPI's ``Form()`` reads an empty field
    as absent, and an empty parent or affiliates is how an operator clears one."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Posted = Annotated[dict[str, str], Depends(posted_form)]


def _posted(what: str, form: dict[str, str]) -> dict[str, str]:
    """The registry fields of ``form`` (the token and the id aside); a field the kind has not,
    or a value too long, is refused."""
    allowed = {"name", "aliases", "note", *FIELDS[what]}
    every = {"id", "name", "aliases", "note"}.union(*FIELDS.values())
    posted = {k: v for k, v in form.items() if k in every}
    for key, value in posted.items():
        if key not in allowed:
            raise EditRefused(f"{key}: a {what} has no such field")
        if len(value) > LIMITS.get(key, 400):
            raise EditRefused(f"{key}: at most {LIMITS.get(key, 400)} characters")
    return posted


def _back(path: str, msg: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode({'msg': msg})}", 303)


def _kind(what: str) -> str:
    if what not in KINDS:
        raise HTTPException(404, "no such kind of registry entry: group, person or site")
    return what


@router.post("/actors/{what}/{ref}/edit", dependencies=[Depends(check_csrf)])
def entry_edit(request: Request, what: str, ref: str, me: Operator, form: Posted) -> Response:
    what = _kind(what)
    back = PAGES[what] + quote(ref)
    try:
        changes = parse_form(_posted(what, form))
        with request.app.state.sessions.begin() as db:
            changed = save_entry(db, _loader(request), what, ref, changes, by=me.username)
            if changed:
                db.add(AuditLog(actor=me.username, action="registry.edit",
                                target=f"{what}:{ref}", detail=changed))  # fmt: skip
    except (EditRefused, ConfigError) as exc:
        return _back(back, f"not saved: {exc}")
    except IntegrityError:  # another operator's first edit of this entry, a moment before
        return _back(back, "not saved: another operator edited this entry just now; try again")
    if not changed:
        return _back(back, "nothing changed")
    return _back(back, f"saved ({', '.join(changed)}): posts stored from now on are read with it")


@router.get("/actors/new/{what}")
def entry_new_page(request: Request, what: str, me: Operator, db: DB) -> Response:
    return _new_page(request, db, _kind(what), {}, "")


def _new_page(
    request: Request, db: Session, what: str, values: dict[str, str], problem: str
) -> Response:
    try:
        registry = registry_for(db, _loader(request))
    except ConfigError as exc:
        raise HTTPException(503, f"the registry cannot be read: {exc}") from None
    context = {"what": what, "values": values, "problem": problem, "registry": registry}
    return render(request, "actor_new.html", context, 400 if problem else 200)


@router.post("/actors/new/{what}", dependencies=[Depends(check_csrf)])
def entry_add(request: Request, what: str, me: Operator, db: DB, form: Posted) -> Response:
    what = _kind(what)
    ref = form.get("id", "").strip()[:200]
    # What the operator typed, shown again with the problem: nothing typed is lost.
    typed = {k: v for k, v in form.items() if k != "csrf_token"}
    try:
        changes = parse_form(_posted(what, {k: v for k, v in form.items() if k != "id"}))
        with request.app.state.sessions.begin() as tx:
            added = save_entry(tx, _loader(request), what, ref, changes, by=me.username, new=True)
            tx.add(AuditLog(actor=me.username, action="registry.add", target=f"{what}:{ref}",
                            detail=added))  # fmt: skip
    except (EditRefused, ConfigError) as exc:
        return _new_page(request, db, what, typed, str(exc))
    except IntegrityError:  # another operator added this id a moment before
        return _new_page(request, db, what, typed, f"id: {ref!r} is already a {what}")
    return _back(PAGES[what] + quote(ref), f"added: posts stored from now on name {ref}")


@router.post("/actors/{what}/{ref}/revert", dependencies=[Depends(check_csrf)])
def entry_revert(request: Request, what: str, ref: str, me: Operator) -> Response:
    what = _kind(what)
    try:
        with request.app.state.sessions.begin() as db:
            detail = revert_entry(db, _loader(request), what, ref)
            db.add(AuditLog(actor=me.username, action="registry.revert",
                            target=f"{what}:{ref}", detail=detail))  # fmt: skip
    except (EditRefused, ConfigError) as exc:
        return _back(PAGES[what] + quote(ref), f"not undone: {exc}")
    if detail["back_to_file"]:
        return _back(PAGES[what] + quote(ref), "undone: the entry is the file's again")
    return _back("/actors", f"undone: {what} {ref} was the console's, it is gone")


@router.get("/actors/sites/{ref}")
def actor_site_page(request: Request, ref: str, me: Analyst, db: DB) -> Response:
    try:
        registry = registry_for(db, _loader(request))
    except ConfigError as exc:
        raise HTTPException(503, f"the registry cannot be read: {exc}") from None
    site = registry.sites.get(ref)
    if site is None:
        raise HTTPException(404, "no such site in the registry")
    incidents = read_incidents(db, registry, Filters(site=ref), limit=RECENT, sources=False)
    return render(
        request,
        "actor_site.html",
        {"site": site, "registry": registry, "incidents": incidents, "kind": "site"},
    )
