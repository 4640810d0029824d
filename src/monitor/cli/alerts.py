"""`monitor subscribers …` and `monitor alerts send`."""

from __future__ import annotations

import sys
import time

import click
from sqlalchemy import func, select

from monitor.alerts.render import Message, Renderer
from monitor.alerts.sender import Sender, apprise_notify
from monitor.alerts.subscriptions import (
    add_subscription,
    check_filters,
    check_registry_filters,
    redact,
)
from monitor.cli.context import Runtime
from monitor.errors import ConfigError
from monitor.logs import add_url_secrets
from monitor.logs import redact as redact_secrets
from monitor.match.severity import SEVERITIES
from monitor.redaction import scrub
from monitor.store.models import INCIDENT_STATUSES, AlertOutbox, AuditLog, Subscription


@click.group("subscribers")
def subscribers_group() -> None:
    """Alert subscriptions: who is notified of which signals, and how."""


@subscribers_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="apprise URL: mailto://…, json://…, tgram://…, …")
@click.option(
    "--min-severity", type=click.Choice(SEVERITIES[1:]), default="high", show_default=True
)
@click.option("--group", "groups", multiple=True, help="Only these actor groups (repeatable).")
@click.option("--kind", "kinds", multiple=True, help="Only these signal kinds (repeatable).")
@click.option("--channel", "channels", multiple=True, help="Only these channels (repeatable).")
@click.option("--ref", "refs", multiple=True, help="Only posts quoting these verses, e.g. 3:139.")
@click.option(
    "--site",
    "sites",
    multiple=True,
    help="Only posts naming, and incidents at, these registry sites, e.g. harir (repeatable).",
)
@click.option(
    "--person",
    "persons",
    multiple=True,
    help="Only posts naming these registry people, e.g. akram-kaabi (repeatable).",
)
@click.option(
    "--incident-status",
    "incident_statuses",
    multiple=True,
    type=click.Choice(INCIDENT_STATUSES),
    help="Only attack claims whose incident has this status (repeatable).",
)
@click.option("--digest", type=int, help="Send a digest every N minutes instead of at once.")
@click.option("--quiet-hours", help="Hold alerts (except critical) during e.g. 22:00-06:00 UTC.")
@click.pass_obj
def add(
    rt: Runtime,
    name: str,
    url: str,
    min_severity: str,
    groups: tuple[str, ...],
    kinds: tuple[str, ...],
    channels: tuple[str, ...],
    refs: tuple[str, ...],
    sites: tuple[str, ...],
    persons: tuple[str, ...],
    incident_statuses: tuple[str, ...],
    digest: int | None,
    quiet_hours: str | None,
) -> None:
    """Subscribe NAME to the flags that pass its filters.

    Refused (exit 2) when a filter can never match: a --ref that is no ayah, a --group or
    --channel that is not registered, a --site or --person not in config/registry/.
    Subscribers also hear of each new incident and of its corroboration, once each (#16).
    """
    from monitor.actors.registry import load_registry

    check_registry_filters(
        load_registry(rt.settings.config_dir), sites=list(sites), persons=list(persons)
    )
    with rt.migrated_sessions().begin() as s:
        check_filters(s, groups=list(groups), channels=list(channels), refs=list(refs))
        add_subscription(
            s,
            name,
            url,
            min_severity=min_severity,
            kinds=list(kinds),
            groups=list(groups),
            channels=list(channels),
            refs=list(refs),
            sites=list(sites),
            persons=list(persons),
            incident_statuses=list(incident_statuses),
            digest_minutes=digest,
            quiet_hours=quiet_hours,
        )
    click.echo(f"added subscription {name} ({redact(url)}, {min_severity} and above)")


