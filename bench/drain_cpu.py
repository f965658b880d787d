"""Where a drain's CPU goes: the whole machine, the worker processes, the database's backends.

The machine figure (/proc/stat) is what bounds a ratio on a saturated 2-core machine, but it
also counts anything else the machine runs. The split counts only the processes of the run:
the worker processes the bench started, and the Postgres backends connected to the bench's
own database (found in pg_stat_activity when the drain starts and again when it ends, so a
connection a worker opened meanwhile is counted too). Backends shared by every database
(WAL writer, checkpointer) are in the machine figure only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import psutil

_BACKENDS = (
    "SELECT pid FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def machine_busy_s() -> float:
    """CPU seconds this machine has spent busy (all cores, every process: the workers,
    Postgres and the kernel's work for them)."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:  # gone: its CPU since the start is lost (a connection closed)
        return None
    return times.user + times.system


def _spent_s(pids: set[int] | list[int], before: dict[int, float]) -> float:
    """CPU seconds `pids` spent since `before` (a pid not in it: since it started)."""
    spent = 0.0
    for pid in pids:
        now = _cpu_s(pid)
        if now is not None:
            spent += now - before.get(pid, 0.0)
    return spent


def _snapshot(pids: list[int]) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := _cpu_s(pid)) is not None}


@dataclass(frozen=True)
class Drain:
    rate: float  # events (jobs) per second
    cpu_us: float  # machine CPU per event, all processes
    workers_us: float = float("nan")  # the worker processes' CPU per event
    postgres_us: float = float("nan")  # the bench database's backends' CPU per event

    def cpu_line(self) -> str:
        return (
            f"machine CPU {self.cpu_us:4.0f} us (workers {self.workers_us:4.0f}, "
            f"Postgres {self.postgres_us:4.0f})"
        )


class DrainMeter:
    """Started just before a drain, read just after it, while the workers still run."""

    def __init__(self, probe: asyncpg.Connection, worker_pids: list[int]) -> None:
        self._probe = probe
        self._workers = worker_pids
        self._backends: dict[int, float] = {}
        self._workers_before: dict[int, float] = {}
        self._machine_s = 0.0

    async def _backend_pids(self) -> list[int]:
        rows: list[Any] = await self._probe.fetch(_BACKENDS)
        return [int(row["pid"]) for row in rows]

    async def start(self) -> None:
        self._backends = _snapshot(await self._backend_pids())
        self._workers_before = _snapshot(self._workers)
        self._machine_s = machine_busy_s()

    async def drained(self, n: int, seconds: float) -> Drain:
        machine = machine_busy_s() - self._machine_s
        workers = _spent_s(self._workers, self._workers_before)
        backends = _spent_s(set(self._backends) | set(await self._backend_pids()), self._backends)
        per_event = 1e6 / n
        return Drain(n / seconds, machine * per_event, workers * per_event, backends * per_event)
