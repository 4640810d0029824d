"""`monitor scan` (offline, no database) and `monitor rematch`."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click

from monitor.cli.context import Runtime
from monitor.cli.data import EXIT_REJECTED, parse_since
from monitor.collect.export import open_export
from monitor.errors import ConfigError

# Enough for any one post; a first line longer than this is a minified export, not a post.
_FIRST_LINE_MAX = 1 << 20


def _looks_like_jsonl(first_line: bytes) -> bool:
    """A JSONL post is a whole object on one line. A Desktop export's first line is just `{`;
    minified, it is the whole export, which holds `messages`."""
    stripped = first_line.strip().removeprefix(b"\xef\xbb\xbf")
    if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
        return False
    try:
        first = json.loads(stripped)
    except ValueError:
        return False
    return isinstance(first, dict) and "messages" not in first


def _file_is_jsonl(path: Path) -> bool:
    """Decided by the content, not the name: `posts.json` may well hold JSONL."""
    try:
        with path.open("rb") as fh:
            line = fh.readline(_FIRST_LINE_MAX)
            while line and not line.strip():
                line = fh.readline(_FIRST_LINE_MAX)
    except OSError:
        return False  # the export reader reports it, naming the file
    whole = line.endswith(b"\n") or len(line) < _FIRST_LINE_MAX
    return whole and _looks_like_jsonl(line)


@click.command("scan")
@click.argument("path", type=click.Path(path_type=Path, allow_dash=True))
@click.pass_obj
def scan(rt: Runtime, path: Path) -> None:
    """Match posts offline and print one JSON result per post; no database needed.

    PATH is a JSONL file (one {"id", "text"} object per line; `channel`, `date`, `lang`
    optional, and `channel_kind`: group, leader, media or news, default group; on news, cue
    verses, short cues and attack claims do not count), a Telegram Desktop export (result.json
    or its folder), or - for stdin (empty stdin: no output, a note on stderr, exit code 0).
    Rejected lines are reported on stderr with their line number (exit code 3).
    """
    from monitor.match.scan import bounded_lines, scan_export, scan_jsonl

    matcher = rt.matcher
    out, err = sys.stdout, sys.stderr
    # Input files are hostile: depth and size are bounded while reading (#11).
    settings = rt.settings
    depth, line_max = settings.input_max_depth, settings.scan_max_line_bytes
    message_max = settings.export_max_message_bytes
    if str(path) == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        raw = data if isinstance(data, bytes) else data.encode("utf-8")
        if not raw.strip().removeprefix(b"\xef\xbb\xbf").strip():
            # Empty JSONL is zero posts, as an empty .jsonl file is: exit 0, so a pipeline whose
            # filter selected nothing does not fail; the note tells a person why nothing came
            # out, instead of "not a Telegram Desktop channel export" (#14).
            click.echo("monitor: no input on stdin: 0 posts scanned", err=True)
            return
        if _looks_like_jsonl(raw.lstrip().split(b"\n", 1)[0]):
            lines = bounded_lines(io.BytesIO(raw), line_max)
            rejected = scan_jsonl(lines, matcher, out, err, max_depth=depth)
        else:
            rejected = scan_export(
                io.BytesIO(raw), matcher, out, err, max_depth=depth, max_message_bytes=message_max
            )
    elif path.is_dir() or (path.suffix == ".json" and not _file_is_jsonl(path)):
        with open_export(path) as fp:
            rejected = scan_export(
                fp, matcher, out, err, max_depth=depth, max_message_bytes=message_max
            )
    else:
        try:
            with path.open("rb") as fh:
                lines = bounded_lines(fh, line_max)
                rejected = scan_jsonl(lines, matcher, out, err, max_depth=depth)
        except FileNotFoundError:
            raise ConfigError("no such file", file=path) from None
    if rejected:
        sys.exit(EXIT_REJECTED)


@click.command("rematch")
@click.option("--since", help="Only posts dated on or after this date (YYYY-MM-DD, UTC).")
@click.pass_obj
def rematch_cmd(rt: Runtime, since: str | None) -> None:
    """Re-run the current rules (CONFIG_DIR/rules) over stored posts; verdicts are replaced.

    Each post's mentions and incident source are read again with the rules and the registry
    as they are now; analysts' incident edits stand, and no alert is sent."""
    from monitor.match.persist import rematch

    when = parse_since(since)
    summary = rematch(rt.migrated_sessions(), rt.matcher, settings=rt.settings, since=when)
    click.echo(
        f"rematched {summary.posts} posts with rules {rt.matcher.rules.version[:12]}: "
        f"{summary.changed} verdicts changed, {summary.flagged} flagged"
    )


COMMANDS = [scan, rematch_cmd]
