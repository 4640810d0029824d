"""Files written whole or not at all, and the on-disk caches of built indexes.

A reader (another worker, the next start) must never see half a file: each write goes to a
temporary file in the same folder, named per process so two workers never interleave, and is
renamed into place. Caches are pickles, so their folder must be writable only by the service
(docs/settings.md, ``cache_dir``): a pickle planted there would run as the service.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Put ``data`` at ``path`` in one rename; ``durable`` also syncs it to disk first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_cached(path: Path, valid: Callable[[Any], bool]) -> Any | None:
    """The object pickled at ``path`` when it is there and ``valid``; None otherwise (missing,
    truncated, or from an older format), so the caller rebuilds it."""
    try:
        with path.open("rb") as fh:
            cached = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        return None
    return cached if valid(cached) else None


def save_cached(path: Path, obj: object) -> None:
    """Keep ``obj`` for the next start; a read-only cache folder only costs the rebuild."""
    with contextlib.suppress(OSError):
        write_atomic(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
