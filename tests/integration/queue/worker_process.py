"""`switchboard worker` as a separate process, for the tests that kill it, starve it of its
database or watch it start: its output goes to a file (nothing to drain), and a test polls
for what it waits on with a deadline."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult, publish
from shared.db.database import Database
from shared.tenants import create_tenant

REPO = Path(__file__).resolve().parents[3]


def start_switchboard(
    url: str, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`switchboard ARGS` on `url`, stdout and stderr into `log`."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "SWITCHBOARD_DATABASE_URL": url}
    with log.open("wb") as output:  # a file, not a pipe: nothing to drain or leak
        return subprocess.Popen(
            [sys.executable, "-m", "servers.cli.main", *args],
            env={**environment, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def start_worker(
    url: str, log: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`switchboard worker ARGS` on `url`, stdout and stderr into `log`."""
    return start_switchboard(url, log, "worker", *args, env=env)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


async def queue_one_event(db: Database) -> PublishResult:
    """One `deal_closed` event of a new tenant, queued for a worker process to take."""
    tenant = await create_tenant(db, "acme")
    return await publish(db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed"))
