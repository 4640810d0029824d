"""`monitor channels …`: which channels are watched, by which source, in which group."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.orm import Session

from monitor.channel_kinds import CHANNEL_KINDS
from monitor.cli.context import Runtime
from monitor.errors import ConfigError
from monitor.store.channels import ensure_channel, get_channel, get_group
from monitor.store.channels_file import ChannelsFile, load_channels_file
from monitor.store.models import utcnow


@click.group("channels")
def channels_group() -> None:
    """Register and manage watched channels."""


@channels_group.command("add")
@click.argument("handle")
@click.option("--source", type=click.Choice(["telethon", "web"]), default="web", show_default=True)
@click.option("--group", help="Actor group (created if new).")
@click.option("--interval", type=click.IntRange(min=10), help="Seconds between collections.")
@click.option(
    "--kind",
    type=click.Choice(CHANNEL_KINDS),
    help="Who speaks: a group's own channel, a leader's own, an affiliated media outlet, or news"
    " reporting on others (cues and claims do not count there). New channels: group.",
)
@click.pass_obj
def add(
    rt: Runtime,
    handle: str,
    source: str,
    group: str | None,
    interval: int | None,
    kind: str | None,
) -> None:
    """Register a channel (or update its source, group, interval and kind)."""
    with rt.migrated_sessions().begin() as s:
        existing = get_channel(s, handle)
        ch = ensure_channel(
            s,
            handle,
            source=source,
            group=group,
            interval=interval or rt.settings.collect_interval,
            kind=kind,
        )
        if existing is not None:
            ch.source = source
            if interval:
                ch.interval_seconds = interval
        click.echo(
            f"{'updated' if existing else 'added'} {ch.handle} ({ch.source}), kind {ch.kind}"
        )


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    secs = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


@channels_group.command("list")
@click.pass_obj
def list_(rt: Runtime) -> None:
    """List channels with their kind and health.

    Columns: kind (group, leader, media, news), last successful pass, lag since the newest
    post, posts per day (14-day average), and the status: errors (private, missing, no
    preview, markup changed, network, revoked session), cooldown until, silence beyond the
    channel's usual rhythm, unfilled id gaps.
    """
    from monitor.collect.health import channel_health

    now = utcnow()
    with rt.migrated_sessions()() as s:
        rows = channel_health(s, now=now)
    if not rows:
        click.echo("no channels; add one with `monitor channels add HANDLE`")
        return
    click.echo(
        f"{'handle':<28} {'source':<9} {'kind':<6} {'group':<20} {'on':<3} {'every':>6} "
        f"{'last ok':>8} {'lag':>6} {'/day':>6} status"
    )
    for h in rows:
        click.echo(
            f"{h.handle:<28} {h.source:<9} {h.kind:<6} {(h.group or '-'):<20} "
            f"{'yes' if h.enabled else 'no':<3} {h.interval_seconds:>5}s "
            f"{_age(h.last_success_at, now):>8} {_age(h.newest_post_at, now):>6} "
            f"{h.posts_per_day:>6.1f} {h.summary}"
        )


@channels_group.command("discovered")
@click.option("--limit", type=click.IntRange(min=1, max=10_000), default=100, show_default=True)
@click.pass_obj
def discovered_(rt: Runtime, limit: int) -> None:
    """Channels not monitored that monitored ones forward or mention (#15).

    Columns: the channel (a handle, or id:NUMBER when Telegram gave a forward's channel only
    by id), references, of which forwards, first and last seen, and the monitored channels
    that referenced it, most first. Operators promote (start monitoring, with a group and
    a kind) or ignore them in the review console, page /discovered; ignored ones are not
    listed here. `monitor channels add HANDLE` also promotes one.
    """
    from monitor.network.refs import discovered, ignored_hidden

    with rt.migrated_sessions()() as s:
        rows = discovered(s, limit=limit)
        hidden = ignored_hidden(s)
    if hidden:
        click.echo(f"{hidden} ignored channel(s) not shown (console: /discovered)", err=True)
    if not rows:
        click.echo(
            "no channels discovered that are not ignored"
            if hidden
            else "no channels discovered: no monitored channel forwards or mentions another yet"
        )
        return
    click.echo(f"{'channel':<34} {'refs':>5} {'fwd':>5} {'first seen':<10} {'last seen':<10} by")
    for d in rows:
        by = ", ".join(f"{h} ({n})" for h, n in d.by[:5]) + (" …" if len(d.by) > 5 else "")
        click.echo(
            f"{d.target:<34} {d.refs:>5} {d.forwards:>5} {d.first_seen:%Y-%m-%d} "
            f"{d.last_seen:%Y-%m-%d} {by}"
        )


def _set_enabled(rt: Runtime, handle: str, enabled: bool) -> None:
    with rt.migrated_sessions().begin() as s:
        ch = get_channel(s, handle)
        if ch is None:
            raise ConfigError(f"no such channel: {handle}", key="HANDLE")
        ch.enabled = enabled
        click.echo(f"{ch.handle} {'enabled' if enabled else 'disabled'}")


@channels_group.command("disable")
@click.argument("handle")
@click.pass_obj
def disable(rt: Runtime, handle: str) -> None:
    """Stop collecting a channel (its posts stay)."""
    _set_enabled(rt, handle, False)


@channels_group.command("enable")
@click.argument("handle")
@click.pass_obj
def enable(rt: Runtime, handle: str) -> None:
    """Resume collecting a channel."""
    _set_enabled(rt, handle, True)


@channels_group.command("remove")
@click.argument("handle")
@click.option("--yes", is_flag=True, help="Do not ask; the channel's posts are deleted too.")
@click.pass_obj
def remove(rt: Runtime, handle: str, yes: bool) -> None:
    """Remove a channel and all its stored posts (asks first; without a terminal, pass --yes)."""
    with rt.migrated_sessions().begin() as s:
        ch = get_channel(s, handle)
        if ch is None:
            raise ConfigError(f"no such channel: {handle}", key="HANDLE")
        if not yes and not (sys.stdin and sys.stdin.isatty()):
            # Without a terminal there is no one to ask: a clear usage error, not the 130 of an
            # aborted prompt (#14).
            raise ConfigError(
                f"will not delete {ch.handle} and its posts without asking: pass --yes",
                key="--yes",
            )
        if not yes:
            click.confirm(f"delete {ch.handle} and all its posts?", abort=True)
        s.delete(ch)
        click.echo(f"removed {ch.handle}")


def load_channels_yaml(path: Path) -> ChannelsFile:
    """Parse and validate channels.yaml (see ``monitor.store.channels_file``)."""
    return load_channels_file(path)


@channels_group.command("sync")
@click.option(
    "--file", "path", type=click.Path(path_type=Path), help="Default: CONFIG_DIR/channels.yaml"
)
@click.pass_obj
def sync(rt: Runtime, path: Path | None) -> None:
    """Load groups and channels from channels.yaml (adds and updates; removes nothing)."""
    path = path or rt.settings.config_dir / "channels.yaml"
    loaded = load_channels_yaml(path)
    with rt.migrated_sessions().begin() as s:
        apply_channels_file(s, loaded)
    groups, channels = loaded.groups or [], loaded.channels or []
    click.echo(f"{path}: {len(groups)} groups, {len(channels)} channels synced")


def apply_channels_file(s: Session, loaded: ChannelsFile) -> None:
    """Add and update the groups and channels of a channels.yaml (also the demo's, #14)."""
    groups, channels = loaded.groups or [], loaded.channels or []
    for g in groups:
        group = get_group(s, g.name)
        assert group is not None
        group.kind = g.kind
        group.aliases = list(g.aliases)
        group.weight = g.weight
        if g.parent:
            group.parent = get_group(s, g.parent)
    for c in channels:
        ch = ensure_channel(
            s,
            c.handle,
            source=c.source or "web",
            group=c.group,
            interval=c.interval,
            kind=c.kind,  # no `kind:` keeps the one already set
        )
        ch.source = c.source or ch.source  # no `source:` keeps the one already set
        ch.enabled = c.enabled
        if c.interval:
            ch.interval_seconds = c.interval


COMMANDS = [channels_group]
