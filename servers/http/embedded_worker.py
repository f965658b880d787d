"""The worker `switchboard serve` runs in its own process (unless `--no-worker`).

Same runtime as `switchboard worker` (services, routing, schedules, health monitor), so a
one-process deployment on SQLite needs nothing else; several processes on Postgres can
run `serve --no-worker` beside any number of `switchboard worker`s.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio

from orchestration.queue.config import QueueConfig
from orchestration.runtime import open_worker_runtime
from orchestration.worker import Worker, create_worker
from servers.cli.local_mcp import local_mcp_servers
from servers.mcp.common.state import AppState
from shared.errors import ConfigError, SwitchboardError

__all__ = ["EmbeddedWorker"]

log = logging.getLogger(__name__)


@dataclass
class EmbeddedWorker:
    """A background task for the HTTP app, with a readiness check."""

    worker: Worker | None = field(default=None, init=False)
    failure: str | None = field(default=None, init=False)

    async def __call__(self, state: AppState) -> None:
        try:
            async with AsyncExitStack() as stack:
                servers = local_mcp_servers(state.settings, state.database, stack)
                runtime = await stack.enter_async_context(
                    open_worker_runtime(state.settings, state.database, local_mcp_servers=servers)
                )
                try:
                    config = QueueConfig()
                except ValueError as exc:  # pydantic's ValidationError
                    raise ConfigError(
                        f"queue settings (SWITCHBOARD_QUEUE_*) are invalid: {exc}"
                    ) from None
                self.worker = create_worker(state.database, runtime.handler, config=config)
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(runtime.run_background)
                    await self.worker.run()
                    tasks.cancel_scope.cancel()
        except SwitchboardError as exc:  # e.g. a bad setting: serve keeps answering, readyz says
            self.failure = str(exc)
            log.error("the embedded worker stopped: %s", exc)

    async def readiness(self) -> dict[str, Any]:
        if self.failure is not None:
            raise SwitchboardError(f"the embedded worker stopped: {self.failure}")
        if self.worker is None:
            raise SwitchboardError("the embedded worker is starting")
        return {"worker_id": self.worker.worker_id, "in_flight": self.worker.in_flight}
