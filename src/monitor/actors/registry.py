"""The registry (#16): groups, people and sites, as operators keep them in ``config/registry/``.

Three files, each a list under one key (``groups:``, ``people:``, ``sites:``), read through the
shared config loader (``monitor.yamlfile``: line numbers, no aliases) and validated with pydantic
like ``channels.yaml``: an unknown key, a duplicate id, a site without coordinates or a parent
that is no group is a ConfigError naming the file and the line, never a traceback later.

An alias is a string, or ``{alias: ..., needs: [...]}`` when it is an everyday word that names the
entry only after one of the ``needs`` words ("العمر" is the oil field in "حقل العمر", a word
elsewhere): see monitor.actors.mentions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.errors import ConfigError
from monitor.store.channels import normalise_handle
from monitor.store.channels_file import _locate
from monitor.yamlfile import compose_config, construct, read_text

__all__ = [
    "ENTRY_MODELS",
    "FILES",
    "Actor",
    "AliasEntry",
    "Aliases",
    "GroupEntry",
    "Note",
    "Person",
    "PersonEntry",
    "Registry",
    "RegistryProblem",
    "Site",
    "SiteEntry",
    "build_registry",
    "cached_loader",
    "load_registry",
    "split_aliases",
]

log = logging.getLogger(__name__)

FILES = ("groups", "people", "sites")
GROUP_KINDS = ("armed group", "facade", "media outlet", "political")
PERSON_ROLES = ("leader", "spokesman", "figure")
COUNTRIES = ("Iraq", "Syria", "Jordan")
CHANNEL_ROLES = ("official", "leader", "media")

# (alias, the words one of which must stand right before it), for the aliases that need one.
Needs = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Site:
    id: str  # slug, e.g. "ain-al-asad"
    name: str
    country: str  # "Iraq" | "Syria" | "Jordan"
    lat: float
    lon: float
    aliases: tuple[str, ...]
    note: str
    needs: Needs = ()


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    aliases: tuple[str, ...]
    group: str | None  # a group id
    role: str  # "leader" | "spokesman" | "figure"
    note: str
    needs: Needs = ()


@dataclass(frozen=True)
class Actor:
    id: str
    name: str  # = groups.name in the database (channels.yaml), e.g. "Harakat al-Nujaba"
    kind: str  # "armed group" | "facade" | "media outlet" | "political"
    parent: str | None  # a group id
    affiliates: tuple[str, ...]  # group ids
    aliases: tuple[str, ...]
    note: str
    channels: tuple[tuple[str, str], ...]  # (handle, role: official | leader | media)
    needs: Needs = ()


@dataclass(frozen=True)
class Registry:
    groups: dict[str, Actor]
    people: dict[str, Person]
    sites: dict[str, Site]
    # (kind, id) -> "edited" | "added": the entries the console changed (actors/overrides.py).
    edits: dict[tuple[str, str], str] = field(default_factory=dict)

    def group_for_channel(self, handle: str) -> Actor | None:
        key = handle.lower().lstrip("@")
        for actor in self.groups.values():
            if any(h == key for h, _ in actor.channels):
                return actor
        return None

    def actor_named(self, group_name: str) -> Actor | None:
        """The group whose name or one of whose aliases is ``group_name``, case-insensitive."""
        key = group_name.strip().casefold()
        for actor in self.groups.values():
            if actor.name.casefold() == key or any(a.casefold() == key for a in actor.aliases):
                return actor
        return None


# --- the files ---------------------------------------------------------------------------------

Id = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(min_length=1, max_length=2000)]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class AliasEntry(_Entry):
    alias: Text
    needs: list[Text] = Field(min_length=1, max_length=20)


Alias = Text | AliasEntry
Aliases = list[Alias]


class ChannelEntry(_Entry):
    handle: Text
    role: Literal["official", "leader", "media"]


class GroupEntry(_Entry):
    id: Id
    name: Text
    kind: Literal["armed group", "facade", "media outlet", "political"]
    parent: Id | None = None
    affiliates: list[Id] = Field(default=[], max_length=100)
    aliases: Aliases = Field(default=[], max_length=200)
    channels: list[ChannelEntry] = Field(default=[], max_length=200)
    note: Note


class PersonEntry(_Entry):
    id: Id
    name: Text
    aliases: Aliases = Field(default=[], max_length=200)
    group: Id | None = None
    role: Literal["leader", "spokesman", "figure"]
    note: Note


class SiteEntry(_Entry):
    id: Id
    name: Text
    country: Literal["Iraq", "Syria", "Jordan"]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    aliases: Aliases = Field(default=[], max_length=200)
    note: Note


class GroupsFile(_Entry):
    groups: list[GroupEntry] = []


class PeopleFile(_Entry):
    people: list[PersonEntry] = []


class SitesFile(_Entry):
    sites: list[SiteEntry] = []


_SCHEMAS: dict[str, type[_Entry]] = {"groups": GroupsFile, "people": PeopleFile, "sites": SitesFile}
# The model of one entry, by the console's name of its kind: the console validates with these.
ENTRY_MODELS: dict[str, type[GroupEntry | PersonEntry | SiteEntry]] = {
    "group": GroupEntry,
    "person": PersonEntry,
    "site": SiteEntry,
}


def _read(path: Path, key: str) -> tuple[_Entry, yaml.Node | None]:
    schema = _SCHEMAS[key]
    try:
        text = read_text(path)
    except FileNotFoundError:
        return schema(), None
    root = compose_config(text, path)
    data = construct(root, path, text)
    if data is None:
        return schema(), None
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"must be a mapping with `{key}:`", file=path, line=1)
    try:
        return schema.model_validate(data), root
    except ValidationError as exc:
        raise _config_error(exc, path, root) from None


def _config_error(exc: ValidationError, path: Path, root: yaml.Node) -> ConfigError:
    """The first bad value names the file and line; the others follow, one per line."""
    problems: list[tuple[int | None, str]] = []
    for error in exc.errors(include_url=False):
        # Unions (an alias is a string or a mapping) add their member's name to the location.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        loc = tuple(p for p in loc if p not in ("str", "AliasEntry"))
        line, where = _locate(root, loc)
        message = error["msg"].replace("Input should be", "must be")
        if error["type"] == "extra_forbidden":
            message = "unknown key (README, 'Registry', lists the keys there are)"
        elif error["type"] == "missing":
            message = "required"
        problems.append((line, f"{where}: {message}" if where else message))
    line, first = problems[0]
    rest = "".join(f"\n{path}:{ln if ln is not None else '?'}: {msg}" for ln, msg in problems[1:])
    return ConfigError(first + rest, file=path, line=line)


def _line(root: yaml.Node | None, *loc: int | str) -> int | None:
    return _locate(root, loc)[0] if root is not None else None


def split_aliases(entries: list[Alias]) -> tuple[tuple[str, ...], Needs]:
    """A file's alias list as an entry keeps it: the names, and the needs of those with some."""
    names: list[str] = []
    needs: list[tuple[str, tuple[str, ...]]] = []
    for a in entries:
        if isinstance(a, AliasEntry):
            names.append(a.alias)
            needs.append((a.alias, tuple(a.needs)))
        else:
            names.append(a)
    return tuple(dict.fromkeys(names)), tuple(needs)


