"""Severity score; the formula is documented next to its weights in severity.yaml."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.channel_kinds import CHANNEL_KINDS, DEFAULT_CHANNEL_KIND

__all__ = ["SEVERITIES", "Scorer", "Voice", "check_channel_kinds"]

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

# What each discounted kind is called in the explanation analysts read (#12).
_NAMES = {"verse_cue": "a cue verse", "attack_claim": "an attack claim"}


@dataclass(frozen=True)
class Voice:
    """How a channel kind's posts are scored (#12, signals.md "Frames and voice"): ``cues``
    (signal kinds or rule ids) and ``not_credited`` ones weigh 0 there. They stay in the
    signals, so analysts still see them; they only stop making the score."""

    cues: frozenset[str] = frozenset()
    not_credited: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> Voice:
        return cls(
            frozenset(str(k) for k in cfg.get("cues", [])),
            frozenset(str(k) for k in cfg.get("not_credited", [])),
        )


# Also in severity.yaml; here so that a rule set without the section scores news the same.
_DEFAULT_VOICES = {"news": Voice(frozenset({"verse_cue"}), frozenset({"attack_claim"}))}


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
    voices: dict[str, Voice] = field(default_factory=lambda: dict(_DEFAULT_VOICES))

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
        if "channel_kinds" in cfg:
            s.voices = {k: Voice.from_config(v or {}) for k, v in cfg["channel_kinds"].items()}
        return s

    def _voice(
        self, weighted: Sequence[tuple[str, str, float]], present: set[str], channel_kind: str
    ) -> tuple[list[tuple[str, str, float]], set[str], list[str]]:
        """``weighted`` with what this channel kind does not count set to 0, the kinds still
        present for the combos, and one "why" line per signal set to 0."""
        voice = self.voices.get(channel_kind)
        if voice is None:
            return list(weighted), present, []
        kept: list[tuple[str, str, float]] = []
        why: list[str] = []
        for kind, rule, w in weighted:
            if w > 0 and (kind in voice.cues or rule in voice.cues):
                what = _NAMES.get(kind, "a short cue")
                why.append(
                    f"{channel_kind} channel: {what} alone does not flag; {rule} ({kind}) counts 0"
                    " (cues count on group, leader and media channels)"
                )
                w = 0.0
            elif w > 0 and (kind in voice.not_credited or rule in voice.not_credited):
                what = _NAMES.get(kind, f"a {kind}")
                why.append(
                    f"{channel_kind} channel: {what} is not credited to a channel reporting"
                    f" others; {rule} ({kind}) counts 0"
                )
                w = 0.0
            kept.append((kind, rule, w))
        # A kind none of whose signals counts completes no combination either.
        gone = {k for k, _, w in weighted if w > 0} - {k for k, _, w in kept if w > 0}
        return kept, present - gone, why

    def score(
        self,
        weighted: Sequence[tuple[str, str, float]],
        present: set[str],
        channel: str | None,
        group: str | None,
        affiliated_same_cue: int,
        deleted_soon: bool,
        channel_kind: str | None = None,
        group_weight: float = 1.0,
        affiliated_echoes: int = 0,
    ) -> tuple[float, str, list[str]]:
        """``weighted``: (kind, rule, weight) per distinct rule.  Returns score,
        severity and the explanation lines of the arithmetic.  ``channel_kind`` None is
        a group's own channel (monitor.channel_kinds)."""
        weighted, present, why = self._voice(
            weighted, present, channel_kind or DEFAULT_CHANNEL_KIND
        )
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
            if group_weight != 1.0:
                score *= group_weight
                why.append(f"x {group_weight:g} group weight of {group} set by an operator")
        # Echoes of a cue the channel's kind does not count are not counted either (#12).
        room = self.affiliated_cap
        if affiliated_same_cue > 0 and any(k == "verse_cue" and w > 0 for k, _, w in ranked):
            bonus = min(room, self.affiliated_per_channel * affiliated_same_cue)
            score += bonus
            room -= bonus
            why.append(f"+ {bonus:g}: {affiliated_same_cue} affiliated channel(s) posted the cue")
        # A statement echoed across a network (#15) rises like a cue answered, under the same
        # cap: the facade channels repeating it are one campaign, however many they are.
        if affiliated_echoes > 0 and room > 0:
            bonus = min(room, self.affiliated_per_channel * affiliated_echoes)
            score += bonus
            why.append(
                f"+ {bonus:g}: {affiliated_echoes} affiliated channel(s) echoed the statement"
            )
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


class _Reader(Protocol):
    """The part of the rule reader (match/rules.py) that reports a file and line."""

    def fail(self, node: Any, msg: str) -> Exception: ...
    def mapping(self, node: Any, what: str) -> dict[str, tuple[Any, Any]]: ...
    def strings(self, node: Any, what: str) -> list[str]: ...


def check_channel_kinds(reader: _Reader, node: Any, known: frozenset[str]) -> None:
    """``severity.channel_kinds``: channel kinds to {cues, not_credited} lists of signal kinds
    (``known``) or rule ids; a misspelt one is a ConfigError with its line, not a silent no-op
    (#12)."""
    for ck, (knode, v) in reader.mapping(node, "severity.channel_kinds").items():
        if ck not in CHANNEL_KINDS:
            raise reader.fail(
                knode, f"unknown channel kind {ck!r} (one of {', '.join(CHANNEL_KINDS)})"
            )
        for key, (kn, lst) in reader.mapping(v, f"severity.channel_kinds.{ck}").items():
            if key not in ("cues", "not_credited"):
                raise reader.fail(kn, f"unknown key {key!r} (cues, not_credited)")
            for name in reader.strings(lst, f"severity.channel_kinds.{ck}.{key}"):
                # A rule id is checked by its shape ("threat:settled"): targets.yaml, read
                # after this file, may define the rule.
                family, _, rest = name.partition(":")
                if name not in known and not (family in known and rest):
                    raise reader.fail(lst, f"not a signal kind or a rule id: {name!r}")
