"""A worker process for the SIGKILL crash test: `python -m tests.integration.workflows.crash_worker
DATABASE_URL`. It runs workflows with a real httpx client until it is killed."""

from __future__ import annotations

import asyncio
import sys

import httpx

from orchestration.queue.config import QueueConfig
from orchestration.worker import create_worker
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.services import Services
from shared.db.database import Database

# Short leases so a killed worker's event comes back within a second or two.
CONFIG = QueueConfig(
    visibility_timeout_s=1.0,
    heartbeat_interval_s=0.2,
    reap_interval_s=0.3,
    poll_interval_s=0.2,
    concurrency=2,
)


async def main(url: str) -> None:
    db = Database.from_url(url)
    async with httpx.AsyncClient() as client:
        handler = WorkflowEventHandler(db, Services(http=client))
        await create_worker(db, handler, config=CONFIG).run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