class RegistryProblem(Exception):
    """A value the models alone cannot judge (an id twice, a parent that is no group, a cycle):
    where it is (``key``, the entry's index, the path in it) and what is wrong, for a file's
    line or a console field."""

    def __init__(
        self, key: str, index: int, ref: str, path: tuple[str | int, ...], message: str
    ) -> None:
        super().__init__(message)
        self.key, self.index, self.ref, self.path, self.message = key, index, ref, path, message

    @property
    def field(self) -> str:
        """The path as the messages spell it: ``channels[0].handle``."""
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)[1:]


def _unique(entries: Sequence[GroupEntry | PersonEntry | SiteEntry], key: str) -> None:
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise RegistryProblem(key, i, entry.id, ("id",), f"duplicate id {entry.id!r}")
        seen.add(entry.id)


def load_registry(config_dir: Path) -> Registry:
    """``config_dir/registry/{groups,people,sites}.yaml``; an empty registry when the folder or a
    file is missing. ConfigError (exit 2) names the file and line of the first bad value."""
    folder = config_dir / "registry"
    if not folder.is_dir():
        return Registry({}, {}, {})
    paths = {name: folder / f"{name}.yaml" for name in FILES}
    read = {name: _read(paths[name], name) for name in FILES}
    gfile, pfile, sfile = (read[name][0] for name in FILES)
    assert isinstance(gfile, GroupsFile) and isinstance(pfile, PeopleFile)
    assert isinstance(sfile, SitesFile)
    try:
        return build_registry(gfile.groups, pfile.people, sfile.sites)
    except RegistryProblem as exc:
        # A channel's problem is on its list item's line, as channels.yaml reports one.
        path = exc.path[:2] if exc.path[0] == "channels" else exc.path
        line = _line(read[exc.key][1], exc.key, exc.index, *path)
        raise ConfigError(
            f"{exc.key}[{exc.index}].{exc.field}: {exc.message}", file=paths[exc.key], line=line
        ) from None


