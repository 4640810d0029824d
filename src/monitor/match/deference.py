"""How the learned model's signals (learned.py) defer to the rules (#12).

The rules know everyday senses the model, trained on a few hundred posts, has not seen: a
protest chanting "get out, occupiers", a TV episode "stronger, wait for us", a foreign prince
renewing a pledge. Each frame names the classes that cancel it (``veto``, ``exclude``) and each
phrase rule its ``excludes``; a learned signal of a kind is dropped when the post holds any of
those of the kind's frames and rules where the model read it: its opinion is the weaker one.
"""

from __future__ import annotations

from collections.abc import Iterable

from .frame_rules import Frame
from .learned import WHOLE_POST_WORDS
from .phrases import Hit
from .rules import PhraseRule
from .spans import Span

__all__ = ["Vetoes"]


class Vetoes:
    def __init__(self, frames: Iterable[Frame], rules: Iterable[PhraseRule]) -> None:
        by_kind: dict[str, set[str]] = {}
        for f in frames:
            by_kind.setdefault(f.kind, set()).update(f.veto, f.exclude)
        for r in rules:
            if r.excludes:
                by_kind.setdefault(r.kind, set()).add(f"rule:{r.id}")
        self._by_kind = {k: frozenset(v) for k, v in by_kind.items()}

    def keep(self, spans: list[Span], hits: list[Hit], words: int) -> tuple[list[Span], list[str]]:
        """The learned ``spans`` not cancelled by the ``hits`` (all of them, of every role) of
        a post of ``words`` words, and a line of the explanation for each one dropped. As the
        model reads it: a post as long as a training post as a whole, a longer text in the
        statement's own words (a digest's other stories do not veto it)."""
        kept: list[Span] = []
        why: list[str] = []
        for sp in spans:
            if words <= WHOLE_POST_WORDS:
                lo, hi = 0, words
            else:
                lo, hi = sp.t0, sp.t1
            names: set[str] = set()
            for h in hits:
                if h.end <= lo or h.start >= hi:
                    continue
                role, name = h.tag
                if role == "exclude":
                    names.add(f"rule:{name}")
                elif role == "context":
                    names.add(f"context:{name}")
                else:
                    names.update((name, name.partition(".")[0]))
            against = sorted(names & self._by_kind.get(sp.kind, frozenset()))
            if against:
                why.append(
                    f"{sp.rule} set aside: the rules' {', '.join(against)} is in the post"
                    f" ({sp.note.split(';')[0]})"
                )
            else:
                kept.append(sp)
        return kept, why
