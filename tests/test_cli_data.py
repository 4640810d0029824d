"""`monitor import` / `export` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from monitor.store.models import CollectionRun, Post, PostVersion
from tests.conftest import SAMPLE, CliRunner, Database

BAD = SAMPLE.parent / "bad_result.json"


def table_counts(db: Database) -> tuple[int, int]:
    with db.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Post)) or 0,
            s.scalar(select(func.count()).select_from(PostVersion)) or 0,
        )


def test_import_twice_leaves_the_same_rows(run_cli: CliRunner, db: Database) -> None:
    first = run_cli("import", str(SAMPLE), "--channel", "@sarayat_alfajr", db_url=db.url)
    assert first.code == 0, first.err
    assert "46 new" in first.out
    with db.sessions() as s:
        rows = [(p.message_id, p.text, p.text_sha256) for p in s.scalars(select(Post))]
    counts = table_counts(db)
    second = run_cli("import", str(SAMPLE.parent), "--channel", "sarayat_alfajr", db_url=db.url)
    assert second.code == 0, second.err
    assert "0 new, 0 edited" in second.out and "46 unchanged" in second.out
    with db.sessions() as s:
        assert sorted(rows) == sorted(
            (p.message_id, p.text, p.text_sha256) for p in s.scalars(select(Post))
        )
        runs = s.scalars(select(CollectionRun.status)).all()
    assert table_counts(db) == counts == (46, 46)
    assert runs == ["ok", "ok"]


def test_edited_export_keeps_both_texts(run_cli: CliRunner, db: Database, tmp_path: Path) -> None:
    assert run_cli("import", str(SAMPLE), "--channel", "c", db_url=db.url).code == 0
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    target = next(m for m in data["messages"] if m["id"] == 3325)
    text = target["text"]
    original = (
        text
        if isinstance(text, str)
        else "".join(p if isinstance(p, str) else p["text"] for p in text)
    )
    target["text"] = original + " (تحديث)"
    target["text_entities"] = [{"type": "plain", "text": target["text"]}]
    edited_ts = int(target["date_unixtime"]) + 3600
    target["edited_unixtime"] = str(edited_ts)
    edited = tmp_path / "result.json"
    edited.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = run_cli("import", str(edited), "--channel", "c", db_url=db.url)
    assert result.code == 0 and "1 edited" in result.out
    out = run_cli("export", "posts", "--format", "jsonl", db_url=db.url)
    post = next(json.loads(line) for line in out.out.splitlines() if '"message_id": 3325' in line)
    assert post["text"] == original + " (تحديث)"
    assert post["versions"] == 2
    expected = datetime.fromtimestamp(edited_ts, UTC).isoformat().replace("+00:00", "Z")
    assert post["edited_at"] == expected
    with db.sessions() as s:
        texts = s.scalars(select(PostVersion.text).join(Post).where(Post.message_id == 3325))
        assert sorted(texts) == sorted([original, original + " (تحديث)"])


def test_malformed_messages_are_reported_and_the_rest_imported(
    run_cli: CliRunner, db: Database
) -> None:
    result = run_cli("import", str(BAD), "--channel", "bad", db_url=db.url)
    assert result.code == 3
    assert "message 4102x (#2): message id must be a positive integer" in result.err
    assert "message 4104 (#4): 'date_unixtime' is not a Unix timestamp" in result.err
    assert "message 4106 (#6)" in result.err
    assert "Traceback" not in result.err
    with db.sessions() as s:
        assert sorted(s.scalars(select(Post.message_id))) == [4101, 4103, 4107]
        assert s.scalars(select(CollectionRun.status)).one() == "partial"


def test_missing_export_and_unmigrated_database_exit_2(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("import", str(tmp_path / "nope.json"), "--channel", "x")
    assert result.code == 2
    assert "run `monitor db upgrade`" in result.err
    assert run_cli("db", "upgrade").code == 0
    missing = run_cli("import", str(tmp_path / "nope.json"), "--channel", "x")
    assert missing.code == 2 and "nope.json: no such Telegram export file" in missing.err
    bad_handle = run_cli("import", str(SAMPLE), "--channel", "not a handle!")
    assert bad_handle.code == 2 and "not a channel handle" in bad_handle.err


def test_export_posts_fields_jsonl_and_csv(
    run_cli: CliRunner, db: Database, tmp_path: Path
) -> None:
    assert run_cli("import", str(SAMPLE), "--channel", "sarayat_alfajr", db_url=db.url).code == 0
    out = run_cli("export", "posts", "--format", "jsonl", db_url=db.url)
    assert out.code == 0
    rows = [json.loads(line) for line in out.out.splitlines()]
    assert len(rows) == 46
    fields = [
        "channel", "message_id", "date", "text", "views", "forwards", "forwarded_from",
        "reply_to", "media", "edited_at", "deleted_at", "versions", "source", "flagged",
        "severity", "signals", "ocr", "cluster", "quotes", "mentions", "incident",
    ]  # fmt: skip
    assert all(list(r) == fields for r in rows)
    by_id = {r["message_id"]: r for r in rows}
    assert all(r["source"] == "export" and r["channel"] == "sarayat_alfajr" for r in rows)
    assert any(r["forwarded_from"] and r["forwarded_from"]["name"] for r in rows)
    assert any(r["reply_to"] for r in rows)
    video = next(r for r in rows if r["media"] and r["media"]["type"] == "video")
    assert video["media"]["mime"] == "video/mp4" and video["media"]["duration"]
    doc = next(r for r in rows if r["media"] and r["media"]["type"] == "document")
    assert doc["media"]["sha256"] and len(doc["media"]["sha256"]) == 64
    assert by_id[3320]["date"].endswith("Z")
    kaabi = by_id[3322]
    assert kaabi["flagged"] and "threat" in {s["kind"] for s in kaabi["signals"]}
    for sig in kaabi["signals"]:
        assert kaabi["text"][sig["start"] : sig["end"]] == sig["matched"]
    # The signals are as `monitor scan` prints them, down to ref and refs on non-verse kinds.
    posts_file = tmp_path / "kaabi.jsonl"
    posts_file.write_text(json.dumps({"id": 3322, "text": kaabi["text"]}) + "\n", "utf-8")
    [scanned] = [json.loads(line) for line in run_cli("scan", str(posts_file)).out.splitlines()]
    assert kaabi["signals"] == scanned["signals"]
    assert any(s["ref"] is None and s["refs"] == [] for s in kaabi["signals"])

    since = run_cli("export", "posts", "--since", "2023-11-02", db_url=db.url)
    dates = [json.loads(line)["date"] for line in since.out.splitlines()]
    assert dates and all(d >= "2023-11-02" for d in dates) and len(dates) < 46

    as_csv = run_cli("export", "flags", "--format", "csv", db_url=db.url)
    # A BOM first, for spreadsheets (#11): read as a file of UTF-8 with BOM would be.
    assert as_csv.out.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(as_csv.out.encode().decode("utf-8-sig"))))
    assert table and all(r["flagged"] == "true" for r in table)
    # Flat columns for spreadsheets, not the JSONL fields (#14; README "Exporting").
    assert list(table[0]) == [
        "channel", "group", "message_id", "date", "severity", "score", "flagged", "kinds",
        "refs", "matched", "link", "console", "text", "views", "forwards", "forwarded_from",
        "forwarded_link", "reply_to", "media", "edited_at", "deleted_at", "versions", "source",
        "review_state", "review_by", "review_at", "review_note",
    ]  # fmt: skip
    by_message = {int(r["message_id"]): r for r in table}
    assert "threat" in by_message[3322]["kinds"].split("; ")
    assert all(r["matched"] and r["review_state"] == "unreviewed" for r in table)
    assert not any(v.startswith(("{", "[")) for r in table for k, v in r.items() if k != "text")


def test_bad_since_is_a_usage_error(run_cli: CliRunner) -> None:
    run_cli("db", "upgrade")
    result = run_cli("export", "posts", "--since", "last tuesday")
    assert result.code == 2 and "--since: not a date" in result.err


def test_scan_tells_jsonl_from_an_export_by_content(run_cli: CliRunner, tmp_path: Path) -> None:
    """The name does not decide: JSONL saved as `posts.json` is still JSONL, and a Desktop
    export is recognised as a file, as its folder, on stdin and minified."""
    cue = "ولا تهنوا ولا تحزنوا وأنتم الأعلون إن كنتم مؤمنين"
    jsonl = "\n".join(json.dumps({"id": f"p{i}", "text": t}) for i, t in enumerate([cue, "صباح"]))
    named_json = tmp_path / "posts.json"
    named_json.write_text(jsonl + "\n", "utf-8")
    from_file = run_cli("scan", str(named_json))
    assert from_file.code == 0, from_file.err
    assert [json.loads(line)["id"] for line in from_file.out.splitlines()] == ["p0", "p1"]
    assert run_cli("scan", "-", input=jsonl).out == from_file.out

    minified = tmp_path / "minified.json"
    minified.write_text(json.dumps(json.loads(SAMPLE.read_text("utf-8"))), "utf-8")
    runs = [
        run_cli("scan", str(SAMPLE)),
        run_cli("scan", str(SAMPLE.parent)),
        run_cli("scan", "-", input=SAMPLE.read_text("utf-8")),
        run_cli("scan", str(minified)),
    ]
    assert all(r.code == 0 for r in runs), [r.err for r in runs]
    assert len(runs[0].out.splitlines()) == 46
    assert all(r.out == runs[0].out for r in runs)
