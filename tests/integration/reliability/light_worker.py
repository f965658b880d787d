"""A workflow worker that starts in a third of the time of `switchboard worker`, for the
short chaos runs: `python -m tests.integration.reliability.light_worker`.

The same Worker, queue settings (SWITCHBOARD_QUEUE_* from the environment) and workflow
engine with an HTTP client; it skips the CLI's imports of every other command (the HTTP
app, the MCP servers), which cost seconds per start on a loaded 2-core machine. SIGTERM
stops it gracefully, as it does `switchboard worker`.
"""

from __future__ import annotations

import os
import signal

import anyio
import httpx

from orchestration.queue.config import QueueConfig
from orchestration.worker import create_worker
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.services import Services
from shared.db.database import Database


async def main() -> None:
    db = Database.from_url(os.environ["SWITCHBOARD_DATABASE_URL"])
    async with httpx.AsyncClient() as client:
        worker = create_worker(
            db, WorkflowEventHandler(db, Services(http=client)), config=QueueConfig()
        )
        async with anyio.create_task_group() as tasks:

            async def stop_on_sigterm() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                    async for _ in signals:
                        worker.stop()
                        return

            tasks.start_soon(stop_on_sigterm)
            await worker.run()
            tasks.cancel_scope.cancel()
    await db.dispose()
    stats = worker.stats
    print(f"worker stopped: {stats.completed} completed, {stats.reaped} reaped", flush=True)


if __name__ == "__main__":
    anyio.run(main)
