"""The text layers of a post beyond its caption: today the text read from its image (#13).

One query for every stage that reads a post whole (matcher, search index, alerts, export), so
none of them forgets the image.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import MediaFile


def ocr_layers(session: Session, post_ids: Sequence[int]) -> dict[int, str]:
    """The OCR text of those of ``post_ids`` whose image has been read, by post id."""
    if not post_ids:
        return {}
    out: dict[int, str] = {}
    ids = list(post_ids)
    for i in range(0, len(ids), 1000):  # bound the IN list
        rows = session.execute(
            select(MediaFile.post_id, MediaFile.ocr_text).where(
                MediaFile.post_id.in_(ids[i : i + 1000]), MediaFile.ocr_text.is_not(None)
            )
        )
        out.update({pid: text for pid, text in rows if text})
    return out
