"""Helpers for the console tests: seeded posts with matches, users of each role, logins."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.config import Settings
from monitor.pipeline import Pipeline
from monitor.store.channels import ensure_channel
from monitor.store.models import Match, Post, RuleSetVersion, SignalRow
from monitor.store.search import index_hook
from monitor.store.users import add_user
from monitor.web.app import create_app

PASSWORD = "correct-horse-1"
SECRET = "test-secret-key-0123456789abcdef"
ROLES = ("analyst", "operator", "admin")
NOW = datetime.now(UTC).replace(microsecond=0)

# A cue verse (3:139) with full harakat, and the phrase an analyst would search without them.
VERSE_139 = "وَلَا تَهِنُوا وَلَا تَحْزَنُوا وَأَنتُمُ الْأَعْلَوْنَ إِن كُنتُم مُّؤْمِنِينَ"
THREAT = "سنرد على العدوان الأمريكي في الوقت المناسب"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Seeded:
    channel_id: int
    other_channel_id: int
    group_id: int
    posts: dict[str, int] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)


CONFIG = Path(__file__).resolve().parents[1] / "config"


def settings(**overrides: Any) -> Settings:
    return Settings(
        secret_key=SECRET, console_url="http://testserver", config_dir=CONFIG, **overrides
    )


def make_client(sessions: sessionmaker[Session], **overrides: Any) -> TestClient:
    return TestClient(create_app(settings(**overrides), sessions), follow_redirects=False)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    # As `monitor serve` runs it: forwarded headers are the app's to judge (#11), not uvicorn's.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    try:
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "console did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_users(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        for role in ROLES:
            add_user(s, role, role, PASSWORD, actor="test")


def store_posts(
    sessions: sessionmaker[Session], channel_id: int, records: list[PostRecord]
) -> dict[int, int]:
    """Ingest through a pipeline carrying the search hook; message id -> post id."""
    pipeline = Pipeline(sessions)
    pipeline.hooks.append(index_hook)
    result = pipeline.store(channel_id, records)
    return {c.message_id: c.post_id for c in result.changed}


def add_match(
    sessions: sessionmaker[Session],
    post_id: int,
    severity: str,
    signals: list[tuple[str, str, str | None, str]],
    *,
    flagged: bool = True,
) -> list[int]:
    """A verdict with signals given as (kind, rule, ref, matched text): spans found in the text."""
    rank = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}[severity]
    with sessions.begin() as s:
        post = s.get_one(Post, post_id)
        rs = s.query(RuleSetVersion).first()
        if rs is None:
            rs = RuleSetVersion(version="test", summary={})
            s.add(rs)
            s.flush()
        match = Match(
            post_id=post_id,
            rule_set_id=rs.id,
            text_sha256=post.text_sha256,
            flagged=flagged,
            severity=severity,
            severity_rank=rank,
            score=10.0 * rank,
            explanation=[f"{len(signals)} signal(s) → {severity}"],
        )
        s.add(match)
        s.flush()
        ids = []
        for kind, rule, ref, matched in signals:
            start = post.text.index(matched)
            row = SignalRow(
                match_id=match.id,
                kind=kind,
                rule=rule,
                ref=ref,
                refs=[ref] if ref else [],
                start=start,
                end=start + len(matched),
                matched=matched,
                score=0.9,
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
        return ids


def seed(sessions: sessionmaker[Session]) -> Seeded:
    with sessions.begin() as s:
        ch = ensure_channel(s, "sarayat_test", source="export", title="سرايا", group="Kataib Test")
        other = ensure_channel(s, "other_chan", source="web", group="Facade Two")
        seeded = Seeded(ch.id, other.id, ch.group_id or 0)
    day = timedelta(days=1)
    ids = store_posts(
        sessions,
        seeded.channel_id,
        [
            PostRecord(1, NOW - 3 * day, f"قال تعالى {VERSE_139} صدق الله العظيم", "export"),
            PostRecord(
                2,
                NOW - 2 * day,
                f"بيان: {THREAT}",
                "export",
                forwarded_from=ForwardInfo("sabereen_news", 77, "Sabereen"),
                media=MediaInfo("video", "video/mp4", 1234, 12.5, "ab" * 32),
            ),
            PostRecord(3, NOW - 1 * day, "رحم الله الشهداء إنا لله وإنا إليه راجعون", "export"),
        ],
    )
    seeded.posts.update(verse=ids[1], threat=ids[2], plain=ids[3])
    other_ids = store_posts(
        sessions,
        seeded.other_channel_id,
        [PostRecord(10, NOW - 5 * day, "We will strike the occupier bases soon", "web")],
    )
    seeded.posts["english"] = other_ids[10]
    seeded.signals["verse"] = add_match(
        sessions, seeded.posts["verse"], "high", [("verse_cue", "quran:3:139", "3:139", VERSE_139)]
    )[0]
    seeded.signals["threat"] = add_match(
        sessions, seeded.posts["threat"], "critical", [("threat", "threat.retaliate", None, THREAT)]
    )[0]
    add_match(sessions, seeded.posts["plain"], "none", [], flagged=False)
    add_match(
        sessions,
        seeded.posts["english"],
        "medium",
        [("threat", "threat.strike_en", None, "strike the occupier bases")],
    )
    return seeded


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    page = client.get("/login")
    token = CSRF_FIELD.search(page.text)
    assert token, page.text
    resp = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    return resp.status_code


def csrf(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    found = CSRF_META.search(page.text)
    assert found, page.text
    return found.group(1)


ROW = re.compile(r'<tr class="row" data-post="(\d+)"')


def analyst_signed_in(sessions: sessionmaker[Session]) -> tuple[Seeded, TestClient]:
    """The seeded posts and a client signed in as the analyst (the queue tests' start)."""
    make_users(sessions)
    seeded = seed(sessions)
    client = make_client(sessions)
    assert login(client, "analyst") == 303
    return seeded, client


def shown(client: TestClient, query: str = "") -> list[int]:
    """The post ids of the queue page for ``query``, in the order shown."""
    resp = client.get("/" + (f"?{query}" if query else ""))
    assert resp.status_code == 200, resp.text
    return [int(x) for x in ROW.findall(resp.text)]
