"""Reading the text of statement images with Tesseract: Debian's, in this process through
tesserocr when it is built against Debian's library (media/tess_api.py), else its command line
through pytesseract.

    reason = ocr_unavailable_reason()       # None, or how to install what is missing
    result = read_image(open_image(data))   # OcrResult: text, confidence, word boxes

Limits: Eastern Arabic digits (٠١٢٣…) read poorly (bench/ocr.py measures them apart); dates and
numbers in statements are best not relied on.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Literal

import pytesseract
from PIL import Image, ImageOps

from . import tess_api
from .ocr_text import (
    ARABIC,
    LATIN,
    Box,
    assemble,
    boxes,
    erase_rules,
    group_lines,
    line_height,
    score,
)

# Page segmentation modes (psm) of the two readings. Mean CER over 12 statements in 6
# fonts, their re-posted copies (JPEG 60, 3° turn, noise), 6 banners and 12 short one-line
# statements (clean / re-posted / banner / short):
#   6 + 11  0.011 / 0.033 / 0.000 / 0.065     3 + 11  0.011 / 0.035 / 0.000 / 0.063
#   6 + 7   0.061 / 0.233 / 0.000 / 0.161     3 + 7   0.050 / 0.157 / 0.000 / 0.167
# Single-line (7) rescues banners only; sparse (11) also statements whose layout the block
# mode gets wrong. 6 and 3 tie; 6 (one uniform block) is the cheaper, with no column search.
BLOCK_MODE = 6
SPARSE_MODE = 11
# Median height of the inked rows of a line that Tesseract reads best, in pixels: see
# _scale_for for the measurement.
TARGET_LINE_HEIGHT = 16.0
# Tesseract's line finder splits a short Arabic line into overlapping pieces read twice (a
# one-line statement came out as 13 lines) when it takes a line's x-height for a whole line;
# a textline must be at least this many x-heights. Mean CER on 6 short statements, by value:
# 1.25 (the default) 0.094, 2.0 0.245, 3.0 0.051, 4.0 0.059 (but degraded copies 0.147).
TESSERACT_OPTIONS = "-c textord_min_linesize=3.0"
_OPTIONS = {"textord_min_linesize": "3.0"}  # the same, for the in-process engine
# Readings whose scores are within this fraction of the best are taken as tied, and the one
# with fewer lines wins: a block reading that cuts a line in pieces reads some letters twice
# and scores a little higher for it (5019 against 4938 for the sparse reading, right, of a
# one-line statement). Of 28 flagged eval posts missed as images, this brought back 3 (and
# erase_rules 5 before it), with CER on the other generated statements unchanged.
TIE = 0.95
# The page as handed to Tesseract: scaling up a 40 MP image (media_max_pixels) by the up to 4×
# of _scale_for would be 640 MP, gigabytes of grey pixels for one hostile image.
MAX_PREPARED_PIXELS = 25_000_000
_PAD = 16  # border added around the page: Tesseract misses text touching the edge
_PACKAGES = {"ara": ("Arabic", "tesseract-ocr-ara"), "eng": ("English", "tesseract-ocr-eng")}


@dataclass(frozen=True)
class OcrWord:
    """A word read; ``result.text[start:end] == text``. Box in the original image's pixels."""

    text: str
    start: int
    end: int
    left: int
    top: int
    width: int
    height: int
    confidence: float  # 0..100, Tesseract's


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float  # 0..1, mean confidence of the words
    engine: str
    version: str
    languages: str
    mode: int  # Tesseract page segmentation mode (psm) whose reading was kept
    width: int
    height: int
    words: tuple[OcrWord, ...]

    def words_json(self) -> list[list[int | float]]:
        """Words as ``[start, end, left, top, width, height, confidence]`` rows; the text of
        each is ``text[start:end]``, so it is not repeated."""
        return [
            [w.start, w.end, w.left, w.top, w.width, w.height, w.confidence] for w in self.words
        ]

    @classmethod
    def words_from_json(cls, text: str, rows: list[list[int | float]]) -> tuple[OcrWord, ...]:
        """The words of :meth:`words_json` again, given the result's ``text``."""
        out = []
        for row in rows:
            start, end, left, top, width, height = (int(v) for v in row[:6])
            out.append(
                OcrWord(text[start:end], start, end, left, top, width, height, float(row[6]))
            )
        return tuple(out)


class OcrUnavailable(RuntimeError):
    """Tesseract or one of its languages is not installed; the message says how to fix it."""


class OcrFailed(RuntimeError):
    """Tesseract crashed, timed out or gave output that could not be read."""


def _cmd() -> str:
    return str(pytesseract.pytesseract.tesseract_cmd)


