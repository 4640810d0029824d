"""The console's form for adding an alert subscription: its fields read, checked as
`monitor subscribers add` checks its options (#14, #16) but named as the form names them, and
the subscription made. The page and its routes are monitor.web.alerts; nothing here answers a
request.

The URL is never part of a ``SubscriptionForm``: it may hold a secret, and the form goes back
to the page, as typed, when it is refused.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.alerts.subscriptions import add_subscription, check_filters, check_registry_filters
from monitor.errors import ConfigError
from monitor.store.models import User
from monitor.web.actors import console_registry
from monitor.web.auth import Principal

_SPLIT = re.compile(r"[,\n]")

# The checks name the CLI's options; the form's fields are called otherwise.
FIELD_NAMES = {
    "--ref": "verse refs",
    "--group": "groups",
    "--channel": "channels",
    "--site": "sites",
    "--person": "people",
}


def items(raw: str) -> list[str]:
    """A comma- (or line-) separated form field as a list, blanks and repeats dropped."""
    out: list[str] = []
    for part in _SPLIT.split(raw):
        item = part.strip()
        if item and item not in out:
            out.append(item[:200])
    return out


@dataclass(frozen=True)
class SubscriptionForm:
    """The add form's fields as typed (the URL aside); lists are the ticked boxes."""

    name: str
    min_severity: str = "high"
    kinds: list[str] = field(default_factory=list)
    groups: str = ""
    channels: str = ""
    refs: str = ""
    sites: str = ""
    persons: str = ""
    incident_statuses: list[str] = field(default_factory=list)
    digest_minutes: str = ""
    quiet_hours: str = ""
    owner: str = ""

    def shown(self) -> dict[str, Any]:
        """What the page puts back into the form when the subscription is refused."""
        return asdict(self)

    def add(self, request: Request, db: Session, me: Principal, url: str) -> None:
        """Make the subscription, or raise a ConfigError naming the field that is wrong."""
        owner_id: int | None = me.id
        if self.owner and self.owner != me.username:
            owner_id = db.scalar(select(User.id).where(User.username == self.owner))
            if owner_id is None:
                raise ConfigError(f"no user named {self.owner!r}", key="owner")
        groups, channels, refs = items(self.groups), items(self.channels), items(self.refs)
        sites, persons = items(self.sites), items(self.persons)
        # The CLI's checks (#14, #16): a verse that is no ayah, a group or channel that is not
        # registered, a site or person config/registry/ does not have would make a subscription
        # that never sends anything.
        try:
            check_filters(db, groups=groups, channels=channels, refs=refs)
            if sites or persons:  # an unreadable registry stops only what needs it
                check_registry_filters(console_registry(request, db), sites=sites, persons=persons)
        except ConfigError as exc:
            key = FIELD_NAMES.get(exc.key or "", exc.key)
            message = exc.message.replace(" (see `monitor channels list`)", "")
            raise ConfigError(message, file=exc.file, line=exc.line, key=key) from None
        try:
            digest = int(self.digest_minutes) if self.digest_minutes.strip() else None
        except ValueError:
            digest = -1  # add_subscription refuses it with its own message
        add_subscription(
            db,
            self.name,
            url,
            min_severity=self.min_severity,
            kinds=list(dict.fromkeys(self.kinds)),
            groups=groups,
            channels=channels,
            refs=refs,
            sites=sites,
            persons=persons,
            incident_statuses=list(dict.fromkeys(self.incident_statuses)),
            digest_minutes=digest,
            quiet_hours=self.quiet_hours.strip() or None,
            owner_id=owner_id,
            actor=me.username,
            check_destination=True,
        )
