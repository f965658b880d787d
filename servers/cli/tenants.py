"""`switchboard tenants ...`: the workspaces one store holds."""

from __future__ import annotations

from typing import Annotated

import typer

from servers.cli.common import audit_cli, echo_json, open_database, run
from shared.tenants import Tenant, create_tenant, list_tenants

app = typer.Typer(help="Tenants (workspaces) in the store.", no_args_is_help=True)


def _as_dict(tenant: Tenant) -> dict[str, str]:
    created = tenant.created_at.isoformat() if tenant.created_at else ""
    return {"id": str(tenant.id), "name": tenant.name, "created_at": created}


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """List every tenant."""

    async def main() -> list[Tenant]:
        async with open_database() as db:
            return await list_tenants(db)

    found = run(main)
    if as_json:
        echo_json([_as_dict(t) for t in found])
        return
    if not found:
        typer.echo("no tenants yet: `switchboard tenants create NAME` or `db seed --demo`")
        return
    for tenant in found:
        typer.echo(f"{tenant.id}  {tenant.name}")


@app.command("create")
def create_command(name: Annotated[str, typer.Argument(help="A unique name")]) -> None:
    """Create a tenant and print its id."""

    async def main() -> Tenant:
        async with open_database() as db:
            created = await create_tenant(db, name)
            await audit_cli(db, "cli.tenants.create", tenant_id=created.id, target=created.name)
            return created

    tenant = run(main)
    typer.echo(f"created tenant {tenant.name}: {tenant.id}")
