"""Streaming reader for Telegram Desktop channel exports (``result.json``).

Exports of busy channels run to gigabytes, so only one message object is alive at a time. The
header (``name``, ``type``, ``id``) precedes ``messages`` in every export, so it is known first.

* Dates: ``date_unixtime``/``edited_unixtime`` when present. ``date``/``edited`` hold the
  exporting machine's local time with no offset, which the file cannot tell us; a naive value is
  therefore read as UTC (an explicit offset is honoured).
* Text: ``text`` (a string, or strings mixed with entity objects) is authoritative, as every
  export version has it; ``text_entities`` repeats the same characters in newer exports and is
  used only when ``text`` is absent. Entities give their visible text, never a link's ``href``.
  Either field being malformed rejects the message.
* Media: photos are JPEG (exports give them no MIME type); a ``file`` without ``media_type`` is a
  document. A sha256 is computed only when ``media_root`` is given and the file is really there
  (exports made without media hold a "File not included" placeholder).
* Forwards: ``forwarded_from_id`` ``channel<N>`` becomes ``"<N>"``; other peers (``user<N>``) are
  kept verbatim. Exports never name the original message id, nor views or forward counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeGuard

import ijson

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord, Source
from monitor.errors import ConfigError, RecordError

# Small reads keep the reported position of a syntax error within a few kilobytes.
_READ_SIZE = 16 * 1024
_BOM = b"\xef\xbb\xbf"
# Telegram writes name/type/id and then "messages"; far more than that before it is not an export.
_HEADER_LIMIT = 1 << 20

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


@dataclass(frozen=True)
class ExportChannel:
    name: str | None
    type: str | None
    id: int | None


@dataclass(frozen=True)
class Rejected:
    message_id: object
    index: int  # 0-based position in the export's ``messages`` list
    reason: str


class ExportFormatError(ConfigError):
    """The file stops being valid JSON part-way (or never was a channel export).

    Messages yielded before the error were complete and valid; ``messages_read`` says how many
    entries of ``messages`` had been read, so a caller can tell the user where the damage starts.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        byte_range: tuple[int, int] | None = None,
        messages_read: int = 0,
    ) -> None:
        self.byte_range = byte_range
        self.messages_read = messages_read
        super().__init__(message, file=file)


# --------------------------------------------------------------------------- opening


