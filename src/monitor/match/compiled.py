"""The rules compiled for matching — the phrase set and the token screen — kept across runs.

Since the frame lexicons (#12) the phrase set holds a quarter of a million generated word forms,
and the screen classifies every Quran spelling against them (anchor, one-letter typo of one);
built anew they were most of a warm start. Both are pickled in the matcher's ``cache_dir``
beside the Quran index. The key is the rule files' hash, the package version and a hash of the
modules whose code decides what is built, so an edited rule or a changed generator never reads a
stale file. The screen's Aho-Corasick automaton cannot be pickled and is rebuilt on load.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from .. import __version__
from ..files import load_cached, save_cached
from .phrases import Pattern, PhraseSet
from .quran import QuranIndex
from .rules import RuleSet
from .screen import Screen

__all__ = ["load_compiled"]

_FORMAT = 1  # bump when the pickled layout changes
# The modules that shape the compiled objects (their code, not only the rule files).
_SOURCES = (
    "compiled.py",
    "frame_rules.py",
    "lemmas.py",
    "morphology.py",
    "normalize.py",
    "obfuscation.py",
    "patterns.py",
    "phrases.py",
    "quran.py",
    "screen.py",
    "rules.py",
)


@cache
def _code_digest() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _patterns(rules: RuleSet) -> list[Pattern]:
    patterns: list[Pattern] = []
    for pats in rules.contexts.values():
        patterns += pats
    for cue in rules.cues.values():
        patterns += cue.fragments
    for f in rules.formulas:
        patterns += f.patterns
    for r in rules.rules:
        patterns += r.patterns + r.excludes
    for lex in rules.lemmas.patterns.values():
        patterns += lex
    return patterns


def _build(rules: RuleSet, index: QuranIndex) -> tuple[PhraseSet, Screen]:
    phrases = PhraseSet(_patterns(rules), rules.clitics)
    return phrases, Screen(index, phrases.anchors, phrases.is_typo)


def load_compiled(
    rules: RuleSet, index: QuranIndex, cache_dir: Path | None
) -> tuple[PhraseSet, Screen]:
    """The phrase set and screen of ``rules`` over ``index``, from ``cache_dir`` when the key
    matches (``index`` is keyed by the same rule files and version)."""
    if cache_dir is None:
        return _build(rules, index)
    path = cache_dir / f"compiled-{_FORMAT}-{rules.version}-{__version__}-{_code_digest()}.pickle"
    cached = load_cached(
        path,
        lambda c: (
            isinstance(c, tuple)
            and len(c) == 2
            and isinstance(c[0], PhraseSet)
            and isinstance(c[1], Screen)
        ),
    )
    if cached is not None:
        return cached[0], cached[1]
    built = _build(rules, index)
    save_cached(path, built)
    return built
