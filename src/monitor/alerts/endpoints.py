"""Where each apprise plugin connects: the table the console's destination check is built on (#11).

The console lets any analyst save an alert URL and press "send test", so the server connects
wherever that URL says. A check that reads only the URL's host misses plugins that take their
endpoint elsewhere (nostr's ``relay=``, zulip's organisation domain, acs's ``endpoint``). So the
check is default-deny: a console subscription may only use a plugin listed here, whose every
network endpoint the extractor below returns, read from the plugin apprise itself built from the
URL (not from our own parse of it). Hosted services whose endpoint is a constant in apprise's code
(verified in apprise 2.3: no URL parameter changes it) are listed as fixed. Anything else is
refused unless an operator names its scheme in ``alert_schemes``. Whatever is listed, every
connection a checked delivery opens is vetted again at connect time (``alerts/guard.py``).

Keyed by the plugin class, so ``https://discord.com/api/webhooks/…`` (apprise's "native" form)
is judged as the Discord plugin it loads, not by the text of its scheme.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

Endpoint = tuple[str, int]  # host name or address, TCP port


class Unknown(Exception):
    """Apprise built a plugin this table does not describe (or no longer matches)."""


def _port(plugin: Any, port: object) -> int:
    if isinstance(port, int) and port > 0:
        return port
    return 443 if getattr(plugin, "secure", False) else 80


def _url_host(plugin: Any) -> list[Endpoint]:
    """Webhooks and self-hosted servers: every request goes to the URL's own host and port."""
    host = getattr(plugin, "host", None)
    if not isinstance(host, str) or not host:
        raise Unknown("no host")
    return [(host, _port(plugin, getattr(plugin, "port", None)))]


def _email(plugin: Any) -> list[Endpoint]:
    """The SMTP server (``smtp=``, or the provider template apprise applied), and with ``wkd=yes``
    the recipients' Web Key Directory hosts, which apprise fetches keys from over HTTPS."""
    host, port = getattr(plugin, "smtp_host", None), getattr(plugin, "port", None)
    if not isinstance(host, str) or not host or not isinstance(port, int):
        raise Unknown("no SMTP host")
    out = [(host, port)]
    if getattr(plugin, "use_wkd", False):
        for _name, address in getattr(plugin, "targets", []):
            domain = str(address).rpartition("@")[2].lower()
            out += [(f"openpgpkey.{domain}", 443), (domain, 443)]
    return out


def _ntfy(plugin: Any) -> list[Endpoint]:
    mode = getattr(plugin, "mode", None)
    if mode == "cloud":
        return []  # https://ntfy.sh, a constant of the plugin
    if mode == "private":
        return _url_host(plugin)
    raise Unknown(f"ntfy mode {mode!r}")


def _nostr(plugin: Any) -> list[Endpoint]:
    """The relays of ``relay=`` (or apprise's public defaults), and the domain of every
    ``name@domain`` recipient (NIP-05 lookup over HTTPS). Relays read from a recipient's own
    published list are connected to only at public addresses (apprise's ``public_only``), and
    the connect-time guard holds that too."""
    relays = getattr(plugin, "relays", None)
    if not isinstance(relays, list) or not relays:
        raise Unknown("no relays")
    out: list[Endpoint] = []
    for relay in relays:
        parts = urlsplit(str(relay))
        if not parts.hostname:
            raise Unknown(f"relay {relay!r}")
        out.append((parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80)))
    for target in getattr(plugin, "targets", []):
        if "@" in str(target):
            out.append((str(target).rpartition("@")[2], 443))
    return out


def _fixed(plugin: Any) -> list[Endpoint]:
    return []


@dataclass(frozen=True)
class Entry:
    service: str
    schemes: tuple[str, ...]  # as documented; the table itself is keyed by plugin class
    endpoints: Callable[[Any], list[Endpoint]]


TABLE: dict[str, Entry] = {
    "NotifyJSON": Entry("JSON webhook", ("json", "jsons"), _url_host),
    "NotifyXML": Entry("XML webhook", ("xml", "xmls"), _url_host),
    "NotifyForm": Entry("form webhook", ("form", "forms"), _url_host),
    "NotifyEmail": Entry("e-mail", ("mailto", "mailtos"), _email),
    "NotifyNtfy": Entry("ntfy", ("ntfy", "ntfys"), _ntfy),
    "NotifyGotify": Entry("Gotify", ("gotify", "gotifys"), _url_host),
    "NotifyMattermost": Entry("Mattermost", ("mmost", "mmosts"), _url_host),
    "NotifyRocketChat": Entry("Rocket.Chat", ("rocket", "rockets"), _url_host),
    "NotifyAppriseAPI": Entry("Apprise API", ("apprise", "apprises"), _url_host),
    "NotifyNostr": Entry("Nostr", ("nostr",), _nostr),
    # Fixed endpoints: api.telegram.org, discord.com, hooks.slack.com / slack.com /
    # hooks.slack-gov.com, api.pushover.net.
    "NotifyTelegram": Entry("Telegram", ("tgram",), _fixed),
    "NotifyDiscord": Entry("Discord", ("discord",), _fixed),
    "NotifySlack": Entry("Slack", ("slack",), _fixed),
    "NotifyPushover": Entry("Pushover", ("pover",), _fixed),
}


def known_endpoints(plugin: Any) -> list[Endpoint] | None:
    """Every endpoint ``plugin`` connects to, or None when the table does not describe it."""
    cls = type(plugin)
    entry = TABLE.get(cls.__name__)
    # A custom plugin (apprise's @notify decorator) may reuse a name; only apprise's own count.
    if entry is None or not cls.__module__.startswith("apprise.plugins."):
        return None
    try:
        return entry.endpoints(plugin)
    except Unknown:
        return None  # an apprise that changed under us: refused rather than guessed


def generic_endpoints(plugin: Any) -> list[Endpoint]:
    """For a scheme an operator allowed (``alert_schemes``): the URL's host and SMTP host, the
    best a generic reading can do; the connect-time guard covers whatever it misses."""
    if "host" not in getattr(type(plugin), "template_tokens", {}):
        return []
    out: list[Endpoint] = []
    for attr in ("host", "smtp_host"):
        host = getattr(plugin, attr, None)
        if isinstance(host, str) and host:
            out.append((host, _port(plugin, getattr(plugin, "port", None))))
    return list(dict.fromkeys(out))
