"""A learned second opinion for the frame kinds (#12): a linear model over letter n-grams.

The frames catch what their lexicons name; posts written by someone who never saw the rules
(the held-out test split) word threats and pledges in ways no lexicon lists. This model is
trained on the dev split only (``scripts/train_learned.py``, scikit-learn at training time, not
at run time) and adds a signal of a frame kind the rules did not find in the post.

Its features are the letter 3-5-grams of each folded word padded with spaces, counted over the
post and divided by the square root of the number of words. That choice is what makes it cheap
enough to run on every post: a word's contribution to each kind's score is a constant, computed
once per distinct word and kept in a bounded table, so a post costs one lookup per word. (The
usual TF-IDF with L2 norm over the post is not a sum over words and measured no better on
held-out batches; see the script.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeGuard

from ..errors import ConfigError
from .spans import Span

__all__ = ["FILE_NAME", "LearnedModel", "grams", "load_learned"]

FILE_NAME = "learned.json"
FORMAT = 1
# Words kept per post: a Telegram message is at most 4 096 characters (a caption 1 024), some
# 700 words; past that a long text is a document, and hostile input must not buy unbounded work.
MAX_WORDS = 800
# Fewer words than this are a fragment (a caption, an image's first line, "إشارة القائد"): the
# model, trained on whole posts, reads too much into two words.
MIN_WORDS = 3
# A text up to the length of the longest training post is read whole; a longer one in windows
# of the median training post's length, a step apart (see LearnedModel._readings).
WHOLE_POST_WORDS = 64
READ_WORDS = 12
_STEP = 3
# Distinct words whose contributions are remembered; the table starts anew when full (random
# letters cannot grow it without bound), and a word longer than MAX_WORD weighs nothing.
_CACHE_WORDS = 100_000
MAX_WORD = 40
# The window of consecutive words shown as the signal's span, and the words named in the
# explanation.
_WINDOW = 8
_NAMED = 4
# The packed integer of a word (LearnedModel._pack): per kind a 48-bit field holding the
# contribution in steps of 2**-16, offset to be non-negative; MAX_WORDS of them sum without
# carrying into the next field.
_FIELD = 48
_MASK = (1 << _FIELD) - 1
_SCALE = 1 << 16
_OFFSET = 1 << 31
# An n-gram's weight in its packed field (|weight| < 16, checked on load): the n-grams of a word
# of MAX_WORD letters, 3 x 42 of them at most, sum to under 2**28, far inside a field.
_GRAM_OFFSET = 1 << 20
_MAX_WEIGHT = 16.0
# No intercept is this large: one would make the model fire on every post, or on none.
_MAX_BIAS = 100.0


def grams(word: str, lo: int = 3, hi: int = 5) -> list[str]:
    """The features of one folded word: its letter n-grams, ``lo`` to ``hi`` long, of the word
    padded with a space each side (so "سنرد" gives " سن", "سنر", … "رد "). Shared by training
    and matching, so the two can never disagree on what a feature is."""
    s = f" {word} "
    return [s[i : i + n] for n in range(lo, hi + 1) for i in range(len(s) - n + 1)]


@dataclass
class LearnedModel:
    kinds: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[float, ...]]
    threshold: float
    lo: int = 3
    hi: int = 5
    source: str = ""

    def __post_init__(self) -> None:
        self._logit = math.log(self.threshold / (1.0 - self.threshold))
        self._shifts = tuple(_FIELD * i for i in range(len(self.kinds)))
        # Per kind, the sum of its words' packed contributions that reaches the threshold in a
        # one-word post; a post of n words needs sqrt(n) times that.
        self._need = tuple((self._logit - b) * _SCALE for b in self.bias)
        # A word's contributions to all kinds packed into one integer, a fixed-point field per
        # kind: a post is then one C-level lookup of its words and one sum, not a Python loop
        # per word and kind. The model runs on every post, and the matcher must stay at half
        # the speed of a bare Aho-Corasick scan (#12, bench/match.py).
        self._packed: dict[str, int] = {}
        # The n-grams' weights packed too (each field offset by _GRAM_OFFSET), so a word seen
        # for the first time costs one C-level sum over its n-grams: a channel's stream brings
        # new words all the time (names, numbers, quoted verses).
        k = len(self.kinds)
        self._gram_zero = sum(_GRAM_OFFSET << (_FIELD * i) for i in range(k))
        self._word_zero = sum(_OFFSET << (_FIELD * i) for i in range(k))
        self._grams: dict[str, int] = {
            g: sum((round(x * _SCALE) + _GRAM_OFFSET) << (_FIELD * i) for i, x in enumerate(w))
            for g, w in self.weights.items()
        }

    def word_scores(self, word: str) -> tuple[float, ...]:
        """What ``word`` adds to each kind's score before the length scaling."""
        acc = [0.0] * len(self.kinds)
        if len(word) > MAX_WORD:
            return tuple(acc)
        for g in grams(word, self.lo, self.hi):
            w = self.weights.get(g)
            if w is not None:
                for i, x in enumerate(w):
                    acc[i] += x
        return tuple(acc)

    def _remember(self, word: str) -> int:
        if len(word) > MAX_WORD:
            # No word is this long: a blob, a URL, random letters. Summed over its n-grams it
            # would outweigh any sentence (and cost its length in memory), so it weighs nothing
            # and is not remembered.
            return self._word_zero
        if len(self._packed) >= _CACHE_WORDS:
            # Replaced, not cleared: another thread summing a post keeps the table it read.
            self._packed = {}
        gz = self._gram_zero
        gs = grams(word, self.lo, self.hi)
        x = sum(map(self._grams.get, gs, repeat(gz))) - len(gs) * gz + self._word_zero
        self._packed[word] = x
        return x

    def _unpack(self, x: int, n: int = 1) -> list[float]:
        """The fields of ``x``, a sum of ``n`` packed words."""
        base = n * _OFFSET
        return [(((x >> shift) & _MASK) - base) / _SCALE for shift in self._shifts]

    def _total(self, toks: list[str]) -> int:
        """The packed sum of the words of ``toks`` (at most MAX_WORDS of them)."""
        table = self._packed
        if not toks:
            return self._word_zero
        get = itemgetter(*toks) if len(toks) > 1 else (lambda d: (d[toks[0]],))
        try:
            return sum(get(table))
        except KeyError:
            missing = set(toks).difference(table)
        if len(table) + len(missing) < _CACHE_WORDS:
            for t in missing:
                self._remember(t)
            try:
                return sum(get(table))
            except KeyError:  # another thread's post cleared the table meanwhile
                pass
        # The table is cleared while filling: the words are summed as they come.
        return sum(map(self._word, toks))

    def _word(self, word: str) -> int:
        return self._packed.get(word) or self._remember(word)

    def _logits(self, total: int, n: int) -> list[float]:
        """Each kind's logit for ``total``, the packed sum of ``n`` words."""
        n = max(1, n)
        scale = 1.0 / math.sqrt(n)
        sums = self._unpack(total, n)
        return [b + scale * t for b, t in zip(self.bias, sums, strict=True)]

    def probabilities(self, toks: list[str]) -> tuple[float, ...]:
        """Each kind's probability for a post of folded tokens ``toks``."""
        toks = toks[:MAX_WORDS]
        return tuple(map(_sigmoid, self._logits(self._total(toks), len(toks))))

    def _reaches(self, total: int, n: int) -> bool:
        """Whether any kind's probability reaches the threshold for ``total``, the packed sum
        of ``n`` words: compared in the packed fields themselves, with no float per kind for
        the posts (nearly all) that reach none."""
        base = n * _OFFSET
        root = math.sqrt(n)
        for shift, need in zip(self._shifts, self._need, strict=True):
            if ((total >> shift) & _MASK) - base >= need * root:
                return True
        return False

    def _readings(self, toks: list[str]) -> list[tuple[int, int, int]]:
        """The word ranges read as one post each that reach the threshold, with the packed
        sum of each. The model was
        trained on posts of at most 64 words; summed over a longer text, whose score grows
        with the square root of its length, any slight lean of everyday words would add up to
        a signal (a long news digest), and a statement inside it would be diluted away: a long
        text is read in post-sized windows instead."""
        n = len(toks)
        if n <= WHOLE_POST_WORDS:
            total = self._total(toks)
            return [(0, n, total)] if self._reaches(total, n) else []
        prefix = list(accumulate(map(self._word, toks), initial=0))
        starts = [*range(0, n - READ_WORDS, _STEP), n - READ_WORDS]
        windows = ((a, a + READ_WORDS, prefix[a + READ_WORDS] - prefix[a]) for a in starts)
        return [w for w in windows if self._reaches(w[2], READ_WORDS)]

    def spans(
        self, toks: list[str], found: AbstractSet[str], weights: dict[str, float]
    ) -> list[Span]:
        """A span for each kind whose probability reaches the threshold and that the rules did
        not already find (``found``), over the words that weigh most for it."""
        if len(toks) > MAX_WORDS:
            toks = toks[:MAX_WORDS]
        if len(toks) < MIN_WORDS:
            return []  # a fragment: what it means is for the rules to say
        readings = self._readings(toks)
        if not readings:
            return []
        logits = {(a, b): self._logits(total, b - a) for a, b, total in readings}
        rows = [self._unpack(self._word(t)) for t in toks]
        out: list[Span] = []
        for i, kind in enumerate(self.kinds):
            if kind in found:
                continue
            (a, b), z = max(((r, lg[i]) for r, lg in logits.items()), key=lambda x: x[1])
            if z < self._logit:
                continue
            p = _sigmoid(z)
            t0, t1 = _best_window([r[i] for r in rows[a:b]])
            t0, t1 = t0 + a, t1 + a
            top = sorted(range(t0, t1), key=lambda j: -rows[j][i])[:_NAMED]
            named = "، ".join(toks[j] for j in sorted(top) if rows[j][i] > 0)
            note = f"learned model p={p:.2f} (threshold {self.threshold:g}, {self.source})" + (
                f"; words weighing most: {named}" if named else ""
            )
            out.append(Span(kind, f"{kind}:learned", t0, t1, round(p, 3), weights[kind], note=note))
        return out


