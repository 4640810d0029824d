"""`monitor serve`: the review console (issue #5)."""

from __future__ import annotations

import click

from monitor.cli.context import Runtime


def serve_console(rt: Runtime, host: str, port: int, *, demo: bool = False) -> None:
    """Run the console with uvicorn until interrupted (one process: the login limiter and
    metrics live in memory)."""
    import uvicorn

    from monitor.web import create_app

    # Refuse a placeholder key before anything listens (exit 2 via ConfigError).
    secret = rt.settings.console_secret(demo=demo)
    app = create_app(rt.settings, rt.migrated_sessions(), demo=demo, secret=secret)
    click.echo(f"review console on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=rt.settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
    )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_obj
def serve(rt: Runtime, host: str, port: int) -> None:
    """Serve the analysts' review console (needs MONITOR_SECRET_KEY and a migrated database)."""
    serve_console(rt, host, port)


COMMANDS: list[click.Command] = [serve]
