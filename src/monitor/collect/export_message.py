"""One message of a Telegram Desktop export as a PostRecord.

* Dates: ``date_unixtime``/``edited_unixtime`` when present. ``date``/``edited`` hold the
  exporting machine's local time with no offset, which the file cannot tell us; a naive value is
  therefore read as UTC (an explicit offset is honoured).
* Text: ``text`` (a string, or strings mixed with entity objects) is authoritative, as every
  export version has it; ``text_entities`` repeats the same characters in newer exports and is
  used only when ``text`` is absent. Entities give their visible text, never a link's ``href``.
  Either field being malformed rejects the message.
* Media: photos are JPEG (exports give them no MIME type); a ``file`` without ``media_type`` is a
  document. A sha256 is computed only when ``media_root`` is given and the file is really there
  (exports made without media hold a "File not included" placeholder). ``path`` names the image
  the media job reads (#13): the photo, an image sent as a file, or a video's ``thumbnail``;
  the sha256 stays the hash of the message's own file.
* Forwards: ``forwarded_from_id`` ``channel<N>`` becomes ``"<N>"``; other peers (``user<N>``) are
  kept verbatim. Exports never name the original message id, nor views or forward counts.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord, Source
from monitor.errors import RecordError

_JSON_TYPES: dict[type, str] = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "an object",
}
_WANT = {int: "a non-negative integer", float: "a non-negative number", str: "a string"}
_MEDIA_TYPES = {
    "video_file": "video",
    "voice_message": "voice",
    "audio_file": "audio",
    "animation": "animation",
    "sticker": "sticker",
    "video_message": "video_note",
}


def message_to_record(
    msg: dict[str, Any], *, source: Source = "export", media_root: Path | None = None
) -> PostRecord | None:
    """Convert one exported message; None for service messages (joins, pins, title changes)."""
    if not isinstance(msg, dict):
        raise RecordError(f"message is not a JSON object but {_json_type(msg)}")
    kind = msg.get("type", "message")
    if kind == "service":
        return None
    if "id" not in msg:
        raise RecordError("message has no 'id'")
    msg_id = msg["id"]
    if not is_int(msg_id) or msg_id <= 0:
        raise RecordError(f"message id must be a positive integer, got {msg_id!r}")

    def fail(reason: str) -> RecordError:
        return RecordError(reason, record_id=msg_id)

    if kind != "message":
        raise fail(f"unknown message type {kind!r}")

    date = _when(msg, "date_unixtime", "date", fail)
    if date is None:
        raise fail("message has no 'date_unixtime' or 'date'")
    edited_at = _when(msg, "edited_unixtime", "edited", fail)

    if "text" in msg:
        text = _flatten(msg["text"], "text", fail, allow_str=True)
        if "text_entities" in msg:
            _flatten(msg["text_entities"], "text_entities", fail, allow_str=False)
    elif "text_entities" in msg:
        text = _flatten(msg["text_entities"], "text_entities", fail, allow_str=False)
    else:
        text = ""

    reply_to = _field(msg, "reply_to_message_id", int, fail)

    return PostRecord(
        message_id=msg_id,
        date=date,
        text=text,
        source=source,
        forwarded_from=_forward(msg, fail),
        reply_to=reply_to,
        media=_media(msg, fail, media_root),
        edited_at=edited_at,
    )


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(msg: dict[str, Any], key: str, kind: type, fail: Callable[[str], RecordError]) -> Any:
    """An optional field of one JSON type; numbers must not be negative."""
    value: Any = msg.get(key)
    if value is None:
        return None
    if kind is float and is_int(value):
        value = float(value)
    right_type = type(value) is kind  # bool is not accepted as int
    if not right_type or (kind is not str and value < 0):
        raise fail(f"'{key}' must be {_WANT[kind]}, got {value!r:.60}")
    return value


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _when(
    msg: dict[str, Any], unix_key: str, iso_key: str, fail: Callable[[str], RecordError]
) -> datetime | None:
    if unix_key in msg:
        raw = msg[unix_key]
        if isinstance(raw, str) and raw.isascii() and raw.isdigit():
            seconds = int(raw)
        elif is_int(raw) and raw >= 0:
            seconds = raw
        else:
            raise fail(f"'{unix_key}' is not a Unix timestamp: {raw!r}")
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise fail(f"'{unix_key}' is out of range: {raw!r}") from None
    if iso_key in msg:
        raw = msg[iso_key]
        try:
            parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise fail(f"'{iso_key}' is not an ISO 8601 date: {raw!r}")
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    return None


def _flatten(
    value: object, key: str, fail: Callable[[str], RecordError], *, allow_str: bool
) -> str:
    if allow_str and isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise fail(
            f"'{key}' must be a {'string or ' if allow_str else ''}list, got {_json_type(value)}"
        )
    parts: list[str] = []
    for n, piece in enumerate(value):
        if allow_str and isinstance(piece, str):
            parts.append(piece)
        elif isinstance(piece, dict) and isinstance(piece.get("text"), str):
            parts.append(piece["text"])
        else:
            raise fail(f"'{key}' item {n} is not a text piece: {piece!r:.60}")
    return "".join(parts)


def _forward(msg: dict[str, Any], fail: Callable[[str], RecordError]) -> ForwardInfo | None:
    if "forwarded_from" not in msg and "forwarded_from_id" not in msg:
        return None
    name = _field(msg, "forwarded_from", str, fail)
    peer = _field(msg, "forwarded_from_id", str, fail)
    digits = peer.removeprefix("channel") if peer else ""
    if digits.isascii() and digits.isdigit():
        peer = digits
    return ForwardInfo(channel=peer or None, message_id=None, name=name or None)


def _media(
    msg: dict[str, Any], fail: Callable[[str], RecordError], media_root: Path | None
) -> MediaInfo | None:
    if "photo" in msg:
        photo = _export_file(msg["photo"], media_root)
        return MediaInfo(
            type="photo",
            mime="image/jpeg",
            size=_field(msg, "photo_file_size", int, fail),
            sha256=_sha256(photo),
            path=str(photo) if photo is not None else None,
        )
    if "file" in msg:
        media_type = _field(msg, "media_type", str, fail)
        kind = _MEDIA_TYPES.get(media_type, media_type) if media_type else "document"
        mime = _field(msg, "mime_type", str, fail)
        file = _export_file(msg["file"], media_root)
        # The image the media job reads (#13): an image sent as a file, or a video's still.
        image = None
        if kind == "document" and mime is not None and mime.lower().startswith("image/"):
            image = file
        elif kind == "video":
            image = _export_file(msg.get("thumbnail"), media_root)
        return MediaInfo(
            type=kind,
            mime=mime,
            size=_field(msg, "file_size", int, fail),
            duration=_field(msg, "duration_seconds", float, fail),
            sha256=_sha256(file),
            path=str(image) if image is not None else None,
        )
    for key, kind in (
        ("poll", "poll"),
        ("location_information", "location"),
        ("contact_information", "contact"),
    ):
        if key in msg:
            return MediaInfo(type=kind)
    return None


def _export_file(relative: object, media_root: Path | None) -> Path | None:
    """The export's file named by ``relative``, resolved; None unless it is a regular file
    inside ``media_root``.

    Paths come from the file being read: never follow one out of the export folder, neither
    by ``..`` nor by a symlink (resolving follows links, so a link to outside lands outside).
    """
    if media_root is None or not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    try:
        root = media_root.resolve()
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop
        return None
    return candidate


def _sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        # O_NOFOLLOW: a link swapped in after the check above is not read through.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return None
