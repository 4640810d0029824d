"""Delivering the outbox: claim, group, rate-limit, send through apprise, record, retry.

Delivery is at-least-once with a dedup key: a row is claimed (status ``sending`` with a lease)
in one transaction, sent, and marked in another. A process killed between sending and marking
leaves the row claimed; when the lease runs out it is sent again, and that resend is the only
duplicate there can be. Receivers can drop it by the key, which every message carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import tenacity
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor import metrics
from monitor.alerts.destinations import Policy, check_destination
from monitor.alerts.guard import guarded
from monitor.alerts.outbox import outbox_depth
from monitor.alerts.render import Message, Renderer
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.logs import add_url_secrets
from monitor.redaction import scrub
from monitor.store.models import AlertOutbox, Delivery, Subscription, utcnow

Notify = Callable[[str, Message], "tuple[bool, str | None]"]

# Telegram bots may send about one message a second to a chat and twenty a minute to a
# group (Bot API limits); other destinations get settings.alert_rate_per_minute.
_SCHEME_LIMITS = {"tgram": (1, 20)}
_WEBHOOKS = ("json", "jsons", "form", "forms", "xml", "xmls")
_BATCH = 50


def with_keys(url: str, keys: list[str]) -> str:
    """Webhook URLs get the dedup keys as a payload field and a header."""
    if urlsplit(url).scheme not in _WEBHOOKS:
        return url
    joined = quote(",".join(keys), safe="")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}:alert_keys={joined}&+X-Monitor-Alert-Keys={joined}"


def apprise_notify(url: str, message: Message) -> tuple[bool, str | None]:
    import apprise

    ap = apprise.Apprise()
    if not ap.add(with_keys(url, message.keys)):
        return False, "apprise could not load the subscription URL"
    with apprise.LogCapture(level=apprise.logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        # Our templates write plain text, and post text is the adversary's (#11): telling
        # apprise so makes it escape the body for plugins that send HTML or Markdown (the
        # e-mail's text/html part, Telegram…) instead of passing tags through as markup.
        ok = bool(
            ap.notify(title=message.title, body=message.body, body_format=apprise.NotifyFormat.TEXT)
        )
        text = logs.getvalue().strip()
    if ok:
        return True, None
    last = text.splitlines()[-1] if text else "delivery failed"
    return False, last.split(" - ", 2)[-1][:500]


def notify_checked(
    notify: Notify, url: str, message: Message, policy: Policy
) -> tuple[bool, str | None]:
    """``notify`` with every connection it opens held to ``policy`` (redirects, rebinding)."""
    with guarded(policy) as watch:
        ok, error = notify(url, message)
    if watch.refused and not ok:
        error = f"not delivered: {watch.reason}"
    return ok, error


@dataclass
class SendSummary:
    messages: int = 0
    sent: int = 0  # outbox rows delivered
    failed: int = 0  # outbox rows given up on
    retrying: int = 0
    deferred: int = 0  # held back by a rate limit
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Batch:
    subscription_id: int
    url: str
    kind: str
    rows: list[tuple[int, str, dict[str, Any], int]]  # id, dedup key, payload, attempts
    limited: bool = False  # held back by the destination's rate limit
    check: bool = False  # saved from the console: its hosts must still be public


class Sender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        renderer: Renderer,
        *,
        notify: Notify = apprise_notify,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.renderer = renderer
        self.notify = notify
        self.clock = clock
        self.lease = timedelta(seconds=settings.alert_lease_seconds)
        # Doubling from alert_retry_initial up to alert_retry_max, plus jitter so that many
        # rows failing together (a receiver down) do not all come back at the same second.
        self.backoff = tenacity.wait_exponential(
            multiplier=settings.alert_retry_initial, max=settings.alert_retry_max
        ) + tenacity.wait_random(0, settings.alert_retry_initial)

    def send_due(self) -> SendSummary:
        """Deliver everything due now; returns when nothing due is left to claim."""
        summary = SendSummary()
        skip: set[int] = set()
        while (batch := self._claim(skip)) is not None:
            if batch.limited:
                skip.add(batch.subscription_id)
                summary.deferred += 1
            elif batch.rows:  # empty: another sender claimed them first
                self._deliver(batch, summary)
        self._gauge_depth()
        return summary

    def _gauge_depth(self) -> None:
        with self.sessions() as s:
            depth = outbox_depth(s)
        for status in ("pending", "sending", "failed"):
            metrics.OUTBOX_DEPTH.labels(status).set(depth.get(status, 0))

    # -- claiming -----------------------------------------------------------------

    def _due(self, now: datetime) -> Any:
        return and_(
            AlertOutbox.next_attempt_at <= now,
            or_(AlertOutbox.status == "pending", AlertOutbox.status == "sending"),
        )

    def _claim(self, skip: set[int]) -> _Batch | None:
        with self.sessions.begin() as s:
            now = self.clock()
            q = (
                select(AlertOutbox)
                .where(self._due(now), AlertOutbox.subscription_id.not_in(skip))
                .order_by(AlertOutbox.next_attempt_at, AlertOutbox.id)
                .limit(1)
            )
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            head = s.scalar(q)
            if head is None:
                return None
            sub = s.get_one(Subscription, head.subscription_id)
            add_url_secrets(sub.url)  # whatever apprise or urllib3 log, not this URL
            if self._rate_limited(s, sub, now):
                return _Batch(sub.id, sub.url, head.kind, [], limited=True)
            rows = [head, *self._companions(s, head, sub, now)]
            claimed = []
            for row in rows:
                # Conditional: a row another sender claimed meanwhile is left alone.
                result = s.execute(
                    update(AlertOutbox)
                    .where(
                        AlertOutbox.id == row.id,
                        or_(
                            AlertOutbox.status == "pending",
                            and_(
                                AlertOutbox.status == "sending",
                                AlertOutbox.next_attempt_at <= now,
                            ),
                        ),
                    )
                    .values(
                        status="sending",
                        next_attempt_at=now + self.lease,
                        attempts=AlertOutbox.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    claimed.append((row.id, row.dedup_key, dict(row.payload), row.attempts + 1))
            kind = "digest" if sub.digest_minutes and head.kind == "flag" else head.kind
            return _Batch(sub.id, sub.url, kind, claimed, check=sub.check_destination)

    def _companions(
        self, s: Session, head: AlertOutbox, sub: Subscription, now: datetime
    ) -> list[AlertOutbox]:
        """Rows that go out in the same message: the digest, or the same event's other flags
        (or its other echo follow-ups, #15)."""
        if head.kind not in ("flag", "echo"):
            return []
        # A message whose "sent" mark was lost (crash, database cut) is resent as one message
        # again once its lease runs out, not as one message per row.
        q = select(AlertOutbox).where(
            AlertOutbox.subscription_id == sub.id,
            AlertOutbox.kind == head.kind,
            or_(
                AlertOutbox.status == "pending",
                and_(AlertOutbox.status == "sending", AlertOutbox.next_attempt_at <= now),
            ),
            AlertOutbox.id != head.id,
        )
        rows = s.scalars(q.order_by(AlertOutbox.id).limit(_BATCH)).all()
        if sub.digest_minutes and head.kind == "flag":
            return list(rows)
        event = head.payload.get("event")
        return [r for r in rows if r.payload.get("event") == event]

    def _rate_limited(self, s: Session, sub: Subscription, now: datetime) -> bool:
        per_second, per_minute = _SCHEME_LIMITS.get(
            urlsplit(sub.url).scheme, (None, self.settings.alert_rate_per_minute)
        )
        # One message may deliver several rows; they share their attempt time.
        sent = (
            select(func.count(func.distinct(Delivery.attempted_at)))
            .join(AlertOutbox, AlertOutbox.id == Delivery.outbox_id)
            .where(AlertOutbox.subscription_id == sub.id, Delivery.ok.is_(True))
        )
        for limit, window in (
            (per_second, timedelta(seconds=1)),
            (per_minute, timedelta(minutes=1)),
        ):
            if limit and (s.scalar(sent.where(Delivery.attempted_at > now - window)) or 0) >= limit:
                return True
        return False

    # -- delivering ---------------------------------------------------------------

    def _deliver(self, batch: _Batch, summary: SendSummary) -> None:
        message = self.renderer.render(batch.kind, [(key, p) for _, key, p, _ in batch.rows])
        ok, error = self._send(batch, message)
        # Stored, shown on the failed-alerts page and printed by `alerts send`: apprise's
        # errors quote the URL ("…to topic 'opsalerts'", the request URL), so never raw (#11).
        error = None if ok else scrub(error, batch.url) or "delivery failed"
        summary.messages += 1
        now = self.clock()
        with self.sessions.begin() as s:
            for row_id, _key, _payload, attempts in batch.rows:
                s.add(Delivery(outbox_id=row_id, attempted_at=now, ok=ok, error=error))
                values: dict[str, Any]
                if ok:
                    values = {"status": "sent", "sent_at": now, "last_error": None}
                    summary.sent += 1
                    metrics.ALERT_DELIVERIES.labels("sent").inc()
                elif attempts >= self.settings.alert_max_attempts:
                    values = {"status": "failed", "last_error": error}
                    summary.failed += 1
                    metrics.ALERT_DELIVERIES.labels("failed").inc()
                else:
                    metrics.ALERT_DELIVERIES.labels("retry").inc()
                    values = {
                        "status": "pending",
                        "last_error": error,
                        "next_attempt_at": now + timedelta(seconds=self._wait(attempts)),
                    }
                    summary.retrying += 1
                s.execute(
                    update(AlertOutbox)
                    .where(AlertOutbox.id == row_id)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        if not ok and error:
            summary.errors.append(error)

    def _send(self, batch: _Batch, message: Message) -> tuple[bool, str | None]:
        """A console subscription is checked again (the operator's settings may have changed,
        or its name now resolves inside the network) and delivered under the connect-time
        guard. A refusal fails like any delivery and is retried: the name may point outside
        again."""
        if not batch.check:
            return self.notify(batch.url, message)
        try:
            # The very string apprise will load: the keys added to a webhook's query included.
            policy = check_destination(
                with_keys(batch.url, message.keys),
                self.settings.alert_private_hosts,
                self.settings.alert_schemes,
            )
        except ConfigError as exc:
            return False, f"not delivered: {exc}"
        return notify_checked(self.notify, batch.url, message, policy)

    def _wait(self, attempts: int) -> float:
        state = tenacity.RetryCallState(
            retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={}
        )
        state.attempt_number = attempts
        return float(self.backoff(state))
