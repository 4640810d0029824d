"""What the benchmarks measure about the machine itself: its speed of the moment, and the CPU
each process took. The machines are shared and their speed varies by up to 2x within minutes,
so a figure means something only next to these."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, name, CPU seconds so far) of every process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        name, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw.rsplit(")", 1)[1].split()
        yield (
            int(stat.parent.name),
            int(fields[1]),
            name,
            (int(fields[11]) + int(fields[12])) / tick,
        )


def cpu_seconds(parent: int) -> dict[int, float]:
    """CPU time so far of ``parent`` (the server: with several workers, their supervisor) and
    of each of its child processes."""
    return {pid: cpu for pid, ppid, _, cpu in _processes() if parent in (pid, ppid)}


def database_cpu() -> float:
    """CPU time so far of every PostgreSQL process on this machine (server, backends, workers)."""
    return sum(cpu for _, _, name, cpu in _processes() if name == "postgres")


def calibrate() -> float:
    """Seconds for 10 M empty loop steps: this shared machine's speed of the moment."""
    t = time.perf_counter()
    for _ in range(10_000_000):
        pass
    return time.perf_counter() - t
