"""`monitor serve`: the review console (issue #5)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
