"""The console's edits of the registry (#16): any field of an entry, or a whole entry added in
the console, kept in ``registry_overrides`` and laid over ``config/registry/`` by every process
that reads it.

Why rows and not a rewrite of the YAML: the console and the collectors may not share a config
folder (docker-compose bakes it into the image), a rewrite would drop the file's comments, and
a row is audited and read in the same transaction as the posts it changes. The file stays the
operators' baseline; an edit overrides only the fields it changed, and removing the row (or
``monitor``'s `registry_overrides` table) falls back to the file.

A row goes through the very checks a file does (the pydantic models and ``build_registry`` of
actors/registry.py): an edit that does not pass is refused, naming the field and the value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.registry import (
    ENTRY_MODELS,
    Actor,
    Aliases,
    GroupEntry,
    Person,
    PersonEntry,
    Registry,
    RegistryProblem,
    Site,
    SiteEntry,
    build_registry,
)
from monitor.errors import MonitorError
from monitor.store.models import RegistryOverride, utcnow

__all__ = [
    "KINDS",
    "EditRefused",
    "alias_lines",
    "entry_fields",
    "parse_aliases",
    "registry_for",
    "revert_entry",
    "save_entry",
    "with_overrides",
]

log = logging.getLogger(__name__)

KINDS = ("group", "person", "site")
_KEYS = {"group": "groups", "person": "people", "site": "sites"}  # the files' list keys
_KIND_OF = {v: k for k, v in _KEYS.items()}
MAX_ALIASES = 200
_ALIASES: TypeAdapter[list[Any]] = TypeAdapter(Aliases)

OverrideRow = tuple[str, str, dict[str, Any], bool]  # kind, ref, fields, added
Tables = dict[str, dict[str, dict[str, Any]]]  # kind -> id -> the entry's fields


class EditRefused(MonitorError):
    """A console edit that is not stored: the message says which line or field is wrong."""


def parse_aliases(text: str) -> list[str | dict[str, Any]]:
    """The console's alias box: one alias a line; ``alias | word, word`` when it needs one of
    those words right before it (the YAML's ``needs``). Raises EditRefused naming the line."""
    out: list[str | dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        alias, _, needs = (part.strip() for part in line.partition("|"))
        if not alias and not needs:
            continue
        entry: str | dict[str, Any] = alias
        if needs:
            entry = {"alias": alias, "needs": [w.strip() for w in needs.split(",") if w.strip()]}
        try:
            _ALIASES.validate_python([entry])
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"].replace("String", "the alias")
            raise EditRefused(f"aliases, line {number}: {problem}") from None
        out.append(entry)
    if len(out) > MAX_ALIASES:
        raise EditRefused(f"aliases: at most {MAX_ALIASES}")
    return out


def alias_lines(aliases: Iterable[str], needs: Iterable[tuple[str, tuple[str, ...]]]) -> str:
    """An entry's aliases as the console's alias box shows them (parse_aliases reads it)."""
    need = dict(needs)
    return "\n".join(f"{a} | {', '.join(need[a])}" if a in need else a for a in aliases)


def entry_fields(entry: Actor | Person | Site) -> dict[str, Any]:
    """A built entry as its file would spell it (what a row's fields are laid over)."""
    need = dict(entry.needs)
    aliases = [{"alias": a, "needs": list(need[a])} if a in need else a for a in entry.aliases]
    out: dict[str, Any] = {"id": entry.id, "name": entry.name}
    if isinstance(entry, Actor):
        out |= {"kind": entry.kind, "parent": entry.parent, "affiliates": list(entry.affiliates)}
        out["channels"] = [{"handle": h, "role": r} for h, r in entry.channels]
    elif isinstance(entry, Person):
        out |= {"group": entry.group, "role": entry.role}
    else:
        out |= {"country": entry.country, "lat": entry.lat, "lon": entry.lon}
    return out | {"aliases": aliases, "note": entry.note}


def _tables(registry: Registry) -> Tables:
    return {
        "group": {k: entry_fields(v) for k, v in registry.groups.items()},
        "person": {k: entry_fields(v) for k, v in registry.people.items()},
        "site": {k: entry_fields(v) for k, v in registry.sites.items()},
    }


def _build(tables: Tables, edits: dict[tuple[str, str], str]) -> Registry:
    """ValidationError or RegistryProblem when an entry does not pass the files' checks."""
    built = build_registry(
        [GroupEntry.model_validate(e) for e in tables["group"].values()],
        [PersonEntry.model_validate(e) for e in tables["person"].values()],
        [SiteEntry.model_validate(e) for e in tables["site"].values()],
    )
    return replace(built, edits=dict(edits))


def _apply(tables: Tables, base: Tables, row: OverrideRow) -> str | None:
    """Lay one row over ``tables``; "edited" or "added", or None for an edit of an entry the
    files no longer have (it is ignored, as a stale edit should be)."""
    kind, ref, fields, added = row
    table = tables.get(kind)
    if table is None or (ref not in base.get(kind, {}) and not added):
        return None
    table[ref] = {**table.get(ref, {}), **fields, "id": ref}
    return "added" if added and ref not in base[kind] else "edited"


def with_overrides(registry: Registry, rows: Iterable[OverrideRow]) -> Registry:
    """``registry`` with ``rows`` (kind, ref, fields, added) laid over it. A row that no longer
    passes (the file changed under it: its parent was removed) is left out and logged, so a
    file edit never stops collection."""
    base = _tables(registry)
    rows = list(rows)
    tables = _tables(registry)
    edits = {(r[0], r[1]): e for r in rows if (e := _apply(tables, base, r)) is not None}
    try:
        return _build(tables, edits)
    except (ValidationError, RegistryProblem):
        pass
    tables, edits, merged = _tables(registry), {}, registry
    for row in rows:
        trial = {kind: dict(entries) for kind, entries in tables.items()}
        if (how := _apply(trial, base, row)) is None:
            continue
        try:
            merged = _build(trial, {**edits, (row[0], row[1]): how})
        except (ValidationError, RegistryProblem) as exc:
            log.warning("console edit of %s %r left out, it no longer fits: %s", *row[:2], exc)
            continue
        tables, edits[(row[0], row[1])] = trial, how
    return merged


_cache: dict[int, tuple[Registry, tuple[OverrideRow, ...], Registry]] = {}


def registry_for(session: Session, loader: Callable[[], Registry]) -> Registry:
    """The registry as every stage should read it: the files, with the console's edits. The
    same files and edits give the same object, so what is compiled from it is kept."""
    base = loader()
    rows = tuple(
        (kind, ref, fields or {}, bool(added))
        for kind, ref, fields, added in session.execute(
            select(
                RegistryOverride.kind,
                RegistryOverride.ref,
                RegistryOverride.fields,
                RegistryOverride.added,
            ).order_by(RegistryOverride.kind, RegistryOverride.ref)
        )
    )
    if not rows:
        return base
    hit = _cache.get(id(base))
    if hit is not None and hit[0] is base and hit[1] == rows:
        return hit[2]
    merged = with_overrides(base, rows)
    if len(_cache) > 8:  # one entry a loader (the console's, the pipeline's); ids are reused
        _cache.clear()
    _cache[id(base)] = (base, rows, merged)
    return merged


def _model_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    loc = [p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p == "str"))]
    loc = [p for p in loc if p != "AliasEntry"]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)[1:] or "entry"
    message = error["msg"].replace("Input should be", "must be")
    if error["type"] == "missing" or (error["type"] == "string_too_short" and not error["input"]):
        message = "required"
    value = error.get("input")
    shown = f" (not {value!r})" if isinstance(value, str | int | float) and value != "" else ""
    return f"{where}: {message}{shown}"