def build_registry(
    group_entries: Sequence[GroupEntry],
    person_entries: Sequence[PersonEntry],
    site_entries: Sequence[SiteEntry],
) -> Registry:
    """The registry of validated entries, the files' or the console's (#16: one check for
    both): RegistryProblem for what a single entry cannot tell (ids, references, cycles)."""
    _unique(group_entries, "groups")
    _unique(person_entries, "people")
    _unique(site_entries, "sites")
    ids = {g.id for g in group_entries}
    handles: dict[str, str] = {}
    groups: dict[str, Actor] = {}
    for i, g in enumerate(group_entries):
        for key, ref in [("parent", g.parent)] + [("affiliates", a) for a in g.affiliates]:
            if ref is not None and (ref not in ids or ref == g.id):
                what = "itself" if ref == g.id else f"{ref!r}, which is no group of the registry"
                raise RegistryProblem("groups", i, g.id, (key,), f"names {what}")
        channels = []
        for j, c in enumerate(g.channels):
            try:
                handle = normalise_handle(c.handle)
            except ConfigError as exc:
                raise RegistryProblem(
                    "groups", i, g.id, ("channels", j, "handle"), exc.message
                ) from None
            if handle in handles:
                raise RegistryProblem(
                    "groups", i, g.id, ("channels", j),
                    f"@{handle} is already a channel of {handles[handle]}",
                )  # fmt: skip
            handles[handle] = g.id
            channels.append((handle, c.role))
        aliases, needs = split_aliases(g.aliases)
        groups[g.id] = Actor(
            g.id,
            g.name,
            g.kind,
            g.parent,
            tuple(g.affiliates),
            aliases,
            g.note,
            tuple(channels),
            needs,
        )
    _check_cycles(groups)

    people: dict[str, Person] = {}
    for i, p in enumerate(person_entries):
        if p.group is not None and p.group not in groups:
            raise RegistryProblem(
                "people", i, p.id, ("group",), f"{p.group!r} is no group of the registry"
            )
        aliases, needs = split_aliases(p.aliases)
        people[p.id] = Person(p.id, p.name, aliases, p.group, p.role, p.note, needs)

    sites: dict[str, Site] = {}
    for s in site_entries:
        aliases, needs = split_aliases(s.aliases)
        sites[s.id] = Site(s.id, s.name, s.country, s.lat, s.lon, aliases, s.note, needs)
    return Registry(groups, people, sites)


def _check_cycles(groups: dict[str, Actor]) -> None:
    order = list(groups)
    # From the last entry back: a console edit is checked as the last entry, and so is named.
    for start in reversed(order):
        seen = {start}
        node = groups[start].parent
        while node is not None:
            if node in seen:
                parent = groups[start].parent
                raise RegistryProblem(
                    "groups", order.index(start), start, ("parent",),
                    f"{parent!r} makes {start!r} its own ancestor",
                )  # fmt: skip
            seen.add(node)
            node = groups[node].parent


def cached_loader(config_dir: Path) -> Callable[[], Registry]:
    """A loader for hooks that run every batch: the files are read now (a bad one is a
    ConfigError at start-up, exit 2) and again only when one of them changed (size or mtime),
    so an operator's edit is picked up without a restart. A changed file that no longer
    validates is logged and the registry read before is kept: a typo does not stop collection."""
    registry = load_registry(config_dir)
    stamp = _stamp(config_dir)

    def load() -> Registry:
        nonlocal registry, stamp
        now = _stamp(config_dir)
        if now != stamp:
            stamp = now  # judged once per change, not once per batch
            try:
                registry = load_registry(config_dir)
            except ConfigError as exc:
                log.error("registry not reloaded, the one read before is kept: %s", exc)
        return registry

    return load


def _stamp(config_dir: Path) -> list[tuple[int, int] | None]:
    out: list[tuple[int, int] | None] = []
    for name in FILES:
        try:
            st = (config_dir / "registry" / f"{name}.yaml").stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return out