def _sigmoid(z: float) -> float:
    # Written so neither branch overflows for a large |z|.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _best_window(scores: list[float]) -> tuple[int, int]:
    """The run of at most ``_WINDOW`` consecutive words with the largest sum (one word at least)."""
    best, best_at = -math.inf, (0, 1)
    run = 0.0
    for j, s in enumerate(scores):
        run += s
        if j >= _WINDOW:
            run -= scores[j - _WINDOW]
        if run > best:
            best, best_at = run, (max(0, j - _WINDOW + 1), j + 1)
    # Trim words that weigh against the kind at the window's edges.
    t0, t1 = best_at
    while t1 - t0 > 1 and scores[t0] <= 0:
        t0 += 1
    while t1 - t0 > 1 and scores[t1 - 1] <= 0:
        t1 -= 1
    return t0, t1


def load_learned(path: Path, data: bytes, known_kinds: frozenset[str]) -> LearnedModel:
    """The model in ``data``, the bytes of ``path``; a malformed one is a ConfigError naming
    the file and the field."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and an integer past Python's digit limit
        raise ConfigError(f"not a JSON model: {str(exc)[:200]}", file=path) from exc
    return _parse(doc, path, known_kinds)


def _parse(doc: Any, path: Path, known_kinds: frozenset[str]) -> LearnedModel:
    def fail(msg: str) -> ConfigError:
        return ConfigError(msg, file=path)

    if not isinstance(doc, dict):
        raise fail("the model must be a JSON object")
    if type(doc.get("format")) is not int or doc["format"] != FORMAT:
        raise fail(f"format must be {FORMAT}, not {str(doc.get('format'))[:40]!r}")
    kinds = doc.get("kinds")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise fail("kinds must be a non-empty list of signal kinds")
    for k in kinds:
        if k not in known_kinds:
            raise fail(f"kinds: {k[:40]!r} is not one of {', '.join(sorted(known_kinds))}")
    if len(set(kinds)) != len(kinds):
        raise fail("kinds: each kind once")
    bias = doc.get("bias")
    if not isinstance(bias, list) or len(bias) != len(kinds) or not all(_num(b) for b in bias):
        raise fail(f"bias must be {len(kinds)} numbers within ±{_MAX_BIAS:g}, one per kind")
    threshold = doc.get("threshold")
    if not _num(threshold) or not 0.5 <= float(threshold) < 1.0:
        raise fail("threshold must be a probability in [0.5, 1)")
    spec = doc.get("grams", [3, 5])
    lo, hi = spec if isinstance(spec, list) and len(spec) == 2 else (None, None)
    if not (type(lo) is int and type(hi) is int and 1 <= lo <= hi <= 8):
        raise fail("grams must be [shortest, longest] n-gram lengths, 1 to 8")
    raw = doc.get("weights")
    if not isinstance(raw, dict) or not raw:
        raise fail("weights must map n-grams to one number per kind")
    weights: dict[str, tuple[float, ...]] = {}
    for g, w in raw.items():
        if not 1 <= len(g) <= hi:
            raise fail(f"weights: {g[:20]!r} is no n-gram of 1 to {hi} characters")
        if not isinstance(w, list) or len(w) != len(kinds) or not all(_num(x) for x in w):
            raise fail(f"weights[{g!r}] must be {len(kinds)} numbers")
        if any(abs(x) >= _MAX_WEIGHT for x in w):
            raise fail(f"weights[{g!r}]: a weight must be within ±{_MAX_WEIGHT:g}")
        weights[g] = tuple(float(x) for x in w)
    source = doc.get("trained_on", "")
    if not isinstance(source, str) or len(source) > 200:
        raise fail("trained_on must be the training file's name")
    return LearnedModel(
        tuple(kinds),
        tuple(float(b) for b in bias),
        weights,
        float(threshold),
        lo,
        hi,
        f"trained on {source}" if source else "trained model",
    )


def _num(x: Any) -> TypeGuard[float]:
    # Bounded before math.isfinite, which overflows on a JSON integer of 400 digits.
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    return -_MAX_BIAS <= x <= _MAX_BIAS and math.isfinite(x)
