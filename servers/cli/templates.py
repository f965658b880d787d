"""`switchboard templates ...`: the pre-built workflows (the spec's n8n workflows and Make
scenarios): list them, install them for a tenant, export their platform JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
import typer

from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.tools import TenantTools, load_tenant_tools
from orchestration.templates.catalog import TEMPLATES, find_template
from orchestration.templates.install import (
    InstallResult,
    install_internal,
    install_make,
    install_n8n,
)
from orchestration.templates.integrations import INTEGRATION_CONFIGS, integration_config
from servers.cli.common import echo_json, open_database, run
from shared.config import get_settings
from shared.crypto import cipher_from_settings
from shared.errors import ConfigError
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


def _usable(tools: TenantTools, platform: str) -> object:
    """The tenant's adapter for `platform`, or ConfigError saying how to configure it."""
    adapter = tools.adapters.get(platform)
    if adapter is None:
        why = tools.unusable.get(platform)
        raise ConfigError(
            f"{platform} is not usable for this tenant: {why}"
            if why
            else f"{platform} is not configured for this tenant; add it with "
            f"`switchboard tools configure {platform} --endpoint URL`"
        )
    return adapter


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
    if platform != "internal" and platform not in template.platforms:
        others = ", ".join(template.platforms)
        raise ConfigError(
            f"template '{template.name}' has no {platform} version; install it with "
            f"--platform one of: {others}"
        )

    async def main() -> InstallResult:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            if platform == "internal":
                return await install_internal(db, tenant_id, template)
            cipher = cipher_from_settings(get_settings().secret_key)
            async with http_client_factory() as client:
                tools = await load_tenant_tools(db, cipher, tenant_id, client)
                adapter = _usable(tools, platform)
                if isinstance(adapter, MakeAdapter):
                    return await install_make(db, tenant_id, template, adapter)
                assert isinstance(adapter, N8nAdapter)
                return await install_n8n(db, tenant_id, template, adapter)

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
