"""The Matcher: Quran quotes + phrase families + context -> signals -> severity."""

from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..errors import ConfigError

# The matcher's output types are read by store, web, alerts and export too: they live below
# every stage (monitor/signals.py), the engine only builds them.
from ..signals import MatchContext, MatchResult, Role, Signal, Suppressed
from .citation import cited_cues
from .compiled import load_compiled
from .deference import Vetoes
from .frames import FrameIndex, Possible, find_frames
from .intervals import Containers, Coverage, NearIndex, Overlaps, dedupe
from .normalize import Normalized, normalize
from .phrases import Hit
from .quran import Alignment, QuranIndex, load_index
from .rules import PhraseRule, RuleSet
from .severity import Scorer
from .shortquote import ShortQuote, ShortQuotes
from .spans import Span, join_named_targets, near_index, suppress, to_signals

__all__ = ["MatchContext", "MatchResult", "Matcher", "Role", "Signal", "Suppressed"]

# Lexicon words of frames (#12) are context too: only a frame's action word can start one.
_CONTEXT_ONLY = frozenset({"context", "exclude", "lex"})
# Roles whose hits make a span by themselves (a rule, a cue fragment, a formula); without one
# and without a quote, only a frame can.
_SPAN_ROLES = frozenset({"rule", "cue", "formula"})
_NO_ROLES: frozenset[str] = frozenset()


