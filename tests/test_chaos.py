"""Crash test (issue #7): the service killed with SIGKILL at random points loses nothing.

A dozen kills here, on SQLite and on PostgreSQL; ``python bench/chaos.py`` runs a hundred and
more. The harness and what it checks are in ``tests/chaos.py``: every post stored exactly once,
every flag present, every alert delivered, and duplicates only for alerts a kill caught between
the webhook receiving them and the outbox marking them sent (the documented crash window).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos import run_chaos
from tests.conftest import Database


@pytest.mark.parametrize("kills", [12])
def test_service_killed_at_random_points_loses_and_repeats_nothing(
    db: Database, tmp_path: Path, kills: int
) -> None:
    db.engine.dispose()  # the workers are other processes; this one only checks afterwards
    report = run_chaos(db.url, tmp_path / "chaos", kills=kills if db.dialect == "sqlite" else 6)
    print("\n".join(report.lines()))
    assert report.problems() == []
    # The kills landed in real work: most while posts were still arriving, with posts and
    # alerts stored and delivered before the last restart.
    assert report.kills_while_posting >= report.kills / 2, report.lines()
    assert report.posts_before_final > 0
    assert report.receipts_before_final > 0
    assert report.flags_expected > 50
