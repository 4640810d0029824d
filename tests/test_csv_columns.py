"""What a spreadsheet user sees in a CSV export (#14), from the CLI and the console, on SQLite
and PostgreSQL: the score, the group, the Telegram and console links, and the signals as
readable cells (kinds, verse refs, matched spans) instead of a JSON blob."""

from __future__ import annotations

import csv
import io
import json

from monitor.collect.records import ForwardInfo, MediaInfo, PostRecord
from monitor.store.channels import ensure_channel
from tests.conftest import CliRunner, Database
from tests.web_support import (
    NOW,
    THREAT,
    VERSE_139,
    add_match,
    csrf,
    login,
    make_client,
    make_users,
    store_posts,
)

# The threat comes first in the text: kinds follow the catalog, matched spans the text.
TEXT = f"بيان: {THREAT}. قال تعالى {VERSE_139}"
SPANS = [("verse_cue", "quran:3:139", "3:139", VERSE_139), ("threat", "threat.t", None, THREAT)]


def flagged_post(db: Database) -> int:
    with db.sessions.begin() as s:
        channel_id = ensure_channel(s, "sarayat_csv", source="export", group="Kataib Test").id
    [post_id] = store_posts(
        db.sessions,
        channel_id,
        [
            PostRecord(
                42,
                NOW,
                TEXT,
                "export",
                forwarded_from=ForwardInfo("sabereen_news", 77, "صابرين"),
                media=MediaInfo("video", "video/mp4", 1234, 12.5, "ab" * 32),
            )
        ],
    ).values()
    add_match(db.sessions, post_id, "critical", SPANS)  # score 40.0
    return post_id


def read(raw: str) -> list[dict[str, str]]:
    assert raw.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(raw.removeprefix("\ufeff"), newline="")))


def check(row: dict[str, str], post_id: int, console: str) -> None:
    assert row["channel"] == "sarayat_csv" and row["group"] == "Kataib Test"
    assert row["message_id"] == "42" and row["severity"] == "critical"
    assert float(row["score"]) == 40.0
    assert row["kinds"] == "verse_cue; threat"
    assert row["refs"] == "3:139"
    assert row["matched"] == f"{THREAT} | {VERSE_139}"
    assert row["link"] == "https://t.me/sarayat_csv/42"
    assert row["console"] == f"{console}/posts/{post_id}"
    assert row["text"] == TEXT and row["flagged"] == "true"
    assert row["forwarded_from"] == "صابرين"
    assert row["forwarded_link"] == "https://t.me/sabereen_news/77"
    assert row["media"] == "video" and row["versions"] == "1"


def test_cli_csv_has_score_group_links_and_readable_signals(
    run_cli: CliRunner, db: Database
) -> None:
    post_id = flagged_post(db)
    console = "https://console.example.org"
    for what in ("posts", "flags"):
        out = run_cli("export", what, "--format", "csv", db_url=db.url, MONITOR_CONSOLE_URL=console)
        assert out.code == 0, out.err
        [row] = read(out.out)
        check(row, post_id, console)
        assert ("review_state" in row) == (what == "flags")
    [flag] = read(run_cli("export", "flags", "--format", "csv", db_url=db.url).out)
    assert flag["review_state"] == "unreviewed" and flag["review_by"] == ""
    # The JSONL keeps its fields (interface.md): none of the CSV's columns leak into it.
    [record] = map(json.loads, run_cli("export", "flags", db_url=db.url).out.splitlines())
    assert "score" not in record and "group" not in record and "link" not in record
    assert {s["ref"] for s in record["signals"]} == {"3:139", None}  # still nested


def test_console_csv_has_the_same_columns_and_the_review(db: Database) -> None:
    post_id = flagged_post(db)
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    client.post(
        f"/posts/{post_id}/review",
        data={"decision": "escalated", "note": "=not a formula", "csrf_token": csrf(client)},
    )
    [row] = read(client.get("/export.csv").text)
    # The console's own address (console_url), so the link opens from a spreadsheet.
    check(row, post_id, "http://testserver")
    assert row["review_state"] == "escalated" and row["review_by"] == "analyst"
    assert row["review_at"].endswith("Z") and row["review_note"] == "'=not a formula"
    [record] = map(json.loads, client.get("/export.jsonl").text.splitlines())
    assert record["review"]["note"] == "=not a formula" and "score" not in record
