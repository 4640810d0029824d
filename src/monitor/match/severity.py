"""Severity score; the formula is documented next to its weights in severity.yaml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEVERITIES", "Scorer"]

SEVERITIES = ("none", "low", "medium", "high", "critical")

_DEFAULT_KINDS = {
    "verse_cue": 35.0,
    "verse_quote": 0.0,
    "readiness": 40.0,
    "threat": 30.0,
    "allegiance": 30.0,
    "attack_claim": 45.0,
    "target": 10.0,
}


@dataclass
class Scorer:
    kinds: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT_KINDS))
    extra_factor: float = 0.5
    combos: list[tuple[frozenset[str], float]] = field(default_factory=list)
    affiliated_per_channel: float = 8.0
    affiliated_cap: float = 24.0
    deleted_bonus: float = 10.0
    affiliated_window_hours: float = 6.0
    deleted_soon_hours: float = 2.0
    thresholds: dict[str, float] = field(
        default_factory=lambda: {"low": 15.0, "medium": 35.0, "high": 50.0, "critical": 75.0}
    )
    flag_at: str = "low"
    channels: dict[str, float] = field(default_factory=dict)
    groups: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Scorer:
        s = cls()
        s.kinds.update({k: float(v) for k, v in cfg.get("kinds", {}).items()})
        s.extra_factor = float(cfg.get("extra_signal_factor", s.extra_factor))
        s.combos = [
            (frozenset(str(k) for k in c["kinds"]), float(c["bonus"]))
            for c in cfg.get("combos", [])
        ]
        s.affiliated_per_channel = float(
            cfg.get("affiliated_per_channel", s.affiliated_per_channel)
        )
        s.affiliated_cap = float(cfg.get("affiliated_cap", s.affiliated_cap))
        s.deleted_bonus = float(cfg.get("deleted_soon_bonus", s.deleted_bonus))
        s.affiliated_window_hours = float(
            cfg.get("affiliated_window_hours", s.affiliated_window_hours)
        )
        s.deleted_soon_hours = float(cfg.get("deleted_soon_hours", s.deleted_soon_hours))
        if "thresholds" in cfg:
            s.thresholds = {k: float(v) for k, v in cfg["thresholds"].items()}
        s.flag_at = str(cfg.get("flag_at", s.flag_at))
        # Handles are compared without "@" and case-insensitively, as Telegram does.
        s.channels = {k.lstrip("@").lower(): float(v) for k, v in cfg.get("channels", {}).items()}
        s.groups = {k.lower(): float(v) for k, v in cfg.get("groups", {}).items()}
        return s

    def score(
        self,
        weighted: Sequence[tuple[str, str, float]],
        present: set[str],
        channel: str | None,
        group: str | None,
        affiliated_same_cue: int,
        deleted_soon: bool,
    ) -> tuple[float, str, list[str]]:
        """``weighted``: (kind, rule, weight) per distinct rule.  Returns score,
        severity and the explanation lines of the arithmetic."""
        why: list[str] = []
        ranked = sorted(weighted, key=lambda w: -w[2])
        if not ranked or ranked[0][2] <= 0:
            return 0.0, "none", why
        top = ranked[0]
        base = top[2]
        why.append(f"strongest signal {top[1]} ({top[0]}): {top[2]:g}")
        for kind, rule, w in ranked[1:]:
            if w > 0:
                base += self.extra_factor * w
                why.append(f"+ {self.extra_factor:g} x {w:g} for {rule} ({kind})")
        for kinds, bonus in self.combos:
            if kinds <= present:
                base += bonus
                why.append(f"+ {bonus:g} combination {' + '.join(sorted(kinds))}")
        score = base
        if channel:
            cw = self.channels.get(channel.lstrip("@").lower())
            if cw is not None:
                score *= cw
                why.append(f"x {cw:g} channel weight of {channel}")
        if group:
            gw = self.groups.get(group.lower())
            if gw is not None:
                score *= gw
                why.append(f"x {gw:g} group weight of {group}")
        if affiliated_same_cue > 0:
            bonus = min(self.affiliated_cap, self.affiliated_per_channel * affiliated_same_cue)
            score += bonus
            why.append(f"+ {bonus:g}: {affiliated_same_cue} affiliated channel(s) posted the cue")
        if deleted_soon:
            score += self.deleted_bonus
            why.append(f"+ {self.deleted_bonus:g}: deleted soon after posting")
        score = round(min(100.0, score), 1)
        severity = "none"
        for name in SEVERITIES[1:]:
            if score >= self.thresholds[name]:
                severity = name
        why.append(f"score {score:g} -> {severity}")
        return score, severity, why

    def flagged(self, severity: str) -> bool:
        return SEVERITIES.index(severity) >= SEVERITIES.index(self.flag_at)
