"""Mentions (#16): the registry's people, groups and sites named in a post, with their spans.

Aliases are found on the matcher's folded text (``normalize()``: hamza, harakat, tatweel, case,
look-alikes, zero-width and direction marks are gone) as whole words, the first word in any of
its written forms with the proclitics (و ف ب ل ك ال: "والكعبي", "للكعبي", morphology.py). A
person's honorifics and kunya may stand before the name ("سماحة الأمين العام الشيخ", "الحاج أبو
حسن", "Sheikh"); the span then starts at the first of them, so that it names the person as the
post does. An alias marked ``needs`` counts only right after one of those words ("حقل العمر").

Bounded on hostile input: the aliases are compiled once per registry into a dict keyed by a
word's written form, so a post costs one pass over its words and a dict look-up each (a 1 MB
post, tens of milliseconds), and at most MAX_MENTIONS a layer are kept.

The hook then gives a mention the role it stands in (matcher frames, #12): a mention inside an
allegiance signal's ``object`` is whom the pledge names, inside a threat's ``addressee`` whom it
addresses, inside an attack claim's ``target``, ``claimant`` or ``weapon`` those. The matcher's
object is often one word ("لسماحة", "الشيخ"); a mention overlapping it is inside it. When none
does, the first person mention starting within OBJECT_WINDOW words after the object (or after
the signal when it has no object), failing that the first group mention there, is the object:
"نجدد البيعة لسماحة الأمين العام لحركة النجباء الشيخ أكرم الكعبي" names Kaabi, not Nujaba.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from monitor.actors.overrides import registry_for
from monitor.actors.registry import Registry
from monitor.match.morphology import proclitic_forms
from monitor.match.normalize import normalize
from monitor.store.ingest import Changed
from monitor.store.layers import ocr_layers
from monitor.store.models import Channel, Match, Mention, SignalRow

__all__ = ["MAX_MENTIONS", "Found", "MentionHook", "assign_roles", "find_mentions"]

MAX_MENTIONS = 1000  # a layer: a post repeating a name 100 000 times says nothing more
OBJECT_WINDOW = 6  # words, see the module docstring
_HONORIFIC_STEPS = 6  # titles before one name: "سماحة الأمين العام الشيخ الحاج أبو …"

# Written before a person's name (folded by normalize() on use); a kunya is أبو + one word.
HONORIFICS = (
    "الشيخ",
    "شيخ",
    "سماحة",
    "سماحه",
    "الحاج",
    "حاج",
    "السيد",
    "سيد",
    "القائد",
    "قائد",
    "الأمين العام",
    "الأمين",
    "المجاهد",
    "الإمام",
    "الدكتور",
    "الأستاذ",
    "آية الله",
    "آية الله العظمى",
    "حجة الإسلام",
    "sheikh",
    "shaykh",
    "sheik",
    "sayyed",
    "sayyid",
    "sayed",
    "hajji",
    "haji",
    "hajj",
    "imam",
    "leader",
    "commander",
    "secretary general",
    "ayatollah",
)
KUNYA = ("أبو", "أبا", "أبي", "abu")

# (signal kind, role) -> the mention's role, strongest first when one mention sits in several.
ROLES: tuple[tuple[str, str], ...] = (
    ("allegiance", "object"),
    ("threat", "addressee"),
    ("attack_claim", "claimant"),
    ("attack_claim", "target"),
    ("attack_claim", "weapon"),
)
_RANK = {role: i for i, (_, role) in enumerate(ROLES)}
SIGNAL_KINDS = tuple(dict.fromkeys(kind for kind, _ in ROLES))

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Found:
    kind: str  # person | group | site
    ref: str  # the registry id
    start: int  # in the original text
    end: int


@dataclass(frozen=True, slots=True)
class _Alias:
    kind: str
    ref: str
    stem: str  # the first word, folded
    rest: tuple[str, ...]  # the following words, folded
    needs: tuple[tuple[str, ...], ...]  # folded phrases one of which must stand right before


def _fold(text: str) -> tuple[str, ...]:
    return tuple(normalize(text).text.split())


def _phrase_index(phrases: Iterable[Sequence[str]]) -> dict[str, list[tuple[str, ...]]]:
    """written form of a phrase's first word -> the phrases (folded words), longest first."""
    index: dict[str, list[tuple[str, ...]]] = {}
    for words in phrases:
        if words:
            for form in proclitic_forms(words[0]):
                index.setdefault(form, []).append(tuple(words))
    for found in index.values():
        found.sort(key=len, reverse=True)
    return index


_HONORIFIC_INDEX = _phrase_index(_fold(h) for h in HONORIFICS)
_KUNYA_STEMS = tuple(_fold(k)[0] for k in KUNYA)
_KUNYA_FORMS = frozenset(f for k in _KUNYA_STEMS for f in proclitic_forms(k))


