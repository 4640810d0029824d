"""The confirm step of a dismissal that would create suppressions (#11).

A suppression silences the phrase in every later post of the channel, so before one is saved the
analyst sees how many stored posts it would have silenced, with examples, and confirms; a phrase
made only of stop words is refused outright. Nothing (neither the decision nor a suppression) is
saved until the analyst confirms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import Channel, Match, Post, SignalRow
from monitor.web.app_helpers import wants_json
from monitor.web.params import INT64_MAX
from monitor.web.render import render
from monitor.web.suppress import Preview, flagged_posts, preview, refusal, too_wide


@dataclass
class Wanted:
    """One suppression the dismissal asks for: a signal's span (kind and rule set) or the
    analyst's own phrase (any signal)."""

    phrase: str
    kind: str | None
    rule: str | None
    signal_id: int | None
    refused: str | None
    preview: Preview


def wanted_suppressions(
    db: Session, post: Post, signal_ids: list[int], phrase: str, *, wide_ok: bool = False
) -> list[Wanted]:
    """The suppressions a dismissal asks for, each with its preview and, when it cannot be
    saved, why; ``wide_ok`` (operators) lifts the cap on how much of the channel one silences."""
    out: list[Wanted] = []
    flagged = None if wide_ok else flagged_posts(db, post.channel_id)
    # An id no row can have is simply not one of this post's signals (and must not reach the
    # database, which refuses integers past int64).
    ids = [i for i in signal_ids if 1 <= i <= INT64_MAX]
    if ids:
        for sig in db.scalars(
            select(SignalRow)
            .join(Match, Match.id == SignalRow.match_id)
            .where(Match.post_id == post.id, SignalRow.id.in_(ids))
            .order_by(SignalRow.id)
        ):
            out.append(_wanted(db, post, sig.matched, sig.kind, sig.rule, sig.id, flagged))
    if phrase.strip():
        out.append(_wanted(db, post, phrase, None, None, None, flagged))
    return out


def _wanted(
    db: Session,
    post: Post,
    phrase: str,
    kind: str | None,
    rule: str | None,
    sid: int | None,
    channel_flagged: int | None,
) -> Wanted:
    why = refusal(phrase)
    seen = Preview() if why else preview(db, post.channel_id, phrase, kind, rule)
    if why is None and channel_flagged is not None:
        why = too_wide(seen, channel_flagged)
    return Wanted(phrase.strip(), kind, rule, sid, why, seen)


def confirm_response(
    request: Request, db: Session, post: Post, wanted: list[Wanted], form: dict[str, str]
) -> Response:
    """The confirm page (200), or 400 when a phrase is refused; JSON clients get the same as
    data (409 asks them to resend with ``confirm_suppress=1``)."""
    refused = any(w.refused for w in wanted)
    status = 400 if refused else 200
    if wants_json(request):
        return JSONResponse(
            {
                "ok": False,
                "error": "suppression refused" if refused else "confirm the suppressions",
                "suppressions": [_as_dict(w) for w in wanted],
            },
            status_code=400 if refused else 409,
        )
    channel = db.get(Channel, post.channel_id)
    return render(
        request,
        "suppress_confirm.html",
        {
            "post": post,
            "channel": channel,
            "wanted": wanted,
            "refused": refused,
            "accepted": [w for w in wanted if not w.refused],
            "form": form,
        },
        status,
    )


def _as_dict(w: Wanted) -> dict[str, Any]:
    return {
        "phrase": w.phrase,
        "kind": w.kind,
        "rule": w.rule,
        "refused": w.refused,
        "would_silence_posts": w.preview.posts,
        "of_them_flagged": w.preview.flagged,
        "examples": [{"post": p, "message_id": m} for p, m, _ in w.preview.examples],
    }
