"""Decoding untrusted images (#13): what is refused, with what reason, and re-post hashes."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from monitor.media.images import (
    ImageRejected,
    hash_distance,
    open_image,
    perceptual_hash,
    sniff_mime,
)

from .ocr_support import statement_images_module

si = statement_images_module()


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _statement(spec: dict[str, object]) -> Image.Image:
    img: Image.Image = si.render_statement(
        spec["title"], spec["lines"], font="naskh", letterhead=spec["letterhead"]
    )
    return img


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImageRejected, match=r"^empty file$"):
        open_image(b"")


def test_truncated_jpeg_is_refused() -> None:
    data = si.to_jpeg(_statement(si.CLAIM))
    with pytest.raises(ImageRejected, match=r"^corrupt or truncated image: "):
        open_image(data[: len(data) // 2])


def _bomb_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return data


@pytest.mark.parametrize("pillow_cap", [Image.MAX_IMAGE_PIXELS, None])
def test_a_png_claiming_a_huge_canvas_is_refused_from_its_header(
    pillow_cap: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pillow's own cap is a process-wide setting that anything may lift; ours holds anyway.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_cap)
    started = time.perf_counter()
    with pytest.raises(ImageRejected, match=r"^image too large: "):
        open_image(_bomb_png())
    # Decoding 10^10 RGB pixels would take minutes and 30 GB: refusing takes nothing.
    assert time.perf_counter() - started < 0.5


def test_the_pixel_cap_is_ours_not_pillows_global() -> None:
    img = Image.new("RGB", (300, 300), "white")
    with pytest.raises(ImageRejected, match="too large"):
        open_image(_encode(img, "PNG"), max_pixels=300 * 299)
    assert open_image(_encode(img, "PNG"), max_pixels=300 * 300).size == (300, 300)


@pytest.mark.parametrize(
    ("data", "start"),
    [
        (b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nendobj\n", "0x255044462d312e37"),
        (b"<!DOCTYPE html><html><body>not a jpeg</body></html>", "0x3c21444f43545950"),
    ],
)
def test_other_files_claiming_to_be_jpeg_are_refused(data: bytes, start: str) -> None:
    assert sniff_mime(data) is None
    with pytest.raises(ImageRejected, match=f"^not an image \\(starts with {start}"):
        open_image(data)


@pytest.mark.parametrize(("fmt", "mime"), [("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_gif_and_webp_are_accepted(fmt: str, mime: str) -> None:
    data = _encode(Image.new("RGB", (64, 48), (200, 30, 30)), fmt)
    assert sniff_mime(data) == mime
    img = open_image(data)
    assert img.mode == "RGB"
    assert img.size == (64, 48)


def test_mime_by_magic() -> None:
    img = Image.new("RGB", (8, 8))
    assert sniff_mime(_encode(img, "JPEG")) == "image/jpeg"
    assert sniff_mime(_encode(img, "PNG")) == "image/png"
    assert sniff_mime(b"RIFF\0\0\0\0WAVE") is None


def test_exif_rotated_jpeg_comes_out_upright() -> None:
    # Stored sideways (tall) with orientation 6: a viewer turns it 90° clockwise to wide.
    upright = Image.new("RGB", (200, 100), "white")
    upright.paste((0, 0, 0), (0, 0, 50, 100))  # a black band on the left when upright
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    img = open_image(_encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert img.size == (200, 100)
    assert img.getpixel((10, 50))[0] < 60  # type: ignore[index]
    assert img.getpixel((190, 50))[0] > 200  # type: ignore[index]


def damaged_exif_jpeg() -> bytes:
    """A JPEG whose EXIF gives StripByteCounts (0x0117) a text value: Pillow's
    exif_transpose raises struct.error on it, after the pixels decoded fine."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "x" * 20  # Make, ASCII: retagged below
    data = _encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif.tobytes())
    head = data.index(b"Exif\0\0")
    tag = data.index(b"\x01\x0f", head)
    return data[:tag] + b"\x01\x17" + data[tag + 2 :]


def test_a_damaged_exif_block_costs_the_rotation_not_the_image() -> None:
    img = open_image(damaged_exif_jpeg())
    assert img.size == (40, 20) and img.mode == "RGB"


def test_a_decoder_bug_on_hostile_bytes_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow raising something outside its documented errors (seen: struct.error, TypeError)
    # must come out as the one error callers handle.
    def broken(self: Image.Image, *args: object, **kwargs: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(Image.Image, "convert", broken)
    with pytest.raises(ImageRejected, match=r"^undecodable image \(IndexError: "):
        open_image(_encode(Image.new("RGB", (8, 8)), "PNG"))


def test_a_reencoded_statement_hashes_close_and_another_far() -> None:
    claim, threat = _statement(si.CLAIM), _statement(si.THREAT)
    original = perceptual_hash(open_image(si.to_jpeg(claim, 90)))
    assert len(original) == 16
    reposted = perceptual_hash(open_image(si.to_jpeg(claim, 60)))
    other = perceptual_hash(open_image(si.to_jpeg(threat, 90)))
    assert hash_distance(original, reposted) <= 8
    assert hash_distance(original, other) > 16
