"""CSV exports open safely in a spreadsheet (#11, finding 4), from the CLI and the console.

Channels are hostile: a post whose text is a formula must reach the analyst's Excel or
LibreOffice as text, never be evaluated. The file starts with a UTF-8 BOM so that the Arabic is
read as UTF-8.
"""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from monitor.collect.records import ForwardInfo, PostRecord
from monitor.store.channels import ensure_channel
from monitor.store.export import csv_cell
from monitor.store.models import Post
from tests.conftest import CliRunner, Database
from tests.web_support import NOW, VERSE_139, add_match, login, make_client, make_users, store_posts

HOSTILE = ['=HYPERLINK("http://x","click")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def hostile_posts(db: Database) -> dict[int, str]:
    """Stored posts, all flagged: message id -> the text as stored."""
    with db.sessions.begin() as s:
        channel_id = ensure_channel(
            s, "hostile_chan", source="export", title="=cmd|' /C calc'!A0"
        ).id
    records = [
        PostRecord(i + 1, NOW, text, "export", forwarded_from=ForwardInfo(None, None, "=1+1"))
        for i, text in enumerate([*HOSTILE, VERSE_139])
    ]
    post_ids = store_posts(db.sessions, channel_id, records)
    for post_id in post_ids.values():
        add_match(db.sessions, post_id, "high", [])
    with db.sessions() as s:
        texts = {p.message_id: p.text for p in s.scalars(select(Post))}
    # The dangerous first character survived ingestion: otherwise this test proves nothing.
    assert [texts[i + 1][:1] for i in range(len(HOSTILE))] == [h[:1] for h in HOSTILE]
    return texts


def check_table(raw: bytes, texts: dict[int, str]) -> None:
    assert raw.startswith(BOM.encode())
    decoded = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(decoded, newline="")))
    header, body = rows[0], rows[1:]
    assert all(len(row) == len(header) for row in body), "a CR or tab split a row"
    table = [dict(zip(header, row, strict=True)) for row in body]
    assert len(table) == len(texts)
    for row in table:
        original = texts[int(row["message_id"])]
        expected = "'" + original if original.startswith(FORMULA_START) else original
        assert row["text"] == expected
        # A flat cell since #14 (no longer hidden inside JSON), so neutralised like the text.
        assert row["forwarded_from"] == "'=1+1"
    assert any(row["text"] == VERSE_139 for row in table)  # the Arabic reads back as written
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_START), cell
    # Text cells are quoted, so a ";" inside one cannot start a cell where ";" separates.
    assert '"\'=HYPERLINK(""http://x"",""click"")"' in decoded


def test_cli_csv_exports_neutralise_formulas(run_cli: CliRunner, db: Database) -> None:
    texts = hostile_posts(db)
    for what in ("posts", "flags"):
        out = run_cli("export", what, "--format", "csv", db_url=db.url)
        assert out.code == 0, out.err
        check_table(out.out.encode("utf-8"), texts)
    # JSONL is data for programs, not spreadsheets: the text is exactly as stored.
    jsonl = run_cli("export", "posts", "--format", "jsonl", db_url=db.url)
    exported = {r["message_id"]: r["text"] for r in map(json.loads, jsonl.out.splitlines())}
    assert exported == texts and not jsonl.out.startswith(BOM)


def test_console_csv_export_neutralises_formulas(db: Database) -> None:
    texts = hostile_posts(db)
    make_users(db.sessions)
    client = make_client(db.sessions)
    assert login(client, "analyst") == 303
    resp = client.get("/export.csv")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    check_table(resp.content, texts)
    jsonl = client.get("/export.jsonl").text
    assert {json.loads(line)["text"] for line in jsonl.splitlines()} == set(texts.values())


def test_numbers_we_produce_stay_numbers() -> None:
    """Only text can carry a formula: ids, counts and scores (even negative) are not quoted."""
    assert csv_cell(-1) == -1 and csv_cell(-0.5) == -0.5 and csv_cell(3) == 3
    assert csv_cell("-1") == "'-1"  # the same characters as text from a channel are neutralised
    assert csv_cell(True) == "true" and csv_cell({"a": "=1"}) == '{"a": "=1"}'
