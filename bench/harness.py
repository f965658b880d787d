"""What the reliability benchmarks share: a throwaway Postgres database, `switchboard worker`
processes to start and kill, a counting HTTP endpoint, and the queue's final tally.

Used by bench/chaos.py, bench/faults.py, bench/load.py and their short versions in
tests/integration/reliability/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.db.database import Database
from shared.db.migrate import upgrade

__all__ = [
    "DEFAULT_URL",
    "ROOT",
    "CountingEndpoint",
    "QueueTally",
    "WorkerPool",
    "queue_tally",
    "throwaway_database",
]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = os.environ.get(
    "SWITCHBOARD_TEST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
)


@asynccontextmanager
async def throwaway_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A freshly migrated database beside the one in `server_url`, dropped afterwards."""
    base = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin_url = base.set(drivername="postgresql", database="postgres")
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = base.set(database=name).render_as_string(hide_password=False)
        db = Database.from_url(url)
        try:
            await upgrade(db.engine)
        finally:
            await db.dispose()
        yield url
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


# Short leases so a killed worker's events come back within seconds, and fast retries so a
# run does not wait on backoff meant for real outages.
FAST_QUEUE_ENV = {
    "SWITCHBOARD_QUEUE_VISIBILITY_TIMEOUT_S": "2",
    "SWITCHBOARD_QUEUE_REAP_INTERVAL_S": "0.5",
    "SWITCHBOARD_QUEUE_POLL_INTERVAL_S": "0.5",
    "SWITCHBOARD_QUEUE_RETRY_BASE_S": "0.2",
    "SWITCHBOARD_QUEUE_RETRY_MAX_S": "2",
    "SWITCHBOARD_QUEUE_SHUTDOWN_GRACE_S": "5",
    "SWITCHBOARD_WORKER_RUN_SCHEDULES": "false",
    "SWITCHBOARD_WORKER_RUN_HEALTH_MONITOR": "false",
}


@dataclass
class WorkerPool:
    """`switchboard worker` processes on one database; each logs to its own file."""

    database_url: str
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict[str, str])
    # What runs after `python`: the real CLI by default; tests may pass a lighter module.
    command: tuple[str, ...] = ("-m", "servers.cli.main", "worker")
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list[subprocess.Popen[bytes]])
    started: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("SWITCHBOARD_") or key.startswith("SWITCHBOARD_TEST_")
        }
        env |= {
            "PYTHONPATH": str(ROOT),
            "SWITCHBOARD_DATABASE_URL": self.database_url,
            "SWITCHBOARD_LOG_LEVEL": "WARNING",
            **FAST_QUEUE_ENV,
            **self.env,
        }
        self.started += 1
        log = self.log_dir / f"worker-{self.started}.log"
        with log.open("wb") as output:  # a file, not a pipe: nothing to drain when killed
            proc = subprocess.Popen(
                [sys.executable, *self.command],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    @property
    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL: no shutdown code runs, leases are left for the reaper."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def stop_all(self, grace_s: float = 30) -> list[int]:
        """SIGTERM every live worker (graceful stop), SIGKILL any that outstay `grace_s`;
        the exit codes of the ones stopped."""
        live = self.alive
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        codes: list[int] = []
        for proc in live:
            try:
                codes.append(proc.wait(grace_s))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait(10))
        return codes

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted(self.log_dir.glob("worker-*.log"))
        )


@dataclass(frozen=True)
class Request:
    path: str
    key: str
    at: float  # time.time() when it arrived


class CountingEndpoint:
    """An HTTP server on 127.0.0.1 that records every POST with its Idempotency-Key and
    performs the effect once per key (as Stripe or ClickUp do); each answer takes
    `delay_s` so steps are in flight when a worker dies."""

    def __init__(self, delay_s: Callable[[], float] = lambda: 0.0) -> None:
        self.requests: list[Request] = []
        self.effects: dict[str, str] = {}  # idempotency key -> path of the effect
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with endpoint.lock:
                    endpoint.requests.append(Request(self.path, key, time.time()))
                    endpoint.effects.setdefault(key, self.path)
                time.sleep(delay_s())  # this handler's own thread
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
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def by_key(self) -> dict[str, list[Request]]:
        with self.lock:
            grouped: dict[str, list[Request]] = {}
            for request in self.requests:
                grouped.setdefault(request.key, []).append(request)
            return grouped


@dataclass(frozen=True)
class QueueTally:
    """Every event of the queue by status (workflow_resume events included)."""

    by_status: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    @property
    def completed(self) -> int:
        return self.by_status.get("completed", 0)

    @property
    def dead_lettered(self) -> int:
        return self.by_status.get("failed", 0)

    @property
    def unfinished(self) -> int:
        return self.total - self.completed - self.dead_lettered


async def queue_tally(db: Database, event_type: str | None = None) -> QueueTally:
    query = sa.text(
        "SELECT status, count(*) FROM event_queue"
        + (" WHERE event_type = :event_type" if event_type else "")
        + " GROUP BY status"
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query, {"event_type": event_type})).all()
    return QueueTally({str(status): int(count) for status, count in rows})