class _Compiled:
    """The registry's aliases as a dict of first-word forms (module docstring)."""

    def __init__(self, registry: Registry) -> None:
        self.index: dict[str, list[_Alias]] = {}
        entries: list[tuple[str, str, tuple[str, ...], dict[str, tuple[str, ...]]]] = []
        for p in registry.people.values():
            entries.append(("person", p.id, (p.name, *p.aliases), dict(p.needs)))
        for g in registry.groups.values():
            entries.append(("group", g.id, (g.name, *g.aliases), dict(g.needs)))
        for s in registry.sites.values():
            entries.append(("site", s.id, (s.name, *s.aliases), dict(s.needs)))
        for kind, ref, names, needs in entries:
            for name in dict.fromkeys(names):
                words = _fold(name)
                if not words:
                    continue
                need = tuple(w for w in (_fold(n) for n in needs.get(name, ())) if w)
                alias = _Alias(kind, ref, words[0], words[1:], need)
                for form in proclitic_forms(words[0]):
                    self.index.setdefault(form, []).append(alias)
        for found in self.index.values():
            found.sort(key=lambda a: len(a.rest), reverse=True)


_cache: tuple[Registry, _Compiled] | None = None


def _compiled(registry: Registry) -> _Compiled:
    global _cache
    if _cache is None or _cache[0] is not registry:
        _cache = (registry, _Compiled(registry))
    return _cache[1]


def _stem_start(token: str, stem: str) -> int:
    """Where the stem starts inside a written form: after its proclitics. ل before the article
    takes the article's alif (ل + الكعبي = للكعبي), so the stem starts one letter earlier."""
    if token.endswith(stem):
        return len(token) - len(stem)
    return max(0, len(token) - len(stem) + 1)