class Matcher:
    def __init__(self, rules: RuleSet, cache_dir: Path | None = None) -> None:
        self.rules = rules
        self.index: QuranIndex = load_index(cache_dir, f"{rules.version}-{__version__}")
        self.scorer = Scorer.from_config(rules.severity)
        for ref in rules.cues:
            if ref not in self.index.key_to_ayah:
                raise ConfigError(f"cue ref {ref} is not an ayah of the Hafs text")
        self.cue_ayahs = frozenset(self.index.key_to_ayah[r] for r in rules.cues)
        self.short = ShortQuotes(self.index, rules, self.cue_ayahs, cache_dir)
        self.rule_by_id: dict[str, PhraseRule] = {r.id: r for r in rules.rules}
        self.formula_refs = {f.id: f.refs for f in rules.formulas}
        self.phrases, self.screen = load_compiled(rules, self.index, cache_dir)
        self.frame_possible = Possible(rules.frames)
        self.learned = rules.learned
        self.vetoes = Vetoes(rules.frames, rules.rules)

    # -- public ------------------------------------------------------------------

    def match(
        self, text: str, ctx: MatchContext | None = None, *, ocr: str | None = None
    ) -> MatchResult:
        """The verdict on a post: its ``text`` and, when its image was read, the ``ocr`` text.

        The layers are matched apart, so no phrase or frame is made of the caption's end and
        the image's start, and scored together (#13): a caption "بيان" over an image that
        claims an attack is a claim. Signals of the image say ``layer="ocr"``, their offsets
        index ``ocr``."""
        ctx = ctx or MatchContext()
        spans: list[Span] = []
        present: set[str] = set()
        signals: list[Signal] = []
        explanation: list[str] = []
        dropped: list[str] = []
        for layer, body in (("text", text), ("ocr", ocr or "")):
            if not body:
                continue  # most posts: no image was read
            norm = normalize(body)
            toks = norm.text.split(" ") if norm.text else []
            found, seen = self._spans(toks, norm)
            if ":" in body or "\uff1a" in body:
                found += self._cited(norm, found)
            if self.learned is not None and layer == "text":
                # A second opinion on the frame kinds the rules missed (#12, learned.py), on
                # typed text only: it learned no letterheads or misread letters of images.
                kinds = {sp.kind for sp in found} if found else _NO_ROLES
                extra = self.learned.spans(toks, kinds, self.scorer.kinds)
                if extra:  # rare: every hit of the post is looked up again
                    extra, why = self.vetoes.keep(extra, self.phrases.find(toks), len(toks))
                    found += extra
                    dropped += why
            if not found:
                continue  # most posts end here
            present |= seen
            if ctx.suppressed:
                found, why = suppress(found, toks, ctx.suppressed)
                dropped += why
            if found:
                sigs, lines = to_signals(norm, toks, found, layer)
                signals += sigs
                explanation += lines
                spans += found
        if not spans:
            return MatchResult(False, "none", 0.0, [], dropped)
        weighted: dict[str, tuple[str, str, float]] = {}
        for sp in spans:
            w = sp.weight * sp.score
            if sp.rule not in weighted or weighted[sp.rule][2] < w:
                weighted[sp.rule] = (sp.kind, sp.rule, w)
        present |= {sp.kind for sp in spans}
        score, severity, why = self.scorer.score(
            list(weighted.values()),
            present,
            ctx.channel,
            ctx.group,
            ctx.affiliated_same_cue,
            ctx.deleted_soon,
            ctx.channel_kind,
            ctx.group_weight,
            ctx.affiliated_echoes,
        )
        flagged = self.scorer.flagged(severity)
        return MatchResult(flagged, severity, score, signals, explanation + dropped + why)

    # -- internals -----------------------------------------------------------------

    def _spans(self, toks: list[str], norm: Normalized) -> tuple[list[Span], set[str]]:
        line = self.screen.line(toks)
        seeds = self.screen.seeds(line)
        # Most posts quote nothing: no Quran 3-gram, quote mark or formula, nothing to align.
        alignments, qmap = self.short.quotes(toks, seeds, norm)
        # Context words alone (enemy, base...) are everyday news: nothing can fire, so
        # without a quote the phrase set need not even verify them.
        quiet = _NO_ROLES if alignments else _CONTEXT_ONLY
        if len(line) == len(toks):
            exact = self.screen.anchors(line)
            typos = self.screen.typos(line) if exact else []
            hits = self.phrases.find_at(toks, exact, typos, quiet)
        else:  # an ayah number left the line, so its offsets are not token indexes
            hits = self.phrases.find(toks, unless_only=quiet)
        if not alignments and (not hits or all(h.tag[0] in _CONTEXT_ONLY for h in hits)):
            return [], set()
        # Half of all posts get here with an action word ("الامطار" is a form of أمطر) and
        # context words around it: only a frame could fire, and few are possible at all.
        if (
            not alignments
            and not any(h.tag[0] in _SPAN_ROLES for h in hits)
            and not self.frame_possible(hits)
        ):
            return [], set()
        by_role: dict[str, list[Hit]] = {}
        for h in hits:
            by_role.setdefault(h.tag[0], []).append(h)
        spans = self._verse_spans(by_role, alignments, qmap, len(toks))
        contexts: dict[str, list[tuple[int, int]]] = {}
        for h in by_role.get("context", []):
            contexts.setdefault(h.tag[1], []).append((h.start, h.end))
        excludes: dict[str, list[tuple[int, int]]] = {}
        for h in by_role.get("exclude", []):
            excludes.setdefault(h.tag[1], []).append((h.start, h.end))
        rule_hits = by_role.get("rule", [])
        # Targets first: a target found is context for the other families.
        rule_hits.sort(key=lambda h: self.rule_by_id[h.tag[1]].kind != "target")
        phrase_spans: list[Span] = []
        # Indexed once, not scanned per hit: a 1 MB post has tens of thousands of each (#11).
        near: dict[str, NearIndex] = {}
        unless: dict[str, NearIndex] = {}
        targets_known = False
        for h in rule_hits:
            rule = self.rule_by_id[h.tag[1]]
            if rule.kind != "target" and "target" in rule.requires_context and not targets_known:
                # Every target span is in by now (they sort first), so this is done once.
                targets_known = True
                contexts["target"] = [(s.t0, s.t1) for s in phrase_spans if s.kind == "target"]
                near.pop("target", None)
            if rule.requires_context and not any(
                near_index(near, contexts, name).near(h.start, h.end, rule.window, outside=True)
                for name in rule.requires_context
            ):
                continue
            if rule.id in excludes and near_index(unless, excludes, rule.id).near(
                h.start, h.end, rule.window, outside=False
            ):
                continue
            weight = rule.weight if rule.weight is not None else self.scorer.kinds[rule.kind]
            note = f"pattern {h.pattern!r}" + (" (one-letter typo)" if h.fuzzy else "")
            phrase_spans.append(
                Span(rule.kind, rule.id, h.start, h.end, 0.9 if h.fuzzy else 1.0, weight, note=note)
            )
        if "trigger" in by_role and self.rules.frames:
            phrase_spans += self._frame_spans(by_role, contexts, phrase_spans)
        spans += dedupe(phrase_spans, len(toks))
        present = {f"context:{name}" for name in contexts if contexts[name]}
        return spans, present

    def _frame_spans(
        self,
        by_role: dict[str, list[Hit]],
        contexts: dict[str, list[tuple[int, int]]],
        phrase_spans: list[Span],
    ) -> list[Span]:
        lex = [
            (h.tag[1], h.start, h.end) for role in ("lex", "trigger") for h in by_role.get(role, [])
        ]
        targets = [(s.t0, s.t1) for s in phrase_spans if s.kind == "target"]
        out = []
        overlaps: Overlaps | None = None  # indexed once: a 1 MB post has thousands of each
        starts: dict[int, list[tuple[int, int]]] | None = None
        index = FrameIndex(lex, contexts, targets)
        for fh in find_frames(self.frame_possible.among(index.present), index):
            f = fh.frame
            weight = f.weight if f.weight is not None else self.scorer.kinds[f.kind]
            filled = ", ".join(sorted(fh.roles))
            note = f"frame: {f.title or f.kind}" + (f" ({filled})" if filled else "")
            if starts is None:
                starts = {}
                for i, (t0, t1) in enumerate(targets):
                    starts.setdefault(t0, []).append((i, t1))
            join_named_targets(fh.roles, starts)
            # The statement a phrase rule already caught ("نعلن جاهزيتنا" / "جاهزيتنا لقتال")
            # is one signal, not two that each add to the score: the rule keeps it, and
            # takes the frame's roles.
            if overlaps is None:
                overlaps = Overlaps([(p.t0, p.t1) for p in phrase_spans])
            same = next(
                (
                    p
                    for p in map(phrase_spans.__getitem__, overlaps.overlapping(fh.t0, fh.t1))
                    if p.kind == f.kind and not p.roles
                ),
                None,
            )
            if same is not None:
                same.roles = fh.roles
                continue
            out.append(Span(f.kind, f.id, fh.t0, fh.t1, 1.0, weight, note=note, roles=fh.roles))
        return out

    def _verse_spans(
        self,
        by_role: dict[str, list[Hit]],
        alignments: list[Alignment],
        qmap: list[int],
        size: int,
    ) -> list[Span]:
        idx = self.index
        formulas = by_role.get("formula", [])
        out: list[Span] = []
        kept = Containers(size)
        in_formula = Coverage(size, ((f.start, f.end) for f in formulas)) if formulas else None
        for al in alignments:
            t0, t1 = qmap[al.p0], qmap[al.p1 - 1] + 1
            inside = in_formula.count(t0, t1) if in_formula else 0
            outside = al.matched - inside
            # A formula with a word or two of its verse around it is still the formula.
            if inside and outside < self.rules.min_words:
                continue
            refs = idx.refs(al.q0, al.q1)
            cue_ref = al.ref if isinstance(al, ShortQuote) and al.cue else None
            for ref in () if isinstance(al, ShortQuote) else refs:
                k = idx.key_to_ayah[ref]
                if k in self.cue_ayahs:
                    a0, a1 = idx.ayah_span(ref)
                    covered = min(a1, al.q1) - max(a0, al.q0)
                    if covered >= min(3, a1 - a0):
                        cue_ref = ref
                        break
            kind = "verse_cue" if cue_ref else "verse_quote"
            rule = f"quran:{cue_ref or refs[0]}"
            weight = self._cue_weight(cue_ref) if cue_ref else self.scorer.kinds["verse_quote"]
            note = al.why if isinstance(al, ShortQuote) else f"{al.matched} words of the Quran"
            if al.errors:
                note += f", {al.errors:g} error points (typo 0.5, dropped/extra word 1)"
            out.append(Span(kind, rule, t0, t1, round(al.score, 2), weight, refs[0], refs, note))
            kept.add(t0, t1)
        for h in by_role.get("cue", []):
            if kept.contains(h.start, h.end):
                continue
            kept.add(h.start, h.end)
            ref = h.tag[1]
            out.append(
                Span(
                    "verse_cue",
                    f"quran:{ref}",
                    h.start,
                    h.end,
                    0.9 if h.fuzzy else 1.0,
                    self._cue_weight(ref),
                    ref,
                    [ref],
                    "catalog fragment",
                )
            )
        for h in formulas:
            if kept.contains(h.start, h.end):
                continue
            refs = self.formula_refs.get(h.tag[1], [])
            out.append(
                Span(
                    "verse_quote",
                    f"formula:{h.tag[1]}",
                    h.start,
                    h.end,
                    1.0,
                    0.0,  # formulas weigh nothing whatever verse_quote weighs
                    refs[0] if refs else None,
                    refs,
                    "everyday formula, never flagged alone",
                )
            )
        return out

    def _cited(self, norm: Normalized, found: list[Span]) -> list[Span]:
        # A cue verse cited by number (#12): the quote may be in translation.
        out: list[Span] = []
        have = {sp.rule for sp in found}

        def emit(t0: int, t1: int, ref: str) -> None:
            if f"quran:{ref}" not in have:
                weight = self._cue_weight(ref)
                out.append(
                    Span(
                        "verse_cue",
                        f"quran:{ref}",
                        t0,
                        t1,
                        1.0,
                        weight,
                        ref,
                        [ref],
                        "cited by number",
                    )
                )

        cited_cues(norm, self.rules.cues, emit)
        return out

    def _cue_weight(self, ref: str) -> float:
        cue = self.rules.cues[ref]
        return cue.weight if cue.weight is not None else self.scorer.kinds["verse_cue"]