def _check(tables: Tables, kind: str, ref: str) -> None:
    """Refuse (EditRefused) a registry that would not load from a file, naming the field."""
    try:
        _build(tables, {})
    except ValidationError as exc:
        raise EditRefused(_model_problem(exc)) from None
    except RegistryProblem as exc:
        own = _KIND_OF[exc.key] == kind and exc.ref == ref
        where = exc.field if own else f"{_KIND_OF[exc.key]} {exc.ref!r}, {exc.field}"
        raise EditRefused(f"{where}: {exc.message}") from None


def _shown(name: str, value: Any) -> Any:
    if name == "aliases":
        return "\n".join(
            f"{a['alias']} | {', '.join(a['needs'])}" if isinstance(a, dict) else a for a in value
        )
    if name == "channels":
        return "\n".join(f"{c['handle']} | {c['role']}" for c in value)
    return value


def save_entry(
    session: Session,
    loader: Callable[[], Registry],
    kind: str,
    ref: str,
    changes: dict[str, Any],
    *,
    by: str,
    new: bool = False,
) -> dict[str, Any]:
    """Store an operator's edit of one entry (``changes``: fields as the YAML spells them), or
    a ``new`` entry; returns what changed (before and after), for the audit log. Raises
    EditRefused, storing nothing, for an unknown entry, a taken id or a value the files'
    checks refuse."""
    if kind not in KINDS:
        raise EditRefused(f"no kind {kind!r} in the registry")
    base = _tables(loader())
    tables = _tables(registry_for(session, loader))
    if new and ref in tables[kind]:
        raise EditRefused(f"id: {ref!r} is already a {kind} of the registry")
    if not new and ref not in tables[kind]:
        raise EditRefused(f"no {kind} {ref!r} in the registry")
    before = tables[kind].pop(ref, {})
    tables[kind][ref] = {**before, **changes, "id": ref}  # last: a problem is reported at it
    _check(tables, kind, ref)
    after = ENTRY_MODELS[kind].model_validate(tables[kind][ref]).model_dump()
    row = session.get(RegistryOverride, (kind, ref))
    added = new or (row is not None and row.added and ref not in base[kind])
    file_entry = {} if added else base[kind].get(ref, {})
    fields = {k: v for k, v in after.items() if k != "id" and file_entry.get(k) != v}
    if not fields and not added:
        if row is not None:  # the same as the file again: nothing to lay over it
            session.delete(row)
    else:
        if row is None:
            row = RegistryOverride(kind=kind, ref=ref, added=added, updated_by=by)
            session.add(row)
        row.fields, row.added, row.updated_by, row.updated_at = fields, added, by, utcnow()
    return {
        k: {"before": _shown(k, before.get(k)) if before else None, "after": _shown(k, v)}
        for k, v in after.items()
        if k != "id" and before.get(k) != v
    }


def revert_entry(
    session: Session, loader: Callable[[], Registry], kind: str, ref: str
) -> dict[str, Any]:
    """Remove the console's row of an entry: back to the file's, or gone if the console added
    it. Returns the row's fields, for the audit log; EditRefused when there is none or when an
    entry that remains names this one (a person of an added group)."""
    row = session.get(RegistryOverride, (kind, ref)) if kind in KINDS else None
    if row is None:
        raise EditRefused(f"{kind} {ref!r} has no console edit to undo")
    base = _tables(loader())
    tables = _tables(registry_for(session, loader))
    if ref in base[kind]:
        tables[kind][ref] = base[kind][ref]
    else:
        tables[kind].pop(ref, None)
    _check(tables, kind, ref)
    detail = {"fields": row.fields, "added": row.added, "back_to_file": ref in base[kind]}
    session.delete(row)
    return detail
