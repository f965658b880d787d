"""A `switchboard worker` killed with SIGKILL while holding an event: another worker process
completes it once the visibility timeout passes."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from orchestration.queue.sql_store import SqlQueueStore
from shared.db.database import Database
from tests.integration.queue.worker_process import queue_one_event, start_worker, wait_for


def _worker(url: str, markers: Path, handler: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "SWITCHBOARD_TEST_MARKER_DIR": str(markers),
        "SWITCHBOARD_QUEUE_VISIBILITY_TIMEOUT_S": "1",
        "SWITCHBOARD_QUEUE_POLL_INTERVAL_S": "0.2",
    }
    return start_worker(url, log, "--handler", handler, env=env)


async def test_event_of_a_killed_worker_is_completed_by_another(
    postgres_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(postgres_url)
    try:
        queued = await queue_one_event(db)
        handlers = "tests.integration.queue.handlers"
        doomed = _worker(postgres_url, tmp_path, f"{handlers}:hang", tmp_path / "doomed.log")
        try:
            started = tmp_path / f"started-{doomed.pid}"
            wait_for(started.exists, 30, "the first worker to take the event")
        finally:
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
        held = await SqlQueueStore(db).get(queued.queue_id)
        assert held is not None and held.status == "processing"

        survivor_log = tmp_path / "survivor.log"
        survivor = _worker(postgres_url, tmp_path, f"{handlers}:complete", survivor_log)
        try:
            done = tmp_path / f"done-{queued.queue_id}"
            wait_for(done.exists, 30, "the second worker to complete the event")
            assert done.read_text() == str(survivor.pid)
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(30)
        out = survivor_log.read_text()
        assert survivor.returncode == 0, out
        assert "1 completed" in out and "1 reaped" in out
        final = await SqlQueueStore(db).get(queued.queue_id)
        assert final is not None
        assert (final.status, final.attempts) == ("completed", 2)
        assert final.error_details and final.error_details[0]["outcome"] == "lease_expired"
    finally:
        await db.dispose()