@functools.cache
def _reason(languages: str, cmd: str, path: str) -> str | None:
    del path  # part of the cache key only: where a bare command name is looked up
    if shutil.which(cmd) is None:
        return "Tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-ara"
    try:
        installed = set(pytesseract.get_languages(config=""))
    except (pytesseract.TesseractError, pytesseract.TesseractNotFoundError, OSError) as e:
        return f"Tesseract does not run ({e}): reinstall it with apt-get install tesseract-ocr"
    for lang in languages.split("+"):
        if lang not in installed:
            name, package = _PACKAGES.get(lang, (lang, f"tesseract-ocr-{lang}"))
            return f"Tesseract has no {name} data ({lang}): apt-get install {package}"
    return None


def ocr_unavailable_reason(languages: str = "ara+eng") -> str | None:
    """None when Tesseract and every language of ``languages`` are installed; else one
    sentence saying what to install. Cached per process (per command and PATH): see
    :func:`clear_cache`."""
    return _reason(languages, _cmd(), os.environ.get("PATH", ""))


def clear_cache() -> None:
    """Forget what :func:`ocr_unavailable_reason` and the version lookup found."""
    _reason.cache_clear()
    _version.cache_clear()
    tess_api.usable.cache_clear()


@functools.cache
def _version(cmd: str) -> str:
    del cmd  # cache key only
    return str(pytesseract.get_tesseract_version())


def _scale_for(gray: Image.Image) -> float:
    """Factor bringing the text lines to TARGET_LINE_HEIGHT.

    Measured on generated statements (8 statements in 4 fonts, their degraded copies and 4
    banners): Tesseract's LSTM misreads large text as badly as small. A 44 px banner line
    read with CER 0.50-1.00 at its own size and 0.00 shrunk to half, so text is scaled down
    as well as up. Mean CER by target (clean / degraded / banner): 14 px 0.009/0.016/0.020,
    16 px 0.008/0.034/0.007, 18 px 0.011/0.097/0.105, 24 px 0.021/0.046/0.164 (with
    Tesseract's default textord_min_linesize, before the rule erasing). Only by
    0.4..4, so that a wrong estimate (a photo, a table) cannot shrink text to nothing.

    No deskewing: at 3° turns (the degraded copies above) the CER is already 0.034, within
    the 0.10 aimed at, and Tesseract straightens small turns itself."""
    height = line_height(gray)
    if height is None:
        return 1.0
    return max(0.4, min(4.0, TARGET_LINE_HEIGHT / height))


