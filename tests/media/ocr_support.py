"""Skipping OCR tests where Tesseract is missing, unless the run says it must be there."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from monitor.media.ocr import ocr_unavailable_reason

ROOT = Path(__file__).resolve().parents[2]


def require_ocr(languages: str = "ara+eng") -> None:
    """Skip the test when Tesseract (or a language) is missing; fail instead when
    MONITOR_REQUIRE_OCR=1 (CI images that are meant to have it)."""
    reason = ocr_unavailable_reason(languages)
    if reason is None:
        return
    if os.environ.get("MONITOR_REQUIRE_OCR") == "1":
        pytest.fail(f"MONITOR_REQUIRE_OCR=1 but {reason}")
    pytest.skip(reason)


def statement_images_module() -> ModuleType:
    """scripts/statement_images.py (outside the package), imported from the repo root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import scripts.statement_images as module

    return module
