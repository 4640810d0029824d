"""No traffic leaves 127.0.0.1: for tests that make apprise try real vendor plugins."""

from __future__ import annotations

import socket
from typing import Any

import pytest

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every name but the loopback fails to resolve, so a plugin's request to its vendor's API
    (pushbullet, pagerduty, nostr relays, …) fails at once, with no DNS query sent either; a
    connection to any address off the loopback is refused as well."""
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: no network in tests")
        return real(host, *args, **kwargs)

    real_connect = socket.socket.connect

    def connect_loopback(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host in LOOPBACK or host.startswith("127.")):
            raise OSError(f"{host}: no network in tests")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    monkeypatch.setattr(socket.socket, "connect", connect_loopback)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
