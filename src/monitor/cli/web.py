"""`monitor serve`: the review console (issue #5)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

import click

from monitor.cli.context import Runtime

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve_console(
    rt: Runtime, host: str, port: int, *, demo: bool = False, workers: int = 1
) -> None:
    """Run the console with uvicorn until interrupted.

    With ``workers`` > 1, uvicorn starts that many processes on one socket, each building the
    app from the environment (``web.app.from_environment``); what they must share lives in the
    database (sessions are cookies, the login limit is a table) or in a metrics directory."""
    import uvicorn

    from monitor.web.app import create_app, settle

    # Refuse a placeholder key and an old schema before anything listens (exit 2).
    secret = rt.settings.console_secret(demo=demo)
    sessions = rt.migrated_sessions()
    click.echo(f"review console on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    app: FastAPI | str = "monitor.web.app:from_environment"
    shared = None
    if workers == 1:
        app = settle(create_app(rt.settings, sessions, demo=demo, secret=secret))
    else:
        rt.close()  # the workers open their own connections
        shared = tempfile.mkdtemp(prefix="monitor-metrics-")
        # Read by prometheus_client when each (spawned) worker imports it.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    try:
        uvicorn.run(
            app,
            factory=shared is not None,
            workers=workers,
            host=host,
            port=port,
            log_level=rt.settings.log_level.lower(),
            # uvicorn would believe X-Forwarded-For from 127.0.0.1 — in compose, from anyone
            # the port forward brings in. Only MONITOR_TRUSTED_PROXIES is believed (web/transport).
            proxy_headers=False,
            server_header=False,
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port: more analysts at once on more cores.",
)
@click.pass_obj
def serve(rt: Runtime, host: str, port: int, workers: int) -> None:
    """Serve the analysts' review console (needs MONITOR_SECRET_KEY and a migrated database)."""
    serve_console(rt, host, port, workers=workers)


COMMANDS: list[click.Command] = [serve]