def _before(words: list[str], at: int, phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` ends right before word ``at`` (its first word in any written form)."""
    i = at - len(phrase)
    if i < 0:
        return False
    return words[i] in proclitic_forms(phrase[0]) and tuple(words[i + 1 : at]) == phrase[1:]


def _honorifics(words: list[str], at: int, stem: str) -> tuple[int, str]:
    """The first word of the titles and kunya standing right before word ``at``, and the stem
    (folded, without proclitics) that word is written from."""
    for _ in range(_HONORIFIC_STEPS):
        if at >= 2 and words[at - 2] in _KUNYA_FORMS:
            at -= 2
            stem = next(k for k in _KUNYA_STEMS if words[at] in proclitic_forms(k))
            continue
        best: tuple[str, ...] = ()
        for j in range(max(0, at - 3), at):
            for phrase in _HONORIFIC_INDEX.get(words[j], ()):
                if len(phrase) == at - j and tuple(words[j + 1 : at]) == phrase[1:]:
                    best = max(best, phrase, key=len)
        if not best:
            break
        at, stem = at - len(best), best[0]
    return at, stem


def find_mentions(registry: Registry, text: str) -> list[Found]:
    """The registry's entries named in ``text``, in text order; spans index ``text`` itself."""
    compiled = _compiled(registry)
    if not compiled.index or not text:
        return []
    folded = normalize(text)
    # The fold leaves single spaces between words (normalize.py, stage 2), so split() is the
    # words, and their offsets are summed only once a post names someone: a 1 MB post naming
    # nobody costs a split and a dict look-up a word.
    words = folded.text.split(" ") if folded.text else []
    starts: list[int] = []
    out: list[Found] = []
    i = 0
    while i < len(words) and len(out) < MAX_MENTIONS:
        candidates = compiled.index.get(words[i])
        best: list[_Alias] = []
        for alias in candidates or ():
            n = len(alias.rest)
            if best and n < len(best[0].rest):
                break  # longest first: a shorter alias is inside the one found
            if tuple(words[i + 1 : i + 1 + n]) != alias.rest:
                continue
            if alias.needs and not any(_before(words, i, need) for need in alias.needs):
                continue
            best.append(alias)
        if not best:
            i += 1
            continue
        last = i + len(best[0].rest)
        spans_of: dict[tuple[str, str], tuple[int, int]] = {}
        for alias in best:
            first, stem = i, alias.stem
            if alias.needs:
                need = max((n for n in alias.needs if _before(words, i, n)), key=len)
                first, stem = i - len(need), need[0]
            if alias.kind == "person":
                first, stem = _honorifics(words, first, stem)
            if not starts:
                starts = list(accumulate((len(w) + 1 for w in words), initial=0))
            a = starts[first] + _stem_start(words[first], stem)
            key = (alias.kind, alias.ref)
            # Two aliases of one entry at one place ("البرج 22", "برج 22"): the longer span.
            if key not in spans_of or a < spans_of[key][0]:
                spans_of[key] = (a, starts[last] + len(words[last]))
        for (kind, ref), (a, b) in spans_of.items():
            start, end = folded.to_original(a, b)
            out.append(Found(kind, ref, start, end))
        i = last + 1
    return out[:MAX_MENTIONS]


# --- roles -------------------------------------------------------------------------------------


def _span(role: Any) -> tuple[int, int] | None:
    if isinstance(role, dict):
        start, end = role.get("start"), role.get("end")
        if isinstance(start, int) and isinstance(end, int) and end > start:
            return start, end
    return None


def assign_roles(
    text: str,
    found: Sequence[Found],
    signals: Iterable[tuple[str, int, int, dict[str, Any] | None]],
) -> list[str | None]:
    """Each mention's role from the signals of its layer, ``(kind, start, end, roles)``."""
    roles: list[str | None] = [None] * len(found)

    def give(k: int, role: str) -> None:
        current = roles[k]
        if current is None or _RANK[role] < _RANK[current]:
            roles[k] = role

    for kind, _start, s_end, frame in signals:
        frame = frame or {}
        for signal_kind, role in ROLES:
            if signal_kind != kind:
                continue
            span = _span(frame.get(role))
            inside = [
                k for k, f in enumerate(found) if span and f.start < span[1] and span[0] < f.end
            ]
            for k in inside:
                give(k, role)
            if role == "object" and not inside:
                k_near = _near(text, found, span[1] if span else s_end)
                if k_near is not None:
                    give(k_near, role)
    return roles


def _near(text: str, found: Sequence[Found], after: int) -> int | None:
    """The first person mention starting within OBJECT_WINDOW words after ``after``, else the
    first group mention there."""
    limit = after
    for m in _WORD.finditer(text, after):
        limit = m.end()
        if len(text[after : m.start()].split()) >= OBJECT_WINDOW:
            limit = m.start()
            break
    for kind in ("person", "group"):
        for k, f in enumerate(found):
            if f.kind == kind and after <= f.start < limit:
                return k
    return None


# --- the pipeline hook -------------------------------------------------------------------------


class MentionHook:
    """Pipeline hook (#16), after the matcher and the echo hooks: replaces the mentions of each
    new, edited or re-layered post, in its text and in the text read from its image."""

    def __init__(self, registry_loader: Callable[[], Registry]) -> None:
        self.registry_loader = registry_loader

    def __call__(self, session: Session, channel: Channel, changed: list[Changed]) -> None:
        posts = {
            c.post_id: c.record.text for c in changed if c.status in ("new", "edited", "layer")
        }
        # A new post has no mentions yet: only edits and new layers replace some.
        old = {c.post_id for c in changed if c.status in ("edited", "layer")}
        self.rebuild(session, posts, old)

    def rebuild(self, session: Session, posts: dict[int, str], old: Iterable[int]) -> None:
        """Replace the mentions of ``posts`` (post id -> its text) by what they name now;
        ``old``: those of them that may have mentions stored. `monitor rematch` calls this with
        every post it matches again (#16), so a registry or rule change reaches history as it
        reaches a post stored now."""
        if not posts:
            return
        registry = registry_for(session, self.registry_loader)
        ids = sorted(posts)
        stale = sorted(set(old))
        for i in range(0, len(stale), 1000):  # bound the IN list
            session.execute(delete(Mention).where(Mention.post_id.in_(stale[i : i + 1000])))
        if not (registry.groups or registry.people or registry.sites):
            return
        signals = _signals(session, ids)
        ocr = ocr_layers(session, ids)
        rows: list[dict[str, Any]] = []
        for post_id in ids:
            for layer, text in (("text", posts[post_id]), ("ocr", ocr.get(post_id))):
                if not text:
                    continue
                found = find_mentions(registry, text)
                if not found:
                    continue
                theirs = [s[1:] for s in signals.get(post_id, ()) if s[0] == layer]
                for f, role in zip(found, assign_roles(text, found, theirs), strict=True):
                    rows.append(
                        dict(
                            post_id=post_id,
                            kind=f.kind,
                            ref=f.ref,
                            start=f.start,
                            end=f.end,
                            layer=layer,
                            role=role,
                        )
                    )
        if rows:
            session.execute(insert(Mention), rows)


def _signals(
    session: Session, post_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, int, int, dict[str, Any] | None]]]:
    """post id -> its stored frame signals, ``(layer, kind, start, end, roles)``."""
    out: dict[int, list[tuple[str, str, int, int, dict[str, Any] | None]]] = {}
    for i in range(0, len(post_ids), 1000):
        rows = session.execute(
            select(
                Match.post_id,
                SignalRow.layer,
                SignalRow.kind,
                SignalRow.start,
                SignalRow.end,
                SignalRow.roles,
            )
            .join(Match, Match.id == SignalRow.match_id)
            .where(Match.post_id.in_(post_ids[i : i + 1000]), SignalRow.kind.in_(SIGNAL_KINDS))
            .order_by(SignalRow.id)
        )
        for post_id, layer, kind, start, end, roles in rows:
            out.setdefault(post_id, []).append((layer, kind, start, end, roles))
    return out
