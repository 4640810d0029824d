"""The post page's "Why this score" in plain words (#14).

The matcher stores its arithmetic as lines of text (``Match.explanation``, match/engine.py and
match/severity.py). Shown as they are, they read as code (``weight 35 x match 1``, raw patterns
``القادم أعظم|أكبر``) and their Arabic reorders the English around it. Here each known line
becomes a ``Step`` — points, words, and apart from them the rule, the kinds and any text from
the post or a name (which the template isolates in ``<bdi dir="auto">``) —; the lines of
individual signals give their notes to the signal list instead. A line of a shape not known
here is kept, whole, as an "other" line: escaped and isolated like every fragment.

The severity bands come from the Scorer of the current rule files (match/severity.py, read, not
changed): its thresholds and the severity a post is flagged from.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.match.severity import SEVERITIES, Scorer
from monitor.web.kinds import KINDS
from monitor.web.rule_words import RuleWords, rule_words

__all__ = ["Band", "SignalWhy", "Step", "Why", "explain", "rule_notes"]


@dataclass(frozen=True)
class Band:
    name: str
    low: float  # from this score
    high: float | None  # up to, not including; None: up to 100
    here: bool
    flagged: bool


@dataclass
class Step:
    points: str  # "40", "+ 5", "× 1.3", "0"
    words: str  # English, the console's own
    rule: RuleWords | None = None
    kinds: tuple[str, ...] = ()
    fragment: str = ""  # from the post, a channel or group name: shown isolated


@dataclass
class SignalWhy:
    id: int
    kind: str
    rule: RuleWords
    matched: str
    weight: str = ""  # the points the signal brings at full strength
    how: str = ""  # "6 words of the Quran", "one-letter typo", "frame: claimant, target"
    roles: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    layer: str = "text"  # "ocr": found in the text read from the post's image (#13)

    @property
    def in_image(self) -> bool:
        return self.layer == "ocr"


@dataclass
class Why:
    score: float
    severity: str
    flag_at: str
    bands: list[Band]
    steps: list[Step]
    signals: list[SignalWhy]
    other: list[str]
    capped: bool = False


# -- the rule files' words and thresholds ------------------------------------------------


@dataclass(frozen=True)
class _Item:
    id: str
    title: str = ""
    description: str = ""
    note: str = ""
    example: str = ""


@dataclass
class RuleNotes:
    """What the page needs of the rule files: rule and frame titles, the cue verses' notes,
    the severity section. Read as plain YAML (milliseconds), not compiled as the matcher
    does (most of a second), and never an error: unreadable files give the defaults."""

    rules: list[_Item] = field(default_factory=list)
    frames: list[_Item] = field(default_factory=list)
    cues: dict[str, _Item] = field(default_factory=dict)
    severity: dict[str, Any] = field(default_factory=dict)

    def scorer(self) -> Scorer:
        try:
            return Scorer.from_config(self.severity)
        except (TypeError, ValueError, KeyError, AttributeError):
            return Scorer()


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], RuleNotes]] = {}
_lock = threading.Lock()


def rule_notes(rules_dir: Path) -> RuleNotes:
    """The notes of ``rules_dir``, read again when a file there changes."""
    files = sorted(rules_dir.glob("*.yaml")) if rules_dir.is_dir() else []
    try:
        sig = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    except OSError:
        sig = ()
    with _lock:
        hit = _cache.get(rules_dir)
        if hit is not None and hit[0] == sig:
            return hit[1]
    notes = RuleNotes()
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(doc, dict):
            _read(notes, doc)
    with _lock:
        _cache[rules_dir] = (sig, notes)
    return notes


def _read(notes: RuleNotes, doc: dict[str, Any]) -> None:
    def items(key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []

    def item(m: dict[str, Any], key: str = "id") -> _Item:
        return _Item(
            str(m.get(key, "")),
            *(str(m.get(k) or "") for k in ("title", "description", "note", "example")),
        )

    notes.rules += [item(m) for m in items("rules")]
    notes.frames += [item(m) for m in items("frames")]
    notes.cues.update((str(m.get("ref")), item(m, "ref")) for m in items("cues"))
    if isinstance(doc.get("severity"), dict):
        notes.severity.update(doc["severity"])


# -- the explanation -----------------------------------------------------------------------

_QUOTED = r"(?P<q>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
_SIGNAL = re.compile(
    rf"(?P<kind>\w+) (?P<rule>\S+)(?: \[[^\]]*\])?: {_QUOTED} — (?P<note>.*); "
    r"weight (?P<w>[-\d.e+]+) x match (?P<m>[-\d.e+]+)",
    re.S,
)
_SUPPRESSED = re.compile(
    rf"suppressed (?P<kind>\w+) (?P<rule>\S+): {_QUOTED} \(analyst ruling (?P<p>.*)\)", re.S
)
_VOICE = re.compile(
    r"(?P<ck>\w+) channel: (?P<what>.+?); (?P<rule>\S+) \((?P<kind>\w+)\) counts 0.*"
)
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("top", re.compile(r"strongest signal (?P<rule>\S+) \((?P<kind>\w+)\): (?P<w>[-\d.e+]+)")),
    (
        "extra",
        re.compile(r"\+ (?P<f>[-\d.e+]+) x (?P<w>[-\d.e+]+) for (?P<rule>\S+) \((?P<kind>\w+)\)"),
    ),
    ("combo", re.compile(r"\+ (?P<b>[-\d.e+]+) combination (?P<kinds>.+)")),
    ("channel", re.compile(r"x (?P<w>[-\d.e+]+) channel weight of (?P<name>.+)", re.S)),
    (
        "operator",
        re.compile(r"x (?P<w>[-\d.e+]+) group weight of (?P<name>.+) set by an operator", re.S),
    ),
    ("group", re.compile(r"x (?P<w>[-\d.e+]+) group weight of (?P<name>.+)", re.S)),
    ("echo", re.compile(r"\+ (?P<b>[-\d.e+]+): (?P<n>\d+) affiliated channel\(s\) posted the cue")),
    (
        "echoed",
        re.compile(r"\+ (?P<b>[-\d.e+]+): (?P<n>\d+) affiliated channel\(s\) echoed the statement"),
    ),
    ("deleted", re.compile(r"\+ (?P<b>[-\d.e+]+): deleted soon after posting")),
    ("final", re.compile(r"score (?P<s>[-\d.e+]+) -> (?P<sev>\w+)")),
]
_CONTEXTS = {"context:enemy": "an enemy named", "context:military": "a military word"}


def _unquote(raw: str) -> str:
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw[1:-1]
    return value if isinstance(value, str) else raw


def _num(raw: str) -> str:
    try:
        return f"{float(raw):g}"
    except ValueError:
        return raw


def bands(scorer: Scorer, severity: str) -> list[Band]:
    """The severity bands of ``scorer``, lowest first, ``severity``'s marked."""
    names = [s for s in SEVERITIES[1:] if s in scorer.thresholds]
    lows = [0.0] + [float(scorer.thresholds[s]) for s in names]
    out = []
    flag_from = SEVERITIES.index(scorer.flag_at) if scorer.flag_at in SEVERITIES else 1
    for i, name in enumerate(["none", *names]):
        high = lows[i + 1] if i + 1 < len(lows) else None
        out.append(Band(name, lows[i], high, name == severity, SEVERITIES.index(name) >= flag_from))
    return out


