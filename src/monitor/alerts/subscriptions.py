"""Who wants which alerts: subscription records, their filters and validation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.registry import Registry
from monitor.errors import ConfigError
from monitor.logs import add_url_secrets
from monitor.match.rules import KINDS
from monitor.match.severity import SEVERITIES
from monitor.redaction import redact, redact_urls_in, scrub
from monitor.store.models import INCIDENT_STATUSES, AuditLog, Channel, Group, Subscription

__all__ = ["redact"]  # re-exported: callers show subscription URLs through it

_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_REF = re.compile(r"^\d{1,3}:\d{1,3}$")


def check_url(url: str) -> None:
    """Refuse an apprise URL that apprise cannot load, without echoing its secrets."""
    import apprise

    # Apprise's own warnings name the token it refuses ("invalid access token (…)"): whatever
    # it logs goes through the log redaction, and the reason shown is scrubbed (#11).
    add_url_secrets(url)
    with apprise.LogCapture(level=apprise.logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        loaded = apprise.Apprise().add(url)
        said = logs.getvalue().strip()
    if not loaded:
        # Apprise masks URLs its own way ("k...v", first and last character): redo it.
        reasons = [
            redact_urls_in(scrub(line.split(" - ", 2)[-1], url)) for line in said.splitlines()
        ]
        why = f" ({'; '.join(reasons)[:300]})" if reasons else ""
        raise ConfigError(
            f"not a notification URL apprise understands: {redact(url)}{why}", key="--url"
        )


def parse_quiet_hours(value: str | None) -> tuple[time, time] | None:
    if not value:
        return None
    m = _QUIET.match(value)
    if not m:
        raise ConfigError("quiet hours must look like 22:00-06:00 (UTC)", key="--quiet-hours")
    h1, m1, h2, m2 = map(int, m.groups())
    return time(h1, m1), time(h2, m2)


def in_quiet_hours(sub: Subscription, when: datetime) -> bool:
    window = parse_quiet_hours(sub.quiet_hours)
    if window is None:
        return False
    start, end = window
    now = when.time().replace(tzinfo=None)
    return start <= now < end if start <= end else (now >= start or now < end)


@dataclass(frozen=True)
class Verdict:
    """What a filter looks at: the post's current verdict and where it came from."""

    severity: str
    kinds: frozenset[str]
    refs: frozenset[str]
    channel: str
    group: str | None
    # What the post names and the attack it claims (#16): registry ids of the sites and
    # people it mentions, the incident's status, and its other claimants' groups.
    sites: frozenset[str] = frozenset()
    persons: frozenset[str] = frozenset()
    incident_status: str | None = None
    claimants: frozenset[str] = frozenset()


def wants(sub: Subscription, v: Verdict) -> bool:
    if not sub.enabled or v.severity == "none":
        return False
    if SEVERITIES.index(v.severity) < SEVERITIES.index(sub.min_severity):
        return False
    if sub.kinds and not v.kinds & set(sub.kinds):
        return False
    named = {g.lower() for g in [v.group, *v.claimants] if g}
    if sub.groups and not named & {g.lower() for g in sub.groups}:
        return False
    if sub.sites and not v.sites & set(sub.sites):
        return False
    if sub.persons and not v.persons & set(sub.persons):
        return False
    if sub.incident_statuses and v.incident_status not in sub.incident_statuses:
        return False
    if sub.channels and v.channel not in {c.lstrip("@").lower() for c in sub.channels}:
        return False
    return not (sub.refs and not v.refs & set(sub.refs))


