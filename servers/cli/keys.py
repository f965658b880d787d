"""`switchboard keys ...`: API keys for the HTTP servers (stored hashed, revocable)."""

from __future__ import annotations

from typing import Annotated

import typer

from servers.cli.common import audit_cli, echo_json, open_database, run
from shared.auth.api_keys import (
    ApiKeyInfo,
    IssuedKey,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from shared.auth.principal import Role
from shared.tenants import resolve_tenant

app = typer.Typer(help="API keys for the HTTP servers.", no_args_is_help=True)


@app.command("create")
def create_command(
    tenant: Annotated[str, typer.Option(help="Tenant name or id the key serves")],
    role: Annotated[Role, typer.Option(help="viewer, operator or admin")] = Role.VIEWER,
    label: Annotated[str | None, typer.Option(help="A note for whom the key is")] = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""

    async def main() -> IssuedKey:
        async with open_database() as db:
            found = await resolve_tenant(db, tenant)
            issued = await create_api_key(db, found.id, role, label)
            await audit_cli(
                db,
                "cli.keys.create",
                tenant_id=found.id,
                target=f"key:{issued.key_id}",
                details={"role": issued.role.value},
            )
            return issued

    issued = run(main)
    typer.echo(issued.token)
    typer.echo(
        f"key {issued.key_id} ({issued.role.value}) for tenant {tenant}: store it now, "
        "it is not shown again",
        err=True,
    )


@app.command("list")
def list_command(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """List keys (ids and roles; never the secrets)."""

    async def main() -> list[ApiKeyInfo]:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant)).id if tenant else None
            return await list_api_keys(db, tenant_id)

    keys = run(main)
    rows = [
        {
            "key_id": k.key_id,
            "tenant_id": str(k.tenant_id),
            "role": k.role.value,
            "label": k.label,
            "created_at": k.created_at.isoformat() if k.created_at else None,
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
            "revoked": k.revoked_at is not None,
        }
        for k in keys
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        typer.echo(f"{row['key_id']}  {row['role']:<8} {state:<7} {row['label'] or ''}")


@app.command("revoke")
def revoke_command(
    key_id: Annotated[str, typer.Argument(help="The key id `keys list` shows")],
) -> None:
    """Revoke a key at once."""

    async def main() -> None:
        async with open_database() as db:
            owners = {k.key_id: k.tenant_id for k in await list_api_keys(db, None)}
            await revoke_api_key(db, key_id)
            await audit_cli(
                db, "cli.keys.revoke", tenant_id=owners.get(key_id), target=f"key:{key_id}"
            )

    run(main)
    typer.echo(f"revoked key {key_id}")
