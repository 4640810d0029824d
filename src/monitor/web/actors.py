"""The registry in the console (#16): GET /actors lists its groups, people and sites; GET
/actors/groups/{id} and /actors/people/{id} show one entry with what the posts say of it
(its channels, their recent flagged signals, pledges made and received, mentions). Any
signed-in user reads them; operators edit them (web/registry_edit.py, audited), stored by
actors/overrides.py over the files. Incidents are not listed here yet (the incidents pages
are their own, #16).

The operators' /groups page (web/operators.py) is about Group rows (channels.yaml); these pages
are about the registry, which names its groups by the same ``name``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from monitor.actors.incidents_read import Filters, read_incidents
from monitor.actors.overrides import registry_for
from monitor.actors.registry import Registry, cached_loader
from monitor.errors import ConfigError
from monitor.store.models import (
    Channel,
    Group,
    Match,
    MediaFile,
    Mention,
    Post,
    SignalRow,
)
from monitor.web.auth import DB, Analyst
from monitor.web.render import render

router = APIRouter()
RECENT = 50  # rows of each list on a page
_loaders: dict[Path, Callable[[], Registry]] = {}


def console_registry(request: Request, db: Session) -> Registry:
    """The registry the console's pages read: the files, kept while they are unchanged, with
    the console's edits. A file that cannot be read is a ConfigError naming it."""
    config_dir: Path = request.app.state.settings.config_dir
    if config_dir not in _loaders:
        _loaders[config_dir] = cached_loader(config_dir)
    return registry_for(db, _loaders[config_dir])


def _registry(request: Request, db: Session) -> Registry:
    try:
        return console_registry(request, db)
    except ConfigError as exc:  # a bad file is the operator's to fix; the page says where
        raise HTTPException(503, f"the registry cannot be read: {exc}") from None


@dataclass(frozen=True, slots=True)
class PostRow:
    post_id: int
    date: datetime
    handle: str
    text: str  # the signal's matched words, or the mention's
    who: list[tuple[str, str]]  # (label, href) of the entries it names in its role


def _name(registry: Registry, kind: str, ref: str) -> tuple[str, str]:
    if kind == "person" and ref in registry.people:
        return registry.people[ref].name, f"/actors/people/{quote(ref)}"
    if kind == "group" and ref in registry.groups:
        return registry.groups[ref].name, f"/actors/groups/{quote(ref)}"
    if kind == "site" and ref in registry.sites:
        return registry.sites[ref].name, f"/actors/sites/{quote(ref)}"
    return ref, ""


def _objects(db: Session, registry: Registry, post_ids: Sequence[int]) -> dict[int, list[Any]]:
    """post id -> (label, href) of the entries its pledges name (role "object")."""
    out: dict[int, list[Any]] = {}
    if not post_ids:
        return out
    rows = db.execute(
        select(Mention.post_id, Mention.kind, Mention.ref)
        .where(Mention.post_id.in_(post_ids), Mention.role == "object")
        .order_by(Mention.start)
    )
    for post_id, kind, ref in rows:
        out.setdefault(post_id, []).append(_name(registry, kind, ref))
    return out


