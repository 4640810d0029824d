"""Render Arabic statements as JPEG images like the ones militias post (#13).

A statement image is a letterhead (the group's name), a title ("بيان"), a few right-aligned
lines of body text and often a Quran verse in ornate brackets; a banner is one long line. The
OCR tests and bench/ocr.py read these back, so every drawn line's box is kept on the image
(``img.info["lines"]``: ``[(text, (left, top, right, bottom)), ...]``).

Run: .venv/bin/python scripts/statement_images.py OUT_DIR   (writes the demo images)
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/noto")
FONTS = {
    "naskh": "NotoNaskhArabic-Regular.ttf",
    "naskh-bold": "NotoNaskhArabic-Bold.ttf",
    "sans": "NotoSansArabic-Regular.ttf",
    "sans-bold": "NotoSansArabic-Bold.ttf",
    "kufi": "NotoKufiArabic-Regular.ttf",
    "kufi-bold": "NotoKufiArabic-Bold.ttf",
}
# The Arabic Noto fonts have no Latin letters: a line mostly in Latin script is set in these.
LATIN_FONTS = {"regular": "NotoSans-Regular.ttf", "bold": "NotoSans-Bold.ttf"}
_LATIN = re.compile("[A-Za-z]")
_ARABIC = re.compile("[\u0621-\u064a]")
INK = (20, 20, 20)
ACCENT = (120, 20, 20)
PAPER = (250, 248, 240)
MARGIN = 60


def available_fonts() -> list[str]:
    """Names (keys of FONTS) whose file is installed here."""
    return [name for name, file in FONTS.items() if (FONT_DIR / file).exists()]


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONTS.get(name, name)), size)


def is_latin(text: str) -> bool:
    """Whether a line is mostly in Latin letters (set left to right in a Latin font)."""
    return len(_LATIN.findall(text)) > len(_ARABIC.findall(text))


def _for_line(text: str, font: ImageFont.FreeTypeFont, name: str) -> ImageFont.FreeTypeFont:
    if not is_latin(text):
        return font
    weight = "bold" if name.endswith("bold") else "regular"
    return ImageFont.truetype(str(FONT_DIR / LATIN_FONTS[weight]), int(font.size))


def _direction(text: str) -> str:
    return "ltr" if is_latin(text) else "rtl"


def _width(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont) -> float:
    return draw.textlength(text, font=font, direction=_direction(text))


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap of ``text`` to lines no wider than ``width`` pixels (as shaped RTL)."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    lines: list[str] = []
    current: list[str] = []
    for word in text.split():
        trial = " ".join([*current, word])
        if current and _width(draw, trial, font) > width:
            lines.append(" ".join(current))
            current = [word]
        else:
            current.append(word)
    if current:
        lines.append(" ".join(current))
    return lines


def _layout(
    rows: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int], str]], width: int
) -> Image.Image:
    """Draw ``rows`` (text, font, colour, align) top to bottom; keeps each line's box."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    gap = 18
    height = MARGIN
    for _, font, _, _ in rows:
        height += int(font.size * 1.6) + gap
    height = max(600 if len(rows) > 1 else 0, height + MARGIN - gap)
    img = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(img)
    y = MARGIN
    boxes: list[tuple[str, tuple[int, int, int, int]]] = []
    for text, font, colour, align in rows:
        direction = _direction(text)
        w = _width(probe, text, font)
        if align == "center":
            x = (width - w) / 2
        else:
            x = MARGIN if direction == "ltr" else width - MARGIN - w
        lang = "en" if direction == "ltr" else "ar"
        draw.text((x, y), text, font=font, fill=colour, direction=direction, language=lang)
        box = draw.textbbox((x, y), text, font=font, direction=direction, language=lang)
        boxes.append((text, (int(box[0]), int(box[1]), int(box[2]), int(box[3]))))
        y += int(font.size * 1.6) + gap
    img.info["lines"] = boxes
    return img


