"""The weapon an attack claim names, as one of a few classes (#16).

Read from the text the matcher found in the claim's ``weapon`` role, folded by the matcher's
own normalisation, so diacritics, tatweel, hamza and letter-shape variants need no entries
of their own. Stems, not words: Arabic glues prepositions and the article to the noun
(بطائرة، بالصواريخ), and the role text is already the weapon, so a stem cannot misfire on
an unrelated word the way it could in a whole post.
"""

from __future__ import annotations

from monitor.match.normalize import normalize

# Checked in order: a "ballistic" or "cruise" qualifier makes صواريخ missiles, not rockets.
LEXICON: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("missiles", ("بالستي", "باليستي", "كروز", "مجنح", "missile", "ballistic", "cruise")),
    ("drone", ("مسير", "درون", "طاير", "طياره", "drone", "uav", "kamikaze")),
    ("rockets", ("صاروخ", "صواريخ", "كاتيوشا", "راجم", "rocket", "katyusha", "grad")),
    ("IED", ("عبوه", "عبوات", "ناسف", "improvised explosive", "ied", "roadside bomb")),
)


def weapon_class(text: str | None) -> str | None:
    """``drone``, ``rockets``, ``missiles``, ``IED``; ``other`` for a weapon the lexicon does
    not know; None when the claim names none."""
    if not text or not text.strip():
        return None
    folded = f" {normalize(text).text.lower()} "
    for name, stems in LEXICON:
        for stem in stems:
            # Latin stems as words ("ied" must not match "supplied"); Arabic ones inside words.
            if (stem.isascii() and f" {stem}" in folded) or (not stem.isascii() and stem in folded):
                return name
    return "other"
