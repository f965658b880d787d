"""The `switchboard` command: one entry point, every sub-command registered here."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from servers.cli import (
    db,
    events,
    executions,
    keys,
    mcp,
    serve,
    templates,
    tenants,
    tools,
    worker,
    workflows,
)
from servers.cli.common import echo_json
from shared.config import default_data_dir, get_settings
from shared.errors import SwitchboardError

__all__ = ["app", "main"]

app = typer.Typer(
    name="switchboard",
    help="Switchboard: MCP servers and a durable event processor for your CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenants")
app.add_typer(mcp.app, name="mcp")
app.add_typer(keys.app, name="keys")
app.add_typer(workflows.app, name="workflows")
app.add_typer(executions.app, name="executions")
app.add_typer(events.app, name="events")
app.add_typer(templates.app, name="templates")
app.add_typer(tools.app, name="tools")
app.command("worker")(worker.worker_command)
app.command("serve")(serve.serve_command)

_debug = False


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors")] = False,
) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if debug else get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every step and httpx every request at INFO; a user wants the one-line
    # result we print.
    for chatty in ("alembic", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.DEBUG if debug else logging.WARNING)


@app.command("config")
def config_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """Print the settings in force (secrets masked) and where the data lives."""
    shown = get_settings().masked()
    shown["data_dir"] = str(default_data_dir())
    if as_json:
        echo_json(shown)
        return
    width = max(len(k) for k in shown)
    for key, value in shown.items():
        typer.echo(f"{key.ljust(width)}  {'' if value is None else value}")


def main() -> None:
    """Console-script entry: user-facing errors become one line and exit code 1."""
    try:
        app()
    except SwitchboardError as exc:
        if _debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:  # the top level: a bug still gets one line unless --debug
        if _debug:
            raise
        typer.echo(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
