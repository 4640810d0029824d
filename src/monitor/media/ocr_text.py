"""Turning Tesseract's word table into reading-order text, and sizing images for it.

Kept apart from ocr.py, which runs Tesseract: everything here is pure and cheap to test.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Tesseract wraps runs of the other direction in LRM/RLM marks (and now and then other bidi
# controls); they are invisible, and would stop a phrase matching.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
ARABIC = re.compile("[\u0621-\u064a\u0660-\u0669\u0671-\u06d3\u06f0-\u06f9]")
LATIN = re.compile("[A-Za-z]")


@dataclass(frozen=True)
class Box:
    """A word as Tesseract gave it, its box already in the original image's pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    block: int
    par: int
    line: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width


def boxes(
    data: Mapping[str, Sequence[object]], *, scale: float, pad: int, width: int, height: int
) -> list[Box]:
    """Words of an ``image_to_data`` dict, without empty rows and structure rows (conf -1),
    boxes mapped back through the padding and the scaling (and clipped to the original)."""
    out = []
    for i, raw in enumerate(data["text"]):
        text = _BIDI_CONTROLS.sub("", str(raw)).strip()
        conf = float(str(data["conf"][i]))
        if not text or conf < 0:
            continue
        left = (int(str(data["left"][i])) - pad) / scale
        top = (int(str(data["top"][i])) - pad) / scale
        right = left + int(str(data["width"][i])) / scale
        bottom = top + int(str(data["height"][i])) / scale
        x0, y0 = max(0, round(left)), max(0, round(top))
        x1, y1 = min(width, round(right)), min(height, round(bottom))
        out.append(
            Box(
                text=" ".join(text.split()),
                left=x0,
                top=y0,
                width=max(0, x1 - x0),
                height=max(0, y1 - y0),
                confidence=conf,
                block=int(str(data["block_num"][i])),
                par=int(str(data["par_num"][i])),
                line=int(str(data["line_num"][i])),
            )
        )
    return out


def score(words: Sequence[Box]) -> float:
    """How much confident text a pass found: confidence times characters, summed, each part
    of the page counted once.

    Counting characters (not words) keeps a pass that splits words from winning on number of
    words; weighting by confidence keeps a pass that reads noise as letters from winning on
    length. A block mode that loses its way reads a line twice over, in overlapping pieces
    ("لله وفتح قريب" then "قريب وبشر المؤ" for one short line, seen on short statements):
    a word whose box lies mostly on a more confident word's counts nothing. Words of
    confidence 0 are Tesseract's own give-ups and count nothing either."""
    kept: list[Box] = []
    total = 0.0
    for w in sorted(words, key=lambda w: -w.confidence):
        if w.confidence <= 0 or w.width * w.height == 0:
            continue
        if any(_overlap(w, k) > 0.4 * w.width * w.height for k in kept):
            continue
        kept.append(w)
        total += w.confidence * len(w.text)
    return total


def _overlap(a: Box, b: Box) -> int:
    dx = min(a.right, b.right) - max(a.left, b.left)
    dy = min(a.bottom, b.bottom) - max(a.top, b.top)
    return dx * dy if dx > 0 and dy > 0 else 0


def _is_rtl(words: Sequence[Box]) -> bool:
    arabic = sum(len(ARABIC.findall(w.text)) for w in words)
    return arabic * 2 >= sum(len(w.text) for w in words)


