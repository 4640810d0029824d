"""Arabic and English function words, folded as the matcher folds text.

Shared by the console's suppressions (a ruling made only of them is refused, #11) and the echo
shingles (they are left out of the words statements are compared on, #15)."""

from __future__ import annotations

from functools import cache

from monitor.match.normalize import normalize

STOP_LANGUAGES = ("ar", "en")


@cache
def stop_words() -> frozenset[str]:
    """The stopwords-iso collection for STOP_LANGUAGES, folded with normalize(), so that
    وَلا, ولا and ولاَ are all the same word."""
    import stopwordsiso

    words: set[str] = set()
    for lang in STOP_LANGUAGES:
        words |= {normalize(w).text for w in stopwordsiso.stopwords(lang)}
    words.discard("")
    return frozenset(words)
