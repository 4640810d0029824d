"""`monitor import` and `monitor export`: moving posts in and out of the database."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import click

from monitor.cli.context import Runtime
from monitor.collect.export import (
    ExportChannel,
    ExportFormatError,
    Rejected,
    open_export,
    read_export,
)
from monitor.collect.records import PostRecord
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline, Rejection, RunSummary
from monitor.store.channels import ensure_channel, get_channel, normalise_handle
from monitor.store.export import FLAG_FIELDS, POST_FIELDS, iter_posts, write_csv, write_jsonl

EXIT_REJECTED = 3

Item = PostRecord | Rejection


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


def _first_batch(items: Iterator[PostRecord | Rejection], size: int, head: list[Item]) -> None:
    """Read into ``head`` up to the end of the first batch that holds a post (or the end).

    Nothing is written until then, so an export that is missing, not JSON or broken before
    its first batch creates no channel and no group (#14). Batches of only rejections are read
    on: ``head`` then holds rejections, which the pipeline keeps in its summary anyway. ``head``
    ends on a batch boundary, so the pipeline stores that batch before reading further.
    """
    has_post = False
    for item in items:  # one by one: rejections read before a break are still reported
        head.append(item)
        has_post = has_post or isinstance(item, PostRecord)
        if has_post and len(head) % size == 0:
            return


def _not_stored(exc: ExportFormatError, handle: str, existed: bool) -> ConfigError:
    fate = "left unchanged" if existed else "not created"
    return ConfigError(
        f"{exc.message}; nothing was stored and channel {handle} was {fate}", file=exc.file
    )


def _partly_stored(exc: ExportFormatError, summary: RunSummary) -> ConfigError:
    s = summary.stored
    return ConfigError(
        f"{exc.message}; the first {summary.fetched} post(s) read were stored ({s.new} new, "
        f"{s.edited} edited, {s.unchanged} unchanged) and the rest of the export was not: "
        "repair or re-export it and import it again (stored posts are not duplicated)",
        file=exc.file,
    )


def import_export_file(
    rt: Runtime,
    pipeline: Pipeline,
    path: Path,
    handle: str,
    group: str | None,
    *,
    transform: Callable[[PostRecord], PostRecord] | None = None,
) -> RunSummary:
    """Stream a Telegram Desktop export into the channel; rejected messages go to stderr.

    ``transform`` changes each post on its way in (the demo moves the sample's dates, #14)."""
    handle = normalise_handle(handle)  # a bad handle is refused before the file is read
    header: list[ExportChannel] = []
    media_root = path if path.is_dir() else path.parent

    def items(fp: BinaryIO) -> Iterator[PostRecord | Rejection]:
        for item in read_export(
            fp,
            on_channel=header.append,
            media_root=media_root,
            max_depth=rt.settings.input_max_depth,  # hostile files are bounded (#11)
            max_message_bytes=rt.settings.export_max_message_bytes,
        ):
            if isinstance(item, Rejected):
                yield Rejection(item.where, item.reason)
            else:
                yield transform(item) if transform is not None else item

    def report(rej: Rejection) -> None:
        click.echo(f"{path}: {rej}", err=True)

    sessions = rt.migrated_sessions()  # checked first: no point reading a file we cannot store
    with open_export(path) as fp:
        stream, head = items(fp), list[Item]()
        try:
            _first_batch(stream, pipeline.batch_size, head)
        except ExportFormatError as exc:
            for item in head:  # found before the break: still worth fixing
                if isinstance(item, Rejection):
                    report(item)
            with sessions() as session:
                existed = get_channel(session, handle) is not None
            raise _not_stored(exc, handle, existed) from None
        info = header[0] if header else ExportChannel(None, None, None)
        with sessions.begin() as session:
            channel = ensure_channel(
                session,
                handle,
                source="export",
                group=group,
                title=info.name,
                telegram_id=info.id,
            )
            channel_id = channel.id
        summary = RunSummary()
        try:
            return pipeline.run(
                channel_id, chain(head, stream), source="export", on_reject=report, summary=summary
            )
        except ExportFormatError as exc:
            raise _partly_stored(exc, summary) from None


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--channel", "handle", required=True, help="Channel handle to store the posts under.")
@click.option("--group", help="Actor group the channel belongs to (created if new).")
@click.pass_obj
def import_cmd(rt: Runtime, path: Path, handle: str, group: str | None) -> None:
    """Import a Telegram Desktop export (result.json, or its folder) into the database.

    Importing the same export again changes nothing; a changed text becomes a new version.
    Malformed messages are reported with their id and skipped (exit code 3). An export that
    cannot be read creates nothing (exit code 2); one broken part-way keeps the batches stored
    before the damage, and the error says how many posts that is.
    """
    pipeline = rt.pipeline()
    summary = import_export_file(rt, pipeline, path, handle, group)
    click.echo(f"{path}: {summary.line()}")
    if summary.rejected:
        sys.exit(EXIT_REJECTED)


@click.command("export")
@click.argument("what", type=click.Choice(["posts", "flags", "graph", "incidents"]))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "gexf", "graphml"]),
    help="posts, flags, incidents: jsonl (default) or csv; graph: gexf (default), graphml or csv.",
)
@click.option(
    "--since",
    help="Only posts dated on or after this date (YYYY-MM-DD, UTC); incidents: first claimed.",
)
@click.pass_obj
def export_cmd(rt: Runtime, what: str, fmt: str | None, since: str | None) -> None:
    """Write stored posts, flagged posts with their review, the channel graph or the
    attack-claim incidents to stdout.

    JSONL is for programs: one record a line, signals and review nested. CSV is for
    spreadsheets: a UTF-8 BOM, formulas neutralised, one flat cell per column: channel, group,
    message_id, date, severity, score, flagged, kinds, refs, matched, link (t.me), console
    (MONITOR_CONSOLE_URL/posts/ID), text and the post's metadata; flags add review_state,
    review_by, review_at, review_note. README "Exporting" lists every column.

    graph: channels as nodes (group, kind, monitored, community), forward, mention, link and
    echo edges weighted by posts, as GEXF or GraphML for Gephi, or CSV edges.

    incidents: id, first_claim, last_claim, claimants, target (id, name, lat, lon), weapon,
    status, sources (channel, message_id, date, layer); README "Incidents".
    """
    if what == "graph":
        _export_graph(rt, fmt or "gexf", since)
        return
    if what == "incidents":
        _export_incidents(rt, fmt or "jsonl", since)
        return
    if fmt not in (None, "jsonl", "csv"):
        raise click.BadParameter(f"{what} are exported as jsonl or csv", param_hint="'--format'")
    fmt = fmt or "jsonl"
    when = parse_since(since)
    sessions = rt.migrated_sessions()
    flagged = what == "flags"
    out = sys.stdout
    with sessions() as session:
        rows = iter_posts(session, since=when, flagged_only=flagged)
        if fmt == "jsonl":
            write_jsonl(rows, out)
        else:
            fields = FLAG_FIELDS if flagged else POST_FIELDS
            write_csv(rows, out, fields, console_url=rt.settings.console_url)


