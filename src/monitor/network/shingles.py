"""The words of a statement, its MinHash and its LSH band keys (#15).

A statement's echo keeps most of its words and adds or changes a few ("عاجل |", hashtags,
emoji, links, a third of the words reworded). So a post is compared as the set of its content
words, folded by the matcher's own normalize(): links, handles, hashtags and stop words are
left out, as they are what an echo adds. MinHash (datasketch) estimates the Jaccard similarity
of two sets; its 126 values cut in 42 bands of 3 give keys that two sets share with
probability 0.996 at similarity 0.5, 0.94 at 0.4 and 0.005 at 0.05, so the index finds the
echoes and few others, and every candidate is verified on the words themselves. (32 bands of
4 missed one echo in eight at 0.5: bench/echo.py.)
"""

from __future__ import annotations

import hashlib
import re

from datasketch import MinHash

from monitor.match import normalize
from monitor.match.morphology import strip_proclitics
from monitor.match.stopwords import stop_words

NUM_PERM = 126
BANDS = 42
ROWS = NUM_PERM // BANDS
# A fixed seed: band keys are compared across processes and restarts.
SEED = 15
# Fewer content words than this and a post is a formula, not a statement ("عاجل", emoji,
# "الله أكبر"): it never joins a cluster (#15, bad input).
MIN_WORDS = 5

_ADDED = re.compile(r"https?://\S+|\bt\.me/\S+|@\w+|#\S+", re.IGNORECASE)
# Date and number words decide between two claims from one template (other day, other count).
# Not الأحد (Sunday): folded without its article it is أحد, "anyone".
_WHEN_WORDS = """
السبت الاثنين الثلاثاء الأربعاء الخميس الجمعة
كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين
يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر
monday tuesday wednesday thursday friday saturday sunday
"""
_WHEN = frozenset(strip_proclitics(normalize(w).text) for w in _WHEN_WORDS.split())


def words(text: str) -> frozenset[str]:
    """The content words of ``text``, folded and without proclitics; what an echo is
    compared on."""
    stop = stop_words()
    folded = normalize(_ADDED.sub(" ", text)).text
    # By stem: an echo writes "بأربيل" for "في أربيل", "والمقاومة" for "المقاومة".
    return frozenset(
        strip_proclitics(w) for w in folded.split() if w not in stop and (len(w) > 1 or w.isdigit())
    )


def anchors(ws: frozenset[str]) -> frozenset[str]:
    """The words two statements of one template differ by: numbers, days and months."""
    return frozenset(w for w in ws if w.isdigit() or w in _WHEN)


def band_keys(ws: frozenset[str]) -> list[int]:
    """The LSH band keys of a word set, as signed 64-bit integers (one BIGINT column)."""
    m = MinHash(num_perm=NUM_PERM, seed=SEED)
    m.update_batch([w.encode("utf-8") for w in sorted(ws)])
    values = m.hashvalues
    keys = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
