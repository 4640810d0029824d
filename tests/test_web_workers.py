"""`monitor serve --workers 2`: two processes on one port, one login limit, one /metrics."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from monitor.store.db import make_engine, session_factory
from monitor.store.migrate import upgrade
from tests.alert_receivers import free_port
from tests.conftest import CONFIG
from tests.web_support import PASSWORD, make_users


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    engine = make_engine(url)
    upgrade(engine)
    make_users(session_factory(engine))
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": url,
        "MONITOR_CONFIG_DIR": str(CONFIG),
        "MONITOR_VAR_DIR": str(tmp_path / "var"),
        "MONITOR_SECRET_KEY": "workers-test-secret-0123456789",
        "TMPDIR": str(tmp_path),  # where the metrics directory goes
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.2)
        yield base, proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_workers_share_the_login_limit_and_the_request_metrics(
    server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    base, proc, tmp_path = server
    workers = _children(proc.pid)
    # uvicorn's supervisor: two server processes (plus multiprocessing's resource tracker).
    assert len([p for p in workers if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]) == 2

    # No keep-alive: every request is a new connection, which either worker may accept.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, limits=fresh) as client:
        requests = 0
        statuses = []
        for _ in range(6):
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            attempt = client.post(
                "/login",
                data={"username": "analyst", "password": "wrong", "csrf_token": token.group(1)},
            )
            statuses.append(attempt.status_code)
            requests += 2
        assert statuses == [401] * 5 + [429]

        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        other = client.post(
            "/login",
            data={"username": "operator", "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert other.status_code == 303
        requests += 2
        assert client.get("/").status_code == 200
        requests += 1

        scrape = client.get("/metrics").text
    counted = sum(
        float(value)
        for route, value in re.findall(
            r'^monitor_http_requests_total\{[^}]*route="([^"]+)"[^}]*\} (\S+)$', scrape, re.M
        )
        if route != "/readyz"
    )
    assert counted == requests  # every worker's requests, not just the scraped one's
    assert "monitor_posts_total" in scrape  # the database gauges are still there

    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    assert not list(tmp_path.glob("monitor-metrics-*")), "the metrics directory is removed"