def _export_graph(rt: Runtime, fmt: str, since: str | None) -> None:
    from monitor.network.graph import build_graph, write_graph

    if fmt == "jsonl":
        raise click.BadParameter(
            "the graph is exported as gexf, graphml or csv", param_hint="'--format'"
        )
    if since is not None:
        raise click.BadParameter("the graph covers every stored post", param_hint="'--since'")
    with rt.migrated_sessions()() as session:
        graph = build_graph(session)
    write_graph(graph, fmt, sys.stdout)


def _export_incidents(rt: Runtime, fmt: str, since: str | None) -> None:
    from monitor.actors.incidents_export import write_csv as write_incidents_csv
    from monitor.actors.incidents_export import write_jsonl as write_incidents_jsonl
    from monitor.actors.incidents_read import Filters, iter_incidents
    from monitor.actors.registry import load_registry

    if fmt not in ("jsonl", "csv"):
        raise click.BadParameter("incidents are exported as jsonl or csv", param_hint="'--format'")
    filters = Filters(since=parse_since(since))
    registry = load_registry(rt.settings.config_dir)
    with rt.migrated_sessions()() as session:
        views = iter_incidents(session, registry, filters)
        if fmt == "jsonl":
            write_incidents_jsonl(views, sys.stdout)
        else:
            write_incidents_csv(views, sys.stdout, rt.settings.console_url)


COMMANDS = [import_cmd, export_cmd]
