"""Where the console lets its users send alerts: public hosts, plus the private ones an operator
allowed (``alert_private_hosts``), through plugins whose endpoints we know (#11).

Any console user may save a subscription and press "send test", which makes this server open
a connection and report how it went. Without a check that is a probe of the internal network
(the database, the metrics port, cloud metadata at 169.254.169.254) for anyone with an analyst
login. The CLI is not checked: its users already have the server's shell.

Two layers. When a console subscription is saved (and before each delivery or test), every
endpoint its plugin will connect to (``alerts/endpoints.py``) must be public or allowed, and a
plugin that table does not describe is refused unless an operator allowed its scheme
(``alert_schemes``). Then, while the delivery runs, every connection it opens is vetted at the
socket (``alerts/guard.py``) against the :class:`Policy` returned here, which closes what a
check made beforehand cannot: redirects to an internal address, and a name re-pointed between
the check and the connection (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from monitor.alerts.endpoints import Endpoint, generic_endpoints, known_endpoints
from monitor.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", re.I)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
# Public-looking prefixes that carry another (IPv4) address inside them.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Deprecated forms Python still calls global: IPv4-compatible (::a.b.c.d, RFC 4291),
# IPv4-translated (::ffff:0:a.b.c.d, RFC 2765) and site-local (fec0::/10, RFC 3879). A kernel
# may route the first two to the IPv4 address inside; none is a public destination.
_DEPRECATED = tuple(ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "fec0::/10"))


@dataclass(frozen=True)
class Allowed:
    """``alert_private_hosts``, parsed."""

    names: frozenset[tuple[str, int | None]]  # host name, and the one port allowed (None: any)
    nets: tuple[Network, ...]  # any port
    pairs: frozenset[tuple[Address, int]]  # an address at one port only


def parse_allowed(value: str) -> Allowed:
    """Comma-separated host names, addresses and networks (CIDR); a name or address may end in
    ``:PORT`` (``[v6]:PORT``) to allow that port only."""
    names: set[tuple[str, int | None]] = set()
    nets: list[Network] = []
    pairs: set[tuple[Address, int]] = set()
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
            continue
        except ValueError:
            pass
        host, port = _split_port(item)
        try:
            address = _plain(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            address = None
        if address is not None:
            if port is None:
                nets.append(ipaddress.ip_network(address))
            else:
                pairs.add((address, port))
            continue
        if not _NAME.fullmatch(host.rstrip(".")):
            raise ConfigError(
                f"{item!r} is neither a host name, an address nor a network "
                "(optionally with :PORT)",
                key="MONITOR_ALERT_PRIVATE_HOSTS",
            )
        names.add((host.lower().rstrip("."), port))
    return Allowed(frozenset(names), tuple(nets), frozenset(pairs))


def _split_port(item: str) -> tuple[str, int | None]:
    if item.startswith("[") and "]:" in item:
        host, _, port = item.rpartition(":")
    elif item.count(":") == 1:
        host, _, port = item.partition(":")
    else:
        return item, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{item!r}: {port!r} is not a port", key="MONITOR_ALERT_PRIVATE_HOSTS")
    return host, int(port)


def parse_schemes(value: str) -> frozenset[str]:
    """``alert_schemes``: comma-separated apprise schemes (``zulip, matrixs``)."""
    out = set()
    for item in (part.strip().lower().removesuffix("://") for part in value.split(",")):
        if not item:
            continue
        if not _SCHEME.fullmatch(item):
            raise ConfigError(f"{item!r} is not a URL scheme", key="MONITOR_ALERT_SCHEMES")
        out.add(item)
    return frozenset(out)


@dataclass(frozen=True)
class Policy:
    """Where one checked delivery may connect: any public address, the allowed networks, and the
    addresses (at a port, or any port) that the allowed names resolved to when checked."""

    nets: tuple[Network, ...] = ()
    pairs: frozenset[tuple[Address, int | None]] = frozenset()

    def permits(self, address: Address, port: int) -> bool:
        a = _plain(address)
        return (
            is_public(a)
            or _within(a, self.nets)
            or (a, None) in self.pairs
            or (a, port) in self.pairs
        )


def check_destination(url: str, allowed: str, schemes: str = "", *, console: bool = True) -> Policy:
    """ConfigError when delivering ``url`` would connect to a host that is not public (loopback,
    private, link-local, reserved) and that ``allowed`` does not name, or when ``console`` (a
    URL an analyst chose) and its plugin's endpoints are unknown and ``schemes`` does not list
    its scheme. Otherwise the :class:`Policy` the delivery's connections are held to.

    ``url`` must be the string the delivery hands apprise: apprise splits it at commas and
    spaces into several URLs and loads a plugin for each, so the check loads it the same way
    and looks at every plugin. A console URL must load, and load exactly one plugin."""
    rules = parse_allowed(allowed)
    loaded, plugins = _load(url)
    if console and not (loaded and plugins):
        raise ConfigError("not a notification URL apprise can load", key="url")
    if console and len(plugins) != 1:
        raise ConfigError(
            f"one destination per subscription: this URL holds {len(plugins)}; "
            "save each as a subscription of its own",
            key="url",
        )
    pairs: set[tuple[Address, int | None]] = set(rules.pairs)
    for plugin in plugins:  # a CLI string may name several (trusted); an unloadable one sends none
        pairs |= _endpoints_allowed(plugin, rules, schemes, console, pairs)
    return Policy(rules.nets, frozenset(pairs))


def _load(url: str) -> tuple[bool, list[Any]]:
    """Whether apprise loads all of ``url``, and the plugins it loads: what delivery sends to."""
    import apprise

    ap = apprise.Apprise()
    loaded = bool(ap.add(url))
    return loaded, list(ap)


def _endpoints_allowed(
    plugin: Any, rules: Allowed, schemes: str, console: bool, pairs: set[tuple[Address, int | None]]
) -> set[tuple[Address, int | None]]:
    """The pinned (address, port) pairs of ``plugin``'s allowed names; ConfigError as above."""
    endpoints = known_endpoints(plugin)
    if endpoints is None:
        scheme = str(plugin.url(privacy=True)).partition("://")[0].lower()
        if console and scheme not in parse_schemes(schemes):
            raise ConfigError(
                f"alert scheme {scheme!r} is not allowed from the console: the destination "
                "check cannot tell every address it connects to; an operator can allow it "
                "with MONITOR_ALERT_SCHEMES",
                key="url",
            )
        endpoints = generic_endpoints(plugin)
    found: set[tuple[Address, int | None]] = set()
    for host, port in endpoints:
        name = host.lower().rstrip(".")
        # Allowed at any port wins over allowed at this one.
        named = sorted((p for n, p in rules.names if n == name and p in (None, port)), key=bool)
        addresses = _addresses(host)
        if named:
            # Allowed by name: pinned to what the name resolves to now, for the guard.
            found |= {(a, named[0]) for a in addresses}
            continue
        policy = Policy(rules.nets, frozenset(pairs | found))
        if any(not policy.permits(a, port) for a in addresses):
            # Not which address: that would tell the user what internal names resolve to.
            raise ConfigError(
                f"{_shown(host, port, rules)} is not a public host; an operator can allow it "
                "with MONITOR_ALERT_PRIVATE_HOSTS",
                key="url",
            )
    return found


def _shown(host: str, port: int, rules: Allowed) -> str:
    # The port only matters to the message when an allowance is port-specific.
    return f"{host}:{port}" if rules.pairs or any(p for _, p in rules.names) else host


def endpoints_of(url: str) -> list[Endpoint] | None:
    """The endpoints the table knows for ``url`` (None: not in the table); for tests and docs."""
    import apprise

    plugin = apprise.Apprise.instantiate(url)
    return None if plugin is None else known_endpoints(plugin)


def is_public(address: Address) -> bool:
    a = _plain(address)
    if a.is_unspecified or a.is_multicast or not a.is_global:
        return False
    if any(a in net for net in _DEPRECATED):
        return False
    if isinstance(a, ipaddress.IPv6Address):
        embedded = [a.sixtofour, *(a.teredo or ())]
        embedded += [ipaddress.IPv4Address(int(a) & 0xFFFFFFFF) for n in _NAT64 if a in n]
        return all(e is None or is_public(e) for e in embedded)
    return True


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


def _within(address: Address, nets: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in nets)
