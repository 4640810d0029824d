"""Where the console lets its users send alerts: public hosts, plus the private ones an operator
allowed (``alert_private_hosts``).

Any console user may save a subscription and press "send test", which makes this server open
a connection to the URL's host and report how it went. Without a check that is a probe of the
internal network (the database, the metrics port, cloud metadata at 169.254.169.254) for anyone
with an analyst login. The CLI is not checked: its users already have the server's shell.
The sender checks a console subscription again before each delivery (DNS rebinding); a name
re-pointed between that check and apprise's own lookup still gets through, since the connection
is apprise's to make.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from monitor.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_allowed(value: str) -> tuple[frozenset[str], tuple[Network, ...]]:
    """``alert_private_hosts``: comma-separated host names, addresses and networks (CIDR)."""
    names: set[str] = set()
    nets: list[Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            if "/" in item or not item.replace("-", "").replace(".", "").isalnum():
                raise ConfigError(
                    f"{item!r} is neither a host name, an address nor a network",
                    key="MONITOR_ALERT_PRIVATE_HOSTS",
                ) from None
            names.add(item.lower().rstrip("."))
    return frozenset(names), tuple(nets)


def destination_hosts(url: str) -> list[str]:
    """The hosts delivering ``url`` connects to, for services that live at an address the URL
    names (webhooks, e-mail, ntfy, Mattermost…). Hosted services (Telegram, Slack, Discord…)
    have no such host: their plugins connect to the service's own API."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None or "host" not in getattr(type(plugin), "template_tokens", {}):
        return []
    hosts = (getattr(plugin, "host", None), getattr(plugin, "smtp_host", None))
    return list(dict.fromkeys(h for h in hosts if isinstance(h, str) and h))


def _addresses(host: str) -> list[Address]:
    try:
        return [_plain(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # resolves to nothing: delivery fails on its own, reaching nobody
    return [_plain(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos]


def _plain(address: Address) -> Address:
    # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel, whatever Python 3.11 says of its scope.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refuse_private(url: str, allowed: str) -> None:
    """ConfigError when ``url`` would make this server connect to a host that is not public
    (loopback, private, link-local, reserved) and that ``allowed`` does not name."""
    names, nets = parse_allowed(allowed)
    for host in destination_hosts(url):
        if host.lower().rstrip(".") in names:
            continue
        if any(not a.is_global and not _within(a, nets) for a in _addresses(host)):
            # Not which address: that would tell the user what internal names resolve to.
            raise ConfigError(
                f"{host} is not a public host; an operator can allow it with "
                "MONITOR_ALERT_PRIVATE_HOSTS",
                key="url",
            )


def _within(address: Address, nets: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)
