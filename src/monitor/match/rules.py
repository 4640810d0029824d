"""Loading and validating the rule files (``config/rules/*.yaml``).

Files are read as YAML node trees rather than plain objects so every error can name
the file and line of the offending entry.  All ``*.yaml`` files of the folder are
merged; each may hold any of the top-level sections ``lexicon``, ``contexts``,
``quran``, ``cues``, ``formulas``, ``rules`` and ``severity`` (lists are appended,
mappings must not repeat a key).  The schema is documented in the comments of
``config/rules/lexicon.yaml`` (pattern syntax) and ``phrases.yaml`` (rule fields).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..yamlfile import compose_config
from .frame_rules import Frame, Lexicon, check_frames, load_frames, load_lemmas, mark_triggers
from .learned import FILE_NAME as LEARNED_FILE
from .learned import LearnedModel, load_learned
from .phrases import Pattern, PatternError, compile_pattern
from .quotetext import ShortQuoteRules
from .severity import check_channel_kinds

__all__ = ["KINDS", "PHRASE_KINDS", "Cue", "Formula", "PhraseRule", "RuleSet", "load_rules"]

KINDS = ("verse_cue", "verse_quote", "readiness", "threat", "allegiance", "attack_claim", "target")
PHRASE_KINDS = ("readiness", "threat", "allegiance", "attack_claim", "target")
# The kinds the learned model may speak for (#12): severity.yaml names their `KIND:learned` rules
# among what a news channel does not count.
_FRAME_KINDS = frozenset(PHRASE_KINDS) - {"target"}
_REF = re.compile(r"^(\d{1,3}):(\d{1,3})$")
_SECTIONS = (
    "lexicon",
    "contexts",
    "quran",
    "cues",
    "formulas",
    "rules",
    "severity",
    "lemmas",
    "frames",
)


@dataclass
class Cue:
    ref: str
    weight: float | None
    note: str
    fragments: list[Pattern]


@dataclass
class Formula:
    id: str
    refs: list[str]
    patterns: list[Pattern]


@dataclass
class PhraseRule:
    id: str
    kind: str
    weight: float | None
    patterns: list[Pattern]
    requires_context: list[str]
    window: int
    excludes: list[Pattern]
    where: tuple[str, int | None] = ("", None)  # file and line, for late checks
    # In words for analysts ("Why this score", #14): never matched, never scored.
    title: str = ""
    description: str = ""
    example: str = ""


@dataclass
class RuleSet:
    version: str
    files: list[Path]
    clitics: list[str] = field(default_factory=list)
    suffixes: list[str] = field(default_factory=list)
    latin_suffixes: list[str] = field(default_factory=list)
    min_words: int = 5
    short_quotes: ShortQuoteRules = field(default_factory=ShortQuoteRules)
    cues: dict[str, Cue] = field(default_factory=dict)
    formulas: list[Formula] = field(default_factory=list)
    contexts: dict[str, list[Pattern]] = field(default_factory=dict)
    rules: list[PhraseRule] = field(default_factory=list)
    severity: dict[str, Any] = field(default_factory=dict)
    lemmas: Lexicon = field(default_factory=Lexicon)  # frame lexicon classes (#12)
    frames: list[Frame] = field(default_factory=list)
    learned: LearnedModel | None = None  # learned.json, trained on the dev split (#12)


class _Reader:
    """Typed accessors over YAML nodes that raise ConfigError with file:line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, msg: str) -> ConfigError:
        line = node.start_mark.line + 1 if node is not None else None
        return ConfigError(msg, file=self.path, line=line)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            key = self.string(k, f"key in {what}")
            if key in out:
                raise self.fail(k, f"duplicate key {key!r} in {what}")
            out[key] = (k, v)
        return out

    def seq(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list")
        return list(node.value)

    def string(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(node, f"{what} must be a string")
        value = str(node.value)
        if not value.strip():
            raise self.fail(node, f"{what} must not be empty")
        return value

    def number(self, node: yaml.Node, what: str, lo: float = 0.0, hi: float = 1e6) -> float:
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            raise self.fail(node, f"{what} must be a number")
        value = float(node.value)
        if not lo <= value <= hi:
            raise self.fail(node, f"{what} must be between {lo:g} and {hi:g}")
        return value

    def strings(self, node: yaml.Node, what: str) -> list[str]:
        return [self.string(n, what) for n in self.seq(node, what)]

    def plain(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return {k: self.plain(v) for k, (_, v) in self.mapping(node, "mapping").items()}
        if isinstance(node, yaml.SequenceNode):
            return [self.plain(n) for n in node.value]
        return yaml.safe_load(yaml.serialize(node))


def load_rules(rules_dir: Path) -> RuleSet:
    """Load every ``*.yaml`` in ``rules_dir``; raise ConfigError naming file and line."""
    rules_dir = Path(rules_dir)
    if not rules_dir.is_dir():
        raise ConfigError("rules folder not found", file=rules_dir)
    files = sorted(rules_dir.glob("*.yaml"))
    if not files:
        raise ConfigError("no *.yaml rule files", file=rules_dir)
    digest = hashlib.sha256()
    docs: list[tuple[_Reader, dict[str, tuple[yaml.Node, yaml.Node]]]] = []
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        reader = _Reader(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8: {exc}", file=path) from exc
        # Shared with settings.yaml and channels.yaml: no aliases, which `plain()` would expand.
        root = compose_config(text, path)
        if root is None:
            continue
        top = reader.mapping(root, "rule file")
        for key, (knode, _) in top.items():
            if key not in _SECTIONS:
                raise reader.fail(knode, f"unknown section {key!r} (expected {_SECTIONS})")
        docs.append((reader, top))
    # The learned model is part of the rules: a retrained one is a new version, which is
    # what makes `monitor rematch` apply it to stored posts.
    learned_path = rules_dir / LEARNED_FILE
    learned = None
    if learned_path.exists():
        if not learned_path.is_file():
            raise ConfigError("not a file", file=learned_path)
        model = learned_path.read_bytes()  # read once: the version is the model's
        digest.update(LEARNED_FILE.encode() + b"\0" + model + b"\0")
        files = [*files, learned_path]
        learned = load_learned(learned_path, model, _FRAME_KINDS)
    rs = RuleSet(version=digest.hexdigest()[:16], files=files, learned=learned)
    # The lexicon must be known before any pattern is compiled.
    lexicon_seen = False
    for reader, top in docs:
        if "lexicon" in top:
            if lexicon_seen:
                raise reader.fail(top["lexicon"][0], "lexicon defined in two files")
            lexicon_seen = True
            lex = reader.mapping(top["lexicon"][1], "lexicon")
            for name in ("clitics", "suffixes", "latin_suffixes"):
                if name in lex:
                    vals = [_fold_word(reader, n) for n in reader.seq(lex[name][1], name)]
                    setattr(rs, name, vals)
    for reader, top in docs:
        _load_doc(rs, reader, top)
    for reader, top in docs:
        if "frames" in top:
            load_frames(reader, top["frames"][1], rs.frames)
    if rs.frames:
        check_frames(docs[-1][0], rs.frames, rs.lemmas, set(rs.contexts))
        mark_triggers(rs.frames, rs.lemmas)
    _check_contexts(rs)
    return rs


def _fold_word(reader: _Reader, node: yaml.Node) -> str:
    from .normalize import normalize

    raw = reader.string(node, "lexicon entry")
    folded = normalize(raw).text
    if not folded or " " in folded:
        raise reader.fail(node, f"lexicon entry {raw!r} must be one word")
    return folded


def _patterns(rs: RuleSet, reader: _Reader, node: yaml.Node, tag: tuple[str, str]) -> list[Pattern]:
    out: list[Pattern] = []
    for n in reader.seq(node, "patterns"):
        raw = reader.string(n, "pattern")
        try:
            out.append(compile_pattern(raw, tag, rs.clitics, rs.suffixes, rs.latin_suffixes))
        except PatternError as exc:
            raise reader.fail(n, str(exc)) from exc
    if not out:
        raise reader.fail(node, "patterns must not be empty")
    return out


def _ref(reader: _Reader, node: yaml.Node) -> str:
    ref = reader.string(node, "ref")
    m = _REF.match(ref)
    if not m or not 1 <= int(m.group(1)) <= 114:
        raise reader.fail(node, f"ref {ref!r} is not surah:ayah")
    return ref


def _load_doc(rs: RuleSet, reader: _Reader, top: dict[str, tuple[yaml.Node, yaml.Node]]) -> None:
    if "quran" in top:
        q = reader.mapping(top["quran"][1], "quran")
        for key, (knode, _) in q.items():
            if key not in ("min_words", "short_quotes"):
                raise reader.fail(knode, f"unknown quran field {key!r}")
        if "min_words" in q:
            rs.min_words = int(reader.number(q["min_words"][1], "min_words", 3, 50))
        if "short_quotes" in q:
            rs.short_quotes = ShortQuoteRules.read(reader, q["short_quotes"][1], rs.min_words)
    if "lemmas" in top:

        def phrase(raw: str, tag: tuple[str, str]) -> Pattern:
            return compile_pattern(raw, tag, rs.clitics, rs.suffixes, rs.latin_suffixes)

        load_lemmas(reader, top["lemmas"][1], rs.lemmas, phrase)
    if "contexts" in top:
        for name, (knode, v) in reader.mapping(top["contexts"][1], "contexts").items():
            if name in rs.contexts:
                raise reader.fail(knode, f"context {name!r} defined twice")
            rs.contexts[name] = _patterns(rs, reader, v, ("context", name))
    if "cues" in top:
        for item in reader.seq(top["cues"][1], "cues"):
            m = reader.mapping(item, "cue")
            if "ref" not in m:
                raise reader.fail(item, "cue needs a ref")
            ref = _ref(reader, m["ref"][1])
            if ref in rs.cues:
                raise reader.fail(item, f"cue {ref} listed twice")
            weight = reader.number(m["weight"][1], "weight", 0, 100) if "weight" in m else None
            note = reader.string(m["note"][1], "note") if "note" in m else ""
            frags = (
                _patterns(rs, reader, m["fragments"][1], ("cue", ref)) if "fragments" in m else []
            )
            rs.cues[ref] = Cue(ref, weight, note, frags)
            for key, (knode, _) in m.items():
                if key not in ("ref", "weight", "note", "fragments"):
                    raise reader.fail(knode, f"unknown cue field {key!r}")
    if "formulas" in top:
        for item in reader.seq(top["formulas"][1], "formulas"):
            m = reader.mapping(item, "formula")
            for need in ("id", "patterns"):
                if need not in m:
                    raise reader.fail(item, f"formula needs {need!r}")
            fid = reader.string(m["id"][1], "id")
            refs = (
                [_ref(reader, n) for n in reader.seq(m["refs"][1], "refs")] if "refs" in m else []
            )
            pats = _patterns(rs, reader, m["patterns"][1], ("formula", fid))
            rs.formulas.append(Formula(fid, refs, pats))
    if "rules" in top:
        seen = {r.id for r in rs.rules}
        for item in reader.seq(top["rules"][1], "rules"):
            rs.rules.append(_rule(rs, reader, item, seen))
    if "severity" in top:
        sev = reader.mapping(top["severity"][1], "severity")
        _check_severity(reader, sev)
        for key, (knode, v) in sev.items():
            if key in rs.severity:
                raise reader.fail(knode, f"severity.{key} defined twice")
            rs.severity[key] = reader.plain(v)


def _rule(rs: RuleSet, reader: _Reader, item: yaml.Node, seen: set[str]) -> PhraseRule:
    m = reader.mapping(item, "rule")
    for need in ("id", "kind", "patterns"):
        if need not in m:
            raise reader.fail(item, f"rule needs {need!r}")
    rid = reader.string(m["id"][1], "id")
    if rid in seen:
        raise reader.fail(m["id"][1], f"rule id {rid!r} used twice")
    seen.add(rid)
    kind = reader.string(m["kind"][1], "kind")
    if kind not in PHRASE_KINDS:
        raise reader.fail(m["kind"][1], f"kind {kind!r} must be one of {PHRASE_KINDS}")
    for key, (knode, _) in m.items():
        if key not in (
            "id",
            "kind",
            "patterns",
            "weight",
            "requires_context",
            "window",
            "excludes",
            *WORDS_FIELDS,
        ):
            raise reader.fail(knode, f"unknown rule field {key!r}")
    weight = reader.number(m["weight"][1], "weight", 0, 100) if "weight" in m else None
    req: list[str] = []
    if "requires_context" in m:
        req = reader.strings(m["requires_context"][1], "requires_context")
    window = int(reader.number(m["window"][1], "window", 1, 200)) if "window" in m else 12
    excludes = _patterns(rs, reader, m["excludes"][1], ("exclude", rid)) if "excludes" in m else []
    pats = _patterns(rs, reader, m["patterns"][1], ("rule", rid))
    req_node = m["requires_context"][1] if "requires_context" in m else item
    where = (str(reader.path), req_node.start_mark.line + 1)
    title, description, example = read_words(reader, m)
    return PhraseRule(
        rid, kind, weight, pats, req, window, excludes, where, title, description, example
    )


WORDS_FIELDS = ("title", "description", "example")


def read_words(reader: Any, m: dict[str, tuple[yaml.Node, yaml.Node]]) -> tuple[str, str, str]:
    """A rule's or frame's ``title``, ``description`` and ``example`` (each optional)."""
    got = [reader.string(m[f][1], f) if f in m else "" for f in WORDS_FIELDS]
    return got[0], got[1], got[2]


def _check_contexts(rs: RuleSet) -> None:
    # Contexts may live in a later file than the rules using them.
    known = set(rs.contexts) | {"target"}
    for rule in rs.rules:
        for name in rule.requires_context:
            if name not in known:
                raise ConfigError(
                    f"rule {rule.id}: unknown context {name!r} (known: {sorted(known)})",
                    file=rule.where[0],
                    line=rule.where[1],
                )


def _check_severity(reader: _Reader, sev: dict[str, tuple[yaml.Node, yaml.Node]]) -> None:
    if "kinds" in sev:
        for k, (knode, v) in reader.mapping(sev["kinds"][1], "severity.kinds").items():
            if k not in KINDS:
                raise reader.fail(knode, f"unknown kind {k!r}")
            reader.number(v, f"severity.kinds.{k}", 0, 100)
    for name in ("affiliated_window_hours", "deleted_soon_hours"):
        if name in sev:
            reader.number(sev[name][1], f"severity.{name}", 0, 24 * 30)
    for name in ("channels", "groups"):
        if name in sev:
            for k, (_, v) in reader.mapping(sev[name][1], f"severity.{name}").items():
                reader.number(v, f"severity.{name}.{k}", 0, 10)
    if "thresholds" in sev:
        th = reader.mapping(sev["thresholds"][1], "severity.thresholds")
        last = -1.0
        for name in ("low", "medium", "high", "critical"):
            if name not in th:
                raise reader.fail(sev["thresholds"][1], f"thresholds needs {name!r}")
            val = reader.number(th[name][1], f"thresholds.{name}", 0, 1000)
            if val <= last:
                raise reader.fail(th[name][1], "thresholds must increase low < … < critical")
            last = val
    if "flag_at" in sev:
        flag_at = reader.string(sev["flag_at"][1], "flag_at")
        if flag_at not in ("low", "medium", "high", "critical"):
            raise reader.fail(sev["flag_at"][1], "flag_at must be low, medium, high or critical")
    if "combos" in sev:
        for item in reader.seq(sev["combos"][1], "severity.combos"):
            c = reader.mapping(item, "combo")
            if "kinds" not in c or "bonus" not in c:
                raise reader.fail(item, "combo needs kinds and bonus")
            for n in reader.seq(c["kinds"][1], "combo kinds"):
                k = reader.string(n, "combo kind")
                if k not in KINDS and not k.startswith("context:"):
                    raise reader.fail(n, f"unknown kind {k!r}")
            reader.number(c["bonus"][1], "bonus", 0, 100)
    if "channel_kinds" in sev:
        check_channel_kinds(reader, sev["channel_kinds"][1], frozenset(KINDS))
