"""Decoding untrusted images from channels, and perceptual hashes to spot re-posts.

The MIME type Telegram reports is the sender's claim; only the file's magic bytes decide what
it is. Dimensions are read from the header before any pixel is decoded, so a small file that
claims a huge canvas (a decompression bomb) is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings

import imagehash
from PIL import Image, ImageOps

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}


class ImageRejected(ValueError):
    """An image refused before or while decoding; the message is one line for operators."""


def sniff_mime(data: bytes) -> str | None:
    """The image type by magic bytes (jpeg, png, webp, gif), or None for anything else."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def open_image(data: bytes, *, max_pixels: int = 40_000_000) -> Image.Image:
    """Decode ``data`` into a fully loaded, upright RGB image, or raise ImageRejected."""
    if not data:
        raise ImageRejected("empty file")
    mime = sniff_mime(data)
    if mime is None:
        raise ImageRejected(f"not an image (starts with 0x{data[:8].hex()})")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check depends on the global Image.MAX_IMAGE_PIXELS, which
            # anything in the process may change; ours is the explicit cap below, so its
            # warning is made an error here and reported the same way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # "Corrupt EXIF data" and the like: the adversary's bytes, not ours to log.
            warnings.simplefilter("ignore", UserWarning)
            # Only the format the magic named: a JPEG must not be parsed as something else.
            img = Image.open(io.BytesIO(data), formats=[_FORMATS[mime]])
            width, height = img.size  # from the header; nothing decoded yet
            if width * height > max_pixels:
                raise ImageRejected(
                    f"image too large: {width}x{height} pixels (limit {max_pixels:,})"
                )
            img.load()
            rgb = _upright(img).convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected(f"image too large: {e}") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        # Pillow reports a bad file as any of these, depending on the codec and where it broke.
        raise ImageRejected(f"corrupt or truncated image: {e}") from e
    except MemoryError:
        raise
    except Exception as e:
        # A codec's own bug on hostile bytes (struct.error, TypeError, IndexError…): one bad
        # image must fail its own job, not the worker's batch.
        raise ImageRejected(f"undecodable image ({type(e).__name__}: {e})") from e
    return rgb


def _upright(img: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as stored if the EXIF is damaged.

    The pixels are already decoded; a broken EXIF block (Pillow raises struct.error or
    TypeError on some) only costs the rotation, which Tesseract partly copes with."""
    try:
        return ImageOps.exif_transpose(img)
    except MemoryError:
        raise
    except Exception:
        return img


def perceptual_hash(img: Image.Image) -> str:
    """64-bit DCT hash (imagehash.phash) as 16 hex characters; re-encodes stay close."""
    return str(imagehash.phash(img))


def hash_distance(a: str, b: str) -> int:
    """Hamming distance between two hashes from :func:`perceptual_hash`."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {len(a)} and {len(b)}")
    return (int(a, 16) ^ int(b, 16)).bit_count()
