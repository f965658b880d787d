"""`switchboard serve`: the three MCP servers over HTTP, health endpoints and the worker."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn

from orchestration.queue.config import QueueConfig
from servers.cli.common import fail, open_database, run
from servers.http.app import HttpOptions, build_app
from servers.http.demo import prepare_demo
from shared.config import get_settings
from shared.gc_tuning import freeze_startup_objects

__all__ = ["UVICORN_SETTINGS", "serve_command"]

# No access log: a line per request costs more than verifying and queuing a webhook, and the
# audit log and /metrics already record what matters. uvicorn's "auto" picks the httptools
# parser and the uvloop event loop (both dependencies) and falls back to h11 and asyncio.
UVICORN_SETTINGS: dict[str, Any] = {
    "log_level": "warning",
    "access_log": False,
    "lifespan": "on",
    "http": "auto",
    "loop": "auto",
}


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8765,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Migrate the store, seed the demo tenant if it is missing, print a demo key",
        ),
    ] = False,
    no_worker: Annotated[
        bool,
        typer.Option("--no-worker", help="Leave events to separate `switchboard worker`s"),
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="Public host name clients use (repeatable); others get 421"),
    ] = None,
) -> None:
    """Serve the MCP servers, webhooks, /healthz and /readyz, with the worker in-process."""
    settings = get_settings()
    if demo:
        for line in run(lambda: prepare_demo(settings)):
            typer.echo(line, err=True)
    else:
        try:
            wait_s = QueueConfig().startup_wait_s
        except ValueError as exc:
            fail(f"queue settings (SWITCHBOARD_QUEUE_*) are invalid: {exc}")
            raise AssertionError from None

        async def check_store() -> None:  # one clear line now, not a traceback at startup
            # Started beside its database, or while it restarts: wait for it, as a worker does.
            async with open_database(settings, wait_s=wait_s):
                pass

        run(check_store)
    options = HttpOptions(
        host=host,
        port=port,
        allowed_hosts=list(allowed_host or []),
        embedded_worker=not no_worker,
    )
    app = build_app(settings, options)
    # What exists now (modules, pydantic schemas, the tools) lives as long as the process:
    # frozen, an occasional full collection no longer walks these ~200k objects (70-100 ms
    # stalls of whichever request it hit under bench/http.py's tool calls, none since).
    freeze_startup_objects()
    typer.echo(
        f"Switchboard listening on http://{host}:{port}: MCP at /mcp/crm, /mcp/analysis and "
        "/mcp/orchestration, webhooks at /webhooks/{source}, the dashboard at /dashboard, "
        "health at /healthz and /readyz, metrics at /metrics",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, **UVICORN_SETTINGS)
