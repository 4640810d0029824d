"""The content-addressed media store (#13): files named by their sha256, written once.

Bytes come from the adversary, so nothing of them names a file: the path is the hash, split
in two levels (``ab/abcdef…``) so no folder holds millions of entries. A write goes to a
temporary file first and is renamed into place, so a crash never leaves half an image under a
hash that a later reader would trust.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from monitor.files import write_atomic

_SHA256 = re.compile(r"[0-9a-f]{64}")


class MediaTooLarge(ValueError):
    """A file past the store's cap (setting ``media_max_bytes``)."""


class MediaStore:
    def __init__(self, root: Path, *, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def check_size(self, size: int | None) -> None:
        if size is not None and size > self.max_bytes:
            raise MediaTooLarge(
                f"{size} bytes is more than media_max_bytes ({self.max_bytes}); not kept"
            )

    def put(self, data: bytes) -> str:
        """Keep ``data`` and return its sha256; a file already there is not written again."""
        self.check_size(len(data))
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.is_file() and target.stat().st_size == len(data):
            return sha
        write_atomic(target, data, durable=True)
        return sha

    def read(self, sha256: str) -> bytes:
        """The bytes under ``sha256``; FileNotFoundError when missing, ValueError when the file
        no longer matches its name (a damaged disk or a hand edit)."""
        data = self.path(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"media {sha256[:12]}… does not match its hash")
        return data
