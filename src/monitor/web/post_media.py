"""The post page's statement image (#13): the image with the matched words boxed, the state of
its reading, and the same image posted on other channels.

The boxes are drawn from ``MediaFile.ocr_words`` (each word's span in ``ocr_text`` and its box
in the image's pixels) for the words that overlap a signal of the ``ocr`` layer. They are
numbers checked here, not text: a row written by an older engine or a hand edit that does not
have the expected shape is skipped rather than breaking the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from monitor.media.similar import same_image
from monitor.store.models import MediaFile, SignalRow
from monitor.web.kinds import kind_label
from monitor.web.media import servable

__all__ = ["Box", "ImageView", "Similar", "boxes", "confidence_pct", "image_view", "ocr_stale"]


@dataclass(frozen=True, slots=True)
class Box:
    """One OCR word's rectangle, in the image's pixels (the SVG's viewBox)."""

    x: int
    y: int
    width: int
    height: int
    kind: str  # the palette class kind-<kind>
    title: str
    ids: tuple[int, ...]  # the signals it belongs to, as the text's marks give them


@dataclass(frozen=True, slots=True)
class Similar:
    post_id: int
    handle: str
    title: str | None
    date: datetime
    distance: int

    @property
    def how(self) -> str:
        return "identical" if self.distance == 0 else f"nearly identical (distance {self.distance})"


@dataclass
class ImageView:
    media_id: int
    src: str | None  # /media/ID when the route will serve it
    width: int | None
    height: int | None
    state: str  # read | empty | pending | failed | skipped | unfetched
    message: str  # the state in words, when there is no text to show
    caption: str  # who read the text, how sure
    segments: list[Any]  # posts.Segment pieces of the OCR text
    boxes: list[Box] = field(default_factory=list)
    similar: list[Similar] = field(default_factory=list)
    stale: bool = False  # the image was read again after the match: highlights hidden


def confidence_pct(value: float | None) -> int | None:
    """The OCR confidence as a percentage. media/ocr.py stores the words' mean as a fraction;
    a value past 1 (out of 100, as Tesseract gives a word's) is taken as it is."""
    if value is None or value != value or value < 0:  # None, NaN or nonsense
        return None
    return round(value * 100 if value <= 1 else min(value, 100.0))


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return int(value)


def boxes(
    words: Sequence[Any] | None, signals: Sequence[SignalRow], width: int, height: int
) -> list[Box]:
    """A box for each word of ``words`` that overlaps one of ``signals`` (``ocr`` layer),
    clipped to the image; painted in the kind of the strongest signal it belongs to."""
    spans = [(s.start, s.end, s) for s in signals if s.start < s.end]
    out: list[Box] = []
    for word in words or ():
        if not isinstance(word, list | tuple) or len(word) < 6:
            continue
        start, end, left, top, w, h = (_int(v) for v in word[:6])
        if start is None or end is None or left is None or top is None or w is None or h is None:
            continue
        covering = [s for a, b, s in spans if start < b and a < end]
        if not covering or start >= end:
            continue
        x0, y0 = max(0, left), max(0, top)
        x1, y1 = min(width, left + w), min(height, top + h)
        if x1 <= x0 or y1 <= y0:
            continue
        strongest = max(covering, key=lambda s: s.score)
        kinds = sorted({s.kind for s in covering}, key=lambda k: k != strongest.kind)
        out.append(
            Box(
                x0,
                y0,
                x1 - x0,
                y1 - y0,
                strongest.kind,
                "; ".join(kind_label(k) for k in kinds) + " (in the image)",
                tuple(s.id for s in covering),
            )
        )
    return out


def ocr_stale(media: MediaFile, signals: Sequence[SignalRow]) -> bool:
    """Whether the image's text changed since ``signals`` were found in it (read again by a
    newer engine before the post was matched again): their offsets would mark other words.
    The matcher keeps ``ocr_text[start:end] == matched`` (match/layers.py), so a signal that
    no longer finds its words there is out of date."""
    text = media.ocr_text or ""
    return any(text[s.start : s.end] != s.matched for s in signals)


def _state(media: MediaFile) -> tuple[str, str]:
    text = (media.ocr_text or "").strip()
    if media.status == "done":
        return ("read", "") if text else ("empty", "No text found in the image")
    if media.status == "failed":
        return "failed", f"Image could not be read: {media.error or 'no reason given'}"
    if media.status == "skipped":
        why = f": {media.error}" if media.error else ""
        return "skipped", f"Image not read{why}"
    if not media.sha256:
        return "unfetched", "Image not fetched yet (queued)"
    return "pending", "Image not read yet (queued)"


def _caption(media: MediaFile) -> str:
    engine = " ".join(p for p in (media.ocr_engine, media.ocr_version) if p) or "OCR"
    pct = confidence_pct(media.ocr_confidence)
    return f"Read from the image by {engine}" + (f", confidence {pct}%" if pct is not None else "")


def image_view(
    db: Session, media: MediaFile, signals: Sequence[SignalRow], segments: list[Any]
) -> ImageView:
    """What the post page shows of ``media``; ``signals`` are the match's ``ocr``-layer ones and
    ``segments`` the OCR text cut at them (posts.segments)."""
    state, message = _state(media)
    width, height = media.width, media.height
    sized = bool(width and height and width > 0 and height > 0)
    view = ImageView(
        media.id,
        f"/media/{media.id}" if servable(media) else None,
        width if sized else None,
        height if sized else None,
        state,
        message,
        _caption(media) if state == "read" else "",
        segments if state == "read" else [],
    )
    if view.src and width and height and sized and state == "read" and signals:
        view.boxes = boxes(media.ocr_words, signals, width, height)
    view.similar = [
        Similar(s.post.id, s.channel.handle, s.channel.title, s.post.date, s.distance)
        for s in same_image(db, media)
    ]
    return view
