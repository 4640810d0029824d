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
import os
import pickle
from functools import cache
from pathlib import Path

from .. import __version__
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
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
        if (
            isinstance(cached, tuple)
            and len(cached) == 2
            and isinstance(cached[0], PhraseSet)
            and isinstance(cached[1], Screen)
        ):
            return cached[0], cached[1]
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        pass
    built = _build(rules, index)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Per process, so two workers starting together never interleave their writes.
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(built, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache dir only costs the rebuild
    return built
