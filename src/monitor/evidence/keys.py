"""The Ed25519 key that signs checkpoints: generated on first use, kept 0600 outside the
database (a copy of database and key together lets anyone rewrite and re-sign the chain)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from monitor.errors import ConfigError

SETTING = "evidence_key"


@dataclass(frozen=True, slots=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """sha256 of the 32 raw key bytes, hex: what people compare over the phone."""
        raw = self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def verifies(self, signature_b64: str, message: bytes) -> bool:
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            self.key.verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def public_key_from_pem(pem: bytes, where: str) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(f"not a PEM public key: {exc}", file=where) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError("not an Ed25519 public key", file=where)
    return PublicKey(key)


@dataclass(frozen=True, slots=True)
class SigningKey:
    key: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key.public_key())

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.key.sign(message)).decode("ascii")


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two processes starting at once never overwrite each other's new key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def load_signing_key(path: Path, *, create: bool = True) -> SigningKey:
    """The key at ``path``, generated there first when ``create``; a clear exit 2 otherwise."""
    if not path.exists():
        if not create:
            raise ConfigError(
                f"no evidence signing key at {path}: `monitor run` makes it at its first "
                "checkpoint, `monitor evidence key` at once; a console on another host needs "
                "the same file",
                key=SETTING,
            )
        try:
            _create(path)
        except OSError as exc:
            raise ConfigError(f"cannot create the signing key {path}: {exc}", key=SETTING) from None
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path} is not a regular file", key=SETTING)
        if mode & 0o077:
            raise ConfigError(
                f"{path} is readable by group or others (mode {stat.S_IMODE(mode):04o}); "
                f"whoever reads it can forge checkpoints: `chmod 600 {path}`",
                key=SETTING,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the signing key {path}: {exc}", key=SETTING) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            f"{path} is not an unencrypted PEM private key: {exc}", key=SETTING
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 key", key=SETTING)
    return SigningKey(key, path)
