"""Console accounts: argon2-hashed passwords, three roles, sessions that can be ended."""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import ConfigError
from monitor.store.models import AuditLog, User
from monitor.strength import password_problem

ROLES = ("analyst", "operator", "admin")

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
    check_username(username)
    check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConfigError(f"user {username!r} already exists", key="NAME")
    user = User(username=username, role=role, password_hash=hash_password(password), disabled=False)
    session.add(user)
    session.add(AuditLog(actor=actor, action="user.add", target=username, detail={"role": role}))
    session.flush()
    return user


def check_username(username: str) -> None:
    """A name that reads as what it is: no spaces at its ends, no control or format characters
    (U+202E would show "\u202enimda-omed" as "demo-admin" in the audit log), at most 64."""
    if not username or username != username.strip() or len(username) > 64:
        raise ConfigError(
            "a user name is 1 to 64 characters, without spaces at its ends", key="NAME"
        )
    bad = [c for c in username if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    if bad:
        raise ConfigError(
            f"a user name may not contain control or direction characters (U+{ord(bad[0]):04X})",
            key="NAME",
        )


def check_password(password: str) -> None:
    """Refuse a weak password with a message saying why (every place one is set, #11)."""
    problem = password_problem(password)
    if problem is not None:
        raise ConfigError(problem, key="password")


def end_sessions(user: User) -> None:
    """End every session of ``user`` in every worker process: its cookies carry the old epoch.

    An SQL increment, not a read-modify-write, so two concurrent bumps both count."""
    user.session_epoch = User.session_epoch + 1


def set_password(session: Session, user: User, password: str, *, actor: str) -> None:
    """A new password for ``user``; it ends all of their sessions."""
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.add(AuditLog(actor=actor, action="user.passwd", target=user.username, detail={}))
    session.flush()


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
