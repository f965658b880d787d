"""What a worker is made with and reports: its wake-up source, its id, its counters, and
the retention its configuration asks for (orchestration.worker runs the loop)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from orchestration.queue.config import QueueConfig
from orchestration.queue.retention import RetentionPolicy

__all__ = ["WakeSource", "WorkerStats", "new_worker_id", "retention_policy"]


class WakeSource(Protocol):
    async def start(self) -> None: ...
    async def wait(self, timeout_s: float) -> bool: ...
    def wake(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class WorkerStats:
    claimed: int = 0
    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    reaped: int = 0
    timed_out: int = 0  # handler calls cancelled by handler_timeout_s
    lost_leases: int = 0  # handlers cancelled because their event was reaped meanwhile
    retained_events: int = 0  # completed events archived or deleted by retention
    retained_executions: int = 0  # finished executions archived or deleted by retention


def new_worker_id() -> str:
    """Unique per process and start: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retention_policy(config: QueueConfig) -> RetentionPolicy:
    """The retention the configuration asks for (retention_days > 0)."""
    return RetentionPolicy(
        older_than=timedelta(days=config.retention_days),
        mode=config.retention_mode,
        archive_older_than=timedelta(days=config.archive_retention_days)
        if config.archive_retention_days > 0
        else None,
    )
