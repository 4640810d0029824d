"""Every command answers --help, and the commands the interface spec names exist."""

from __future__ import annotations

import click
import pytest

from monitor.cli import cli
from tests.conftest import REPO, CliRunner


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in group.commands.items():
        out.append((*prefix, name))
        if isinstance(command, click.Group):
            out += walk(command, (*prefix, name))
    return out


@pytest.mark.parametrize("path", walk(cli), ids=" ".join)
def test_help(run_cli: CliRunner, path: tuple[str, ...]) -> None:
    result = run_cli(*path, "--help")
    assert result.code == 0
    assert result.out.startswith("Usage: monitor " + " ".join(path))


def test_unknown_option_is_exit_2(run_cli: CliRunner) -> None:
    result = run_cli("export", "posts", "--colour")
    assert result.code == 2 and "No such option '--colour'" in result.err


def test_command_reference_is_current() -> None:
    from monitor.cli.docs import render

    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "run: python -m monitor.cli.docs > docs/cli.md"


def test_every_command_of_the_interface_spec_exists() -> None:
    spec = {
        ("db", "upgrade"), ("demo",), ("scan",), ("import",), ("channels", "add"),
        ("channels", "list"), ("channels", "disable"), ("channels", "enable"),
        ("channels", "remove"), ("channels", "sync"), ("collect",), ("run",), ("serve",),
        ("login",), ("users", "add"), ("users", "list"), ("users", "disable"), ("users", "passwd"),
        ("subscribers", "add"), ("subscribers", "list"), ("subscribers", "remove"),
        ("subscribers", "test"), ("alerts", "send"), ("rematch",), ("export",),
    }  # fmt: skip
    assert spec <= set(walk(cli))