def _prepare(img: Image.Image) -> tuple[Image.Image, float]:
    gray = img.convert("L")
    page = _page_level(gray)
    gray = erase_rules(gray, page)
    scale = _scale_for(gray)
    # Capped before resizing; a page already above the cap is shrunk to it.
    cap = (MAX_PREPARED_PIXELS / (gray.width * gray.height)) ** 0.5
    fit = math.floor if cap < scale else round
    scale = min(scale, cap)
    if abs(scale - 1.0) > 0.1:
        size = (max(1, fit(gray.width * scale)), max(1, fit(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    else:
        scale = 1.0
    # The border takes the page's own colour: a white one around an off-white page is an
    # edge Tesseract binarises into ink (a blank page read as "2").
    return ImageOps.expand(gray, _PAD, fill=page), scale


def _page_level(gray: Image.Image) -> int:
    """The grey level 90% of the pixels are at or below: the page, in a page of text."""
    total, seen = gray.width * gray.height, 0
    for level, count in enumerate(gray.histogram()):
        seen += count
        if seen >= 0.9 * total:
            return level
    return 255


def _run(
    image: Image.Image, languages: str, psm: int, timeout: float, in_process: bool = True
) -> dict[str, Any]:
    if timeout <= 0:
        raise OcrFailed(f"Tesseract timed out (psm {psm})")
    # Tesseract's OpenMP threads cost far more than they bring on small pages: measured 1.30 s
    # a statement with the default threads against 0.28 s with one, on 2 cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    # Only for Debian's own command: a run pointed at another binary gets that binary.
    if in_process and _cmd() == "tesseract" and tess_api.usable(_version(_cmd())):
        try:
            return tess_api.image_to_data(image, languages, psm, timeout, _OPTIONS)
        except tess_api.EngineError as e:
            raise OcrFailed(str(e) if "psm" in str(e) else f"{e} (psm {psm})") from e
    try:
        data: dict[str, Any] = pytesseract.image_to_data(
            image,
            lang=languages,
            config=f"--psm {psm} {TESSERACT_OPTIONS}",
            output_type=pytesseract.Output.DICT,
            timeout=timeout,
        )
    except pytesseract.TesseractNotFoundError as e:
        raise OcrUnavailable(
            "Tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-ara"
        ) from e
    except pytesseract.TesseractError as e:
        raise OcrFailed(f"Tesseract failed (psm {psm}): {e}") from e
    except RuntimeError as e:
        # pytesseract reports its timeout as a bare RuntimeError.
        if "timeout" in str(e).lower():
            raise OcrFailed(f"Tesseract timed out after {timeout:.1f} s (psm {psm})") from e
        raise OcrFailed(f"Tesseract failed (psm {psm}): {e}") from e
    except (ValueError, KeyError, IndexError) as e:
        raise OcrFailed(f"Tesseract gave output that could not be read (psm {psm}): {e}") from e
    if not isinstance(data, dict) or "text" not in data or "conf" not in data:
        raise OcrFailed(f"Tesseract gave output that could not be read (psm {psm})")
    return data


def read_image(
    img: Image.Image,
    *,
    languages: str = "ara+eng",
    timeout: float = 60.0,
    passes: Literal["both", "auto"] = "both",
    in_process: bool = True,
) -> OcrResult:
    """Read the text of ``img`` (any mode; the caller's image is not changed).

    Two readings are made, under a block mode and a sparse one, and the one with more
    confident characters kept (:func:`ocr_text.score`): the block mode keeps paragraphs, the
    sparse one finds lines the block mode mangles (one long banner line split like columns,
    statements mixing text sizes). ``passes="auto"`` skips the sparse reading when the block
    one is confident, for throughput. ``timeout`` (seconds) is for all readings together; when
    it runs out, OcrFailed. ``in_process``: Tesseract in this process when it can be
    (setting ``ocr_in_process``), else its command line.

    Note: Eastern Arabic digits (٠١٢٣…) read poorly; see the module docstring."""
    reason = ocr_unavailable_reason(languages)
    if reason is not None:
        raise OcrUnavailable(reason)
    deadline = time.monotonic() + timeout
    page, scale = _prepare(img)
    width, height = img.size

    def reading(langs: str, psm: int) -> tuple[float, int, str, list[Box]]:
        data = _run(page, langs, psm, deadline - time.monotonic(), in_process)
        words = boxes(data, scale=scale, pad=_PAD, width=width, height=height)
        return score(words), psm, langs, words

    # With English beside Arabic, Tesseract reads Arabic words it is unsure of (a verse with
    # harakat, ornate brackets, noise) as Latin gibberish ("Ul Jal bag" for a line of a
    # verse). Measured on generated statements: CER 0.058-0.121 with ara+eng against
    # 0.005-0.029 with ara alone. So once the block reading shows a mostly Arabic page, the
    # other readings are in Arabic alone (which is also 1.6x faster than ara+eng).
    readings = [reading(languages, BLOCK_MODE)]
    arabic = _arabic_only(languages, readings[0][3])
    if passes == "both" or _doubtful(readings[0][3]):
        readings.append(reading(arabic or languages, SPARSE_MODE))
    top = max(r[0] for r in readings)
    best, mode, used, words = max(readings, key=lambda r: (r[0] >= TIE * top, -_lines(r), r[0]))
    if arabic and used != arabic and _has_latin(words):
        # The block reading kept its Latin gibberish: read it again in Arabic alone, and keep
        # that unless clearly worse (the gibberish often has the higher confidence: a plain
        # comparison kept it on 2 of 8 statements).
        again = reading(arabic, mode)
        if again[0] >= 0.8 * best:
            words = again[3]
    paragraphs = group_lines(words, by_geometry=mode == SPARSE_MODE)
    text, spans = assemble(paragraphs)
    ordered = [w for paragraph in paragraphs for line in paragraph for w in line]
    out = tuple(
        OcrWord(w.text, a, b, w.left, w.top, w.width, w.height, w.confidence)
        for w, (a, b) in zip(ordered, spans, strict=True)
    )
    mean = sum(w.confidence for w in out) / len(out) / 100 if out else 0.0
    return OcrResult(
        text=text,
        confidence=round(mean, 4),
        engine="tesseract",
        version=_version(_cmd()),
        languages=languages,
        mode=mode,
        width=width,
        height=height,
        words=out,
    )


def _arabic_only(languages: str, words: list[Box]) -> str | None:
    """ "ara" when ``languages`` has Arabic and another language and ``words`` are mostly
    Arabic (so the other readings may leave the other language out); else None."""
    langs = languages.split("+")
    if "ara" not in langs or len(langs) == 1:
        return None
    arabic = sum(len(ARABIC.findall(w.text)) for w in words)
    latin = sum(len(LATIN.findall(w.text)) for w in words)
    return "ara" if arabic > 4 * latin else None


def _lines(r: tuple[float, int, str, list[Box]]) -> int:
    paragraphs = group_lines(r[3], by_geometry=r[1] == SPARSE_MODE)
    return sum(len(p) for p in paragraphs)


def _has_latin(words: list[Box]) -> bool:
    return any(LATIN.search(w.text) for w in words)


def _doubtful(words: list[Box]) -> bool:
    """Whether a block reading may be bettered by the sparse one: few lines (a banner, which
    the block mode splits) or low confidence."""
    if not words:
        return True
    lines = {(w.block, w.par, w.line) for w in words}
    mean = sum(w.confidence for w in words) / len(words)
    return len(lines) <= 2 or mean < 80
