"""``channels.yaml``: the groups and channels an operator keeps under version control.

Read through the shared config loader (``monitor.yamlfile``: no aliases, #11) and validated with
pydantic, so a wrong value (``weight: abc``, ``name: [a, b]``, a misspelt key) is a ConfigError
naming the file and the line of that value, every bad value at once, instead of an internal
error half-way through ``monitor channels sync``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.channel_kinds import ChannelKind
from monitor.errors import ConfigError
from monitor.store.channels import normalise_handle
from monitor.yamlfile import compose_config, construct, read_text

__all__ = ["ChannelEntry", "ChannelsFile", "GroupEntry", "load_channels_file"]

# The console's group form has the same bounds (web/operators.py).
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Entry(BaseModel):
    # Unknown keys are refused: a misspelt `enabeld: false` would otherwise leave a channel on.
    # Numbers are accepted where a name is expected, as `str()` did before ("name: 2024").
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class GroupEntry(_Entry):
    name: Name
    kind: Literal["militia", "facade"] = "militia"
    parent: Name | None = None
    aliases: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=100)
    weight: float = Field(default=1.0, ge=0, le=10)


class ChannelEntry(_Entry):
    handle: Name
    group: Name | None = None
    source: Literal["telethon", "web", "export"] | None = None
    # Who speaks on the channel, for the score (#12). Left out, a sync keeps the kind already
    # set (an operator may have set it on the console); a new channel is a `group`.
    kind: ChannelKind | None = None
    interval: int | None = Field(default=None, ge=10, strict=True)
    enabled: bool = Field(default=True, strict=True)

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        try:
            normalise_handle(value)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
        return value


class ChannelsFile(_Entry):
    groups: list[GroupEntry] | None = None
    channels: list[ChannelEntry] | None = None


def load_channels_file(path: Path) -> ChannelsFile:
    """Parse and validate channels.yaml; ConfigError (exit 2) names the file and line."""
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise ConfigError("no such file", file=path) from None
    root = compose_config(text, path)
    data = construct(root, path, text)
    if data is None:
        return ChannelsFile()
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise ConfigError("must be a mapping with `groups:` and `channels:`", file=path, line=1)
    try:
        return ChannelsFile.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, path, root) from None


def _config_error(exc: ValidationError, path: Path, root: yaml.Node) -> ConfigError:
    """One ConfigError for the first bad value; the others follow it, one per line."""
    problems: list[tuple[int | None, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        # A union (`list | None`) reports its member's name in the location; drop it.
        loc = tuple(p for p in loc if p not in ("list[GroupEntry]", "list[ChannelEntry]"))
        line, where = _locate(root, loc)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (see config/channels.yaml for the ones there are)"
        elif error["type"] == "literal_error":
            message = f"must be one of {error.get('ctx', {}).get('expected', '')}"
        else:
            message = message.replace("Input should be", "must be")
        problems.append((line, f"{where}: {message}" if where else message))
    line, first = problems[0]
    rest = "".join(f"\n{path}:{ln if ln is not None else '?'}: {msg}" for ln, msg in problems[1:])
    return ConfigError(first + rest, file=path, line=line)


def _locate(root: yaml.Node, loc: tuple[int | str, ...]) -> tuple[int | None, str]:
    """The line of the node at ``loc`` (the deepest one that exists) and a readable path."""
    node: yaml.Node = root
    names: list[str] = []
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    child = value
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        names.append(f"[{part}]" if isinstance(part, int) else f".{part}" if names else part)
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1, "".join(names)
