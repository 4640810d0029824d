"""The console's "Download evidence bundle" (#17): analysts get the post's bundle, the download
is audited, and a review decision made in the console is in the chain the bundle proves."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import select

from monitor.collect.records import PostRecord
from monitor.evidence.bundle_check import verify_bundle
from monitor.evidence.capture import EvidenceHook
from monitor.evidence.keys import load_signing_key
from monitor.store.ingest import Changed
from monitor.store.models import AuditLog, EvidenceEntry, Post
from tests.conftest import Database
from tests.web_support import csrf, login, make_client, make_users, seed


def test_an_analyst_downloads_a_verifiable_bundle_and_it_is_audited(
    db: Database, tmp_path: Path
) -> None:
    make_users(db.sessions)
    s = seed(db.sessions)
    with db.sessions.begin() as ses:  # the threat post, chained as the pipeline's hook would
        p = ses.get_one(Post, s.posts["threat"])
        record = PostRecord(p.message_id, p.date, p.text, "export")
        EvidenceHook()(ses, p.channel, [Changed(p.id, p.message_id, "new", record)])
    client = make_client(
        db.sessions, media_dir=tmp_path / "media", evidence_key=tmp_path / "k" / "signing.key"
    )
    assert login(client, "analyst") == 303
    post = s.posts["threat"]
    page = client.get(f"/posts/{post}").text
    assert f'action="/posts/{post}/evidence"' in page and "Download evidence bundle" in page
    token = csrf(client, f"/posts/{post}")
    reviewed = client.post(
        f"/posts/{post}/review",
        data={"decision": "confirmed", "note": "حقيقي", "csrf_token": token},
    )
    assert reviewed.status_code == 303
    with db.sessions() as ses:
        entry = ses.scalars(select(EvidenceEntry).where(EvidenceEntry.kind == "review")).one()
        assert entry.payload is not None
        assert json.loads(entry.payload)["by"] == "analyst"
    assert client.post(f"/posts/{post}/evidence").status_code == 403  # no CSRF token
    # The console never makes a key of its own: bundles it signed would not verify against
    # the service's published key.
    keyless = client.post(f"/posts/{post}/evidence", data={"csrf_token": token})
    assert keyless.status_code == 409 and "no evidence signing key" in keyless.text
    assert not (tmp_path / "k" / "signing.key").exists()
    load_signing_key(tmp_path / "k" / "signing.key")  # as `monitor run` makes it
    resp = client.post(f"/posts/{post}/evidence", data={"csrf_token": token})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/zip"
    assert f'filename="evidence-post-{post}.zip"' in resp.headers["content-disposition"]
    path = tmp_path / "download.zip"
    path.write_bytes(resp.content)
    report, fingerprint = verify_bundle(path, None)
    assert report.ok, report.lines()
    with zipfile.ZipFile(io.BytesIO(resp.content)) as z:
        records = [
            json.loads(z.read(n))
            for n in z.namelist()
            if n.startswith("records/") and n.endswith(".json")
        ]
    assert [r["decision"] for r in records] == ["confirmed"]
    with db.sessions() as ses:
        audit = ses.scalars(select(AuditLog).where(AuditLog.action == "post.evidence")).one()
        assert (audit.actor, audit.target) == ("analyst", f"post:{post}")
    assert fingerprint is not None
    missing = client.post("/posts/999999/evidence", data={"csrf_token": token})
    assert missing.status_code == 404
    # Stored without the pipeline's evidence hook: nothing to prove, said so.
    unproven = client.post(f"/posts/{s.posts['plain']}/evidence", data={"csrf_token": token})
    assert unproven.status_code == 409 and "no entries in the evidence chain" in unproven.text
