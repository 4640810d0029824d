"""`monitor collect`, `monitor run`, `monitor login`: live collection (issue #4)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
