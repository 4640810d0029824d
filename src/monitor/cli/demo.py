"""`monitor demo`: the whole pipeline on the bundled sample channels, then the console.

The sample (config/sample/: channels.yaml, result.json, exports/) was written for the project
with dates of late 2023; the demo moves them forward by whole weeks, so that its last post is
within the past week and the overview has something to show, and a Friday greeting still
falls on a Friday (#14). Running it again on a later day moves the stored posts with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import func, select

from monitor.cli.channels import apply_channels_file
from monitor.cli.context import Runtime
from monitor.cli.data import import_export_file
from monitor.collect.records import PostRecord
from monitor.demo_logins import DEMO_ACCOUNTS, DEMO_PASSWORD
from monitor.store.channels import get_channel, normalise_handle
from monitor.store.channels_file import load_channels_file
from monitor.store.migrate import upgrade
from monitor.store.models import Channel, Match, Post, SignalRow, User
from monitor.store.users import add_user, end_sessions, hash_password, verify_password

SAMPLE_HANDLE = "sarayat_alfajr"
DEMO_USER = DEMO_ACCOUNTS[0][0]
# The last post of the bundled sample (sarayat_alfajr #3352); its dates are moved from there.
SAMPLE_END = datetime(2023, 11, 3, 19, 30, 41, tzinfo=UTC)
WEEK = timedelta(weeks=1)


def date_shift(now: datetime) -> timedelta:
    """The whole weeks that bring the sample's last post into the week before ``now``."""
    return max(now - SAMPLE_END, timedelta()) // WEEK * WEEK


def sample_channels(sample_dir: Path) -> list[tuple[str, Path]]:
    """(handle, export) of every channel in the sample's channels.yaml: result.json for the
    main sample channel, exports/HANDLE/result.json for the others."""
    out = []
    for entry in load_channels_file(sample_dir / "channels.yaml").channels or []:
        handle = normalise_handle(entry.handle)
        export = (
            sample_dir / "result.json"
            if handle == SAMPLE_HANDLE
            else sample_dir / "exports" / handle / "result.json"
        )
        out.append((handle, export))
    return out


def _mover(
    shift: timedelta, dates: dict[int, tuple[datetime, datetime | None]]
) -> Callable[[PostRecord], PostRecord]:
    """A post ``shift`` later, its new dates noted in ``dates`` by message id."""

    def moved(rec: PostRecord) -> PostRecord:
        edited = rec.edited_at + shift if rec.edited_at is not None else None
        new = replace(rec, date=rec.date + shift, edited_at=edited)
        dates[rec.message_id] = (new.date, new.edited_at)
        return new

    return moved


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def redate(rt: Runtime, handle: str, dates: dict[int, tuple[datetime, datetime | None]]) -> int:
    """Give the channel's stored posts the dates of this run (an import keeps a stored post's
    date); returns how many moved."""
    moved = 0
    with rt.sessions.begin() as s:
        channel = get_channel(s, handle)
        if channel is None:
            return 0
        for post in s.scalars(select(Post).where(Post.channel_id == channel.id)):
            want = dates.get(post.message_id)
            if want is not None and _utc(post.date) != want[0]:
                post.date, post.edited_at = want
                moved += 1
    return moved


def print_queue(rt: Runtime) -> int:
    """One line per flagged post, most severe first: channel, id, severity, kinds, verse refs."""
    with rt.sessions() as s:
        total = s.scalar(select(func.count()).select_from(Post)) or 0
        rows = s.execute(
            select(Channel.handle, Post.message_id, Match)
            .join(Post, Post.channel_id == Channel.id)
            .join(Match, Match.post_id == Post.id)
            .where(Match.flagged.is_(True))
            .order_by(Match.severity_rank.desc(), Match.score.desc(), Post.date.desc())
        ).all()
        click.echo(f"{total} posts stored, {len(rows)} flagged")
        for handle, message_id, match in rows:
            signals: list[SignalRow] = match.signals
            kinds = sorted({sig.kind for sig in signals})
            refs = sorted(
                {r for sig in signals for r in (sig.refs or [])},
                key=lambda r: tuple(int(x) for x in r.split(":")),
            )
            click.echo(
                f"{handle}\t{message_id}\t{match.severity}\t{','.join(kinds)}\t"
                f"{','.join(refs) or '-'}"
            )
    return len(rows)


def ensure_demo_users(rt: Runtime) -> None:
    """The demo's analyst, operator and admin, enabled, with the demo password. An account
    whose password or role was changed gets them back, and its sessions end."""
    with rt.sessions.begin() as s:
        for name, role, _ in DEMO_ACCOUNTS:
            user = s.scalar(select(User).where(User.username == name))
            if user is None:
                add_user(s, name, role, DEMO_PASSWORD, actor="demo")
                continue
            if user.role != role or not verify_password(user.password_hash, DEMO_PASSWORD):
                user.password_hash = hash_password(DEMO_PASSWORD)
                user.role = role
                end_sessions(user)
            user.disabled = False


async def read_images(rt: Runtime) -> str:
    """The sample's statement images, fetched from the export, hashed and read (#13)."""
    from monitor.collect.wiring import worker_name
    from monitor.media.fetch import media_fetcher
    from monitor.media.jobs import MediaWorker

    settings = rt.settings
    fetcher = media_fetcher(settings)
    try:
        worker = MediaWorker(rt.pipeline(), settings, fetcher, worker=worker_name(settings))
        reason = worker.ocr_off_reason()
        summary = await worker.run_once()
    finally:
        await fetcher.aclose()
    return summary.line() + (f" ({reason})" if reason else "")


@click.command("demo")
@click.option("--once", is_flag=True, help="Print the flagged queue and exit instead of serving.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_obj
def demo(rt: Runtime, once: bool, port: int) -> None:
    """Migrate, replay the sample channels (config/sample/) through the pipeline, and serve.

    The sample's dates are moved forward by whole weeks, to the week before today. The console
    shows the demo accounts (demo-analyst, demo-operator, demo-admin) and their password on
    its login page; they sign in on the demo's console only.
    """
    rt.demo = True
    rt.overrides["demo_logins"] = True
    settings = rt.settings
    upgrade(rt.engine)
    pipeline = rt.pipeline()
    sample_dir = settings.config_dir / "sample"
    with rt.sessions.begin() as s:
        apply_channels_file(s, load_channels_file(sample_dir / "channels.yaml"))
    shift = date_shift(datetime.now(UTC))
    for handle, export in sample_channels(sample_dir):
        dates: dict[int, tuple[datetime, datetime | None]] = {}
        summary = import_export_file(
            rt, pipeline, export, handle, None, transform=_mover(shift, dates)
        )
        line = f"{export}: {summary.line()}"
        n = redate(rt, handle, dates)
        click.echo(line + (f", {n} moved to this week's dates" if n else ""))
    # On a thread of its own: a caller may already run an event loop (a browser test does).
    with ThreadPoolExecutor(1) as pool:
        click.echo(pool.submit(asyncio.run, read_images(rt)).result())
    last = (SAMPLE_END + shift).date()
    click.echo(f"sample dates moved forward {shift.days // 7} weeks (last post on {last})")
    ensure_demo_users(rt)
    for name, role, _ in DEMO_ACCOUNTS:
        click.echo(f"demo login: {name} / {DEMO_PASSWORD} ({role})")
    print_queue(rt)
    if once:
        return
    from monitor.cli.web import serve_console

    click.echo(f"open http://127.0.0.1:{port}/ and sign in as {DEMO_USER} (or the operator, admin)")
    serve_console(rt, "127.0.0.1", port, demo=True)


COMMANDS = [demo]
