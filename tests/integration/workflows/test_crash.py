"""SIGKILL a worker in the middle of a multi-step workflow; another worker finishes it, and
the fake endpoint sees each side effect exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_executions
from shared.tenants import create_tenant

REPO = Path(__file__).parents[3]


class FakeEndpoint:
    """Records every request; performs an effect once per Idempotency-Key (as Stripe or
    ClickUp would); holds /slow open until released, so a worker can be killed mid-call."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.effects: dict[str, str] = {}  # key -> path
        self.release_slow = threading.Event()
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with endpoint.lock:
                    endpoint.requests.append((self.path, key))
                    endpoint.effects.setdefault(key, self.path)
                    first_slow = (
                        self.path == "/slow"
                        and len([p for p, _ in endpoint.requests if p == "/slow"]) == 1
                    )
                if first_slow:
                    endpoint.release_slow.wait(30)
                body = b'{"ok": true}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked was killed

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reached(self, path: str, times: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return self.count(path) >= times

        return check

    def count(self, path: str) -> int:
        with self.lock:
            return len([p for p, _ in self.requests if p == path])


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.release_slow.set()
    fake.server.shutdown()
    fake.server.server_close()


def _start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("ab") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.workflows.crash_worker", url],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def _wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30) -> None:
    """Poll until `check` holds, up to a deadline (workers are other processes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_sigkilled_worker_mid_workflow_is_finished_by_another_exactly_once(
    postgres_db: Database, postgres_url: str, endpoint: FakeEndpoint, tmp_path: Path
) -> None:
    log = tmp_path / "workers.log"
    tenant = await create_tenant(postgres_db, "crash")
    await save_definition(
        postgres_db,
        tenant.id,
        f"""name: Three calls
trigger: {{type: event, event_type: deal_closed}}
steps:
  - {{name: first, action: http_request, url: "{endpoint.url}/first", json: {{n: 1}}}}
  - {{name: slow, action: http_request, url: "{endpoint.url}/slow", json: {{n: 2}}}}
  - {{name: last, action: http_request, url: "{endpoint.url}/last", json: {{n: 3}}}}
""",
    )
    await publish(postgres_db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed"))

    doomed = _start_worker(postgres_url, log)
    try:
        await _wait_for(endpoint.reached("/slow", 1), "the first worker to reach /slow")
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            doomed.kill()
    assert endpoint.count("/first") == 1 and endpoint.count("/last") == 0
    endpoint.release_slow.set()

    survivor = _start_worker(postgres_url, log)
    try:
        await _wait_for(endpoint.reached("/last", 1), f"a second worker to finish ({log})")

        async def completed() -> bool:
            async with postgres_db.engine.connect() as conn:
                query = sa.select(workflow_executions.c.status)
                return (await conn.execute(query)).scalar_one_or_none() == "completed"

        await _wait_for(completed, "the execution to be recorded as completed")
    finally:
        survivor.send_signal(signal.SIGKILL)
        survivor.wait(10)

    # /first ran once (checkpointed before the crash), /slow was re-sent with the same key
    # (the endpoint performed it once), /last once.
    assert endpoint.count("/first") == 1 and endpoint.count("/last") == 1
    slow_keys = {k for p, k in endpoint.requests if p == "/slow"}
    assert endpoint.count("/slow") == 2 and len(slow_keys) == 1
    assert sorted(endpoint.effects.values()) == ["/first", "/last", "/slow"]
