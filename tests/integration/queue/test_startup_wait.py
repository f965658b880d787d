"""A `switchboard worker` or `serve` started while its database cannot take connections (not
up yet, or restarting) waits for it, saying so, and then works; one whose settings are wrong,
or told not to wait, exits at once with one clear line."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.db.database import Database
from tests.fakes.server import free_port
from tests.integration.queue.worker_process import (
    queue_one_event,
    start_switchboard,
    start_worker,
    wait_for,
)

COMPLETE = "tests.integration.queue.handlers:complete"


def _worker(url: str, log: Path, markers: Path, wait_s: str) -> subprocess.Popen[bytes]:
    env = {
        "SWITCHBOARD_TEST_MARKER_DIR": str(markers),
        "SWITCHBOARD_QUEUE_STARTUP_WAIT_S": wait_s,
        "SWITCHBOARD_QUEUE_POLL_INTERVAL_S": "0.2",
    }
    return start_worker(url, log, "--drain", "--handler", COMPLETE, env=env)


async def _allow_connections(postgres_url: str, allowed: bool) -> None:
    url = make_url(postgres_url)
    admin = Database.from_url(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        async with admin.engine.connect() as conn:
            flag = "true" if allowed else "false"
            await conn.execute(sa.text(f"ALTER DATABASE {url.database} ALLOW_CONNECTIONS {flag}"))
    finally:
        await admin.dispose()


async def test_a_worker_waits_for_a_database_that_refuses_connections_then_works(
    postgres_url: str, tmp_path: Path
) -> None:
    db = Database.from_url(postgres_url)
    try:
        queued = await queue_one_event(db)
    finally:
        await db.dispose()
    log = tmp_path / "worker.log"
    await _allow_connections(postgres_url, False)  # as while the server restarts
    worker = _worker(postgres_url, log, tmp_path, wait_s="120")
    try:
        wait_for(
            lambda: b"trying again" in log.read_bytes() or worker.poll() is not None,
            60,
            "the worker to wait",
        )
        assert worker.poll() is None, log.read_text()  # still there, waiting
        await _allow_connections(postgres_url, True)
        assert worker.wait(120) == 0, log.read_text()
    finally:
        await _allow_connections(postgres_url, True)
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    out = log.read_text()
    assert "not currently accepting connections" in out  # it said why it waited
    assert "1 completed" in out and (tmp_path / f"done-{queued.queue_id}").exists()
    assert "Traceback" not in out


async def test_a_worker_told_not_to_wait_or_refused_its_password_exits_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    await _allow_connections(postgres_url, False)
    try:
        impatient = _worker(postgres_url, tmp_path / "impatient.log", tmp_path, wait_s="0")
        assert impatient.wait(60) == 1
    finally:
        await _allow_connections(postgres_url, True)
    wrong = make_url(postgres_url).set(password="not-the-password")
    refused = _worker(
        wrong.render_as_string(hide_password=False), tmp_path / "refused.log", tmp_path, "600"
    )
    assert refused.wait(60) == 1  # no waiting out a wrong password

    for name, reason in [
        ("impatient.log", "not currently accepting connections"),
        ("refused.log", "the user name or password was refused"),
    ]:
        out = (tmp_path / name).read_text()
        assert reason in out and "trying again" not in out, out
        assert "Traceback" not in out and "not-the-password" not in out
        assert len(out.strip().splitlines()) == 1, out


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status == 200
    except OSError:  # not listening yet, or 503
        return False


async def test_serve_waits_for_a_database_that_refuses_connections_then_answers(
    postgres_url: str, tmp_path: Path
) -> None:
    log, port = tmp_path / "serve.log", free_port()
    await _allow_connections(postgres_url, False)
    serve = start_switchboard(
        postgres_url,
        log,
        "serve",
        "--port",
        str(port),
        "--no-worker",
        env={"SWITCHBOARD_QUEUE_STARTUP_WAIT_S": "120"},
    )
    try:
        wait_for(
            lambda: b"trying again" in log.read_bytes() or serve.poll() is not None,
            60,
            "serve to wait",
        )
        assert serve.poll() is None, log.read_text()
        await _allow_connections(postgres_url, True)
        wait_for(lambda: _ready(port) or serve.poll() is not None, 60, "serve to answer")
        assert serve.poll() is None, log.read_text()
    finally:
        await _allow_connections(postgres_url, True)
        serve.terminate()
        serve.wait(30)
    assert "not currently accepting connections" in log.read_text()
