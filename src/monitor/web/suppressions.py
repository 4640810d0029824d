"""The suppressions page: every analyst ruling with who made it, when, where, and how many stored
posts it hides now; operators lift (or restore) them (#11: one analyst could silence a channel
with one word, and nobody could see or undo it)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from monitor.store.models import AuditLog, Channel, Suppression, User
from monitor.web.auth import DB, Analyst, Operator, check_csrf
from monitor.web.params import SuppressionId
from monitor.web.render import render
from monitor.web.suppress import hidden_counts, refusal

router = APIRouter()
PAGE = 500
REMATCH_HINT = (
    "; stored posts it hid flag again at the next rematch (Rules → Rematch, or `monitor rematch`)"
)


def _back(msg: str) -> RedirectResponse:
    return RedirectResponse(f"/suppressions?{urlencode({'msg': msg})}", status_code=303)


@router.get("/suppressions")
def suppressions_page(request: Request, me: Analyst, db: DB) -> Response:
    rows = list(db.scalars(select(Suppression).order_by(Suppression.id.desc()).limit(PAGE)))
    channels = dict(db.execute(select(Channel.id, Channel.handle)).all())
    users = dict(db.execute(select(User.id, User.username)).all())
    return render(
        request,
        "suppressions.html",
        {
            "rows": rows,
            "channels": channels,
            "users": users,
            "hidden": hidden_counts(db, rows),
        },
    )


@router.post("/suppressions/{sup_id}/lift", dependencies=[Depends(check_csrf)])
def suppression_lift(request: Request, me: Operator, sup_id: SuppressionId) -> Response:
    """Lift a ruling: the matcher stops honouring it from the next post it matches."""
    return _set(request, me.username, sup_id, False)


@router.post("/suppressions/{sup_id}", dependencies=[Depends(check_csrf)])
def suppression_toggle(
    request: Request,
    me: Operator,
    sup_id: SuppressionId,
    enabled: Annotated[str, Form()],
) -> Response:
    return _set(request, me.username, sup_id, enabled == "1")


def _set(request: Request, actor: str, sup_id: int, enabled: bool) -> Response:
    with request.app.state.sessions.begin() as db:
        sup = db.get(Suppression, sup_id)
        if sup is None:
            raise HTTPException(404, "No such suppression.")
        if enabled and not sup.enabled and (why := refusal(sup.phrase)):
            # A ruling saved before stop words were refused is not brought back.
            return _back(f"suppression {sup_id} not restored: {why}")
        changed = sup.enabled != enabled
        sup.enabled = enabled
        action = "suppression.update" if enabled else "suppression.lift"
        db.add(
            AuditLog(
                actor=actor,
                action=action,
                target=f"suppression:{sup_id}",
                detail={"enabled": enabled, "phrase": sup.phrase, "channel_id": sup.channel_id},
            )
        )
    if enabled:
        return _back(f"suppression {sup_id} restored")
    return _back(f"suppression {sup_id} lifted" + (REMATCH_HINT if changed else ""))
