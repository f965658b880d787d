"""How the queue and its workers behave: batch sizes, leases, retries, retention.

Read from `SWITCHBOARD_QUEUE_*` variables (and `.env`) so a deployment tunes its workers
without code; tests pass a QueueConfig directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from shared.config import section_config

__all__ = ["QueueConfig"]


class QueueConfig(BaseSettings):
    """Worker and queue tuning. Durations are in seconds."""

    model_config = section_config("QUEUE")

    # A claim fills at most half the slots so the next claim overlaps the current batch's
    # handlers and acks instead of waiting for all of them.
    concurrency: int = Field(default=50, ge=1, le=1000, description="Events handled at once")
    batch_size: int = Field(default=25, ge=1, le=1000, description="Most events one claim takes")
    per_tenant_batch: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="Most events of one tenant per claim (0: the whole batch). Claims already "
        "take every tenant's first event before any tenant's second of the same priority",
    )
    poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=300,
        description="Fallback polling period when no wake-up arrives (LISTEN/NOTIFY on Postgres)",
    )
    visibility_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="An event whose worker sent no heartbeat for this long returns to the queue",
    )
    heartbeat_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Heartbeat period for held events (0: a third of the visibility timeout)",
    )
    reap_interval_s: float = Field(
        default=0.0, ge=0, description="How often a worker reaps expired leases (0: the timeout)"
    )
    retry_base_s: float = Field(default=2.0, gt=0, description="First retry delay before jitter")
    retry_max_s: float = Field(default=600.0, gt=0, description="Longest retry delay")
    startup_wait_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long a starting worker waits for a database that cannot take "
        "connections yet (not up, restarting), retrying, before it exits",
    )
    shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="On SIGTERM, how long in-flight events may finish"
    )
    handler_timeout_s: float = Field(
        default=600.0,
        ge=0,
        description="Longest one handler call may run; a timed-out attempt is a failed attempt "
        "and follows the retry policy (0: no limit)",
    )
    retention_days: float = Field(
        default=7.0,
        ge=0,
        description="Completed events (and the finished executions they triggered) older than "
        "this leave the queue (0: never)",
    )
    retention_mode: Literal["archive", "delete"] = Field(
        default="archive",
        description="archive: move them to event_archive / workflow_execution_archive; "
        "delete: drop them",
    )
    archive_retention_days: float = Field(
        default=90.0,
        ge=0,
        description="Archived rows older than this are deleted (0: keep archives forever)",
    )
    prune_interval_s: float = Field(
        default=3600.0, gt=0, description="How often a worker runs retention"
    )

    @property
    def tenant_share(self) -> int:
        return self.per_tenant_batch or self.batch_size

    @property
    def visibility_timeout(self) -> timedelta:
        return timedelta(seconds=self.visibility_timeout_s)

    @property
    def heartbeat_every_s(self) -> float:
        return self.heartbeat_interval_s or self.visibility_timeout_s / 3

    @property
    def reap_every_s(self) -> float:
        return self.reap_interval_s or self.visibility_timeout_s

    @property
    def handler_timeout(self) -> float | None:
        return self.handler_timeout_s or None
