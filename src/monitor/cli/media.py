"""`monitor media process`: the media jobs (download, perceptual hash, OCR) of issue #13."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click

from monitor.cli.context import Runtime


async def _process(rt: Runtime, once: bool) -> int:
    from monitor.collect.wiring import worker_name
    from monitor.logs import configure_logging
    from monitor.media.fetch import media_fetcher
    from monitor.media.jobs import MediaWorker

    settings = rt.settings
    configure_logging(settings)
    fetcher = media_fetcher(settings)
    worker = MediaWorker(rt.pipeline(), settings, fetcher, worker=worker_name(settings))
    reason = worker.ocr_off_reason()
    if reason:
        click.echo(f"images are fetched and hashed, not read: {reason}", err=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    failed = 0
    try:
        while True:
            summary = await worker.run_once()
            failed += summary.failed
            for line in summary.failures:
                click.echo(line, err=True)
            if once or summary.read or summary.hashed or summary.failed or summary.retrying:
                click.echo(summary.line())
            if once:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=settings.media_poll_seconds)
                break
            except TimeoutError:
                continue
    finally:
        await fetcher.aclose()
    return 1 if failed else 0


@click.group("media")
def media() -> None:
    """Statement images: fetch, hash and read (OCR) the images of collected posts."""


@media.command("process")
@click.option("--once", is_flag=True, help="Work through the jobs due now, then exit.")
@click.pass_obj
def process_cmd(rt: Runtime, once: bool) -> None:
    """Pending media jobs: download each post's image into MONITOR_MEDIA_DIR, hash it, read it
    with Tesseract (ara+eng), and match the post again with the text read from its image.

    Without --once it keeps polling (every media_poll_seconds) until Ctrl-C; `monitor run`
    does the same alongside collection. Where Tesseract or its Arabic data is missing, images
    are still fetched and hashed and this says how to install it. A media that cannot be read
    (corrupt, too large, gone) is reported and recorded on that media; exit code 1 if any
    failed in this run.
    """
    sys.exit(asyncio.run(_process(rt, once)))


COMMANDS = [media]
