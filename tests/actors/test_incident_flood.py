"""One incident flooded with claims (#16 hardening; channel content is hostile input): sock-puppet
channels posting copies of one claim make one incident of many sources. Its status stays what
the sources say, and its page lists a bounded page of them, with the counts of all of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.actors.incidents import Claim, place, refresh, take_events
from monitor.store.channels import ensure_channel
from monitor.store.models import EchoCluster, EchoMember, Incident, Post
from monitor.web.incidents import SOURCES_SHOWN
from tests.conftest import Database
from tests.web_support import login, make_client, make_users

T0 = datetime(2024, 2, 3, 6, tzinfo=UTC)
WINDOW = timedelta(hours=24)
HOSTILE = "<img src=x onerror=alert(1)>"
ROW = re.compile(r'<tr data-post="(\d+)">')


def _post(
    s: Session, channel_id: int, mid: int, at: datetime, cluster: int | None, fwd: str | None
) -> int:
    p = Post(
        channel_id=channel_id,
        message_id=mid,
        date=at,
        text="استهداف قاعدة حرير بالطائرات المسيرة",
        text_sha256="x",
        source="export",
        first_seen_at=at,
        fwd_channel=fwd,
    )
    s.add(p)
    s.flush()
    if cluster is not None:
        s.add(EchoMember(post_id=p.id, cluster_id=cluster, similarity=0.9))
    return p.id


def _claim(
    s: Session,
    handle: str,
    mid: int,
    at: datetime,
    *,
    cluster: int | None = None,
    fwd: str | None = None,
    claimant: str | None = None,
    weapon: str | None = "drone",
) -> tuple[int, int]:
    """A claim of Harir placed as the hook places it; (incident id, post id)."""
    channel_id = ensure_channel(s, handle).id
    pid = _post(s, channel_id, mid, at, cluster, fwd)
    claim = Claim(pid, channel_id, at, "harir", weapon, claimant, "text")
    incident_id = place(s, claim, WINDOW)
    refresh(s, incident_id)
    return incident_id, pid


def _flood(s: Session, n: int, channels: int) -> tuple[int, list[int]]:
    """``n`` copies of one statement from ``channels`` puppets; (incident id, post ids)."""
    cluster = EchoCluster()
    s.add(cluster)
    s.flush()
    got = [
        _claim(
            s,
            f"puppet_{i % channels:03d}",
            i + 1,
            T0 + timedelta(minutes=i),
            cluster=cluster.id,
            weapon="rockets" if i % 3 == 0 else "drone",
        )
        for i in range(n)
    ]
    assert len({iid for iid, _ in got}) == 1
    return got[0][0], [pid for _, pid in got]


def test_a_flood_of_copies_stays_claimed_until_an_independent_channel_claims_it(
    db: Database,
) -> None:
    with db.sessions.begin() as s:
        incident_id, _ = _flood(s, 300, 60)
        take_events(s)
        incident = s.get_one(Incident, incident_id)
        assert incident.status == "claimed"
        assert incident.weapon == "drone"  # 200 of the 300 copies
        assert incident.first_claim_at == T0
        assert incident.last_claim_at == T0 + timedelta(minutes=299)
        # Another copy from a channel not seen before is no other voice.
        cluster = s.scalar(select(EchoMember.cluster_id).limit(1))
        _claim(s, "late_puppet", 1, T0 + timedelta(hours=6), cluster=cluster)
        assert s.get_one(Incident, incident_id).status == "claimed"
        assert take_events(s) == []
        # A statement of its own from another channel is.
        got, pid = _claim(s, "independent", 1, T0 + timedelta(hours=9))
        assert got == incident_id
        assert s.get_one(Incident, incident_id).status == "corroborated"
        [event] = take_events(s)
        assert (event.kind, event.incident_id, event.post_id) == ("corroborated", incident_id, pid)


def test_a_flooded_incident_page_lists_a_page_of_sources_and_the_next_page_the_rest(
    db: Database,
) -> None:
    n = SOURCES_SHOWN + 50
    with db.sessions.begin() as s:
        incident_id, posts = _flood(s, n - 1, 40)
        ensure_channel(s, "puppet_000").title = HOSTILE
        # The last claim, past the first page, is the only one naming its claimant.
        _, last = _claim(s, "kh", 1, T0 + timedelta(hours=20), claimant="Kataib Hezbollah")
        posts.append(last)
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303

    first = client.get(f"/incidents/{incident_id}")
    assert first.status_code == 200
    shown = [int(p) for p in ROW.findall(first.text)]
    assert shown == posts[:SOURCES_SHOWN]  # the earliest first: the first claimant stays
    text = " ".join(first.text.split())
    assert f"{n} from 41 channels" in text
    assert f"Sources 1–{SOURCES_SHOWN} of {n}, in claim order; 50 more" in text
    assert "Kataib Hezbollah" in text  # the whole incident's claimants
    assert HOSTILE not in first.text and "&lt;img src=x" in first.text
    nxt = re.search(r'href="(/incidents/\d+\?after=\d+)" rel="next"', first.text)
    assert nxt is not None

    second = client.get(nxt.group(1))
    assert second.status_code == 200
    assert [int(p) for p in ROW.findall(second.text)] == posts[SOURCES_SHOWN:]
    says = re.search(r'<p class="sources-page">(.*?)</p>', second.text, re.S)
    assert says is not None
    assert f"Sources {SOURCES_SHOWN + 1}–{n} of {n}, in claim order." in says.group(1)
    assert "more" not in says.group(1) and 'rel="next"' not in second.text
    assert f'href="/incidents/{incident_id}">First sources' in second.text

    listing = client.get("/incidents")
    row = re.search(rf'<tr data-incident="{incident_id}">(.*?)</tr>', listing.text, re.S)
    assert row is not None and f"<td>{n}</td>" in row.group(1)
    assert "Kataib Hezbollah" in row.group(1)

    with db.sessions.begin() as s:
        elsewhere = _claim(s, "elsewhere", 1, T0 + timedelta(days=9))[1]  # another incident's
    for bad in ("x", "0", str(elsewhere), str(10**9)):
        resp = client.get(f"/incidents/{incident_id}?after={bad}")
        assert resp.status_code == 400 and "after" in resp.text
