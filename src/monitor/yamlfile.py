"""The one way config files (``settings.yaml``, ``channels.yaml``, ``rules/*.yaml``) are parsed.

Aliases are refused outright (#11): PyYAML shares an aliased node rather than copying it, but
every walk over the tree (validation, ``str()``, ``yaml.serialize``) expands it, so nine nested
aliases of nine items ("billion laughs") cost 9⁹ steps and gigabytes. None of our config files
needs them: an operator repeats a value instead. Anchors are refused with them, so the message
points at the first place that would start such a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError, yaml_error

__all__ = ["MAX_DEPTH", "compose_config", "construct", "read_text"]

MAX_DEPTH = 64


class _NoAliasLoader(yaml.SafeLoader):
    """A SafeLoader that refuses anchors (``&a``) and aliases (``*a``) as it composes."""

    path: str = ""
    depth: int = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            what = f"alias *{anchor}" if isinstance(event, yaml.AliasEvent) else f"anchor &{anchor}"
            raise ConfigError(
                f"YAML anchors and aliases are not allowed in config files ({what}); "
                "repeat the value instead",
                file=self.path,
                line=event.start_mark.line + 1,
            )
        # Composing recurses once per level: "[[[[…" 50 000 deep ends in a RecursionError, not a
        # message (#11). No config file of ours nests past a handful of levels.
        if self.depth >= MAX_DEPTH:
            raise ConfigError(
                f"nested deeper than {MAX_DEPTH} levels",
                file=self.path,
                line=event.start_mark.line + 1,
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_text(path: Path) -> str:
    """The file as UTF-8 text; a missing file raises FileNotFoundError for the caller to judge."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8: {exc}", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from None


def compose_config(text: str, path: Path) -> yaml.Node | None:
    """The node tree of one YAML document (None when empty), each node knowing its line.

    Raises ConfigError naming the file and line for a syntax error, an alias or an anchor.
    """
    try:
        loader = _NoAliasLoader(text)  # the reader already refuses control characters here
    except yaml.YAMLError as exc:
        raise yaml_error(exc, path, text) from None
    loader.path = str(path)
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    except yaml.YAMLError as exc:
        raise yaml_error(exc, path, text) from None
    finally:
        loader.dispose()


def construct(node: yaml.Node | None, path: Path, text: str) -> Any:
    """Plain Python values (dicts, lists, scalars) of a tree from ``compose_config``."""
    if node is None:
        return None
    loader = _NoAliasLoader("")
    try:
        return loader.construct_document(node)
    except yaml.YAMLError as exc:  # e.g. an unhashable key such as "? [a]"
        raise yaml_error(exc, path, text) from None
    finally:
        loader.dispose()
