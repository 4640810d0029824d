"""One incident flooded with claims (#16 hardening): the cost of one more claim and of its page.

    PYTHONPATH=src .venv/bin/python bench/incidents.py [--claims N] [--channels N] [--repeat N]
                                                       [--database-url URL]

Builds one incident of ``--claims`` sources (default 10,000) from ``--channels`` channels
(default 2,000), every post a copy of one statement (one echo cluster) and no claimant: the
sock-puppet flood, and the worst case for the status, since no two sources are independent and
nothing ends the search early. Then times, ``--repeat`` times each (median and worst):

add   placing one more claim of the site and recomputing the incident (``place`` + ``refresh``,
      as the pipeline's hook does per claim), in a transaction rolled back afterwards;
page  GET /incidents/{id} as a signed-in analyst (in process, no network).

No target: the figure must not grow with the sources of the incident beyond the page's bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from starlette.testclient import TestClient

from machine import calibrate  # bench/machine.py
from monitor.actors.incidents import Claim, place, refresh
from monitor.config import Settings
from monitor.store.db import make_engine, scratch_schema, session_factory
from monitor.store.migrate import upgrade
from monitor.store.models import (
    Channel,
    EchoCluster,
    EchoMember,
    Incident,
    IncidentSource,
    Post,
)
from monitor.store.users import add_user
from monitor.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 2, 3, 8, tzinfo=UTC)
USER, PASSWORD = "bench-analyst", "bench-password-1"
SITE = "harir"


def seed(url: str, claims: int, channels: int) -> int:
    """The flooded incident; returns its id."""
    engine = make_engine(url)
    upgrade(engine)
    step = timedelta(hours=20) / claims  # all inside one 24 h window
    with engine.begin() as conn:
        conn.execute(
            insert(Channel),
            [
                {"id": c + 1, "handle": f"puppet_{c:05d}", "source": "web", "enabled": True}
                for c in range(channels)
            ],
        )
        conn.execute(insert(EchoCluster), [{"id": 1, "created_at": T0}])
        conn.execute(
            insert(Incident),
            [
                {
                    "id": 1,
                    "site": SITE,
                    "weapon": "drone",
                    "status": "claimed",
                    "first_claim_at": T0,
                    "last_claim_at": T0 + step * (claims - 1),
                    "created_at": T0,
                    "corrected_fields": [],
                    "note": "",
                }
            ],
        )
        for lo in range(0, claims, 5000):
            ids = range(lo, min(claims, lo + 5000))
            conn.execute(
                insert(Post),
                [
                    {
                        "id": i + 1,
                        "channel_id": i % channels + 1,
                        "message_id": i // channels + 1,
                        "date": T0 + step * i,
                        "text": "استهداف قاعدة حرير بالطائرات المسيرة",
                        "text_sha256": "x",
                        "source": "web",
                        "first_seen_at": T0,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                insert(EchoMember),
                [{"post_id": i + 1, "cluster_id": 1, "similarity": 0.9} for i in ids],
            )
            conn.execute(
                insert(IncidentSource),
                [
                    {
                        "incident_id": 1,
                        "post_id": i + 1,
                        "channel_id": i % channels + 1,
                        "claimant": None,
                        "site": SITE,
                        "weapon": "drone",
                        "claimed_at": T0 + step * i,
                        "layer": "text",
                        "added_by": "matcher",
                    }
                    for i in ids
                ],
            )
        # One more post, the claim the "add" timing places.
        conn.execute(
            insert(Post),
            [
                {
                    "id": claims + 1,
                    "channel_id": 1,
                    "message_id": 10**6,
                    "date": T0 + timedelta(hours=21),
                    "text": "استهداف قاعدة حرير بالطائرات المسيرة",
                    "text_sha256": "x",
                    "source": "web",
                    "first_seen_at": T0,
                }
            ],
        )
        conn.execute(
            insert(EchoMember), [{"post_id": claims + 1, "cluster_id": 1, "similarity": 1}]
        )
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    with session_factory(engine).begin() as s:
        add_user(s, USER, "analyst", PASSWORD, actor="bench")
    engine.dispose()
    return 1


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, max(times) * 1000


def measure(url: str, claims: int, channels: int, repeat: int) -> None:
    t = time.perf_counter()
    incident_id = seed(url, claims, channels)
    print(f"seeded {claims:,} claims from {channels:,} channels in {time.perf_counter() - t:.0f} s")
    engine = make_engine(url)
    sessions = session_factory(engine)
    claim = Claim(claims + 1, 1, T0 + timedelta(hours=21), SITE, "drone", None, "text")

    def add() -> None:
        with sessions() as s:
            got = place(s, claim, timedelta(hours=24))
            refresh(s, got)
            assert got == incident_id
            s.rollback()

    settings = Settings(
        secret_key="bench-secret-key-0123456789abcdef",
        console_url="http://testserver",
        config_dir=ROOT / "config",
    )
    client = TestClient(create_app(settings, sessions), follow_redirects=False)
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    size = [0]

    def get() -> None:
        resp = client.get(f"/incidents/{incident_id}")
        assert resp.status_code == 200, resp.status_code
        size[0] = len(resp.content)

    get()  # the first request builds the templates and the registry
    backend = engine.dialect.name
    median, worst = timed(add, repeat)
    print(f"{backend:<10} add one claim: median {median:,.0f} ms, worst {worst:,.0f} ms")
    median, worst = timed(get, repeat)
    print(
        f"{backend:<10} incident page: median {median:,.0f} ms, worst {worst:,.0f} ms, "
        f"{size[0] / 1024:,.0f} KiB"
    )
    engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--claims", type=int, default=10_000)
    ap.add_argument("--channels", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--database-url", help="PostgreSQL (a scratch schema); default SQLite")
    args = ap.parse_args()
    print(f"machine: 10 M empty loop steps in {calibrate():.2f} s")
    if args.database_url:
        with scratch_schema(args.database_url) as url:
            measure(url, args.claims, args.channels, args.repeat)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        measure(f"sqlite:///{Path(tmp) / 'incidents.db'}", args.claims, args.channels, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
