"""`switchboard worker`: process queued events until stopped (or, with --drain, until idle)."""

from __future__ import annotations

import importlib
import logging
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Annotated, Any, cast

import anyio
import typer

from orchestration.queue.config import QueueConfig
from orchestration.queue.types import EventHandler
from orchestration.runtime import open_worker_runtime
from orchestration.worker import Worker, WorkerStats, create_worker
from servers.cli.common import fail, open_database, run
from servers.cli.local_mcp import local_mcp_servers
from shared.config import get_settings
from shared.db.database import Database
from shared.errors import ConfigError
from shared.gc_tuning import freeze_startup_objects

__all__ = ["DEFAULT_HANDLER", "load_handler", "worker_command"]

# The workflow engine without routing or services, for `--handler` users who want it bare.
# By default the worker runs orchestration.runtime (services, routing, failover); a handler
# spec "module:factory" (the factory called with the Database), from --handler or
# `SWITCHBOARD_EVENT_HANDLER`, replaces it (tests, benchmarks).
DEFAULT_HANDLER = "orchestration.workflows.handler:WorkflowEventHandler"

log = logging.getLogger(__name__)


def load_handler(spec: str, db: Database) -> EventHandler:
    """Build the handler named by `spec` ("package.module:factory"). Raises ConfigError."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"handler '{spec}' must look like package.module:factory")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"handler module '{module_name}' cannot be imported: {exc}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"'{attr}' in {module_name} is not a handler factory")
    return cast("EventHandler", cast("Callable[[Database], Any]", factory)(db))


async def _stop_on_signals(worker: Worker, scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        first = True
        async for signum in signals:
            if first:
                log.info(
                    "%s: finishing in-flight events (again to stop now)",
                    signal.Signals(signum).name,
                )
                worker.stop()
                first = False
            else:
                scope.cancel()  # a second signal: stop now; leases expire and are reaped


def worker_command(
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Events handled at once")
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit once nothing is due and nothing is running")
    ] = False,
    handler: Annotated[
        str | None,
        typer.Option(
            envvar="SWITCHBOARD_EVENT_HANDLER",
            help="Handler factory module:attr replacing the workflow runtime "
            f"(e.g. {DEFAULT_HANDLER})",
        ),
    ] = None,
) -> None:
    """Process queued events: claim, run workflows, record outcomes; SIGTERM stops gracefully.

    Any number of workers may share one Postgres; on SQLite run one worker process.
    """
    try:
        base = QueueConfig()
    except ValueError as exc:
        fail(f"queue settings (SWITCHBOARD_QUEUE_*) are invalid: {exc}")
        raise AssertionError from None
    config = base.model_copy(update={"concurrency": concurrency}) if concurrency else base

    async def main() -> WorkerStats:
        settings = get_settings()
        # Started beside its database, or while it restarts: wait for it, then run.
        async with (
            open_database(settings, wait_s=config.startup_wait_s) as db,
            AsyncExitStack() as stack,
        ):
            runtime = await stack.enter_async_context(
                open_worker_runtime(
                    settings, db, local_mcp_servers=local_mcp_servers(settings, db, stack)
                )
            )
            # A handler named by --handler/SWITCHBOARD_EVENT_HANDLER replaces the workflow
            # runtime (benchmarks, tests); by default events run through it.
            chosen = load_handler(handler, db) if handler else runtime.handler
            worker = create_worker(db, chosen, config=config)
            freeze_startup_objects()
            log.info("worker %s started (concurrency %d)", worker.worker_id, config.concurrency)
            async with anyio.create_task_group() as tg:
                tg.start_soon(_stop_on_signals, worker, tg.cancel_scope)
                if not drain:  # schedules and health checks belong to a long-running worker
                    tg.start_soon(runtime.run_background)
                await worker.run(drain=drain)
                tg.cancel_scope.cancel()
            return worker.stats

    stats = run(main)
    typer.echo(
        f"worker stopped: {stats.completed} completed, {stats.retried} retried, "
        f"{stats.dead_lettered} dead-lettered, {stats.released} released, "
        f"{stats.reaped} reaped from other workers, {stats.timed_out} timed out, "
        f"{stats.lost_leases} abandoned after losing their lease, "
        f"{stats.retained_events} event(s) and {stats.retained_executions} execution(s) "
        "past retention"
    )
