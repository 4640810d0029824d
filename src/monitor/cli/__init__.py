"""The `monitor` command. Each sub-module adds one family of commands to the group."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from monitor import __version__
from monitor.cli.context import Runtime
from monitor.errors import MonitorError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Watch public Telegram channels and flag posts that signal escalation.

    Configuration comes from MONITOR_* environment variables and
    $MONITOR_CONFIG_DIR/settings.yaml (see docs/settings.md).
    """
    ctx.obj = Runtime()
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from monitor.cli import (
        alerts,
        channels,
        collect,
        data,
        db,
        demo,
        evidence,
        match,
        media,
        users,
        web,
    )

    for module in (db, data, match, channels, collect, media, alerts, users, web, demo, evidence):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="monitor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("monitor: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MonitorError as exc:
        click.echo(f"monitor: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OperationalError as exc:
        click.echo(f"monitor: error: database unavailable: {exc.orig}", err=True)
        sys.exit(1)
    except Exception as exc:  # a bug: say where, briefly, instead of a traceback
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        click.echo(
            f"monitor: internal error: {type(exc).__name__}: {exc} "
            f"(at {Path(frame.filename).name}:{frame.lineno}; please report it)",
            err=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
