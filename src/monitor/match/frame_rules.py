"""Loading the frame sections of the rule files: ``lemmas`` and ``frames`` (#12).

The syntax is documented at the top of ``config/rules/frames.yaml``. Every lemma class becomes
patterns of the one phrase set (``PhraseSet``), tagged ``("lex", "class.feature")`` — or
``("trigger", …)`` when a frame's action uses the class, so that the matcher's early exit ("only
context words, nothing can fire") still holds for posts with no action word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import yaml

from ..errors import ConfigError
from .lemmas import FEATURES, LemmaError, noun_forms, verb_forms, word_forms
from .normalize import normalize
from .phrases import Pattern, PatternError, Slot

__all__ = [
    "Frame",
    "FrameRef",
    "Lexicon",
    "check_frames",
    "load_frames",
    "load_lemmas",
    "mark_triggers",
]

_FRAME_KINDS = ("readiness", "threat", "allegiance", "attack_claim")
_FRAME_FIELDS = (
    "id",
    "kind",
    "action",
    "roles",
    "require",
    "window",
    "veto",
    "veto_unless",
    "exclude",
    "not_after",
    "weight",
    "title",
    "description",
    "example",
)
# Role classes that are not lemma classes: the first-person voice, context classes, signals.
SELF = "self"


@dataclass(frozen=True)
class FrameRef:
    """``class``, ``class.feature`` or ``class.feature@marker`` (or ``context:x``, ``kind:x``,
    ``self``)."""

    cls: str
    feature: str | None = None
    marker: str | None = None

    @classmethod
    def parse(cls, raw: str) -> FrameRef:
        head, _, marker = raw.partition("@")
        name, _, feature = head.partition(".")
        return cls(name, feature or None, marker or None)

    @cached_property
    def key(self) -> str:
        """The name its hits go by in a post (``FrameIndex``): ``class`` or ``class.feature``."""
        return f"{self.cls}.{self.feature}" if self.feature else self.cls

    def __str__(self) -> str:
        return self.key + (f"@{self.marker}" if self.marker else "")


@dataclass
class Frame:
    id: str
    kind: str
    action: list[FrameRef]
    roles: dict[str, list[FrameRef]]
    require: list[str]
    window: int = 10
    veto: list[str] = field(default_factory=list)
    veto_unless: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    not_after: list[FrameRef] = field(default_factory=list)
    weight: float | None = None
    title: str = ""
    description: str = ""
    example: str = ""
    # Where it was written, for the errors found once every file is read (an unknown class).
    source: tuple[str, int] | None = field(default=None, compare=False)

    def possible(self, present: frozenset[str]) -> bool:
        """Whether a post whose hits go by the names ``present`` has, somewhere, an action
        (with its marker) and a candidate for every required role — ``self`` always may,
        the action's own person fills it. A frame that fails this cannot fire anywhere, so
        the matcher spares most posts the search by position."""
        plain, marked, required = self._needs
        if present.isdisjoint(plain) and not any(k in present and m in present for k, m in marked):
            return False
        return all(ks is None or not present.isdisjoint(ks) for ks in required)

    @cached_property
    def _needs(
        self,
    ) -> tuple[frozenset[str], tuple[tuple[str, str], ...], tuple[frozenset[str] | None, ...]]:
        plain = frozenset(r.key for r in self.action if not r.marker)
        marked = tuple((r.key, r.marker) for r in self.action if r.marker)
        required = tuple(
            None
            if any(r.cls == SELF for r in self.roles[role])
            else frozenset(r.key for r in self.roles[role])
            for role in self.require
        )
        return plain, marked, required


@dataclass
class Lexicon:
    """Lemma classes as patterns; ``features[cls]`` lists the features a class has."""

    patterns: dict[str, list[Pattern]] = field(default_factory=dict)
    features: dict[str, set[str]] = field(default_factory=dict)


def _forms_pattern(cls: str, feature: str, forms: set[str]) -> Pattern:
    # No bases: generated forms are exact, never a one-letter typo of each other (ضربت/ضربنا).
    name = f"{cls}.{feature}" if feature else cls
    return Pattern(("lex", name), (Slot(frozenset(forms), ()),), 0, name)


def load_lemmas(
    reader: Any,
    node: Any,
    lexicon: Lexicon,
    compile_phrase: Callable[[str, tuple[str, str]], Pattern],
) -> None:
    for cls, (knode, body) in reader.mapping(node, "lemmas").items():
        if cls in lexicon.patterns:
            raise reader.fail(knode, f"lemma class {cls!r} defined twice")
        by_feature: dict[str, set[str]] = {}
        pats: list[Pattern] = []
        for key, (fnode, v) in reader.mapping(body, f"lemmas.{cls}").items():
            if key == "verbs":
                for n in reader.seq(v, "verbs"):
                    try:
                        verb = verb_forms(reader.string(n, "verb"))
                    except LemmaError as exc:
                        raise reader.fail(n, str(exc)) from exc
                    for feat, fs in verb.items():
                        by_feature.setdefault(feat, set()).update(fs)
            elif key in ("nouns", "words"):
                make = noun_forms if key == "nouns" else word_forms
                for n in reader.seq(v, key):
                    raw = reader.string(n, key)
                    if " " in normalize(raw).text:
                        pats.append(_phrase(reader, n, raw, cls, "", compile_phrase))
                        continue
                    try:
                        forms_ = make(raw)
                    except LemmaError as exc:
                        raise reader.fail(n, str(exc)) from exc
                    by_feature.setdefault("noun" if key == "nouns" else "", set()).update(forms_)
            elif key == "phrases":
                if isinstance(v, yaml.SequenceNode):
                    for n in reader.seq(v, "phrases"):
                        pats.append(
                            _phrase(reader, n, reader.string(n, "phrase"), cls, "", compile_phrase)
                        )
                else:
                    for feat, (pnode, pv) in reader.mapping(v, "phrases").items():
                        if feat not in FEATURES:
                            raise reader.fail(
                                pnode, f"unknown feature {feat!r} (one of {FEATURES})"
                            )
                        for n in reader.seq(pv, "phrases"):
                            raw = reader.string(n, "phrase")
                            pats.append(_phrase(reader, n, raw, cls, feat, compile_phrase))
            else:
                raise reader.fail(
                    fnode, f"unknown lemma field {key!r} (verbs, nouns, words, phrases)"
                )
        for feat, forms in by_feature.items():
            if forms:
                pats.append(_forms_pattern(cls, feat, forms))
        if not pats:
            raise reader.fail(knode, f"lemma class {cls!r} is empty")
        lexicon.patterns[cls] = pats
        lexicon.features[cls] = {p.tag[1].partition(".")[2] for p in pats}


def _phrase(
    reader: Any,
    node: Any,
    raw: str,
    cls: str,
    feature: str,
    compile_phrase: Callable[[str, tuple[str, str]], Pattern],
) -> Pattern:
    name = f"{cls}.{feature}" if feature else cls
    try:
        return compile_phrase(raw, ("lex", name))
    except PatternError as exc:
        raise reader.fail(node, str(exc)) from exc


def load_frames(reader: Any, node: Any, frames: list[Frame]) -> None:
    seen = {f.id for f in frames}
    for item in reader.seq(node, "frames"):
        m = reader.mapping(item, "frame")
        for key, (knode, _) in m.items():
            if key not in _FRAME_FIELDS:
                raise reader.fail(knode, f"unknown frame field {key!r}")
        for need in ("id", "kind", "action", "require"):
            if need not in m:
                raise reader.fail(item, f"frame needs {need!r}")
        fid = reader.string(m["id"][1], "id")
        if fid in seen:
            raise reader.fail(m["id"][1], f"frame id {fid!r} used twice")
        seen.add(fid)
        kind = reader.string(m["kind"][1], "kind")
        if kind not in _FRAME_KINDS:
            raise reader.fail(m["kind"][1], f"frame kind {kind!r} must be one of {_FRAME_KINDS}")
        roles: dict[str, list[FrameRef]] = {}
        if "roles" in m:
            for role, (_, v) in reader.mapping(m["roles"][1], "roles").items():
                roles[role] = [FrameRef.parse(r) for r in reader.strings(v, f"roles.{role}")]
        require = reader.strings(m["require"][1], "require")
        for r in require:
            if r not in roles:
                raise reader.fail(m["require"][1], f"required role {r!r} is not in roles")
        unless = reader.strings(m["veto_unless"][1], "veto_unless") if "veto_unless" in m else []
        for r in unless:
            if r not in roles:
                raise reader.fail(m["veto_unless"][1], f"veto_unless role {r!r} is not in roles")

        def refs(key: str, m: dict[str, Any] = m) -> list[FrameRef]:
            return [FrameRef.parse(r) for r in reader.strings(m[key][1], key)] if key in m else []

        frames.append(
            Frame(
                fid,
                kind,
                refs("action"),
                roles,
                require,
                int(reader.number(m["window"][1], "window", 1, 60)) if "window" in m else 10,
                reader.strings(m["veto"][1], "veto") if "veto" in m else [],
                unless,
                reader.strings(m["exclude"][1], "exclude") if "exclude" in m else [],
                refs("not_after"),
                reader.number(m["weight"][1], "weight", 0, 100) if "weight" in m else None,
                reader.string(m["title"][1], "title") if "title" in m else "",
                reader.string(m["description"][1], "description") if "description" in m else "",
                reader.string(m["example"][1], "example") if "example" in m else "",
                (str(reader.path), item.start_mark.line + 1),
            )
        )


def check_frames(reader: Any, frames: list[Frame], lexicon: Lexicon, contexts: set[str]) -> None:
    """Every class a frame names exists (a misspelt one would silently never fire)."""

    def known(ref: FrameRef) -> bool:
        if ref.cls == SELF:
            return True
        if ref.cls.startswith("context:"):
            return ref.cls[8:] in contexts
        if ref.cls.startswith("kind:"):
            return ref.cls[5:] == "target"
        if ref.cls not in lexicon.features:
            return False
        if ref.marker and ref.marker not in lexicon.features:
            return False
        return ref.feature is None or ref.feature in lexicon.features[ref.cls]

    for f in frames:
        named = [*f.action, *f.not_after, *(r for rs in f.roles.values() for r in rs)]
        named += [FrameRef(c) for c in (*f.veto, *f.exclude)]
        for ref in named:
            if not known(ref):
                msg = f"frame {f.id!r}: unknown class {str(ref)!r}"
                if f.source is None:
                    raise reader.fail(None, msg)
                raise ConfigError(msg, file=f.source[0], line=f.source[1])


def mark_triggers(frames: list[Frame], lexicon: Lexicon) -> None:
    """Tag the classes frames act on as ``trigger``: their hits are worth verifying alone."""
    acting = {ref.cls for f in frames for ref in f.action}
    for cls in acting & lexicon.patterns.keys():
        lexicon.patterns[cls] = [
            replace(p, tag=("trigger", p.tag[1])) for p in lexicon.patterns[cls]
        ]
