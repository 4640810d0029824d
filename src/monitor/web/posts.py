"""GET /posts/{id} with highlighted spans, versions and history; POST review and assignment."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import chain, pairwise
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.orm import Session

from monitor.errors import MonitorError
from monitor.evidence.bundle import export_post
from monitor.evidence.capture import review_captured
from monitor.match.quran import verse_text
from monitor.store.channels import post_link
from monitor.store.models import (
    AuditLog,
    Channel,
    Group,
    Match,
    MediaFile,
    Post,
    PostVersion,
    Review,
    SignalRow,
    User,
)
from monitor.store.search import hit_spans, query_terms
from monitor.web.app_helpers import wants_json
from monitor.web.auth import DB, Analyst, Principal, check_csrf, safe_next
from monitor.web.dismiss import Wanted, confirm_response, wanted_suppressions
from monitor.web.explain import explain, rule_notes
from monitor.web.highlight import merge
from monitor.web.params import PostId
from monitor.web.post_echoes import echoes
from monitor.web.post_media import image_view, ocr_stale
from monitor.web.queries import DECISIONS
from monitor.web.render import render
from monitor.web.suppress import active_suppressions, add_suppression

router = APIRouter()


@dataclass
class Segment:
    text: str
    labels: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    hit: bool = False  # a word the analyst's search found (#14)


def label(sig: SignalRow) -> str:
    parts = [sig.kind, sig.rule]
    if sig.ref:
        parts.append(sig.ref)
    return " · ".join(parts)


def segments(
    text: str, signals: list[SignalRow], hits: Sequence[tuple[int, int]] = ()
) -> list[Segment]:
    """Cut the text at every span boundary; each piece knows which signals cover it, so
    overlapping spans stay visible and the text itself is never re-assembled from markup.
    ``hits`` are search hits (original offsets), cut the same way."""
    spans = [
        (max(0, s.start), min(len(text), s.end), s)
        for s in signals
        if 0 <= s.start < s.end and s.start < len(text)
    ]
    found = merge(hits, len(text))
    cuts = sorted(
        {0, len(text), *(a for a, _, _ in spans), *(b for _, b, _ in spans), *chain(*found)}
    )
    out: list[Segment] = []
    for a, b in pairwise(cuts):
        covering = [s for sa, sb, s in spans if sa <= a and b <= sb]
        seg = Segment(
            text[a:b],
            [label(s) for s in covering],
            sorted({s.kind for s in covering}),
            [s.id for s in covering],
            any(ha <= a and b <= hb for ha, hb in found),
        )
        if out and not seg.ids and not out[-1].ids and seg.hit == out[-1].hit:
            out[-1].text += seg.text
        else:
            out.append(seg)
    return out


_WORDS = re.compile(r"\s+|\S+")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) pieces, op in equal/delete/insert, at word granularity."""
    a, b = _WORDS.findall(old), _WORDS.findall(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("equal",):
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(("delete", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("insert", "".join(b[j1:j2])))
    return out


@dataclass(frozen=True)
class _PageQueries:
    post: Select[Post, Channel, Group | None]
    versions: Select[PostVersion]
    match: Select[Match]
    signals: Select[SignalRow]
    users: Select[User]
    reviews: Select[Review]
    media: Select[MediaFile]


@cache
def _page_queries() -> _PageQueries:
    """The post page's statements, built once: building them and deriving their cache keys on
    every view cost more than running them (#5 benchmark). Plain queries rather than
    ``selectinload``, whose loader machinery was a quarter of the page."""
    pid: BindParameter[int] = bindparam("pid")
    return _PageQueries(
        # One query for the post, its channel and its group: each is a wait on PostgreSQL.
        post=select(Post, Channel, Group)
        .join(Channel, Channel.id == Post.channel_id)
        .outerjoin(Group, Group.id == Channel.group_id)
        .where(Post.id == pid),
        versions=select(PostVersion).where(PostVersion.post_id == pid).order_by(PostVersion.id),
        match=select(Match).where(Match.post_id == pid),
        signals=select(SignalRow)
        .where(SignalRow.match_id == bindparam("mid"))
        .order_by(SignalRow.start),
        users=select(User),
        reviews=select(Review).where(Review.post_id == pid).order_by(Review.id.desc()),
        media=select(MediaFile).where(MediaFile.post_id == pid),
    )


def _post_or_404(db: Session, post_id: int) -> Post:
    post = db.get(Post, post_id)
    if post is None:
        raise HTTPException(404, "No such post.")
    return post


@router.get("/posts/{post_id}")
def post_page(
    request: Request,
    me: Analyst,
    db: DB,
    post_id: PostId,
) -> Response:
    q = _page_queries()
    found = db.execute(q.post, {"pid": post_id}).first()
    if found is None:
        raise HTTPException(404, "No such post.")
    post, channel, group = found
    match = db.scalars(q.match, {"pid": post_id}).first()
    signals = list(db.scalars(q.signals, {"mid": match.id})) if match else []
    stale = match is not None and match.text_sha256 != post.text_sha256
    # Each layer is highlighted with its own signals only: an "ocr" signal's offsets index the
    # text read from the image, not the caption (#13).
    text_signals = [s for s in signals if s.layer != "ocr"]
    ocr_signals = [s for s in signals if s.layer == "ocr"]
    media = db.scalars(q.media, {"pid": post_id}).first()
    image = None
    if media is not None:
        ocr_old = ocr_stale(media, ocr_signals)
        shown = [] if ocr_old else ocr_signals
        image = image_view(db, media, shown, segments(media.ocr_text or "", shown))
        image.stale = ocr_old
    verses = {
        ref: verse_text(ref)
        for s in signals
        if s.kind.startswith("verse_")
        for ref in (s.refs or ([s.ref] if s.ref else []))
    }
    versions = list(db.scalars(q.versions, {"pid": post_id}))
    diffs = [
        word_diff(versions[i - 1].text, versions[i].text) if i else [] for i in range(len(versions))
    ]
    users = {u.id: u for u in db.scalars(q.users)}
    reviews = list(db.scalars(q.reviews, {"pid": post_id}))
    decided = next((r for r in reviews if r.decision in DECISIONS), None)
    assignee = users.get(reviews[0].assigned_to) if reviews and reviews[0].assigned_to else None
    # "Why this score" in plain words, with the bands of the current rule files (#14).
    notes = rule_notes(Path(request.app.state.settings.config_dir) / "rules")
    why = explain(match.score, match.severity, match.explanation, signals, notes) if match else None
    return render(
        request,
        "post.html",
        {
            "post": post,
            "channel": channel,
            "group": group,
            "match": match,
            "signals": signals,
            # The search that led here, marked as the queue marked it (#14).
            "segments": segments(
                post.text,
                [] if stale else text_signals,
                hit_spans(post.text, query_terms(request.query_params.get("q", "")[:500])),
            ),
            "stale": stale,
            "image": image,
            "echoes": echoes(db, post_id),
            "why": why,
            "verses": verses,
            "versions": versions,
            "diffs": diffs,
            "reviews": reviews,
            "users": users,
            "state": decided.decision if decided else "unreviewed",
            "assignee": assignee,
            "analysts": sorted(
                (u for u in users.values() if not u.disabled), key=lambda u: u.username
            ),
            "suppressions": active_suppressions(db, channel.id),
            "decisions": DECISIONS,
            "original_url": post_link(channel.handle, post.message_id),
            "next": safe_next(request.query_params.get("next")),
        },
    )


def _assignee_id(db: Session, username: str, current: int | None) -> int | None:
    if username == "":
        return current
    if username == "-":
        return None
    user = db.scalar(select(User).where(User.username == username, User.disabled.is_(False)))
    if user is None:
        raise HTTPException(400, f"No active user {username!r}.")
    return user.id


def _current_assignee(db: Session, post_id: int) -> int | None:
    return db.scalar(
        select(Review.assigned_to)
        .where(Review.post_id == post_id)
        .order_by(Review.id.desc())
        .limit(1)
    )


def _done(request: Request, post_id: int, nxt: str, payload: dict[str, Any]) -> Response:
    if wants_json(request):
        return JSONResponse({"ok": True, "post": post_id, **payload})
    target = safe_next(nxt) if nxt else f"/posts/{post_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/posts/{post_id}/review", dependencies=[Depends(check_csrf)])
def review_post(
    request: Request,
    me: Analyst,
    post_id: PostId,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=5000)] = "",
    assign_to: Annotated[str, Form(max_length=100)] = "",
    suppress: Annotated[list[int] | None, Form()] = None,
    suppress_phrase: Annotated[str, Form(max_length=1000)] = "",
    confirm_suppress: Annotated[str, Form(max_length=1)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    if decision not in DECISIONS:
        raise HTTPException(400, f"decision must be one of {', '.join(DECISIONS)}")
    wanted: list[Wanted] = []
    if decision == "dismissed" and (suppress or suppress_phrase.strip()):
        with request.app.state.sessions() as db:
            post = _post_or_404(db, post_id)
            wanted = wanted_suppressions(
                db, post, suppress or [], suppress_phrase, wide_ok=me.can("operator")
            )
            if any(w.refused for w in wanted) or (wanted and confirm_suppress != "1"):
                # Nothing saved yet: the analyst first sees what it would silence (#11).
                form = {"note": note, "assign_to": assign_to, "next": next}
                return confirm_response(request, db, post, wanted, form)
    created: list[int] = []
    with request.app.state.sessions.begin() as db:
        post = _post_or_404(db, post_id)
        assigned = _assignee_id(db, assign_to, _current_assignee(db, post_id))
        review = Review(
            post_id=post_id,
            user_id=me.id,
            decision=decision,
            note=note.strip(),
            assigned_to=assigned,
        )
        db.add(review)
        db.flush()
        db.add(
            AuditLog(
                actor=me.username,
                action="post.review",
                target=f"post:{post_id}",
                detail={"decision": decision, "note": note.strip(), "assigned_to": assigned},
            )
        )
        if decision == "dismissed":
            created = _suppress(db, me, post, review.id, wanted)
        # The decision as made, chained in the transaction that stores it (#17); last, so the
        # chain's head is held as briefly as in a collector's batch.
        review_captured(db, review)
    return _done(request, post_id, next, {"state": decision, "suppressions": created})


@router.post("/posts/{post_id}/evidence", dependencies=[Depends(check_csrf)])
def evidence_bundle(request: Request, me: Analyst, post_id: PostId) -> Response:
    """The post's evidence bundle (#17), as `monitor evidence export` writes it; audited."""
    settings = request.app.state.settings
    with request.app.state.sessions.begin() as db:
        _post_or_404(db, post_id)
        try:
            bundle = export_post(db, post_id, settings)
        except MonitorError as exc:
            raise HTTPException(409, f"No evidence bundle: {exc}") from None
        db.add(
            AuditLog(
                actor=me.username,
                action="post.evidence",
                target=f"post:{post_id}",
                detail={"entries": bundle.post_entries, "checkpoints": bundle.checkpoints},
            )
        )
    name = f"evidence-post-{post_id}.zip"
    return Response(
        bundle.data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _suppress(
    db: Session, me: Principal, post: Post, review_id: int, wanted: list[Wanted]
) -> list[int]:
    created = []
    for w in wanted:
        sup = add_suppression(
            db,
            phrase=w.phrase,
            channel_id=post.channel_id,
            kind=w.kind,
            rule=w.rule,
            review_id=review_id,
            user_id=me.id,
            actor=me.username,
        )
        if sup is not None:
            created.append(sup.id)
    return created


@router.post("/posts/{post_id}/assign", dependencies=[Depends(check_csrf)])
def assign_post(
    request: Request,
    me: Analyst,
    post_id: PostId,
    assign_to: Annotated[str, Form(max_length=100)] = "-",
    note: Annotated[str, Form(max_length=5000)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    with request.app.state.sessions.begin() as db:
        _post_or_404(db, post_id)
        assigned = _assignee_id(db, assign_to or "-", None)
        # An assignment is a review row without a decision; the post's state is its latest
        # decision, its assignee the latest row's.
        db.add(
            Review(
                post_id=post_id,
                user_id=me.id,
                decision="assigned",
                note=note.strip(),
                assigned_to=assigned,
            )
        )
        db.add(
            AuditLog(
                actor=me.username,
                action="post.assign",
                target=f"post:{post_id}",
                detail={"assigned_to": assign_to if assigned else None},
            )
        )
    return _done(request, post_id, next, {"assigned_to": assign_to if assigned else None})
