"""Search hits marked in a post's text (#14), for the queue's excerpts.

Post text is hostile: the markup is built by escaping each piece of the original text between
the hit boundaries and wrapping the hit pieces, never by inserting raw text or by editing
escaped HTML. The spans come from ``store.search.hit_spans``, the search's own fold and forms
mapped back to the original through the normaliser's offset map.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from markupsafe import Markup

from monitor.store.search import hit_spans


def merge(spans: Sequence[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Spans clipped to [0, size), sorted, overlapping and touching ones joined."""
    out: list[tuple[int, int]] = []
    for a, b in sorted((max(0, a), min(size, b)) for a, b in spans):
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def marked(text: str, spans: Sequence[tuple[int, int]]) -> Markup:
    """``text`` as HTML with each span in ``<mark class="hit">``, every piece escaped."""
    pieces: list[str] = []
    prev = 0
    for a, b in merge(spans, len(text)):
        pieces.append(html.escape(text[prev:a], quote=True))
        pieces.append(f'<mark class="hit">{html.escape(text[a:b], quote=True)}</mark>')
        prev = b
    pieces.append(html.escape(text[prev:], quote=True))
    return Markup("".join(pieces))


def marked_hits(text: str, terms: Sequence[str]) -> Markup:
    """``text`` as HTML with the words a search for ``terms`` matched marked."""
    return marked(text, hit_spans(text, terms))
