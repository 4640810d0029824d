"""`monitor demo`: the whole pipeline on the bundled sample channel, then the console."""

from __future__ import annotations

import secrets

import click
from sqlalchemy import func, select

from monitor.cli.context import Runtime
from monitor.cli.data import import_export_file
from monitor.store.migrate import upgrade
from monitor.store.models import Channel, Match, Post, SignalRow, User
from monitor.store.users import add_user, end_sessions, hash_password

SAMPLE_HANDLE = "sarayat_alfajr"
DEMO_USER = "demo-analyst"


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


def ensure_demo_user(rt: Runtime) -> str:
    """(Re)create the demo analyst with a fresh password, which only this run prints."""
    password = secrets.token_urlsafe(12)
    with rt.sessions.begin() as s:
        user = s.scalar(select(User).where(User.username == DEMO_USER))
        if user is None:
            add_user(s, DEMO_USER, "analyst", password, actor="demo")
        else:
            user.password_hash = hash_password(password)
            user.disabled = False
            end_sessions(user)  # a new demo password ends the last run's sessions (#11)
    return password


@click.command("demo")
@click.option("--once", is_flag=True, help="Print the flagged queue and exit instead of serving.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.pass_obj
def demo(rt: Runtime, once: bool, port: int) -> None:
    """Migrate, replay the sample channel (config/sample/) through the pipeline, and serve."""
    rt.demo = True
    settings = rt.settings
    upgrade(rt.engine)
    pipeline = rt.pipeline()
    sample = settings.config_dir / "sample" / "result.json"
    summary = import_export_file(rt, pipeline, sample, SAMPLE_HANDLE, None)
    click.echo(f"{sample}: {summary.line()}")
    password = ensure_demo_user(rt)
    click.echo(f"demo login: {DEMO_USER} / {password}")
    print_queue(rt)
    if once:
        return
    from monitor.cli.web import serve_console

    click.echo(f"open http://127.0.0.1:{port}/ and sign in as {DEMO_USER}")
    serve_console(rt, "127.0.0.1", port, demo=True)


COMMANDS = [demo]
