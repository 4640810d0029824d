"""Every connection a checked alert delivery opens goes to an address its check allows (#11).

The destination check (``alerts/destinations.py``) looks at a URL before delivery; it cannot see
a webhook that answers 307 to ``http://127.0.0.1:5432/``, nor a name that resolves to a public
address for the check and to an internal one a moment later for apprise (DNS rebinding). Both
end in a new ``connect()``. So for the duration of a checked delivery, ``socket.socket.connect``
(and ``connect_ex``, ``sendto``, ``sendmsg``) vet the address against the delivery's
:class:`Policy` and refuse one it does not permit, before any packet is sent; a host name
given to ``connect`` is resolved here and the connection made to the vetted address, so there is
no second lookup to differ.

Why at the socket and not in requests: apprise's plugins reach the network through requests,
smtplib and its own websocket code, and only the socket is common to all of them; no maintained
library guards more than requests. Why a context variable: the hook is process-wide, but only
the delivery that set a policy is held to it (other threads, the database driver, the console's
own traffic are untouched), and apprise copies the caller's context into the worker threads it
sends from, so the policy follows the delivery there. The hook is installed on first use, never
at import.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from monitor.alerts.destinations import Policy


@dataclass
class Watch:
    """One guarded delivery: its policy, and whether it had a connection refused."""

    policy: Policy
    refused: int = 0  # shared with the worker threads apprise copies this context into

    @property
    def reason(self) -> str:
        return str(DestinationRefused().strerror)


_active: ContextVar[Watch | None] = ContextVar("monitor_alert_guard", default=None)
_lock = threading.Lock()
_installed = False
_INET = (socket.AF_INET, socket.AF_INET6)


class DestinationRefused(ConnectionRefusedError):
    """A checked delivery tried to connect where its check does not allow."""

    def __init__(self) -> None:
        # Not the address: the person who saved the URL may not know what is inside the network.
        super().__init__(
            errno.ECONNREFUSED,
            "connection refused by the alert destination check: not a public address "
            "(an operator can allow it with MONITOR_ALERT_PRIVATE_HOSTS)",
        )


@contextmanager
def guarded(policy: Policy) -> Iterator[Watch]:
    """Hold every connection opened in this context (and the threads apprise starts from it)
    to ``policy``."""
    _install()
    watch = Watch(policy)
    token = _active.set(watch)
    try:
        yield watch
    finally:
        _active.reset(token)


def _vet(sock: socket.socket, address: Any) -> Any:
    """``address``, or the vetted address to use instead; raises DestinationRefused."""
    watch = _active.get()
    if watch is None:
        return address
    try:
        return _vetted(watch.policy, sock, address)
    except DestinationRefused:
        watch.refused += 1
        raise


def _vetted(policy: Policy, sock: socket.socket, address: Any) -> Any:
    if sock.family not in _INET:
        raise DestinationRefused()  # no local sockets (AF_UNIX, …) for a checked delivery
    host, port, *rest = address
    try:
        found = [ipaddress.ip_address(str(host).split("%", 1)[0])]
    except ValueError:
        infos = socket.getaddrinfo(host, port, sock.family, sock.type)
        for info in infos:
            ip = str(info[4][0])
            if policy.permits(ipaddress.ip_address(ip.split("%", 1)[0]), int(port)):
                return (ip, port, *rest)
        raise DestinationRefused() from None
    if not policy.permits(found[0], int(port)):
        raise DestinationRefused()
    return address


def _install() -> None:
    global _installed
    if _installed:
        return
    with _lock:
        if _installed:
            return
        connect, connect_ex, sendto, sendmsg = (
            socket.socket.connect,
            socket.socket.connect_ex,
            socket.socket.sendto,
            socket.socket.sendmsg,
        )

        def guarded_connect(self: socket.socket, address: Any) -> None:
            connect(self, _vet(self, address))

        def guarded_connect_ex(self: socket.socket, address: Any) -> int:
            try:
                address = _vet(self, address)
            except DestinationRefused:
                return errno.ECONNREFUSED
            return connect_ex(self, address)

        def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
            if args:
                args = (*args[:-1], _vet(self, args[-1]))
            return sendto(self, data, *args)

        def guarded_sendmsg(self: socket.socket, *args: Any, **kwargs: Any) -> int:
            # sendmsg(buffers, ancdata, flags, address): the address is the 4th argument.
            if len(args) >= 4:
                args = (*args[:3], _vet(self, args[3]), *args[4:])
            elif "address" in kwargs:
                kwargs["address"] = _vet(self, kwargs["address"])
            return sendmsg(self, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
        socket.socket.sendto = guarded_sendto  # type: ignore[method-assign,assignment]
        socket.socket.sendmsg = guarded_sendmsg  # type: ignore[method-assign,assignment]
        _installed = True
