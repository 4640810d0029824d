"""What the queue shows of a post's statement image (#13): whether its flag came from the
image's text, and the start of that text for a post without a caption.

Read after the page's rows, for those rows only, in one statement: the queue's own query,
its order and its counts are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.orm import Session

from monitor.store.models import Match, MediaFile, SignalRow
from monitor.web.queries import EXCERPT, QueueRow

__all__ = ["ImageMark", "image_marks"]


@dataclass(frozen=True, slots=True)
class ImageMark:
    from_image: bool  # a signal of the post's verdict was found in the image's text
    head: str  # the image's text, to EXCERPT + 1 characters ("" when none was read)


@cache
def _statement() -> Any:
    ocr_signal = exists().where(and_(SignalRow.match_id == Match.id, SignalRow.layer == "ocr"))
    return (
        select(
            MediaFile.post_id,
            func.substr(MediaFile.ocr_text, 1, EXCERPT + 1),
            ocr_signal,
        )
        .outerjoin(Match, Match.post_id == MediaFile.post_id)
        .where(MediaFile.post_id.in_(bindparam("ids", expanding=True)))
    )


def image_marks(session: Session, rows: Sequence[QueueRow]) -> dict[int, ImageMark]:
    """Post id -> its image's mark, for the rows of a queue page that have an image."""
    if not rows:
        return {}
    found = session.connection().execute(_statement(), {"ids": [r.id for r in rows]})
    return {pid: ImageMark(bool(flagged), head or "") for pid, head, flagged in found}
