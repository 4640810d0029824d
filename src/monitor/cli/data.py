"""`monitor import` and `monitor export`: moving posts in and out of the database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import click

from monitor.cli.context import Runtime
from monitor.collect.export import ExportChannel, Rejected, open_export, read_export
from monitor.collect.records import PostRecord
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline, Rejection, RunSummary
from monitor.store.channels import ensure_channel
from monitor.store.export import FLAG_FIELDS, POST_FIELDS, iter_posts, write_csv, write_jsonl

EXIT_REJECTED = 3


def parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"not a date: {value!r} (use YYYY-MM-DD or an ISO 8601 time)", key="--since"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def import_export_file(
    rt: Runtime, pipeline: Pipeline, path: Path, handle: str, group: str | None
) -> RunSummary:
    """Stream a Telegram Desktop export into the channel; rejected messages go to stderr."""
    with rt.sessions.begin() as session:
        channel_id = ensure_channel(session, handle, source="export", group=group).id

    def on_channel(info: ExportChannel) -> None:
        with rt.sessions.begin() as session:
            ensure_channel(session, handle, title=info.name, telegram_id=info.id)

    def items(fp: BinaryIO) -> Iterator[PostRecord | Rejection]:
        for item in read_export(
            fp,
            on_channel=on_channel,
            media_root=media_root,
            max_depth=rt.settings.input_max_depth,  # hostile files are bounded (#11)
            max_message_bytes=rt.settings.export_max_message_bytes,
        ):
            if isinstance(item, Rejected):
                yield Rejection(f"message {item.message_id} (#{item.index + 1})", item.reason)
            else:
                yield item

    def report(rej: Rejection) -> None:
        click.echo(f"{path}: {rej}", err=True)

    media_root = path if path.is_dir() else path.parent
    with open_export(path) as fp:
        return pipeline.run(channel_id, items(fp), source="export", on_reject=report)


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--channel", "handle", required=True, help="Channel handle to store the posts under.")
@click.option("--group", help="Actor group the channel belongs to (created if new).")
@click.pass_obj
def import_cmd(rt: Runtime, path: Path, handle: str, group: str | None) -> None:
    """Import a Telegram Desktop export (result.json, or its folder) into the database.

    Importing the same export again changes nothing; a changed text becomes a new version.
    Malformed messages are reported with their id and skipped (exit code 3).
    """
    pipeline = rt.pipeline()
    summary = import_export_file(rt, pipeline, path, handle, group)
    click.echo(f"{path}: {summary.line()}")
    if summary.rejected:
        sys.exit(EXIT_REJECTED)


@click.command("export")
@click.argument("what", type=click.Choice(["posts", "flags"]))
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--since", help="Only posts dated on or after this date (YYYY-MM-DD, UTC).")
@click.pass_obj
def export_cmd(rt: Runtime, what: str, fmt: str, since: str | None) -> None:
    """Write stored posts, or flagged posts with their review, to stdout."""
    when = parse_since(since)
    sessions = rt.migrated_sessions()
    flagged = what == "flags"
    out = sys.stdout
    with sessions() as session:
        rows = iter_posts(session, since=when, flagged_only=flagged)
        if fmt == "jsonl":
            write_jsonl(rows, out)
        else:
            write_csv(rows, out, FLAG_FIELDS if flagged else POST_FIELDS)


COMMANDS = [import_cmd, export_cmd]
