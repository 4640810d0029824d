"""Streaming reader for Telegram Desktop channel exports (``result.json``).

Exports of busy channels run to gigabytes, so only one message object is alive at a time. The
header (``name``, ``type``, ``id``) precedes ``messages`` in every export, so it is known first.

Each message becomes a record in ``monitor.collect.export_message`` (dates, text, media,
forwards); a malformed one is reported and skipped, and reading goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from monitor.collect.export_guard import REJECTED_KEY, ExportGuard, OversizedValue
from monitor.collect.export_message import is_int, message_to_record
from monitor.collect.records import PostRecord
from monitor.errors import ConfigError, RecordError

# Small reads keep the reported position of a syntax error within a few kilobytes.
_READ_SIZE = 16 * 1024
_BOM = b"\xef\xbb\xbf"
# Telegram writes name/type/id and then "messages"; far more than that before it is not an export.
_HEADER_LIMIT = 1 << 20
# Defaults of the input_max_depth and export_max_message_bytes settings (docs/collectors.md):
# an export message is root > messages > message > text > entity, five levels; Telegram caps a
# text at 4096 characters (a caption at 1024), which with entities and text_entities repeating
# it stays well under 1 MiB even when every character is its own entity object.
MAX_DEPTH = 32
MAX_MESSAGE_BYTES = 1 << 20


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

    @property
    def where(self) -> str:
        """ "message 345 (#12)"; a message without an id is "message #12 (no id)", not
        "message None (#12)" (#14)."""
        if self.message_id is None:
            return f"message #{self.index + 1} (no id)"
        return f"message {self.message_id} (#{self.index + 1})"


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
    """The file as ijson sees it: BOM dropped, each message's depth and size bounded by an
    ExportGuard, header bytes kept for a replay, position counted in the file's own bytes.

    Reading the header needs per-event Python code, which is far too slow for millions of
    message events; so the header is parsed on its own, and the messages are then parsed
    entirely inside ijson's C code from a replay of the same bytes.
    """

    def __init__(self, fp: BinaryIO, guard: ExportGuard) -> None:
        self._fp = fp
        self._guard = guard
        self._replay: list[tuple[bytes, int, int]] = []
        # (bytes passed on, file bytes and newlines they came from) while the header is read
        self._keep: list[tuple[bytes, int, int]] | None = []
        self._kept = 0
        self._first = True
        self._base = 0  # a dropped BOM still counts in byte positions shown to the user
        self.consumed = 0
        self.chunk_start = 0
        self.lines = 1
        self.chunk_line = 1

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from text
            return self._fp.read(0)
        if self._replay:
            data, raw_len, raw_lines = self._replay.pop(0)
            self._count(raw_len, raw_lines)
            return data
        while True:
            raw = self._fp.read(size)
            if self._first and raw:
                self._first = False
                if raw.startswith(_BOM):
                    # Some editors re-save JSON with a BOM; yajl would call it a syntax error.
                    raw = raw[len(_BOM) :]
                    self._base = self.consumed = self.chunk_start = len(_BOM)
            data = self._guard.feed(raw) if raw else self._guard.flush()
            lines = raw.count(b"\n")
            self._count(len(raw), lines)
            if self._keep is not None:
                self._keep.append((data, len(raw), lines))
                self._kept += len(raw)
            # A message is held back until it closes: an empty result is not the end yet.
            if data or not raw:
                return data

    def _count(self, raw_len: int, raw_lines: int) -> None:
        if raw_len:
            self.chunk_start, self.chunk_line = self.consumed, self.lines
            self.consumed += raw_len
            self.lines += raw_lines

    @property
    def kept(self) -> int:
        return self._kept

    def rewind(self) -> None:
        """Serve the header bytes again, then the rest of the file."""
        self._replay = [chunk for chunk in self._keep or [] if chunk[0]]
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
            id=ident if is_int(ident) else None,
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
    max_depth: int = MAX_DEPTH,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> Iterator[PostRecord | Rejected]:
    """Yield a PostRecord or a Rejected for every non-service message, in file order.

    ``on_channel`` is called once with the export's header, before the first message is yielded.
    A message nested deeper than ``max_depth`` (from the file's root) or larger than
    ``max_message_bytes`` is rejected without being built (#11).
    Raises ExportFormatError (a ConfigError) when the file is not a channel export or its JSON
    breaks part-way; whatever was yielded before that stays valid.
    """
    name = getattr(fp, "name", None)
    file = name if isinstance(name, str) else None
    reader = _Reader(fp, ExportGuard(max_depth=max_depth, max_bytes=max_message_bytes))
    header = _Header(file)
    index = -1
    try:
        header.read(reader)
        if on_channel is not None:
            on_channel(header.channel())
        reader.rewind()
        messages = ijson.items(reader, "messages.item", buf_size=_READ_SIZE, use_float=True)
        for index, msg in enumerate(messages):
            if isinstance(msg, dict) and REJECTED_KEY in msg:  # the guard dropped it
                yield Rejected(message_id=msg.get("id"), index=index, reason=msg[REJECTED_KEY])
                continue
            try:
                record = message_to_record(msg, media_root=media_root)
            except RecordError as exc:
                msg_id = msg.get("id") if isinstance(msg, dict) else None
                yield Rejected(message_id=msg_id, index=index, reason=exc.message)
                continue
            if record is not None:
                yield record
    except OversizedValue as exc:
        raise header.not_an_export(str(exc)) from None
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
