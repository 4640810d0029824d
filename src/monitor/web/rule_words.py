"""Rules in plain words for the post page's "Why this score" (#14): a title, what the rule
looks for, and an example phrase, instead of the raw patterns (``القادم أعظم|أكبر|أشد``).

Where the words come from, first found wins: the ``title``, ``description`` and ``example``
written in the rule files (phrase rules, targets and frames; match/rules.py reads them), the
cue verse's ``note`` in quran.yaml, and last the rule id in words
("threat:liberate-militarily" -> "threat: liberate militarily"). Examples are Arabic as
analysts see it in posts: the page shows them in their own ``<bdi dir="auto">``. Nothing here
is a pattern, and nothing here changes a score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from monitor.web.kinds import KINDS, kind_label


@dataclass(frozen=True)
class RuleWords:
    id: str
    title: str
    description: str = ""
    example: str = ""  # a typical phrase, in the post's language


FORMULA_WORDS = "a set religious phrase that quotes the Quran: it never raises the score"


def rule_words(rule_id: str, kind: str, rules: Any | None) -> RuleWords:
    """The words of rule ``rule_id`` (a signal of ``kind``); ``rules`` the loaded RuleSet, or
    None when it could not be loaded (the table and the id still give words)."""
    own = _own(rule_id, rules)
    family, _, rest = rule_id.partition(":")
    if own is None and family == "quran" and rest:
        cue = getattr(rules, "cues", {}).get(rest) if rules is not None else None
        if kind == "verse_cue":
            note = getattr(cue, "note", "") or "a verse on the cue list"
            own = RuleWords(rule_id, f"Cue verse {rest}", note)
        else:
            own = RuleWords(
                rule_id, f"Quran {rest}", "a quote of the Quran; alone it flags nothing"
            )
    if own is None and family == "formula":
        own = RuleWords(rule_id, f"Religious formula ({rest.replace('_', ' ')})", FORMULA_WORDS)
    if own is not None:
        return own
    found = _ID.fullmatch(rule_id)
    head, words = kind_label(kind), rule_id
    if found and found.group(1) in KINDS:
        head, words = kind_label(found.group(1)), found.group(2)
    words = re.sub(r"[-_.:]+", " ", words).strip()
    return RuleWords(rule_id, f"{head}: {words}" if words else head)


_ID = re.compile(r"([a-z_]+)[:.](.+)")


def _own(rule_id: str, rules: Any | None) -> RuleWords | None:
    """The words the rule files give the rule, if they give it a title."""
    if rules is None:
        return None
    for item in (*getattr(rules, "rules", ()), *getattr(rules, "frames", ())):
        if getattr(item, "id", None) == rule_id:
            title = str(getattr(item, "title", "") or "")
            if title:
                description = str(getattr(item, "description", "") or "")
                return RuleWords(rule_id, title, description, str(getattr(item, "example", "")))
            return None
    return None
