"""`monitor collect`, `monitor run`, `monitor login`: live collection (issue #4).

Exit codes: 0 every channel was collected (or skipped: disabled, cooling down, leased to
another worker); 1 at least one channel failed (each named on stderr, and recorded in its
health); 2 bad usage or configuration (unknown --channel, a session file already in use,
missing Telegram credentials for `login`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import click

from monitor.alerts.sender import Sender
from monitor.cli.context import Runtime
from monitor.collect.collector import Collector
from monitor.collect.leases import Leases
from monitor.collect.source import PassResult
from monitor.collect.telegram import TelegramClientLike, TelethonSource
from monitor.collect.wiring import live_sources, worker_name
from monitor.config import Settings
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.media.fetch import TelegramFactory
    from monitor.scheduler import Service

log = logging.getLogger(__name__)


def _report(results: list[PassResult]) -> int:
    failed = [r for r in results if r.failed]
    for r in results:
        if r.outcome == "ok":
            click.echo(r.line())
        else:
            click.echo(r.line(), err=True)
    ok = sum(r.outcome == "ok" for r in results)
    click.echo(f"{ok} of {len(results)} channels collected, {len(failed)} failed")
    return 1 if failed else 0


def _sender(rt: Runtime) -> Sender:
    from monitor.alerts.render import Renderer

    return Sender(rt.migrated_sessions(), rt.settings, Renderer(rt.settings.config_dir))


def _shared_client(client: TelegramClientLike) -> TelegramFactory:
    """The collector's own client for the media job: one session file, one client (#13)."""

    @contextlib.asynccontextmanager
    async def shared() -> AsyncIterator[TelegramClientLike]:
        yield client

    return shared


async def _serve(svc: Service, settings: Settings, once: bool) -> int:
    if once:
        code = _report(await svc.cycle())
        read = await svc.read_media()
        if read is not None:
            click.echo(read.line())
        sent = await svc.deliver()
        if sent is not None:
            click.echo(
                f"alerts: {sent.messages} messages, {sent.sent} delivered, "
                f"{sent.retrying} to retry, {sent.failed} failed"
            )
        return code
    if settings.metrics_port:
        from monitor import metrics

        metrics.serve(settings.metrics_port)
        click.echo(f"metrics on http://127.0.0.1:{settings.metrics_port}/metrics")
    await svc.serve()
    return 0


async def _collect(rt: Runtime, handle: str | None, *, service: bool, once: bool) -> int:
    from monitor.logs import configure_logging
    from monitor.scheduler import Service

    settings = rt.settings
    configure_logging(settings)
    pipeline = rt.pipeline()
    leases = Leases(pipeline.sessions, worker_name(settings), ttl=settings.lease_seconds)
    async with live_sources(settings) as (sources, unavailable):
        collector = Collector(pipeline, settings, sources, unavailable=unavailable, leases=leases)
        if "telethon" in sources:
            collector.account.mark("ok")
        if service:
            from monitor.media.fetch import media_fetcher
            from monitor.media.jobs import MediaWorker

            telethon = sources.get("telethon")
            shared = (
                _shared_client(telethon.client) if isinstance(telethon, TelethonSource) else None
            )
            fetcher = media_fetcher(settings, telegram=shared)
            media = MediaWorker(
                pipeline,
                settings,
                fetcher,
                worker=worker_name(settings),
                telegram=shared is not None,
            )
            reason = media.ocr_off_reason()
            if reason:
                log.warning("statement images are fetched and hashed, not read: %s", reason)
            svc = Service(collector, leases, _sender(rt), media)
            try:
                return await _serve(svc, settings, once)
            finally:
                await fetcher.aclose()
        ids = collector.channel_ids(handle)
        if handle is not None and not ids:
            raise ConfigError(f"no such channel: {handle}", key="--channel")
        try:
            results = await collector.collect_many(ids)
        finally:
            leases.release()
        if not results:
            click.echo("no enabled channels; add one with `monitor channels add HANDLE`")
        return _report(results) if results else 0


@click.command("collect")
@click.option("--once", is_flag=True, help="One pass over the enabled channels (the default).")
@click.option("--channel", "handle", help="Collect only this channel.")
@click.pass_obj
def collect_cmd(rt: Runtime, once: bool, handle: str | None) -> None:
    """One collection pass over enabled channels, then match what is new.

    Matching and alerting happen as posts are stored. A channel that fails (unknown, private,
    no preview, network, flood wait) is reported and recorded in `monitor channels list`;
    the others are still collected. Exit code 1 if any channel failed.
    """
    sys.exit(asyncio.run(_collect(rt, handle, service=False, once=True)))


@click.command("run")
@click.option("--once", is_flag=True, help="One full cycle over this worker's channels, then exit.")
@click.pass_obj
def run_cmd(rt: Runtime, once: bool) -> None:
    """The service: scheduled collection of every enabled channel, matching and alerts.

    Several workers may run against one PostgreSQL database: each claims a fair share of the
    channels through leases (see docs/collectors.md). Stops cleanly on SIGTERM or Ctrl-C.
    """
    sys.exit(asyncio.run(_collect(rt, None, service=True, once=once)))


@click.command("login")
@click.pass_obj
def login_cmd(rt: Runtime) -> None:
    """Log in to Telegram interactively and write the session file (mode 0600)."""
    from monitor.collect.session import login, session_file

    settings = rt.settings

    def ask(prompt: str, secret: bool) -> str:
        return str(click.prompt(prompt, hide_input=secret))

    who = asyncio.run(login(settings, ask=ask))
    click.echo(f"logged in as {who}; session saved to {session_file(settings)}")


COMMANDS: list[click.Command] = [collect_cmd, run_cmd, login_cmd]
