"""`monitor export incidents` (#16): the incidents as JSONL records (interface.md) or as CSV,
one flat cell per column for spreadsheets, as `export posts` does (store/export.py)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from monitor.actors.incidents_read import IncidentView
from monitor.store.channels import post_link
from monitor.store.export import BOM, csv_cell

INCIDENT_CSV_FIELDS = [
    "id",
    "first_claim",
    "last_claim",
    "status",
    "weapon",
    "target",
    "target_id",
    "lat",
    "lon",
    "claimants",
    "channels",
    "sources",
    "links",
    "console",
]


def csv_row(record: dict[str, Any], console_url: str | None = None) -> dict[str, Any]:
    """A JSONL record as flat cells: lists joined with "; " (cells are quoted, see below)."""
    target = record["target"] or {}
    sources = record["sources"]
    return {
        "id": record["id"],
        "first_claim": record["first_claim"],
        "last_claim": record["last_claim"],
        "status": record["status"],
        "weapon": record["weapon"],
        "target": target.get("name"),
        "target_id": target.get("id"),
        "lat": target.get("lat"),
        "lon": target.get("lon"),
        "claimants": "; ".join(record["claimants"]),
        "channels": "; ".join(dict.fromkeys(s["channel"] for s in sources)),
        "sources": len(sources),
        "links": "; ".join(post_link(s["channel"], s["message_id"]) for s in sources),
        "console": f"{console_url or ''}/incidents/{record['id']}",
    }


def write_jsonl(views: Iterable[IncidentView], out: TextIO) -> int:
    n = 0
    for v in views:
        out.write(json.dumps(v.record(), ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(views: Iterable[IncidentView], out: TextIO, console_url: str | None = None) -> int:
    """A UTF-8 BOM, the header, one line per incident; text cells quoted and formulas
    neutralised (store/export.py, csv_cell): a site or group name is operator-typed text."""
    out.write(BOM)
    writer = csv.DictWriter(
        out, fieldnames=INCIDENT_CSV_FIELDS, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC
    )
    writer.writeheader()
    n = 0
    for v in views:
        row = csv_row(v.record(), console_url)
        writer.writerow({k: csv_cell(value) for k, value in row.items()})
        n += 1
    return n
