"""`switchboard templates ...`: the pre-built workflows (the spec's n8n workflows and Make
scenarios): list them, install them for a tenant, export their platform JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
import typer

from orchestration.platforms.tools import load_tenant_tools
from orchestration.templates.catalog import TEMPLATES, find_template
from orchestration.templates.install import InstallResult, install_on
from orchestration.templates.integrations import INTEGRATION_CONFIGS, integration_config
from servers.cli.common import echo_json, open_database, run
from shared.config import get_settings
from shared.crypto import cipher_from_settings
from shared.tenants import resolve_tenant

app = typer.Typer(help="Pre-built workflow templates (n8n, Make, internal).", no_args_is_help=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name or id (default: SWITCHBOARD_TENANT)")
]
NameArgument = Annotated[str, typer.Argument(help="Template name or slug (`templates list`)")]


def http_client_factory() -> httpx.AsyncClient:
    """The client the adapters use (tests replace this to talk to an in-process fake)."""
    return httpx.AsyncClient(timeout=30.0)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
) -> None:
    """List the templates with their category and the platforms they come for."""
    rows = [t.summary() for t in TEMPLATES]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['slug']}  {row['name']}  [{row['category']}]  {', '.join(row['platforms'])}"
        )
        typer.echo(f"    {row['description']}")


@app.command("install")
def install_command(
    name: NameArgument,
    tenant: TenantOption = None,
    platform: Annotated[
        Literal["internal", "n8n", "make"],
        typer.Option(
            help="internal: the step engine; n8n / make: the tenant's n8n or Make, with the "
            "internal engine as fallback"
        ),
    ] = "internal",
) -> None:
    """Save the template's definition for a tenant; with --platform n8n or make, also create
    (or update) and activate its workflow/scenario there and route the definition to it.
    Installing again updates in place: nothing is created twice."""
    template = find_template(name)

    async def main() -> InstallResult:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            if platform == "internal":
                return await install_on(db, tenant_id, template, platform, None)
            cipher = cipher_from_settings(get_settings().secret_key)
            async with http_client_factory() as client:
                tools = await load_tenant_tools(db, cipher, tenant_id, client)
                return await install_on(db, tenant_id, template, platform, tools)

    result = run(main)
    stored = result.saved.stored
    what = "installed" if result.saved.created else "updated" if result.saved.changed else "kept"
    typer.echo(f"{what} '{stored.name}' (version {stored.version}) on {result.platform}")
    refs = result.platform_refs or {}
    if result.platform == "n8n":
        typer.echo(
            f"n8n workflow {refs['workflow_id']} active; webhook {refs['http_method']} "
            f"/webhook/{refs['webhook_path']}; fallback: internal"
        )
    elif result.platform == "make":
        hook = f"; webhook {refs['webhook_url']}" if refs.get("webhook_url") else ""
        typer.echo(f"Make scenario {refs['scenario_id']} active{hook}; fallback: internal")


@app.command("export")
def export_command(
    name: NameArgument,
    platform: Annotated[
        Literal["n8n", "make"], typer.Option(help="n8n workflow JSON or Make blueprint")
    ],
) -> None:
    """Print the template's n8n workflow JSON or Make blueprint (to import by hand)."""
    echo_json(find_template(name).export(platform))


@app.command("config")
def config_command(
    integration: Annotated[str, typer.Argument(help=f"One of: {', '.join(INTEGRATION_CONFIGS)}")],
) -> None:
    """Print the ClickUp field mappings or the Apify GMB collection config as JSON."""
    document: dict[str, Any] = integration_config(integration)
    echo_json(document)
