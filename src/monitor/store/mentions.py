"""Reading a post's mentions (#16, actors/mentions.py) for exports and the console."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import Mention


def mentions_of(session: Session, post_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """post id -> its mentions as ``export posts`` gives them (interface.md): ``{"kind", "id",
    "start", "end"}``, with ``"layer": "ocr"`` when the span indexes the text of the image."""
    out: dict[int, list[dict[str, Any]]] = {}
    ids = list(post_ids)
    for i in range(0, len(ids), 1000):  # bound the IN list
        rows = session.execute(
            select(
                Mention.post_id,
                Mention.kind,
                Mention.ref,
                Mention.start,
                Mention.end,
                Mention.layer,
            )
            .where(Mention.post_id.in_(ids[i : i + 1000]))
            .order_by(Mention.post_id, Mention.layer != "text", Mention.start, Mention.id)
        )
        for post_id, kind, ref, start, end, layer in rows:
            d: dict[str, Any] = {"kind": kind, "id": ref, "start": start, "end": end}
            if layer != "text":
                d["layer"] = layer
            out.setdefault(post_id, []).append(d)
    return out
