"""Reading a bundle's zip without trusting it (#17): nothing is extracted, member names are
only compared with the names a bundle has (never joined to a path), and sizes are capped
before anything is read."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from typing import Any

NAMES = re.compile(
    r"(post|metadata|versions|ocr|checkpoints)\.json|chain\.jsonl|public_key\.pem|README\.txt"
    r"|versions/[0-9a-f]{64}\.txt|media/[0-9a-f]{64}\.[a-z0-9]{1,5}|records/\d{1,20}\.(json|txt)"
    r"|checkpoints/\d{1,20}\.(msg|sig|tsr)"
    # Folder entries, as `zip -r` writes them: never read.
    r"|(versions|media|records|checkpoints)/"
)
MAX_MEMBERS = 10_000
MAX_DOC = 64 << 20  # one JSON or text member
# A record: an OCR result, a review, or a batch's lines (100 bytes a post; a batch of
# 50,000 posts is 5 MiB) — and a crafted bundle can hold many.
MAX_RECORD = 8 << 20
MAX_MEDIA = 1 << 30
MAX_TOTAL = 4 << 30
MAX_RATIO = 200  # uncompressed / compressed: past this a member is a zip bomb

# A hostile zip: truncated members end in EOFError, an encrypted one is a RuntimeError, a
# damaged stream a zlib.error; each is a bad bundle, said so, never a traceback.
_UNREADABLE = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    NotImplementedError,
    EOFError,
    RuntimeError,
    zlib.error,
)


class BadBundle(Exception):
    """The bundle cannot be read any further; the message names the member."""


class BundleZip:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise BadBundle(f"{len(members)} members: more than a bundle has")
        for info in members:
            name = info.filename
            if not NAMES.fullmatch(name):
                raise BadBundle(f"unexpected member {name[:200]!r}: not part of an evidence bundle")
            if name in self.infos:
                raise BadBundle(f"member {name} appears twice")
            cap = (
                MAX_MEDIA
                if name.startswith("media/")
                else MAX_RECORD
                if name.startswith("records/")
                else MAX_DOC
            )
            if info.file_size > cap:
                raise BadBundle(f"{name}: {info.file_size} bytes, more than a bundle member may be")
            if info.file_size > 1 << 20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise BadBundle(f"{name}: compressed {MAX_RATIO}-fold or more (a zip bomb?)")
            total += info.file_size
            self.infos[name] = info
        if total > MAX_TOTAL:
            raise BadBundle(f"{total} bytes uncompressed: more than a bundle may be")

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        info = self.infos.get(name)
        if info is None:
            raise BadBundle(f"{name} is missing")
        try:
            with self.zf.open(info) as f:
                data = f.read(info.file_size + 1)
        except _UNREADABLE as exc:
            raise BadBundle(f"{name}: cannot be read ({exc})") from None
        if len(data) > info.file_size:
            raise BadBundle(f"{name}: longer than its header says")
        return data

    def sha256(self, name: str) -> str:
        h = hashlib.sha256()
        info = self.infos[name]
        try:
            with self.zf.open(info) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except _UNREADABLE as exc:
            raise BadBundle(f"{name}: cannot be read ({exc})") from None
        return h.hexdigest()

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.read(name))
        except (ValueError, RecursionError) as exc:
            raise BadBundle(f"{name}: not valid JSON ({str(exc)[:200]})") from None