@subscribers_group.command("list")
@click.pass_obj
def list_(rt: Runtime) -> None:
    """List subscriptions with their filters and outbox state (URLs shown without secrets)."""
    with rt.migrated_sessions()() as s:
        subs = s.scalars(select(Subscription).order_by(Subscription.name)).all()
        if not subs:
            click.echo("no subscriptions; add one with `monitor subscribers add`")
        for sub in subs:
            counts = dict(
                s.execute(
                    select(AlertOutbox.status, func.count())
                    .where(AlertOutbox.subscription_id == sub.id)
                    .group_by(AlertOutbox.status)
                ).all()
            )
            filters = [f"{sub.min_severity}+"]
            filters += [f"kind={k}" for k in sub.kinds] + [f"group={g}" for g in sub.groups]
            filters += [f"channel={c}" for c in sub.channels] + [f"ref={r}" for r in sub.refs]
            filters += [f"site={x}" for x in sub.sites] + [f"person={p}" for p in sub.persons]
            filters += [f"incident={x}" for x in sub.incident_statuses]
            mode = f"digest {sub.digest_minutes}m" if sub.digest_minutes else "immediate"
            if sub.quiet_hours:
                mode += f", quiet {sub.quiet_hours}"
            state = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing sent"
            click.echo(
                f"{sub.name:<20} {redact(sub.url):<32} {' '.join(filters)} [{mode}] {state}"
                + ("" if sub.enabled else " (disabled)")
            )


@subscribers_group.command("remove")
@click.argument("name")
@click.pass_obj
def remove(rt: Runtime, name: str) -> None:
    """Remove a subscription and its queued alerts."""
    with rt.migrated_sessions().begin() as s:
        sub = s.scalar(select(Subscription).where(Subscription.name == name))
        if sub is None:
            raise ConfigError(f"no such subscription: {name}", key="NAME")
        s.delete(sub)
        s.add(AuditLog(actor="cli", action="subscription.remove", target=name, detail={}))
    click.echo(f"removed subscription {name}")


@subscribers_group.command("test")
@click.argument("name")
@click.pass_obj
def test(rt: Runtime, name: str) -> None:
    """Send a test message to NAME now and report whether it was delivered."""
    with rt.migrated_sessions()() as s:
        sub = s.scalar(select(Subscription).where(Subscription.name == name))
        if sub is None:
            raise ConfigError(f"no such subscription: {name}", key="NAME")
        url = sub.url
    message = Message(
        title="[TEST] monitor alert subscription",
        body=f"This is a test of subscription {name} from {rt.settings.console_url}.\n",
        keys=[f"test:{name}:{int(time.time())}"],
    )
    add_url_secrets(url)  # whatever apprise logs while sending, not this URL's secrets
    ok, error = apprise_notify(url, message)
    if ok:
        click.echo(f"{name}: test message delivered to {redact(url)}")
        return
    # Apprise's errors may quote the request URL, and with it the token (#11).
    shown = scrub(error, url) or "delivery failed"
    click.echo(f"{name}: delivery to {redact(url)} failed: {shown}", err=True)
    sys.exit(1)


@click.group("alerts")
def alerts_group() -> None:
    """The alert outbox."""


@alerts_group.command("send")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.pass_obj
def send(rt: Runtime, once: bool) -> None:
    """Deliver pending alerts from the outbox (retrying failures with backoff)."""
    settings = rt.settings
    sender = Sender(rt.migrated_sessions(), settings, Renderer(settings.config_dir))
    while True:
        summary = sender.send_due()
        if summary.messages or once:
            click.echo(
                f"{summary.messages} messages: {summary.sent} alerts delivered, "
                f"{summary.retrying} to retry, {summary.failed} failed, "
                f"{summary.deferred} destinations rate-limited"
            )
            for error in summary.errors:
                # The sender registered each subscription URL's secrets (add_url_secrets).
                click.echo(f"delivery error: {redact_secrets(error)}", err=True)
        if once:
            return
        time.sleep(settings.alert_poll_seconds)


COMMANDS = [subscribers_group, alerts_group]