def render_statement(
    title: str,
    lines: list[str],
    *,
    font: str,
    letterhead: str | None = None,
    verse: str | None = None,
    width: int = 1000,
) -> Image.Image:
    """A statement: letterhead and title centred, body right-aligned and wrapped, verse last.

    ``lines`` are paragraphs; each is wrapped to the width. ``font`` is a key of FONTS (or a
    file name in FONT_DIR)."""
    body = _font(font, 34)
    rows: list[tuple[str, ImageFont.FreeTypeFont, tuple[int, int, int], str]] = []
    if letterhead:
        rows.append((letterhead, _font(font, 30), ACCENT, "center"))
    rows.append((title, _font(font, 44), INK, "center"))
    for paragraph in lines:
        f = _for_line(paragraph, body, font)
        rows += [(ln, f, INK, "right") for ln in wrap(paragraph, f, width - 2 * MARGIN)]
    if verse:
        rows.append((verse, _font(font, 34), ACCENT, "center"))
    img = _layout(rows, width)
    if letterhead:
        # A rule under the letterhead, as on printed letterheads.
        top = img.info["lines"][0][1][3] + 14
        ImageDraw.Draw(img).line([(MARGIN, top), (width - MARGIN, top)], fill=ACCENT, width=2)
    return img


def render_banner(text: str, *, font: str, width: int = 1000) -> Image.Image:
    """One long line on a ~120 px strip, shrunk until it fits the width."""
    size = 44
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    while size > 16 and _width(probe, text, _font(font, size)) > width - 2 * 30:
        size -= 2
    f = _font(font, size)
    img = Image.new("RGB", (width, 120), PAPER)
    draw = ImageDraw.Draw(img)
    w = _width(probe, text, f)
    x, y = (width - w) / 2, (120 - size * 1.4) / 2
    draw.text((x, y), text, font=f, fill=INK, direction="rtl", language="ar")
    box = draw.textbbox((x, y), text, font=f, direction="rtl", language="ar")
    img.info["lines"] = [(text, (int(box[0]), int(box[1]), int(box[2]), int(box[3])))]
    return img


def degrade(
    img: Image.Image, *, quality: int = 60, rotate: float = 3.0, noise: float = 12.0, seed: int = 0
) -> bytes:
    """A re-posted copy: rotated by ``rotate`` degrees, Gaussian noise of ``noise`` (sd, grey
    levels), JPEG at ``quality``. Returns the JPEG bytes."""
    out = img.convert("RGB")
    if rotate:
        out = out.rotate(rotate, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=PAPER)
    if noise:
        # Seeded so that a bench run is repeatable.
        rng = np.random.default_rng(seed)
        pixels = np.asarray(out, dtype=np.float32)
        pixels += rng.normal(0.0, noise, pixels.shape[:2])[..., None]
        out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_jpeg(img: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


CLAIM = {
    "letterhead": "المقاومة الإسلامية في العراق",
    "title": "بيان",
    "lines": [
        "بسم الله الرحمن الرحيم",
        "بعون الله وتوفيقه استهدف مجاهدو المقاومة الإسلامية في العراق قاعدة حرير في أربيل "
        "بطائرة مسيرة صباح اليوم وحققت إصابة مباشرة",
    ],
    "verse": "﴿ وَمَا النَّصْرُ إِلَّا مِنْ عِندِ اللَّهِ ﴾",
}
THREAT = {
    "letterhead": "المقاومة الإسلامية في العراق",
    "title": "بيان",
    "lines": [
        "نحذر قوات الاحتلال الأمريكي من أن قواعدها في المنطقة أصبحت أهدافاً مشروعة لنا إن لم تنسحب",
        "وإن غداً لناظره قريب",
    ],
    "verse": None,
}
BANNER = "المقاومة مستمرة حتى خروج آخر جندي محتل"


def write_demo(out_dir: Path) -> list[Path]:
    """The sample images of config/sample/exports/images (deterministic)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, spec in (("claim.jpg", CLAIM), ("threat.jpg", THREAT)):
        img = render_statement(
            str(spec["title"]),
            list(spec["lines"] or []),
            font="naskh",
            letterhead=str(spec["letterhead"]),
            verse=str(spec["verse"]) if spec["verse"] else None,
        )
        (out_dir / name).write_bytes(to_jpeg(img))
        written.append(out_dir / name)
    (out_dir / "banner.jpg").write_bytes(to_jpeg(render_banner(BANNER, font="naskh-bold")))
    written.append(out_dir / "banner.jpg")
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    for path in write_demo(args.out_dir):
        print(f"{path}  {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
