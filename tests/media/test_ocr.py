"""Reading statement images (#13): what an operator sees of the text, its word boxes, and
the clear errors when Tesseract is missing or stuck."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytesseract
import pytest
from PIL import Image, ImageDraw, ImageOps
from rapidfuzz.distance import Levenshtein

from monitor.match import normalize
from monitor.media import ocr, ocr_text
from monitor.media.images import open_image
from monitor.media.ocr import (
    OcrFailed,
    OcrResult,
    OcrUnavailable,
    ocr_unavailable_reason,
    read_image,
)

from .ocr_support import require_ocr, statement_images_module

si = statement_images_module()


def _folded(text: str) -> str:
    return " ".join(normalize(text).text.split())


def cer(got: str, want: str) -> float:
    return Levenshtein.distance(_folded(got), _folded(want)) / max(1, len(_folded(want)))


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # The availability check is cached per process; tests that hide Tesseract must not leave
    # their answer behind.
    ocr.clear_cache()
    yield
    ocr.clear_cache()


def _claim() -> Image.Image:
    c = si.CLAIM
    img: Image.Image = si.render_statement(
        c["title"], c["lines"], font="naskh", letterhead=c["letterhead"], verse=c["verse"]
    )
    return img


def _drawn(img: Image.Image) -> str:
    return "\n".join(text for text, _ in img.info["lines"])


@pytest.mark.parametrize("font", ["naskh", "sans", "kufi"])
def test_a_statement_reads_back(font: str) -> None:
    require_ocr()
    t = si.THREAT
    img = si.render_statement(t["title"], t["lines"], font=font, letterhead=t["letterhead"])
    result = read_image(open_image(si.to_jpeg(img)))
    assert cer(result.text, _drawn(img)) <= 0.05, result.text
    assert "نحذر قوات الاحتلال" in result.text
    assert 0.5 < result.confidence <= 1
    assert (result.width, result.height) == img.size
    assert result.engine == "tesseract" and result.languages == "ara+eng"
    assert result.version.count(".") >= 1 and result.mode in (ocr.BLOCK_MODE, ocr.SPARSE_MODE)


def test_a_reposted_copy_still_reads() -> None:
    require_ocr()
    img = _claim()
    result = read_image(open_image(si.degrade(img, quality=60, rotate=3.0)))
    assert cer(result.text, _drawn(img)) <= 0.10, result.text
    assert "استهدف مجاهدو المقاومة" in result.text


def test_words_point_into_the_text_and_lie_where_they_were_drawn() -> None:
    require_ocr()
    img = _claim()
    result = read_image(img)
    assert result.words
    for w in result.words:
        assert result.text[w.start : w.end] == w.text
        assert 0 <= w.confidence <= 100
        assert w.left + w.width <= img.width and w.top + w.height <= img.height
    # Words of a line come in reading order (right to left) and the phrase reads as typed.
    assert "استهدف مجاهدو المقاومة الإسلامية" in result.text
    by_text = {w.text: w for w in result.words}
    first, second = by_text["استهدف"], by_text["مجاهدو"]
    assert first.left > second.left
    # The letterhead's words lie inside the box it was drawn in.
    _, (x0, y0, x1, y1) = img.info["lines"][0]
    head = next(w for w in result.words if w.text in ("الإسلامية", "المقاومة"))
    assert y0 - 10 <= head.top and head.top + head.height <= y1 + 10
    assert x0 - 10 <= head.left and head.left + head.width <= x1 + 10
    assert head.top + head.height < img.height / 4


def test_words_round_trip_through_json() -> None:
    require_ocr()
    result = read_image(_claim())
    rows = result.words_json()
    assert all(len(r) == 7 for r in rows)
    assert OcrResult.words_from_json(result.text, rows) == result.words


def test_paragraphs_and_lines_are_parted() -> None:
    require_ocr()
    result = read_image(_claim())
    lines = [ln for ln in result.text.split("\n") if ln]
    assert lines[0] == "المقاومة الإسلامية في العراق"
    assert lines[1] == "بيان"
    assert "  " not in result.text


@pytest.mark.parametrize("font", ["naskh-bold", "sans", "kufi-bold"])
def test_a_one_line_banner_reads(font: str) -> None:
    require_ocr()
    img = si.render_banner(si.BANNER, font=font)
    result = read_image(open_image(si.to_jpeg(img)))
    assert cer(result.text, si.BANNER) <= 0.05, result.text
    assert "\n" not in result.text.strip()


def test_an_image_without_text_reads_empty() -> None:
    require_ocr()
    blank = Image.new("RGB", (800, 500), (250, 248, 240))
    result = read_image(blank)
    assert result.text == ""
    assert result.words == ()
    assert result.confidence == 0.0


def test_missing_tesseract_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    monkeypatch.setenv("PATH", "/nonexistent")
    reason = ocr_unavailable_reason()
    assert reason is not None
    assert "apt-get install tesseract-ocr" in reason
    with pytest.raises(OcrUnavailable, match="apt-get install"):
        read_image(Image.new("RGB", (10, 10)))


def test_a_tesseract_command_pointing_nowhere_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    assert "not installed" in (ocr_unavailable_reason() or "")


def test_a_missing_language_names_its_package() -> None:
    require_ocr()
    reason = ocr_unavailable_reason("ara+xyz")
    assert reason == "Tesseract has no xyz data (xyz): apt-get install tesseract-ocr-xyz"


def test_a_stuck_tesseract_gives_ocr_failed() -> None:
    require_ocr()
    big = si.render_statement("بيان", ["نص طويل للاختبار " * 40] * 6, font="naskh")
    with pytest.raises(OcrFailed, match="timed out"):
        read_image(big, timeout=0.01)


def test_eastern_arabic_digits_come_out_as_digits_at_least() -> None:
    # Documented as weak (bench/ocr.py measures them); an operator still sees some digits.
    require_ocr()
    img = si.render_statement("بيان", ["في الساعة ١٠:٣٠ من يوم ١٥ حزيران ٢٠٢٤"], font="naskh")
    result = read_image(img)
    assert "الساعة" in result.text


def test_the_demo_images_read_back() -> None:
    require_ocr()
    from .ocr_support import ROOT

    folder = ROOT / "config" / "sample" / "exports" / "images"
    text = read_image(open_image((folder / "banner.jpg").read_bytes())).text
    assert cer(text, si.BANNER) <= 0.05
    claim = read_image(open_image((folder / "claim.jpg").read_bytes())).text
    assert "حرير في أربيل" in claim


def test_jpeg_bytes_of_a_statement_round_trip() -> None:
    img = _claim()
    assert Image.open(io.BytesIO(si.to_jpeg(img))).size == img.size


def _box(text: str, left: int, top: int, block: int, conf: float = 90.0) -> ocr_text.Box:
    return ocr_text.Box(text, left, top, 60, 30, conf, block, 1, 1)


def test_sparse_pieces_of_one_arabic_line_are_joined_right_to_left() -> None:
    # A sparse reading gives each piece of a line a block of its own, in no useful order.
    words = [
        _box("الإسلامية", 300, 100, block=2),
        _box("المقاومة", 400, 102, block=1),
        _box("بيان", 350, 200, block=3),
        _box("العراق", 100, 98, block=4),
    ]
    paragraphs = ocr_text.group_lines(words, by_geometry=True)
    text, spans = ocr_text.assemble(paragraphs)
    assert text == "المقاومة الإسلامية العراق\n\nبيان"
    flat = [w for p in paragraphs for ln in p for w in ln]
    assert [text[a:b] for a, b in spans] == [w.text for w in flat]


def test_a_reading_that_repeats_a_line_scores_no_more_for_it() -> None:
    once = [_box("قريب", 100, 100, 1), _box("وبشر", 200, 100, 1)]
    twice = [*once, _box("قريب", 105, 102, 2, conf=80), _box("وبشر", 198, 99, 2, conf=80)]
    assert ocr_text.score(twice) == ocr_text.score(once)


def test_a_mostly_english_statement_keeps_its_english() -> None:
    require_ocr()
    img = si.render_statement(
        "بيان",
        ["The Islamic Resistance in Iraq targeted Ain al-Asad base with drones"],
        font="naskh",
        letterhead="المقاومة الإسلامية في العراق",
    )
    result = read_image(img)
    assert "Islamic Resistance in Iraq targeted" in result.text
    assert "المقاومة الإسلامية في العراق" in result.text


def test_require_ocr_skips_or_fails_as_the_run_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    monkeypatch.delenv("MONITOR_REQUIRE_OCR", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install"):
        require_ocr()
    monkeypatch.setenv("MONITOR_REQUIRE_OCR", "1")
    with pytest.raises(pytest.fail.Exception, match="MONITOR_REQUIRE_OCR=1"):
        require_ocr()


def test_tesseract_killed_at_its_timeout_gives_ocr_failed() -> None:
    # Straight to the Tesseract run, so that pytesseract's own timeout is what fires.
    require_ocr()
    page = si.render_statement("بيان", ["نص طويل للاختبار " * 40] * 6, font="naskh")
    with pytest.raises(OcrFailed, match=r"timed out after 0\.0 s"):
        ocr._run(page.convert("L"), "ara+eng", ocr.BLOCK_MODE, 0.01)


def test_a_letterhead_rule_does_not_break_a_short_statement() -> None:
    # Seen in the bench: under a letterhead's rule, this one-line statement came out with
    # stray lines and its first words lost, so the matcher missed it.
    require_ocr()
    text = "والقادم أعظم على الأمريكان وقواعدهم"
    img = si.render_statement(
        "بيان", [text], font="naskh", letterhead="المقاومة الإسلامية في العراق"
    )
    result = read_image(open_image(si.to_jpeg(img)))
    assert text in result.text, result.text


def test_light_text_on_a_dark_banner_reads() -> None:
    require_ocr()
    img = ImageOps.invert(si.render_banner(si.BANNER, font="naskh-bold"))
    assert cer(read_image(img).text, si.BANNER) <= 0.05


def test_a_large_page_of_tiny_text_is_not_blown_up_past_the_cap() -> None:
    # 12 MP of 4 px "lines": scaling them to the target height would make a 190 MP page.
    img = Image.new("RGB", (4000, 3000), "white")
    draw = ImageDraw.Draw(img)
    for y in range(20, 2980, 10):
        for x in range(40, 3960, 12):
            draw.rectangle((x, y, x + 7, y + 3), fill="black")
    page, scale = ocr._prepare(img)
    border = 2 * ocr._PAD
    assert (page.width - border) * (page.height - border) <= ocr.MAX_PREPARED_PIXELS
    assert 1.0 < scale < 1.5
