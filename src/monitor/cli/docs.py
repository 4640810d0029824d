"""docs/cli.md is the `--help` of every command; `python -m monitor.cli.docs` rewrites it.

A test compares the file with this output, so the reference never drifts from the code.
"""

from __future__ import annotations

import sys

import click

from monitor.cli import cli

HEADER = """# Command reference

Generated from each command's `--help` by `python -m monitor.cli.docs > docs/cli.md`;
`tests/test_cli_help.py` fails when this file and the commands disagree.
"""


def _walk(group: click.Group, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    out: list[tuple[tuple[str, ...], click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        out.append(((*path, name), command))
        if isinstance(command, click.Group):
            out += _walk(command, (*path, name))
    return out


def _context(path: tuple[str, ...]) -> click.Context:
    """The context click builds when the user types ``monitor PATH --help``."""
    # A fixed width: the reference must not depend on the terminal it was generated in.
    ctx = click.Context(cli, info_name="monitor", terminal_width=100, **cli.context_settings)
    group: click.Command = cli
    for step in path:
        assert isinstance(group, click.Group)
        group = group.commands[step]
        ctx = click.Context(group, info_name=step, parent=ctx)
    return ctx


def render() -> str:
    parts = [HEADER]
    for path, command in [((), cli), *_walk(cli, ())]:
        text = command.get_help(_context(path)).rstrip()
        parts.append(f"## {' '.join(('monitor', *path))}\n\n```\n{text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