def explain(
    score: float,
    severity: str,
    lines: Sequence[str],
    signals: Sequence[Any],
    notes: RuleNotes,
) -> Why:
    """``lines`` (a Match's explanation) and its ``signals`` (SignalRow) in plain words."""
    scorer = notes.scorer()

    def words(rule: str, kind: str) -> RuleWords:
        return rule_words(rule, kind, notes)

    # The explanation's lines name a rule, not where its words were: a rule whose signals all
    # came from the post's image says so (#13), one found in both layers says both.
    layers: dict[str, set[str]] = {}
    for s in signals:
        layers.setdefault(s.rule, set()).add(getattr(s, "layer", None) or "text")

    how: dict[str, tuple[str, str]] = {}  # rule -> (note, points at full strength)
    steps: list[Step] = []
    other: list[str] = []
    capped = False
    for line in lines:
        if m := _SIGNAL.fullmatch(line):
            note = m["note"]
            if note.startswith("pattern "):  # the raw pattern: only its typo note is words
                note = "one-letter typo" if note.endswith("(one-letter typo)") else ""
            how.setdefault(m["rule"], (note, _num(m["w"])))
        elif m := _SUPPRESSED.fullmatch(line):
            steps.append(
                Step(
                    "0",
                    "ruled out by an analyst: not counted",
                    words(m["rule"], m["kind"]),
                    (m["kind"],),
                    _unquote(m["q"]),
                )
            )
        elif m := _VOICE.fullmatch(line):
            steps.append(
                Step(
                    "0",
                    f"not counted on a {m['ck']} channel: {m['what']}",
                    words(m["rule"], m["kind"]),
                    (m["kind"],),
                )
            )
        else:
            step = _arithmetic(line, words)
            if step is not None and step.rule is not None:
                step.words += _where(layers.get(step.rule.id, set()))
            if step is None:
                other.append(line)
            elif step.words == "final":
                capped = _capped(steps)
            else:
                steps.append(step)
    why_signals = []
    for s in signals:
        note, weight = how.get(s.rule, ("", ""))
        roles = getattr(s, "roles", None) or {}
        why_signals.append(
            SignalWhy(
                s.id,
                s.kind,
                words(s.rule, s.kind),
                s.matched,
                weight,
                _how(note),
                [(str(k), str(v.get("text", ""))) for k, v in roles.items() if isinstance(v, dict)],
                getattr(s, "layer", None) or "text",
            )
        )
    return Why(
        score, severity, scorer.flag_at, bands(scorer, severity), steps, why_signals, other, capped
    )


