"""`switchboard workflows ...`: load, list and inspect workflow definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from orchestration.events.publish import PublishResult
from orchestration.workflows.errors import DefinitionError
from orchestration.workflows.store import (
    SaveResult,
    StoredDefinition,
    get_definition,
    list_definitions,
    save_definition,
    set_active,
)
from orchestration.workflows.triggers import trigger_workflow
from servers.cli.common import echo_json, fail, open_database, run
from shared.config import get_settings
from shared.tenants import resolve_tenant

app = typer.Typer(help="Workflow definitions (YAML).", no_args_is_help=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name or id (default: SWITCHBOARD_TENANT)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts")]


def _summary(stored: StoredDefinition) -> dict[str, Any]:
    definition = stored.definition
    trigger = definition.trigger
    detail = trigger.event_type or trigger.cron or trigger.frequency or trigger.endpoint or ""
    return {
        "id": str(stored.id),
        "name": stored.name,
        "version": stored.version,
        "active": definition.is_active,
        "category": definition.category,
        "trigger": f"{trigger.type}:{detail}" if detail else trigger.type,
        "primary_platform": definition.primary_platform,
        "steps": len(definition.steps),
        "updated_at": stored.updated_at.isoformat() if stored.updated_at else None,
    }


def _yaml_files(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.is_file():
            found.append(path)
        else:
            fail(f"{path} does not exist")
    if not found:
        fail("no .yaml or .yml files found in the paths given")
    return found


@app.command("load")
def load_command(
    paths: Annotated[list[Path], typer.Argument(help="YAML files, or folders of them")],
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Validate and save definitions; each change bumps the version. Exit 1 on any error."""
    files = _yaml_files(paths)

    async def main() -> tuple[list[tuple[Path, SaveResult]], list[tuple[Path, DefinitionError]]]:
        saved: list[tuple[Path, SaveResult]] = []
        rejected: list[tuple[Path, DefinitionError]] = []
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            for file in files:
                try:
                    text = file.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    fail(f"cannot read {file}: {exc}")
                    raise  # unreachable: fail() exits
                try:
                    saved.append(
                        (file, await save_definition(db, tenant_id, text, source_name=str(file)))
                    )
                except DefinitionError as exc:
                    rejected.append((file, exc))
        return saved, rejected

    saved, rejected = run(main)
    if as_json:
        echo_json(
            {
                "saved": [
                    {
                        **_summary(r.stored),
                        "file": str(f),
                        "created": r.created,
                        "changed": r.changed,
                    }
                    for f, r in saved
                ],
                "rejected": [
                    {
                        "file": str(f),
                        "problems": [
                            {"line": p.line, "path": p.path, "reason": p.reason} for p in e.problems
                        ],
                    }
                    for f, e in rejected
                ],
            }
        )
    else:
        for file, result in saved:
            what = "created" if result.created else ("updated" if result.changed else "unchanged")
            typer.echo(f"{file}: {what} '{result.stored.name}' (version {result.stored.version})")
        for file, error in rejected:
            for problem in error.problems:
                typer.echo(f"{file}: {problem}", err=True)
    if rejected:
        raise typer.Exit(1)


@app.command("list")
def list_command(tenant: TenantOption = None, as_json: JsonOption = False) -> None:
    """List the tenant's workflow definitions."""

    async def main() -> list[StoredDefinition]:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await list_definitions(db, tenant_id)

    found = run(main)
    rows = [_summary(s) for s in found]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no workflows yet: `switchboard workflows load FILE.yaml`")
        return
    for row in rows:
        state = "active" if row["active"] else "paused"
        typer.echo(
            f"{row['name']}  v{row['version']}  {state}  {row['trigger']}  {row['steps']} steps"
        )


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Workflow name or id")],
    tenant: TenantOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print a definition as YAML (or JSON), with its version."""

    async def main() -> StoredDefinition:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await get_definition(db, tenant_id, name)

    stored = run(main)
    if as_json:
        echo_json({**_summary(stored), "definition": stored.definition.to_document()})
        return
    typer.echo(f"# {stored.name}: version {stored.version}, id {stored.id}")
    typer.echo(stored.definition.to_yaml().rstrip())


def _toggle(name: str, tenant: str | None, active: bool) -> None:
    async def main() -> StoredDefinition:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await set_active(db, tenant_id, name, active)

    stored = run(main)
    state = "active" if active else "paused"
    typer.echo(f"'{stored.name}' is {state} (version {stored.version})")


@app.command("enable")
def enable_command(
    name: Annotated[str, typer.Argument(help="Workflow name or id")], tenant: TenantOption = None
) -> None:
    """Activate a workflow (its chains are checked again)."""
    _toggle(name, tenant, True)


@app.command("disable")
def disable_command(
    name: Annotated[str, typer.Argument(help="Workflow name or id")], tenant: TenantOption = None
) -> None:
    """Pause a workflow: no new executions start; running ones finish."""
    _toggle(name, tenant, False)


@app.command("run")
def run_command(
    name: Annotated[str, typer.Argument(help="Workflow name or id")],
    data: Annotated[str, typer.Option(help="The run's input as a JSON object (event.*)")] = "{}",
    customer: Annotated[str | None, typer.Option(help="Customer id the run is about")] = None,
    tenant: TenantOption = None,
) -> None:
    """Queue a run of a workflow now; a worker executes it (`switchboard executions list`)."""
    try:
        parsed: Any = json.loads(data)
    except json.JSONDecodeError as exc:
        fail(f"--data is not JSON: {exc.msg} at character {exc.pos}")
        raise  # unreachable: fail() exits
    if not isinstance(parsed, dict):
        fail('--data must be a JSON object, e.g. \'{"account_id": "a1"}\'')

    async def main() -> PublishResult:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            return await trigger_workflow(
                db, tenant_id, name, cast(dict[str, Any], parsed), customer_id=customer
            )

    queued = run(main)
    typer.echo(f"queued run of '{name}' as event {queued.queue_id}")
