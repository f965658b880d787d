"""`switchboard executions ...`: what ran, when, how long, and what went wrong."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orchestration.executions import STATUSES, ExecutionRecord, get_execution, list_executions
from servers.cli.common import echo_json, fail, open_database, run
from shared.config import get_settings
from shared.tenants import resolve_tenant

app = typer.Typer(help="Workflow executions.", no_args_is_help=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name or id (default: SWITCHBOARD_TENANT)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


@app.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATUSES)}")] = None,
    workflow: Annotated[str | None, typer.Option(help="Only this workflow (name)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many")] = 50,
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """List executions, newest first."""
    if status is not None and status not in STATUSES:
        fail(f"--status must be one of {', '.join(STATUSES)}, not '{status}'")

    async def main() -> list[ExecutionRecord]:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await list_executions(
                db, tenant_id, status=status, workflow=workflow, limit=limit
            )

    found = run(main)
    if as_json:
        echo_json([e.as_dict() for e in found])
        return
    if not found:
        typer.echo("no executions match")
        return
    for e in found:
        started = e.started_at.isoformat(timespec="seconds") if e.started_at else "-"
        took = f"{e.execution_time_ms} ms" if e.execution_time_ms is not None else "-"
        error = (
            f"  [{e.error_details.get('step')}] {e.error_details.get('message')}"
            if e.error_details
            else ""
        )
        typer.echo(
            f"{e.id}  {started}  {e.status:<9}  {e.workflow_name} v{e.workflow_version}  "
            f"{took}{error}"
        )


@app.command("show")
def show_command(
    execution_id: Annotated[str, typer.Argument(help="Execution id")],
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one execution with each step's status and output."""

    async def main() -> ExecutionRecord:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await get_execution(db, tenant_id, execution_id)

    found = run(main)
    shown = found.as_dict(with_state=True)
    if as_json:
        echo_json(shown)
        return
    steps = shown.pop("steps")
    result = shown.pop("execution_result")
    for key, value in shown.items():
        if value is not None:
            typer.echo(
                f"{key:<22} {json.dumps(value, default=str) if isinstance(value, dict) else value}"
            )
    typer.echo("steps:")
    for key, record in steps.items():
        detail = (
            record["output"]
            if "output" in record
            else record.get("error") or record.get("resume_at", "")
        )
        typer.echo(f"  {key:<24} {record.get('status'):<9} {json.dumps(detail, default=str)[:200]}")
    if result is not None and found.status == "completed":
        typer.echo(f"skipped: {', '.join(result.get('skipped') or []) or 'none'}")
