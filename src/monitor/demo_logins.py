"""The demo's console accounts (#14): one of each role, with one fixed, published password.

The password is in the source and in the README, so these accounts sign in only on the console
that ``monitor demo`` serves itself (``web/login.py`` refuses them anywhere else), and only that
console shows them on its login page (setting ``demo_logins``, which ``monitor demo`` turns on).
"""

from __future__ import annotations

DEMO_PASSWORD = "demo-only-kahf-lantern-42"
# (username, role, what the role adds), in the order the login page lists them.
DEMO_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("demo-analyst", "analyst", "queue, posts, decisions, overview, own alert subscriptions"),
    ("demo-operator", "operator", "also channels, groups, rules, audit log, failed alerts"),
    ("demo-admin", "admin", "also users and everyone's subscriptions"),
)
DEMO_USERNAMES = frozenset(name for name, _, _ in DEMO_ACCOUNTS)


def shows_demo_logins(demo: bool, setting: bool) -> bool:
    """Whether a login page lists the accounts: on the demo's own console, when it asks."""
    return demo and setting