@contextmanager
def open_export(path: Path) -> Iterator[BinaryIO]:
    """Open ``result.json``, given either the file itself or the export folder holding it."""
    target = path / "result.json" if path.is_dir() else path
    try:
        fp = target.open("rb")
    except FileNotFoundError:
        if target is path:
            raise ConfigError("no such Telegram export file", file=target) from None
        raise ConfigError(
            "folder has no result.json (not a Telegram export)", file=target
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot open export: {exc.strerror}", file=target) from None
    with fp:
        yield fp


class _Reader:
    """The file as ijson sees it: BOM dropped, header bytes kept for a replay, position counted.

    Reading the header needs per-event Python code, which is far too slow for millions of
    message events; so the header is parsed on its own, and the messages are then parsed
    entirely inside ijson's C code from a replay of the same bytes.
    """

    def __init__(self, fp: BinaryIO) -> None:
        self._fp = fp
        self._replay = b""
        self._keep: bytearray | None = bytearray()
        self._base = 0  # a dropped BOM still counts in byte positions shown to the user
        self.consumed = 0
        self.chunk_start = 0
        self.lines = 1
        self.chunk_line = 1

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from text
            return self._fp.read(0)
        if self._replay:
            data, self._replay = self._replay, b""
        else:
            data = self._fp.read(size)
            if self._keep is not None:
                if not self._keep and data.startswith(_BOM):
                    # Some editors re-save JSON with a BOM; yajl would call it a syntax error.
                    data = data[len(_BOM) :]
                    self._base = self.consumed = len(_BOM)
                self._keep += data
        if data:
            self.chunk_start, self.chunk_line = self.consumed, self.lines
            self.consumed += len(data)
            self.lines += data.count(b"\n")
        return data

    @property
    def kept(self) -> int:
        return len(self._keep) if self._keep is not None else 0

    def rewind(self) -> None:
        """Serve the header bytes again, then the rest of the file."""
        self._replay = bytes(self._keep or b"")
        self._keep = None
        self.consumed = self.chunk_start = self._base
        self.lines = self.chunk_line = 1


class _Header:
    """Collects the export's top-level fields up to the start of ``messages``."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.fields: dict[str, Any] = {}
        self.keys: set[str] = set()
        self.started = False

    def channel(self) -> ExportChannel:
        name, kind, ident = (self.fields.get(k) for k in ("name", "type", "id"))
        return ExportChannel(
            name=name if isinstance(name, str) else None,
            type=kind if isinstance(kind, str) else None,
            id=ident if _is_int(ident) else None,
        )

    def not_an_export(self, why: str) -> ExportFormatError:
        hint = ""
        if self.keys & {"about", "personal_information", "chats", "left_chats"}:
            hint = " (this looks like a whole-account export; export the single channel instead)"
        return ExportFormatError(
            f"not a Telegram Desktop channel export: {why}{hint}", file=self.file
        )

    def read(self, reader: _Reader) -> None:
        events = ijson.parse(reader, buf_size=_READ_SIZE, use_float=True)
        for prefix, event, value in events:
            if not self.started:
                self.started = True
                if event != "start_map":
                    raise self.not_an_export("the top level is not a JSON object")
            if prefix == "" and event == "map_key":
                self.keys.add(value)
            elif prefix == "messages":
                if event != "start_array":
                    raise self.not_an_export("'messages' is not a list")
                return
            elif prefix in ("name", "type", "id") and event not in ("start_map", "start_array"):
                self.fields.setdefault(prefix, value)
            if reader.kept > _HEADER_LIMIT:
                raise self.not_an_export(f"no 'messages' list in the first {_HEADER_LIMIT} bytes")
        raise self.not_an_export("there is no 'messages' list")


def _json_error_text(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def read_export(
    fp: BinaryIO,
    *,
    on_channel: Callable[[ExportChannel], None] | None = None,
    media_root: Path | None = None,
) -> Iterator[PostRecord | Rejected]:
    """Yield a PostRecord or a Rejected for every non-service message, in file order.

    ``on_channel`` is called once with the export's header, before the first message is yielded.
    Raises ExportFormatError (a ConfigError) when the file is not a channel export or its JSON
    breaks part-way; whatever was yielded before that stays valid.
    """
    name = getattr(fp, "name", None)
    file = name if isinstance(name, str) else None
    reader = _Reader(fp)
    header = _Header(file)
    index = -1
    try:
        header.read(reader)
        if on_channel is not None:
            on_channel(header.channel())
        reader.rewind()
        messages = ijson.items(reader, "messages.item", buf_size=_READ_SIZE, use_float=True)
        for index, msg in enumerate(messages):
            try:
                record = message_to_record(msg, media_root=media_root)
            except RecordError as exc:
                msg_id = msg.get("id") if isinstance(msg, dict) else None
                yield Rejected(message_id=msg_id, index=index, reason=exc.message)
                continue
            if record is not None:
                yield record
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        if not header.started:
            raise header.not_an_export("the file is empty or not JSON") from None
        where = (
            f"between bytes {reader.chunk_start} and {reader.consumed} "
            f"(lines {reader.chunk_line}-{reader.lines})"
        )
        raise ExportFormatError(
            f"broken JSON {where}, after {index + 1} message(s) were read: {_json_error_text(exc)}",
            file=file,
            byte_range=(reader.chunk_start, reader.consumed),
            messages_read=index + 1,
        ) from None


# --------------------------------------------------------------------------- one message


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
    if not _is_int(msg_id) or msg_id <= 0:
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


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(msg: dict[str, Any], key: str, kind: type, fail: Callable[[str], RecordError]) -> Any:
    """An optional field of one JSON type; numbers must not be negative."""
    value: Any = msg.get(key)
    if value is None:
        return None
    if kind is float and _is_int(value):
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
        elif _is_int(raw) and raw >= 0:
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
        return MediaInfo(
            type="photo",
            mime="image/jpeg",
            size=_field(msg, "photo_file_size", int, fail),
            sha256=_file_sha256(msg["photo"], media_root),
        )
    if "file" in msg:
        media_type = _field(msg, "media_type", str, fail)
        return MediaInfo(
            type=_MEDIA_TYPES.get(media_type, media_type) if media_type else "document",
            mime=_field(msg, "mime_type", str, fail),
            size=_field(msg, "file_size", int, fail),
            duration=_field(msg, "duration_seconds", float, fail),
            sha256=_file_sha256(msg["file"], media_root),
        )
    for key, kind in (
        ("poll", "poll"),
        ("location_information", "location"),
        ("contact_information", "contact"),
    ):
        if key in msg:
            return MediaInfo(type=kind)
    return None


def _file_sha256(relative: object, media_root: Path | None) -> str | None:
    # Paths come from the file being read: never follow one out of the export folder.
    if media_root is None or not isinstance(relative, str) or not relative or "\0" in relative:
        return None
    root = media_root.resolve()
    try:
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        with candidate.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None