def _where(layers: set[str]) -> str:
    if "ocr" not in layers:
        return ""
    return " in the image" if layers == {"ocr"} else " in the caption and in the image"


def _how(note: str) -> str:
    """A signal's note in words: a frame's as the roles it filled."""
    if not note.startswith("frame: "):
        return note
    filled = re.fullmatch(r"frame: .*? \((.*)\)", note)
    return (
        f"said in the group's own voice; filled: {filled[1]}"
        if filled
        else "said in the group's own voice"
    )


def _arithmetic(line: str, words: Any) -> Step | None:
    for name, pattern in _PATTERNS:
        m = pattern.fullmatch(line)
        if m is None:
            continue
        if name == "top":
            return Step(
                _num(m["w"]), "the strongest signal", words(m["rule"], m["kind"]), (m["kind"],)
            )
        if name == "extra":
            pts = f"+ {float(m['f']) * float(m['w']):g}"
            share = "half" if float(m["f"]) == 0.5 else f"{_num(m['f'])} ×"
            return Step(
                pts,
                f"{share} of {_num(m['w'])} for another signal",
                words(m["rule"], m["kind"]),
                (m["kind"],),
            )
        if name == "combo":
            parts = [p.strip() for p in m["kinds"].split(" + ")]
            kinds = tuple(p for p in parts if p in KINDS)
            extra = [_CONTEXTS.get(p, p) for p in parts if p not in KINDS]
            said = "these together" + (f", with {' and '.join(extra)}" if extra else "")
            return Step(f"+ {_num(m['b'])}", said, None, kinds)
        if name in ("channel", "group"):
            return Step(f"× {_num(m['w'])}", f"weight of the {name}", fragment=m["name"])
        if name == "operator":
            said = "weight an operator gave the group (Groups page)"
            return Step(f"× {_num(m['w'])}", said, fragment=m["name"])
        if name == "echo":
            n = int(m["n"])
            said = f"{n} affiliated channel{'s' if n != 1 else ''} posted the same cue verse"
            return Step(f"+ {_num(m['b'])}", said)
        if name == "echoed":
            n = int(m["n"])
            said = (
                f"{n} affiliated channel{'s' if n != 1 else ''} posted the same statement"
                " within hours (see “The same statement elsewhere”)"
            )
            return Step(f"+ {_num(m['b'])}", said)
        if name == "deleted":
            return Step(f"+ {_num(m['b'])}", "deleted soon after it was posted")
        return Step("", "final")
    return None


def _capped(steps: list[Step]) -> bool:
    """Whether the points above add up past 100 (the score is capped there)."""
    total = 0.0
    for s in steps:
        p = s.points.replace(" ", "")
        try:
            total = total * float(p[1:]) if p.startswith("×") else total + float(p.lstrip("+"))
        except ValueError:
            continue
    return total > 100
