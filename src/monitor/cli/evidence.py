"""`monitor evidence`: verify the chain (or a bundle), export a post's bundle, show the key."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli.context import Runtime
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.evidence.keys import PublicKey
    from monitor.evidence.report import Report

_POST = re.compile(r"^@?(?P<handle>[^/\s]{1,100})/(?P<message>\d{1,20})$")


def _trusted(path: Path | None) -> PublicKey | None:
    from monitor.evidence.keys import public_key_from_pem

    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", key="--key") from None
    return public_key_from_pem(data, str(path))


def _outcome(report: Report, what: str) -> None:
    for line in report.lines():
        click.echo(f"FAIL {line}", err=True)
    summary = (
        f"{what}: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{report.files} files checked"
    )
    if report.ok:
        click.echo(f"{summary}: ok")
        return
    click.echo(f"{summary}: {len(report.failures) + report.more} failures", err=True)
    sys.exit(1)


@click.group("evidence")
def evidence() -> None:
    """Evidence that holds up: the hash chain over everything captured, its signed
    checkpoints, and self-contained bundles of one post (docs/evidence.md)."""


@evidence.command("verify")
@click.argument("bundle", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Public key (PEM) the checkpoints must be signed with; default: the signing key's "
    "public half (database), or the bundle's own key, whose fingerprint is printed.",
)
@click.pass_obj
def verify_cmd(rt: Runtime, bundle: Path | None, key_path: Path | None) -> None:
    """Check the whole chain, every checkpoint's signature and every media file against the
    store; or, given BUNDLE.zip, that bundle alone, without the database.

    Each failure is printed naming the record (entry, version, media file, checkpoint);
    exit code 1 if anything fails.
    """
    from monitor.evidence.timestamp import load_tsa_roots

    trusted = _trusted(key_path)
    settings = rt.settings
    # Time-stamps' signatures are checked only against a configured TSA certificate; their
    # imprints always.
    tsa_roots = load_tsa_roots(settings.evidence_tsa_certificate)
    if bundle is not None:
        from monitor.evidence.bundle_check import verify_bundle

        report, fingerprint = verify_bundle(bundle, trusted, tsa_roots)
        if fingerprint and report.ok:
            if trusted:
                click.echo(f"signed by key {fingerprint}, the key given")
            else:
                # Anyone can make a consistent bundle with a key of their own: without the
                # monitor's published key this says the bundle is intact, not whose it is.
                click.echo(
                    f"signed by key {fingerprint}, which was NOT checked: the bundle is intact, "
                    "but only its signer's own key vouches for it. Compare the fingerprint with "
                    "the one the monitor's operators publish (`monitor evidence key` on their "
                    "side), or pass --key with their public key."
                )
        _outcome(report, str(bundle))
        return
    from monitor.evidence.keys import load_signing_key
    from monitor.evidence.verify import verify_database

    if trusted is None and settings.evidence_key.exists():
        trusted = load_signing_key(settings.evidence_key, create=False).public
    with rt.migrated_sessions()() as session:
        report = verify_database(session, settings.media_dir, trusted, tsa_roots)
    _outcome(report, "evidence chain")


@evidence.command("export")
@click.argument("post")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The zip file to write.",
)
@click.pass_obj
def export_cmd(rt: Runtime, post: str, out: Path) -> None:
    """Write the evidence bundle of POST (CHANNEL/MESSAGE_ID, e.g. sabereenews/1234, or the
    post's t.me link): every
    version, the image, its OCR, review decisions, capture metadata, the chain entries and
    signed checkpoint that cover them, the public key and a README on checking it by hand.

    Signs a new checkpoint first when none covers the post's newest entry yet.
    """
    from sqlalchemy import select

    from monitor.evidence.bundle import build_bundle
    from monitor.evidence.keys import load_signing_key
    from monitor.files import write_atomic
    from monitor.store.channels import normalise_handle
    from monitor.store.models import Channel, Post

    value = post.strip()
    for prefix in ("https://", "http://", "t.me/s/", "t.me/"):  # a post's link works too
        value = value.removeprefix(prefix)
    m = _POST.match(value)
    if m is None:
        raise ConfigError(f"{post!r} is not CHANNEL/MESSAGE_ID", key="POST")
    handle = normalise_handle(m["handle"])
    settings = rt.settings
    key = load_signing_key(settings.evidence_key)
    with rt.migrated_sessions().begin() as session:
        post_id = session.scalar(
            select(Post.id)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Channel.handle == handle, Post.message_id == int(m["message"]))
        )
        if post_id is None:
            raise MonitorError(f"no post {handle}/{m['message']} in the database")
        bundle = build_bundle(session, post_id, key, settings.media_dir)
    try:
        write_atomic(out, bundle.data)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc}", key="--out") from None
    click.echo(
        f"{out}: {handle}/{m['message']}, {bundle.post_entries} entries of the post, "
        f"{bundle.entries} chain entries, checkpoints {', '.join(map(str, bundle.checkpoints))}"
    )


@evidence.command("key")
@click.pass_obj
def key_cmd(rt: Runtime) -> None:
    """Print the public key (PEM) that signs checkpoints, and its fingerprint on stderr.
    The key is generated on first use at evidence_key (0600)."""
    from monitor.evidence.keys import load_signing_key

    key = load_signing_key(rt.settings.evidence_key)
    click.echo(key.public.pem, nl=False)
    click.echo(f"fingerprint (sha256 of the raw key): {key.public.fingerprint}", err=True)


@evidence.command("checkpoint")
@click.pass_obj
def checkpoint_cmd(rt: Runtime) -> None:
    """Sign the chain's head now (`monitor run` does it every evidence_checkpoint_seconds)."""
    from monitor.evidence.checkpoint import checkpoint_now

    made = checkpoint_now(rt.migrated_sessions(), rt.settings)
    if made is None:
        click.echo("nothing new since the last checkpoint")
    else:
        click.echo(f"checkpoint {made.id}: entry {made.seq}, head {made.head_hash}")


COMMANDS = [evidence]
