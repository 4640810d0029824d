"""Shared matcher construction for the match tests (imported explicitly, not a conftest)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from monitor.match import MatchContext, Matcher, load_rules

RULES_DIR = Path(__file__).resolve().parent.parent / "config" / "rules"


@cache
def shared_matcher(cache_dir: Path) -> Matcher:
    return Matcher(load_rules(RULES_DIR), cache_dir=cache_dir)


def kinds(matcher: Matcher, text: str, channel_kind: str = "group") -> set[str]:
    """The kinds of the signals found in ``text`` posted on a channel of ``channel_kind``."""
    return {s.kind for s in matcher.match(text, MatchContext(channel_kind=channel_kind)).signals}


def flagged(matcher: Matcher, text: str, channel_kind: str = "group") -> bool:
    return matcher.match(text, MatchContext(channel_kind=channel_kind)).flagged