def add_subscription(
    session: Session,
    name: str,
    url: str,
    *,
    min_severity: str = "high",
    kinds: list[str] | None = None,
    groups: list[str] | None = None,
    channels: list[str] | None = None,
    refs: list[str] | None = None,
    sites: list[str] | None = None,
    persons: list[str] | None = None,
    incident_statuses: list[str] | None = None,
    digest_minutes: int | None = None,
    quiet_hours: str | None = None,
    owner_id: int | None = None,
    actor: str = "cli",
    check_destination: bool = False,
) -> Subscription:
    if session.scalar(select(Subscription.id).where(Subscription.name == name)) is not None:
        raise ConfigError(f"subscription {name!r} already exists", key="NAME")
    if min_severity not in SEVERITIES[1:]:
        raise ConfigError(f"must be one of {', '.join(SEVERITIES[1:])}", key="--min-severity")
    for kind in kinds or []:
        if kind not in KINDS:
            raise ConfigError(f"unknown signal kind {kind!r}", key="--kind")
    for ref in refs or []:
        if not _REF.match(ref):
            raise ConfigError(f"verse refs look like 3:139, not {ref!r}", key="--ref")
    for status in incident_statuses or []:
        if status not in INCIDENT_STATUSES:
            raise ConfigError(
                f"must be one of {', '.join(INCIDENT_STATUSES)}, not {status!r}",
                key="--incident-status",
            )
    if digest_minutes is not None and digest_minutes < 1:
        raise ConfigError("must be at least 1 minute", key="--digest")
    parse_quiet_hours(quiet_hours)
    check_url(url)
    sub = Subscription(
        name=name,
        url=url,
        owner_id=owner_id,
        min_severity=min_severity,
        kinds=list(kinds or []),
        groups=list(groups or []),
        channels=[c.lstrip("@").lower() for c in channels or []],
        refs=list(refs or []),
        sites=list(sites or []),
        persons=list(persons or []),
        incident_statuses=list(incident_statuses or []),
        digest_minutes=digest_minutes,
        quiet_hours=quiet_hours,
        enabled=True,
        check_destination=check_destination,
    )
    session.add(sub)
    # The entry names what the subscription is sent: its filters, those it has (#16).
    filters = {
        "kinds": sub.kinds,
        "groups": sub.groups,
        "channels": sub.channels,
        "refs": sub.refs,
        "sites": sub.sites,
        "persons": sub.persons,
        "incident_statuses": sub.incident_statuses,
    }
    detail: dict[str, object] = {"url": redact(url), "min_severity": min_severity}
    detail.update((k, v) for k, v in filters.items() if v)
    session.add(AuditLog(actor=actor, action="subscription.add", target=name, detail=detail))
    session.flush()
    return sub


def check_filters(
    session: Session, *, groups: list[str], channels: list[str], refs: list[str]
) -> None:
    """Refuse a filter that can never match (#14): a verse ref that is no ayah (999:1, 2:287),
    a group or channel that is not registered. Channels are compared as ``wants`` does."""
    from quran_text import Mushaf

    for ref in refs:
        if not _REF.match(ref):
            raise ConfigError(f"verse refs look like 3:139, not {ref!r}", key="--ref")
        surah, ayah = (int(x) for x in ref.split(":"))
        try:
            Mushaf.hafs().ayah(surah, ayah)
        except IndexError as exc:  # quran-text says why: "Al-Baqarah has 286 āyāt …"
            raise ConfigError(f"{ref} is not an ayah ({exc})", key="--ref") from None
    known_groups = {g.lower() for g in session.scalars(select(Group.name))}
    for group in groups:
        if group.lower() not in known_groups:
            raise ConfigError(
                f"no such group: {group!r} (see `monitor channels list`)", key="--group"
            )
    for handle in channels:
        wanted = handle.lstrip("@").lower()
        if session.scalar(select(Channel.id).where(Channel.handle == wanted)) is None:
            raise ConfigError(
                f"no such channel: {handle!r} (see `monitor channels list`)", key="--channel"
            )


def check_registry_filters(registry: Registry, *, sites: list[str], persons: list[str]) -> None:
    """Refuse a --site or --person the registry (config/registry/) does not have (#16)."""
    for site in sites:
        if site not in registry.sites:
            known = ", ".join(sorted(registry.sites)[:8])
            raise ConfigError(f"no such site: {site!r} (registry ids: {known}, …)", key="--site")
    for person in persons:
        if person not in registry.people:
            known = ", ".join(sorted(registry.people)[:8])
            raise ConfigError(
                f"no such person: {person!r} (registry ids: {known}, …)", key="--person"
            )
