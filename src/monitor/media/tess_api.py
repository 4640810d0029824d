"""Tesseract in this process, through tesserocr built against Debian's libtesseract (#13).

The command line loads the Arabic and English models for every reading (two or three a
image): a tenth of a second each, half of an image's CPU. tesserocr keeps one loaded engine a
language set and thread, and gives the same TSV the command line prints, so both paths share
one parser (ocr_text.boxes).

Only a tesserocr compiled here is used (`pip install --no-binary tesserocr tesserocr`, after
`apt-get install libtesseract-dev libleptonica-dev pkg-config g++`; `.ci/run` and the
Dockerfile do it): the wheel on PyPI bundles another Tesseract build, which drops lines of
these statements. Without it, or with the wheel, media/ocr.py runs the command line.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from importlib import util
from pathlib import Path
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

_COLUMNS = (
    "level",
    "page_num",
    "block_num",
    "par_num",
    "line_num",
    "word_num",
    "left",
    "top",
    "width",
    "height",
    "conf",
    "text",
)
_local = threading.local()


class EngineError(Exception):
    """Tesseract refused the image or the languages; the message says which."""


class EngineTimeout(EngineError):
    pass


@functools.cache
def unavailable(binary_version: str) -> str | None:
    """Why the in-process engine is not used (None: it is). ``binary_version``: the Debian
    command line's version, which the library must match."""
    spec = util.find_spec("tesserocr")
    if spec is None or spec.origin is None:
        return "tesserocr is not installed (the command line is used)"
    where = Path(spec.origin).parent
    if spec.submodule_search_locations is not None:  # a package: tesserocr/__init__.py
        where = where.parent
    # auditwheel puts the libraries a wheel bundles beside the package: "tesserocr.libs".
    if any(p.name.startswith("tesserocr") and p.name.endswith(".libs") for p in where.iterdir()):
        return "tesserocr is the PyPI wheel with its own Tesseract; build it against Debian's"
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read when the library loads OpenMP
    try:
        import tesserocr
    except ImportError as e:  # a build against a library since removed
        return f"tesserocr cannot be loaded: {e}"
    version = str(tesserocr.tesseract_version()).split()[1]  # "tesseract 5.3.0\n leptonica…"
    if version != binary_version:
        return f"tesserocr uses Tesseract {version}, the command line {binary_version}"
    return None


@functools.cache
def usable(binary_version: str) -> bool:
    """Whether to read in process; says once in the log which engine reads images."""
    reason = unavailable(binary_version)
    log.info("OCR: %s", reason or "Tesseract in process (tesserocr, Debian's library)")
    return reason is None


def _engine(languages: str, options: dict[str, str]) -> Any:
    engines: dict[str, Any] = getattr(_local, "engines", None) or {}
    _local.engines = engines
    if languages not in engines:
        import tesserocr

        try:
            api = tesserocr.PyTessBaseAPI(lang=languages)
        except RuntimeError as e:
            raise EngineError(f"Tesseract could not load {languages}: {e}") from e
        for name, value in options.items():
            if not api.SetVariable(name, value):
                raise EngineError(f"Tesseract has no setting {name}")
        engines[languages] = api
    return engines[languages]


def image_to_data(
    image: Image.Image, languages: str, psm: int, timeout: float, options: dict[str, str]
) -> dict[str, list[str]]:
    """What ``pytesseract.image_to_data(..., output_type=DICT)`` gives, as strings."""
    api = _engine(languages, options)
    api.SetPageSegMode(psm)
    api.SetImage(image)
    try:
        # Tesseract's own deadline (ETEXT_DESC), in milliseconds; False when it gave up.
        if not api.Recognize(max(1, int(timeout * 1000))):
            raise EngineTimeout(f"Tesseract timed out after {timeout:.1f} s (psm {psm})")
        tsv = api.GetTSVText(0)
    finally:
        api.Clear()
    out: dict[str, list[str]] = {k: [] for k in _COLUMNS}
    for row in tsv.splitlines():
        cells = row.split("\t")
        if len(cells) < len(_COLUMNS) - 1:
            continue
        cells = [*cells[:11], "\t".join(cells[11:])]
        for key, value in zip(_COLUMNS, cells, strict=True):
            out[key].append(value)
    return out
