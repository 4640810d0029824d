"""The console's edits of the registry (#16): an entry's aliases and note, kept in
``registry_overrides`` and laid over ``config/registry/`` by every process that reads it.

Why rows and not a rewrite of the YAML: the console and the collectors may not share a config
folder (docker-compose bakes it into the image), a rewrite would drop the file's comments, and
a row is audited and read in the same transaction as the posts it changes. The file stays the
operators' baseline; an edit overrides only the fields it names, and removing the row (or
``monitor``'s `registry_overrides` table) falls back to the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.registry import (
    Actor,
    AliasEntry,
    Aliases,
    Note,
    Person,
    Registry,
    Site,
    split_aliases,
)
from monitor.errors import MonitorError
from monitor.store.models import RegistryOverride, utcnow

__all__ = ["KINDS", "EditRefused", "edit_entry", "parse_aliases", "registry_for", "with_overrides"]

KINDS = ("group", "person", "site")
MAX_ALIASES = 200
_ALIASES: TypeAdapter[list[Any]] = TypeAdapter(Aliases)
_NOTE: TypeAdapter[str] = TypeAdapter(Note)

OverrideRow = tuple[str, str, list[Any] | None, str | None]


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


def with_overrides(registry: Registry, rows: Iterable[OverrideRow]) -> Registry:
    """``registry`` with the edited fields of ``rows`` (kind, ref, aliases, note) laid over it;
    an edit of an entry the files no longer have is ignored."""
    groups, people, sites = dict(registry.groups), dict(registry.people), dict(registry.sites)
    tables: dict[str, dict[str, Any]] = {"group": groups, "person": people, "site": sites}
    for kind, ref, aliases, note in rows:
        table = tables.get(kind)
        if table is None or ref not in table:
            continue
        changes: dict[str, Any] = {}
        if aliases is not None:
            parsed = [AliasEntry(**a) if isinstance(a, dict) else a for a in aliases]
            changes["aliases"], changes["needs"] = split_aliases(parsed)
        if note is not None:
            changes["note"] = note
        table[ref] = replace(table[ref], **changes)
    return Registry(groups, people, sites)


_cache: tuple[Registry, tuple[OverrideRow, ...], Registry] | None = None


def registry_for(session: Session, loader: Callable[[], Registry]) -> Registry:
    """The registry as every stage should read it: the files, with the console's edits. The
    same files and edits give the same object, so what is compiled from it is kept."""
    global _cache
    base = loader()
    rows = tuple(
        (kind, ref, aliases, note)
        for kind, ref, aliases, note in session.execute(
            select(
                RegistryOverride.kind,
                RegistryOverride.ref,
                RegistryOverride.aliases,
                RegistryOverride.note,
            ).order_by(RegistryOverride.kind, RegistryOverride.ref)
        )
    )
    if not rows:
        return base
    if _cache is not None and _cache[0] is base and _cache[1] == rows:
        return _cache[2]
    merged = with_overrides(base, rows)
    _cache = (base, rows, merged)
    return merged


def edit_entry(
    session: Session,
    registry: Registry,
    kind: str,
    ref: str,
    *,
    aliases: str,
    note: str,
    by: str,
) -> dict[str, Any]:
    """Store an operator's edit of one entry; returns what changed (before and after), for the
    audit log. Raises EditRefused for an unknown entry or a bad value."""
    tables: dict[str, Mapping[str, Actor | Person | Site]] = {
        "group": registry.groups,
        "person": registry.people,
        "site": registry.sites,
    }
    table = tables.get(kind)
    if table is None or ref not in table:
        raise EditRefused(f"no {kind} {ref!r} in the registry")
    entry = table[ref]
    new_aliases = parse_aliases(aliases)
    try:
        new_note = _NOTE.validate_python(note.strip())
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]["msg"].replace("String", "the note")
        raise EditRefused(f"note: {problem}") from None
    row = session.get(RegistryOverride, (kind, ref))
    if row is None:
        row = RegistryOverride(kind=kind, ref=ref, updated_by=by)
        session.add(row)
    row.aliases, row.note, row.updated_by, row.updated_at = new_aliases, new_note, by, utcnow()
    after = split_aliases([AliasEntry(**a) if isinstance(a, dict) else a for a in new_aliases])
    return {
        "aliases": {
            "before": alias_lines(entry.aliases, entry.needs),
            "after": alias_lines(*after),
        },
        "note": {"before": entry.note, "after": new_note},
    }
