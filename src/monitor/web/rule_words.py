"""Rules in plain words for the post page's "Why this score" (#14): a title, what the rule
looks for, and an example phrase, instead of the raw patterns (``القادم أعظم|أكبر|أشد``).

Where the words come from, first found wins: a ``title``/``description`` the rule set itself
carries (frames have ``title``; phrase rules get them once match/rules.py reads them from the
rule files), the cue verse's ``note`` in quran.yaml, the table below for the bundled rules,
and last the rule id in words ("threat:liberate-militarily" -> "threat: liberate
militarily"). Examples are Arabic as analysts see it in posts: the page shows them in their
own ``<bdi dir="auto">``. Nothing here is a pattern, and nothing here changes a score.
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


# The bundled rules (config/rules/*.yaml), by id: title, description, example.
RULE_WORDS: dict[str, tuple[str, str, str]] = {
    "readiness:declare": (
        "Declared readiness",
        "a statement announcing readiness, near a word of the enemy, fighting or a target",
        "نعلن جاهزيتنا",
    ),
    "readiness:ready": (
        "Ready to fight / on alert",
        "“we are ready”, raised alert, fingers on the trigger, near a military context",
        "أصابعنا على الزناد",
    ),
    "readiness:frame": (
        "Readiness, said by the group",
        "the group itself (or “we”) declares it is ready to confront an enemy",
        "",
    ),
    "readiness:await": (
        "Waiting for the order",
        "fighters say they await the leader's signal or zero hour, or have a finger on the trigger",
        "ننتظر الأمر",
    ),
    "threat:liberate-militarily": (
        "Threat to liberate the land by force",
        "a decision or call to “liberate” the country militarily",
        "تحرير العراق عسكريا",
    ),
    "threat:settled": (
        "“The matter is settled” / “what comes is greater”",
        "a short cue used before attacks, near a word of the enemy or of fighting",
        "القادم أعظم",
    ),
    "threat:strike": (
        "Threat to strike",
        "“we will strike”, “you will pay the price”, “no safe place”, aimed at an enemy",
        "سنضرب",
    ),
    "threat:short-cue": (
        "Short threat cue",
        "three words a militia's own channel posts before a strike, no enemy named: “what comes "
        "is greater”, “the response is coming”, “your days are numbered”",
        "الرد قادم",
    ),
    "threat:expel": (
        "Threat to expel foreign forces",
        "a demand to drive out the occupying or American forces",
        "إخراج القوات",
    ),
    "threat:frame": (
        "Threat, said by the group",
        "the group (or “we”) says it will strike or harm someone, or warns them",
        "",
    ),
    "allegiance:disposal": (
        "Pledge to await a leader's orders",
        "“at the disposal of”, “we renew our allegiance”, near a leader or a fighting force",
        "رهن إشارة",
    ),
    "allegiance:wali": (
        "Allegiance to the Guardian Jurist",
        "wilayat al-faqih, near a word of fighters, the enemy or war",
        "الولي الفقيه",
    ),
    "allegiance:frame": (
        "Allegiance, said by the group",
        "the group (or “we”) pledges allegiance or obedience to a leader",
        "",
    ),
    "attack_claim:targeted": (
        "Claim of an attack",
        "“targeted”, “struck”, drones or rockets, near a word of the enemy or a target",
        "استهدفنا",
    ),
    "attack_claim:frame": (
        "Attack claimed by the group",
        "the group (or “we”) says it struck a target, naming it and often the weapon",
        "",
    ),
    "attack_claim:noun": (
        "Attack claimed by the group (“our strike on …”)",
        "the group (or “we”) names its strike on a target; reports of others' attacks do not count",
        "",
    ),
    "attack_claim:launch": (
        "Launch claimed by the group",
        "the group says it launched drones or rockets at a target, naming what it launched",
        "",
    ),
    "target:ain-al-asad": ("Target: Ain al-Asad air base", "a US-used base in Anbar", "عين الأسد"),
    "target:tanf": ("Target: al-Tanf garrison", "a US base in Syria", "التنف"),
    "target:conoco": ("Target: Conoco gas field", "a US-held site in Syria", "كونيكو"),
    "target:harir": ("Target: Harir base", "a base near Erbil (only next to military words)", ""),
    "target:shaddadi": (
        "Target: al-Shaddadi base",
        "a base in Syria (only in military context)",
        "",
    ),
    "target:victory": (
        "Target: Victory base",
        "a base at Baghdad airport (in military context)",
        "",
    ),
    "target:erbil-airport": ("Target: Erbil airport", "Erbil's airport and air base", "مطار أربيل"),
    "target:embassy": ("Target: the US embassy", "the US embassy in Baghdad", "السفارة الأمريكية"),
    "target:us-forces": ("Target: US or coalition forces", "troops, bases or the coalition", ""),
    "target:base": ("Target: a base", "the word “base”, next to a word of the enemy", "قاعدة"),
}

FORMULA_WORDS = "a set religious phrase that quotes the Quran: it never raises the score"


def rule_words(rule_id: str, kind: str, rules: Any | None) -> RuleWords:
    """The words of rule ``rule_id`` (a signal of ``kind``); ``rules`` the loaded RuleSet, or
    None when it could not be loaded (the table and the id still give words)."""
    own = _own(rule_id, rules)
    table = RULE_WORDS.get(rule_id)
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
        if table and not own.example:
            return RuleWords(own.id, own.title, own.description or table[1], table[2])
        return own
    if table:
        return RuleWords(rule_id, *table)
    found = _ID.fullmatch(rule_id)
    head, words = kind_label(kind), rule_id
    if found and found.group(1) in KINDS:
        head, words = kind_label(found.group(1)), found.group(2)
    words = re.sub(r"[-_.:]+", " ", words).strip()
    return RuleWords(rule_id, f"{head}: {words}" if words else head)


_ID = re.compile(r"([a-z_]+)[:.](.+)")


def _own(rule_id: str, rules: Any | None) -> RuleWords | None:
    """A title the rule set carries for the rule (frames; phrase rules once they have one)."""
    if rules is None:
        return None
    for item in (*getattr(rules, "rules", ()), *getattr(rules, "frames", ())):
        if getattr(item, "id", None) == rule_id:
            title = str(getattr(item, "title", "") or "")
            if title:
                return RuleWords(rule_id, title, str(getattr(item, "description", "") or ""))
            return None
    return None