def group_lines(words: Sequence[Box], *, by_geometry: bool) -> list[list[list[Box]]]:
    """Paragraphs of lines of words, in reading order.

    Tesseract's table already lists the words of an Arabic line in reading order (right to
    left: word 1 is the rightmost; checked on generated statements), so a line keeps that
    order. Under a block mode its blocks/paragraphs/lines are kept as they are. A sparse mode
    makes nearly every piece of a line a block of its own, so there (``by_geometry``) pieces
    that overlap vertically are joined into one line, ordered right to left when the line is
    mostly Arabic, and each line is its own paragraph only when a blank line's height parts
    it from the one above."""
    pieces: dict[tuple[int, int, int], list[Box]] = {}
    for w in words:
        pieces.setdefault((w.block, w.par, w.line), []).append(w)
    if not by_geometry:
        paragraphs: dict[tuple[int, int], list[list[Box]]] = {}
        for (block, par, _), words_of_line in pieces.items():
            paragraphs.setdefault((block, par), []).append(words_of_line)
        return list(paragraphs.values())
    lines: list[list[list[Box]]] = []  # each line: its pieces
    for piece in sorted(pieces.values(), key=lambda p: min(w.top for w in p)):
        top, bottom = min(w.top for w in piece), max(w.bottom for w in piece)
        middle = (top + bottom) / 2
        for joined in lines:
            l_top = min(w.top for p in joined for w in p)
            l_bottom = max(w.bottom for p in joined for w in p)
            if l_top <= middle <= l_bottom or top <= (l_top + l_bottom) / 2 <= bottom:
                joined.append(piece)
                break
        else:
            lines.append([piece])
    ordered: list[list[Box]] = []
    for joined in lines:
        flat = [w for p in joined for w in p]
        if _is_rtl(flat):
            joined.sort(key=lambda p: -max(w.right for w in p))
        else:
            joined.sort(key=lambda p: min(w.left for w in p))
        ordered.append([w for p in joined for w in p])
    if not ordered:
        return []
    heights = [max(w.bottom for w in ln) - min(w.top for w in ln) for ln in ordered]
    usual = statistics.median(heights)
    paragraphs_out: list[list[list[Box]]] = [[ordered[0]]]
    for prev, line in itertools.pairwise(ordered):
        gap = min(w.top for w in line) - max(w.bottom for w in prev)
        if gap > usual:
            paragraphs_out.append([line])
        else:
            paragraphs_out[-1].append(line)
    return paragraphs_out


def assemble(paragraphs: Sequence[Sequence[Sequence[Box]]]) -> tuple[str, list[tuple[int, int]]]:
    """Text with words joined by " ", lines by "\\n", paragraphs by "\\n\\n"; and each word's
    (start, end) in it, in the order the words appear in the text."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for p, paragraph in enumerate(paragraphs):
        for n, line in enumerate(paragraph):
            if p or n:
                sep = "\n" if n else "\n\n"
                parts.append(sep)
                pos += len(sep)
            for k, word in enumerate(line):
                if k:
                    parts.append(" ")
                    pos += 1
                parts.append(word.text)
                spans.append((pos, pos + len(word.text)))
                pos += len(word.text)
    return "".join(parts), spans


def line_height(gray: Image.Image) -> float | None:
    """Median height in pixels of the runs of inked rows (text lines), or None when there is
    no text-like ink.

    Measured in vertical strips 1/8 of the width, so that in a photo turned a few degrees the
    lines still part (across the whole width a 3° turn of 1000 px shifts a line by 52 px,
    more than a line's height)."""
    pixels = np.asarray(gray, dtype=np.uint8)
    if pixels.size == 0:
        return None
    # Ink is what is clearly darker than the page; the page is the brightest common level.
    page = float(np.percentile(pixels, 90))
    ink = pixels < page - 60
    h, w = ink.shape
    strip = max(16, w // 8)
    runs: list[int] = []
    for x in range(0, w, strip):
        rows = ink[:, x : x + strip].sum(axis=1) > 0
        edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.astype(np.int8), [0]))))
        runs += [int(b - a) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a >= 4]
    # Runs the height of the image are borders or photos, not lines of text.
    runs = [r for r in runs if r < 0.8 * h]
    return float(statistics.median(runs)) if len(runs) >= 3 else None


def erase_rules(gray: Image.Image, page: int) -> Image.Image:
    """``gray`` with its long straight rules (letterhead underlines, frames) painted over
    in the page's level ``page``.

    Tesseract takes a rule for a line of text or for the edge of a block: a one-line statement
    under a letterhead rule came out with stray lines ("0", "لصم") and words cut in two. On
    the 28 flagged eval posts whose statement images were missed, erasing the rule brought 5
    back. A rule is a run of ink 40% of the width (or height) long; text never is, as
    Arabic words part at spaces and letters are short."""
    pixels = np.array(gray, dtype=np.uint8)
    ink = pixels < page - 60
    if ink.mean() > 0.3:
        # Not dark text on a light page (light text on a dark banner, a photo): every row
        # would be one long "rule". Tesseract finds inverted lines by itself.
        return gray
    for mask, view in ((ink, pixels), (ink.T, pixels.T)):
        rows, length = mask.shape
        padded = np.zeros((rows, length + 2), dtype=np.int8)
        padded[:, 1:-1] = mask
        r_start, c_start = np.nonzero(np.diff(padded, axis=1) == 1)
        _, c_end = np.nonzero(np.diff(padded, axis=1) == -1)
        long = (c_end - c_start) >= 0.4 * length
        for r, a, b in zip(r_start[long], c_start[long], c_end[long], strict=True):
            view[r, a:b] = page
    return Image.fromarray(pixels, "L")
