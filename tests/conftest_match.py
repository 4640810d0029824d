"""Shared matcher construction for the match tests (imported explicitly, not a conftest)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from monitor.match import Matcher, load_rules

RULES_DIR = Path(__file__).resolve().parent.parent / "config" / "rules"


@cache
def shared_matcher(cache_dir: Path) -> Matcher:
    return Matcher(load_rules(RULES_DIR), cache_dir=cache_dir)