def _signals(db: Session, channel_ids: list[int], kinds: tuple[str, ...] | None) -> list[Any]:
    if not channel_ids:
        return []
    q = (
        select(Post.id, Post.date, Channel.handle, SignalRow.kind, SignalRow.matched)
        .join(Match, Match.post_id == Post.id)
        .join(SignalRow, SignalRow.match_id == Match.id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(Post.channel_id.in_(channel_ids))
        .order_by(Post.date.desc(), Post.id.desc(), SignalRow.start)
        .limit(RECENT)
    )
    q = q.where(SignalRow.kind.in_(kinds)) if kinds else q.where(Match.flagged.is_(True))
    return list(db.execute(q))


def _mentioning(
    db: Session, kind: str, refs: Sequence[str], role: str | None, registry: Registry
) -> list[PostRow]:
    """The latest posts that name one of ``refs`` (in ``role``, if given), each with the words
    of its first such mention (cut in SQL: a post may be a megabyte)."""
    if not refs:
        return []
    named = [Mention.kind == kind, Mention.ref.in_(refs)]
    if role is not None:
        named.append(Mention.role == role)
    latest = (
        select(Post.id)
        .join(Mention, Mention.post_id == Post.id)
        .where(*named)
        .group_by(Post.id, Post.date)
        .order_by(Post.date.desc(), Post.id.desc())
        .limit(RECENT)
    )
    ids = list(db.scalars(latest))
    if not ids:
        return []
    length = Mention.end - Mention.start
    words = case(
        (Mention.layer == "text", func.substr(Post.text, Mention.start + 1, length)),
        else_=func.substr(MediaFile.ocr_text, Mention.start + 1, length),
    )
    rows = db.execute(
        select(Post.id, Post.date, Channel.handle, words, Mention.layer)
        .join(Mention, Mention.post_id == Post.id)
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(MediaFile, MediaFile.post_id == Post.id)
        .where(Post.id.in_(ids), *named)
        .order_by(Post.date.desc(), Post.id.desc(), Mention.layer != "text", Mention.start)
    )
    objects = _objects(db, registry, ids) if role == "object" else {}
    out: dict[int, PostRow] = {}
    for post_id, date, handle, text, layer in rows:
        if post_id not in out:
            shown = text if layer == "text" else f"{text or ''} (in the image's text)"
            out[post_id] = PostRow(post_id, date, handle, shown, objects.get(post_id, []))
    return list(out.values())


@router.get("/actors")
def actors_page(request: Request, me: Analyst, db: DB) -> Response:
    registry = _registry(request, db)
    counts = dict(
        db.execute(
            select(Group.name, func.count(Channel.id))
            .join(Channel, Channel.group_id == Group.id)
            .group_by(Group.name)
        ).all()
    )
    return render(
        request,
        "actors.html",
        {
            "groups": sorted(registry.groups.values(), key=lambda g: g.name.casefold()),
            "people": sorted(registry.people.values(), key=lambda p: p.name.casefold()),
            "sites": sorted(registry.sites.values(), key=lambda s: (s.country, s.name)),
            "registry": registry,
            "channel_counts": counts,
        },
    )


@router.get("/actors/groups/{ref}")
def actor_group_page(request: Request, ref: str, me: Analyst, db: DB) -> Response:
    registry = _registry(request, db)
    actor = registry.groups.get(ref)
    if actor is None:
        raise HTTPException(404, "no such group in the registry")
    channels = list(
        db.execute(
            select(Channel.id, Channel.handle, Channel.title, Channel.kind)
            .join(Group, Group.id == Channel.group_id)
            .where(Group.name == actor.name)
            .order_by(Channel.handle)
        )
    )
    ids = [c.id for c in channels]
    monitored = {c.handle: c.id for c in channels}
    monitored.update(
        dict(db.execute(select(Channel.handle, Channel.id).where(
            Channel.handle.in_([h for h, _ in actor.channels])
        )).all())
    )  # fmt: skip
    made = _signals(db, ids, ("allegiance",))
    objects = _objects(db, registry, [r.id for r in made])
    people = [p for p in registry.people.values() if p.group == ref]
    received = _mentioning(db, "person", [p.id for p in people], "object", registry)
    received += _mentioning(db, "group", [ref], "object", registry)
    received.sort(key=lambda r: (r.date, r.post_id), reverse=True)
    return render(
        request,
        "actor_group.html",
        {
            "actor": actor,
            "registry": registry,
            "channels": channels,
            "listed": [(h, role, monitored.get(h)) for h, role in actor.channels],
            "signals": _signals(db, ids, None),
            "made": [(r, objects.get(r.id, [])) for r in made],
            "received": received[:RECENT],
            "people": people,
            "children": [g for g in registry.groups.values() if g.parent == ref],
            # The attacks it claimed (#16), the latest first.
            "incidents": read_incidents(
                db, registry, Filters(group=actor.name), limit=RECENT, sources=False
            ),
            "kind": "group",
        },
    )


@router.get("/actors/people/{ref}")
def actor_person_page(request: Request, ref: str, me: Analyst, db: DB) -> Response:
    registry = _registry(request, db)
    person = registry.people.get(ref)
    if person is None:
        raise HTTPException(404, "no such person in the registry")
    return render(
        request,
        "actor_person.html",
        {
            "person": person,
            "registry": registry,
            "group": registry.groups.get(person.group) if person.group else None,
            "mentioned": _mentioning(db, "person", [ref], None, registry),
            "received": _mentioning(db, "person", [ref], "object", registry),
            # Incidents one of whose claims names them (#16).
            "incidents": read_incidents(
                db, registry, Filters(person=ref), limit=RECENT, sources=False
            ),
            "kind": "person",
        },
    )
