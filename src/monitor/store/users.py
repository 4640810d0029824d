"""Console accounts: argon2-hashed passwords, three roles."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import ConfigError
from monitor.store.models import AuditLog, User

ROLES = ("analyst", "operator", "admin")
MIN_PASSWORD = 8

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(session: Session, username: str, role: str, password: str, *, actor: str) -> User:
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}", key="--role")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password must have at least {MIN_PASSWORD} characters", key="password")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConfigError(f"user {username!r} already exists", key="NAME")
    user = User(username=username, role=role, password_hash=hash_password(password), disabled=False)
    session.add(user)
    session.add(AuditLog(actor=actor, action="user.add", target=username, detail={"role": role}))
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")
