"""A byte filter between an export file and ijson that bounds each message's depth and size.

A 200 KB ``result.json`` whose ``"text"`` was nested 100 000 lists deep drove ``monitor import``
to 23 GB (ijson builds a prefix string per level, per event) and, at depth 1 000, a
RecursionError ended the whole import (#11, finding 7). Nothing that builds the message first can
defend against that, so the bytes are checked before ijson sees them:

* every container that starts at ``UNIT_DEPTH`` (a message: root object, ``messages`` list,
  message) is held back until it closes, which is at most ``max_bytes`` of memory;
* one that nests deeper than ``max_depth`` (counted from the root) or grows past ``max_bytes``
  is dropped and replaced by ``{"id": <its id>, "\\u0000rejected": "<why>"}``; the reader turns
  that into a rejection naming the message, and reads on.

The scan is a regular expression that skips plain bytes and whole strings in C and stops only at
runs of brackets, a handful per message, so the cost is linear and small next to ijson's.
"""

from __future__ import annotations

import re

__all__ = ["REJECTED_KEY", "UNIT_DEPTH", "ExportGuard", "OversizedValue", "nested_deeper_than"]

UNIT_DEPTH = 3
REJECTED_KEY = "\x00rejected"  # no real export has a key with a NUL in it

# Plain bytes and whole strings are skipped in C; the match stops at a run of opening or of
# closing brackets (group 1), or at a string still open at the end of the buffer (group 2, with
# a dangling backslash in group 3).
_NEXT = re.compile(
    rb'(?:[^"\[\]{}]++|"(?:[^"\\]++|\\.)*+")*+'
    rb'(?:([\[{]++|[\]}]++)|("(?:[^"\\]++|\\.)*+(\\?)\Z))',
    re.DOTALL,
)
_ID = re.compile(rb'\{\s*"id"\s*:\s*(\d{1,19})\s*[,}]')
_OPENERS = frozenset(b"[{")


class OversizedValue(ValueError):
    """A string outside the messages list is too large to be part of a channel export."""


class ExportGuard:
    """Feed raw bytes in, get the bytes ijson may see out (see the module docstring)."""

    def __init__(self, *, max_depth: int, max_bytes: int) -> None:
        self.max_depth = max_depth
        self.max_bytes = max_bytes
        self._buf = bytearray()
        self._scan = 0  # analysis resumes here (index into _buf)
        self._done = 0  # bytes before this index are already passed on or thrown away
        self._unit = -1  # where the message being held back starts, or -1
        self._depth = 0
        self._dropping = False
        self._flushed = False

    def feed(self, raw: bytes) -> bytes:
        buf = self._buf
        buf += raw
        out = bytearray()
        pos = self._scan
        while True:
            m = _NEXT.match(buf, pos)
            if m is None:  # nothing but plain bytes and whole strings left
                pos = len(buf)
                break
            if m.group(1) is None:  # a string continues in the next read
                pos = m.start(2)
                if self._dropping:
                    # Its text is thrown away; keep what a rescan needs, not the text.
                    tail = b'"' + m.group(3)
                    del buf[pos:]
                    buf += tail
                break
            run_start, pos = m.start(1), m.end(1)
            if buf[run_start] in _OPENERS:
                self._opened(out, run_start, pos - run_start)
            else:
                self._closed(out, run_start, pos - run_start)
            if self._unit >= 0 and pos - self._unit > self.max_bytes:
                self._reject(out, f"message is larger than {self.max_bytes} bytes")
        if self._unit >= 0 and len(buf) - self._unit > self.max_bytes:
            self._reject(out, f"message is larger than {self.max_bytes} bytes")
        elif self._unit < 0 and not self._dropping and len(buf) - pos > self.max_bytes:
            # A string outside any message (the header's are read within 1 MB anyway).
            raise OversizedValue(
                f"a value outside the messages is larger than {self.max_bytes} bytes"
            )
        if self._dropping:
            self._done = pos  # throw away what was scanned; a held string tail stays
        elif self._unit < 0:
            out += buf[self._done : pos]
            self._done = pos
        # Forget what is passed on, so the buffer holds at most one message and a string tail.
        cut = self._done
        del buf[:cut]
        self._done = 0
        self._scan = pos - cut
        if self._unit >= 0:
            self._unit -= cut
        return bytes(out)

    def flush(self) -> bytes:
        """At end of file: whatever is held back, so that ijson reports the truncation."""
        if self._flushed or self._dropping:
            return b""
        self._flushed = True
        rest = bytes(self._buf[self._done :])
        self._buf.clear()
        return rest

    def _opened(self, out: bytearray, at: int, count: int) -> None:
        before = self._depth
        self._depth += count
        if before < UNIT_DEPTH <= self._depth and not self._dropping:
            start = at + (UNIT_DEPTH - before - 1)
            out += self._buf[self._done : start]
            self._done = self._unit = start
        if self._depth > self.max_depth and not self._dropping:
            # max_depth >= UNIT_DEPTH, so a message is being held back here.
            self._reject(out, f"nested deeper than {self.max_depth} levels")

    def _closed(self, out: bytearray, at: int, count: int) -> None:
        before = self._depth
        self._depth = max(before - count, 0)
        if before >= UNIT_DEPTH > self._depth:
            end = at + (before - UNIT_DEPTH) + 1  # just after the message's closing bracket
            if self._dropping:
                self._dropping = False
            else:
                out += self._buf[self._done : end]
            self._done = end
            self._unit = -1

    def _reject(self, out: bytearray, reason: str) -> None:
        """Replace the held message by a marker that keeps its id, and drop it to its end."""
        found = _ID.match(self._buf, self._unit)
        ident = found.group(1).decode() if found else "null"
        out += b'{"id": %s, "\\u0000rejected": "%s"}' % (ident.encode(), reason.encode())
        self._dropping = True
        self._unit = -1


def nested_deeper_than(data: bytes, limit: int) -> bool:
    """Whether the JSON text ``data`` nests lists/objects more than ``limit`` levels, judged
    from its bytes alone (so before a parser can recurse or allocate for it)."""
    depth, pos = 0, 0
    while (m := _NEXT.match(data, pos)) is not None and m.group(1) is not None:
        run = m.end(1) - m.start(1)
        depth += run if data[m.start(1)] in _OPENERS else -run
        if depth > limit:
            return True
        pos = m.end(1)
    return False
