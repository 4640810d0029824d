"""Tesseract in process (#13): the same words and boxes as the command line, at a fraction of
its cost; only a tesserocr built against Debian's library is used."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.media import ocr, tess_api
from monitor.media.images import open_image

from .ocr_support import require_ocr, statement_images_module

si = statement_images_module()


def require_in_process() -> None:
    require_ocr()
    reason = tess_api.unavailable(ocr._version(ocr._cmd()))
    if reason is None:
        return
    if os.environ.get("MONITOR_REQUIRE_OCR") == "1":
        pytest.fail(f"MONITOR_REQUIRE_OCR=1 but {reason} (.ci/run builds tesserocr)")
    pytest.skip(reason)


def test_in_process_reads_what_the_command_line_reads() -> None:
    require_in_process()
    img = si.render_statement(
        "بيان",
        ["بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية قاعدة حرير بطائرة مسيرة"],
        font="naskh",
        letterhead="المقاومة الإسلامية في العراق",
    )
    page = open_image(si.to_jpeg(img))
    fast = ocr.read_image(page, in_process=True)
    slow = ocr.read_image(page, in_process=False)
    assert fast.text == slow.text and "قاعدة حرير" in fast.text
    assert [(w.text, w.left, w.top, w.width, w.height) for w in fast.words] == [
        (w.text, w.left, w.top, w.width, w.height) for w in slow.words
    ]
    assert fast.version == slow.version


def test_in_process_timeout_is_an_ocr_failure() -> None:
    require_in_process()
    page = si.render_statement("بيان", ["نص طويل للاختبار " * 40] * 6, font="naskh")
    with pytest.raises(ocr.OcrFailed, match=r"timed out after 0\.0 s \(psm 6\)"):
        ocr._run(page.convert("L"), "ara+eng", ocr.BLOCK_MODE, 0.01, in_process=True)


@pytest.fixture
def fake_package(tmp_path: Path) -> Iterator[Path]:
    """A `tesserocr` found first on sys.path, laid out as the test asks."""
    pkg = tmp_path / "tesserocr"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('not a real tesserocr')\n")
    sys.path.insert(0, str(tmp_path))
    saved = sys.modules.pop("tesserocr", None)
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("tesserocr", None)
        if saved is not None:
            sys.modules["tesserocr"] = saved


def test_the_pypi_wheel_with_its_own_tesseract_is_refused(fake_package: Path) -> None:
    (fake_package / "tesserocr.libs").mkdir()  # where auditwheel puts what a wheel bundles
    reason = tess_api.unavailable.__wrapped__("5.3.0")  # type: ignore[attr-defined]
    assert reason is not None and "PyPI wheel" in reason


def test_a_tesserocr_that_cannot_load_falls_back_with_the_reason(fake_package: Path) -> None:
    reason = tess_api.unavailable.__wrapped__("5.3.0")  # type: ignore[attr-defined]
    assert reason == "tesserocr cannot be loaded: not a real tesserocr"
