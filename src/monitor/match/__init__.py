"""Arabic-aware matcher: Quran quotes, cue verses and escalation phrase families.

from monitor.match import load_rules, Matcher
matcher = Matcher(load_rules(Path("config/rules")), cache_dir=Path("var/cache"))
result = matcher.match(text)           # MatchResult: flagged, severity, signals, ...
"""

from __future__ import annotations

from .engine import MatchContext, Matcher, MatchResult, Signal, Suppressed
from .normalize import Normalized, normalize
from .rules import RuleSet, load_rules
from .scan import scan_jsonl
from .severity import SEVERITIES

__all__ = [
    "SEVERITIES",
    "MatchContext",
    "MatchResult",
    "Matcher",
    "Normalized",
    "RuleSet",
    "Signal",
    "Suppressed",
    "load_rules",
    "normalize",
    "scan_jsonl",
]
