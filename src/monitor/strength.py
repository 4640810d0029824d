"""How guessable a secret or a password is: the rules behind MONITOR_SECRET_KEY and console
passwords (#11, finding 12).

The estimate is deliberately conservative and simple, so that it can be stated in one
sentence in docs/security.md: characters that repeat the one before, or continue an
ascending or descending run (``abc``, ``987``), add nothing; what is left is scored by its
Shannon entropy per character times its length. Random keys score far above the bar
(``secrets.token_hex(16)`` ≥ ~65 bits, ``token_urlsafe(32)`` ≥ ~150), while ``aaaa…``,
``abab…`` and ``0123…`` score below it.

That estimate cannot see words, keyboard walks or a phrase repeated three times
(``changemechangemechangeme``, ``qwertyuiopasdfghjkl``, ``monitor-secret-key`` all pass it), so
both rules also ask zxcvbn, which knows common passwords, dictionary words, names, keyboard
patterns, repeats and dates (a review of #11 found the gap).
"""

from __future__ import annotations

import math
from collections import Counter

MIN_SECRET_LENGTH = 16
MIN_SECRET_BITS = 56.0
MIN_PASSWORD = 12
MIN_PASSWORD_DISTINCT = 5
# zxcvbn's estimate of guesses: 10^14 for a key (random 22-character tokens score above 10^20),
# score 3 ("safely unguessable: moderate protection from an offline attack") for a password.
MIN_SECRET_GUESSES_LOG10 = 14.0
MIN_PASSWORD_SCORE = 3
# zxcvbn's matching grows faster than the length; a longer text is judged by its start.
ZXCVBN_CHARS = 64


def guessability(text: str) -> tuple[int, float]:
    """zxcvbn's (score 0-4, log10 of guesses) for the first ZXCVBN_CHARS characters."""
    from zxcvbn import zxcvbn

    result = zxcvbn(text[:ZXCVBN_CHARS])
    return int(result["score"]), float(result["guesses_log10"])


def _informative(text: str) -> list[str]:
    """The characters that are not a repeat or a continued ±1 run of the ones before."""
    kept: list[str] = []
    prev: str | None = None
    step: int | None = None
    for ch in text:
        if prev is not None:
            d = ord(ch) - ord(prev)
            repeat_or_run = d == 0 or (abs(d) == 1 and d == step)
            step, prev = d, ch
            if repeat_or_run:
                continue
        kept.append(ch)
        prev = ch
    return kept


def estimated_bits(text: str) -> float:
    """A conservative estimate of the entropy of ``text`` in bits (see the module doc)."""
    kept = _informative(text)
    if not kept:
        return 0.0
    n = len(kept)
    per_char = -sum(c / n * math.log2(c / n) for c in Counter(kept).values())
    return per_char * n


def secret_problem(key: str) -> str | None:
    """Why ``key`` cannot sign console sessions, or None when it can."""
    if len(key) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if estimated_bits(key) < MIN_SECRET_BITS:
        return "is too predictable (repeated characters, runs like 'abcd' or '1234', few symbols)"
    if guessability(key)[1] < MIN_SECRET_GUESSES_LOG10:
        return "is too predictable (words, keyboard patterns or a repeated phrase)"
    return None


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused for a console account, or None when it is acceptable.

    Passphrases: at least 12 characters, not blank, and not a single character or two
    repeated (``aaaaaaaaaaaa``, ``abababababab``); spaces between words are welcome."""
    if not password.strip():
        return "password must not be blank"
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters (a passphrase is best)"
    if len(set(password) - {" "}) < MIN_PASSWORD_DISTINCT:
        return f"password must use at least {MIN_PASSWORD_DISTINCT} different characters"
    if guessability(password)[0] < MIN_PASSWORD_SCORE:
        return (
            "password is too easy to guess (a common password, a keyboard pattern or a "
            "repeated word); a few unrelated words make a good passphrase"
        )
    return None
