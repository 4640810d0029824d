"""Alert subscriptions in the console, and the outbox rows that could not be delivered.

Everyone manages their own subscriptions; admins see and manage all of them. A subscription's
URL is write-only here: it holds bot tokens and passwords, so pages only ever show ``redact()``
of it, and delivery errors are scrubbed of its secrets before they are shown. The add form's
fields are read and checked in monitor.web.subscription_form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.alerts.destinations import check_destination
from monitor.alerts.render import Message
from monitor.alerts.sender import apprise_notify, notify_checked, with_keys
from monitor.alerts.subscriptions import redact
from monitor.errors import ConfigError
from monitor.logs import add_url_secrets
from monitor.match.rules import KINDS
from monitor.match.severity import SEVERITIES
from monitor.redaction import redact_urls_in, scrub, url_secrets
from monitor.store.models import (
    INCIDENT_STATUSES,
    AlertOutbox,
    AuditLog,
    Subscription,
    User,
    utcnow,
)
from monitor.web.auth import DB, Analyst, Forbidden, Operator, Principal, check_csrf
from monitor.web.params import OutboxId, SubscriptionId
from monitor.web.render import render
from monitor.web.subscription_form import SubscriptionForm

router = APIRouter()
FAILED_PAGE = 500
ACTIONS = ("enable", "disable", "delete", "test")
MIN_SEVERITIES = SEVERITIES[1:]


def _back(path: str, msg: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'msg': msg})}", status_code=303)


def _audit(db: Session, me: Principal, action: str, target: str, **detail: Any) -> None:
    db.add(AuditLog(actor=me.username, action=action, target=target, detail=detail))


def _can_manage(me: Principal, sub: Subscription) -> bool:
    return me.can("admin") or sub.owner_id == me.id


def _mode(sub: Subscription) -> str:
    mode = f"digest every {sub.digest_minutes} min" if sub.digest_minutes else "immediate"
    if sub.quiet_hours:
        mode += f", quiet {sub.quiet_hours} UTC"
    return mode


# --- subscriptions ---------------------------------------------------------------------------


def _subscriptions_page(
    request: Request,
    me: Principal,
    db: Session,
    *,
    error: str = "",
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    stmt = select(Subscription).order_by(Subscription.name)
    if not me.can("admin"):
        stmt = stmt.where(Subscription.owner_id == me.id)
    subs = list(db.scalars(stmt))
    counts: dict[int, dict[str, int]] = {}
    if subs:
        for sub_id, status, n in db.execute(
            select(AlertOutbox.subscription_id, AlertOutbox.status, func.count())
            .where(AlertOutbox.subscription_id.in_([s.id for s in subs]))
            .group_by(AlertOutbox.subscription_id, AlertOutbox.status)
        ):
            counts.setdefault(sub_id, {})[status] = n
    owners = dict(db.execute(select(User.id, User.username)).all()) if me.can("admin") else {}
    rows = [
        {
            "id": s.id,
            "name": s.name,
            "url": redact(s.url),
            "owner": owners.get(s.owner_id, "—") if s.owner_id is not None else "—",
            "min_severity": s.min_severity,
            "kinds": s.kinds,
            "groups": s.groups,
            "channels": s.channels,
            "refs": s.refs,
            "sites": s.sites,
            "persons": s.persons,
            "incident_statuses": s.incident_statuses,
            "mode": _mode(s),
            "enabled": s.enabled,
            "counts": sorted(counts.get(s.id, {}).items()),
        }
        for s in subs
    ]
    return render(
        request,
        "subscriptions.html",
        {
            "rows": rows,
            "all_users": me.can("admin"),
            "severities": MIN_SEVERITIES,
            "kinds": KINDS,
            "incident_statuses": INCIDENT_STATUSES,
            "error": error,
            "form": form or SubscriptionForm(name="").shown(),
        },
        status_code,
    )


@router.get("/subscriptions")
def subscriptions_page(request: Request, me: Analyst, db: DB) -> Response:
    return _subscriptions_page(request, me, db)


@router.post("/subscriptions", dependencies=[Depends(check_csrf)])
def subscription_add(
    request: Request,
    me: Analyst,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    url: Annotated[str, Form(min_length=1, max_length=2000)],
    min_severity: Annotated[str, Form()] = "high",
    kinds: Annotated[list[str] | None, Form()] = None,
    groups: Annotated[str, Form(max_length=2000)] = "",
    channels: Annotated[str, Form(max_length=2000)] = "",
    refs: Annotated[str, Form(max_length=2000)] = "",
    sites: Annotated[str, Form(max_length=2000)] = "",
    persons: Annotated[str, Form(max_length=2000)] = "",
    incident_statuses: Annotated[list[str] | None, Form()] = None,
    digest_minutes: Annotated[str, Form(max_length=10)] = "",
    quiet_hours: Annotated[str, Form(max_length=20)] = "",
    owner: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    form = SubscriptionForm(
        name=name.strip(),
        min_severity=min_severity,
        kinds=kinds or [],
        groups=groups,
        channels=channels,
        refs=refs,
        sites=sites,
        persons=persons,
        incident_statuses=incident_statuses or [],
        digest_minutes=digest_minutes,
        quiet_hours=quiet_hours,
        owner=owner.strip(),
    )
    if form.owner and form.owner != me.username and not me.can("admin"):
        raise Forbidden()
    try:
        settings = request.app.state.settings
        check_destination(url.strip(), settings.alert_private_hosts, settings.alert_schemes)
        with request.app.state.sessions.begin() as db:
            form.add(request, db, me, url.strip())
    except ConfigError as exc:
        # The destination check and apprise may name the host or token they refused; the URL
        # itself is not put back into the form.
        error = f"not added: {scrub(str(exc), url.strip())}"
        with request.app.state.sessions() as db:
            return _subscriptions_page(
                request, me, db, error=error, form=form.shown(), status_code=400
            )
    return _back("/subscriptions", f"added subscription {form.name}")


@router.post("/subscriptions/{sub_id}", dependencies=[Depends(check_csrf)])
def subscription_update(
    request: Request,
    me: Analyst,
    sub_id: SubscriptionId,
    action: Annotated[str, Form()],
) -> Response:
    if action not in ACTIONS:
        raise HTTPException(400, f"action must be one of {', '.join(ACTIONS)}")
    with request.app.state.sessions.begin() as db:
        sub = db.get(Subscription, sub_id)
        if sub is None:
            raise HTTPException(404, "No such subscription.")
        if not _can_manage(me, sub):
            raise Forbidden()
        name, url, checked = sub.name, sub.url, sub.check_destination
        if action == "test":
            pass  # sent below, outside the transaction: delivery can take a while
        elif action == "delete":
            db.delete(sub)  # its queued alerts go with it (ON DELETE CASCADE)
            _audit(db, me, "subscription.remove", name)
        else:
            sub.enabled = action == "enable"
            _audit(db, me, "subscription.update", name, enabled=sub.enabled)
    if action == "delete":
        return _back("/subscriptions", f"removed subscription {name}")
    if action != "test":
        return _back("/subscriptions", f"{action}d subscription {name}")
    settings = request.app.state.settings
    console = settings.console_url
    message = Message(
        title="[TEST] monitor alert subscription",
        body=f"This is a test of subscription {name} from {console}, sent by {me.username}.\n",
        keys=[f"test:{name}:{int(time.time())}"],
    )
    try:
        # Also for subscriptions made before this check or from the CLI; the string checked is
        # the one apprise loads (with the keys a webhook gets).
        policy = check_destination(
            with_keys(url, message.keys),
            settings.alert_private_hosts,
            settings.alert_schemes,
            console=checked,
        )
    except ConfigError as exc:
        return _back("/subscriptions", f"{name}: not sent: {scrub(exc.message, url)}")
    add_url_secrets(url)  # whatever apprise logs while sending, not this URL's secrets
    ok, error = notify_checked(apprise_notify, url, message, policy)  # redirects too (#11)
    shown_error = scrub(error, url) or "delivery failed"
    with request.app.state.sessions.begin() as db:
        _audit(db, me, "subscription.test", name, ok=ok, error=None if ok else shown_error)
    if ok:
        return _back("/subscriptions", f"{name}: test message delivered to {redact(url)}")
    return _back("/subscriptions", f"{name}: delivery to {redact(url)} failed: {shown_error}")


# --- audit entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditShown:
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


def audit_shown(db: Session, rows: list[AuditLog]) -> list[AuditShown]:
    """Audit entries as the audit page shows them: entries written before #11 hold URLs
    redacted the old way (with the token of most plugins) and errors that may quote one, so
    each URL in a detail is redacted again and the secrets of every stored subscription URL
    are masked."""
    found = {p for url in db.scalars(select(Subscription.url)) for p in url_secrets(url)}
    secrets = sorted(found, key=len, reverse=True)  # a token before any piece of it

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if not isinstance(value, str):
            return value
        value = redact_urls_in(value)
        for secret in secrets:
            value = value.replace(secret, "***")
        return value

    return [
        AuditShown(
            at=a.at,
            actor=a.actor,
            action=a.action,
            target=a.target,
            detail={k: clean(v) for k, v in (a.detail or {}).items()},
        )
        for a in rows
    ]


# --- failed alerts ---------------------------------------------------------------------------


@router.get("/alerts/failed")
def failed_alerts_page(request: Request, me: Operator, db: DB) -> Response:
    """Rows given up on, and rows still being retried after a failed attempt."""
    stmt = (
        select(AlertOutbox, Subscription.name, Subscription.url)
        .join(Subscription, Subscription.id == AlertOutbox.subscription_id)
        .where(
            or_(
                AlertOutbox.status == "failed",
                and_(AlertOutbox.status == "pending", AlertOutbox.attempts > 0),
            )
        )
        .order_by(AlertOutbox.id.desc())
        .limit(FAILED_PAGE)
    )
    rows = [
        {
            "id": row.id,
            "subscription": name,
            "destination": redact(url),
            "post_id": row.post_id,
            "kind": row.kind,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at,
            "last_error": scrub(row.last_error, url),
            "created_at": row.created_at,
        }
        for row, name, url in db.execute(stmt)
    ]
    return render(
        request,
        "alerts_failed.html",
        {"rows": rows, "limit": FAILED_PAGE},
    )


@router.post("/alerts/{outbox_id}/retry", dependencies=[Depends(check_csrf)])
def alert_retry(request: Request, me: Operator, outbox_id: OutboxId) -> Response:
    with request.app.state.sessions.begin() as db:
        row = db.get(AlertOutbox, outbox_id)
        if row is None:
            raise HTTPException(404, "No such alert.")
        # Conditional on the status: a sender that changed the row since wins.
        done = db.execute(
            update(AlertOutbox)
            .where(AlertOutbox.id == outbox_id, AlertOutbox.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not done:
            return _back("/alerts/failed", f"alert {outbox_id} is not failed; nothing to retry")
        _audit(
            db,
            me,
            "alert.retry",
            f"alert:{outbox_id}",
            subscription_id=row.subscription_id,
            post_id=row.post_id,
        )
    return _back("/alerts/failed", f"alert {outbox_id} queued for another delivery")
