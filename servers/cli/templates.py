"""`switchboard templates ...`: the pre-built workflows (the spec's n8n workflows and Make
scenarios): list them, install them for a tenant, export their platform JSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
import typer

from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.tools import load_tenant_tools
from orchestration.templates.catalog import TEMPLATES, find_template
from orchestration.templates.install import InstallResult, install_internal, install_n8n
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


@app.command("install")
def install_command(
    name: NameArgument,
    tenant: TenantOption = None,
    platform: Annotated[
        Literal["internal", "n8n"],
        typer.Option(help="internal: the step engine; n8n: the tenant's n8n, internal fallback"),
    ] = "internal",
) -> None:
    """Save the template's definition for a tenant; with --platform n8n, also create and
    activate its workflow in the tenant's n8n and route the definition there."""
    template = find_template(name)
    if platform == "n8n" and "n8n" not in template.platforms:
        raise ConfigError(
            f"template '{template.name}' has no n8n version; install it with --platform internal"
        )

    async def main() -> InstallResult:
        async with open_database() as db:
            tenant_id = (await resolve_tenant(db, tenant or get_settings().tenant)).id
            if platform == "internal":
                return await install_internal(db, tenant_id, template)
            cipher = cipher_from_settings(get_settings().secret_key)
            async with http_client_factory() as client:
                tools = await load_tenant_tools(db, cipher, tenant_id, client)
                adapter = tools.adapters.get("n8n")
                if not isinstance(adapter, N8nAdapter):
                    why = tools.unusable.get("n8n")
                    raise ConfigError(
                        f"n8n is not usable for this tenant: {why}"
                        if why
                        else "n8n is not configured for this tenant; add it with "
                        "`switchboard tools configure n8n --endpoint URL`"
                    )
                return await install_n8n(db, tenant_id, template, adapter)

    result = run(main)
    stored = result.saved.stored
    what = "installed" if result.saved.created else "updated" if result.saved.changed else "kept"
    typer.echo(f"{what} '{stored.name}' (version {stored.version}) on {result.platform}")
    if result.platform_refs:
        refs = result.platform_refs
        typer.echo(
            f"n8n workflow {refs['workflow_id']} active; webhook {refs['http_method']} "
            f"/webhook/{refs['webhook_path']}; fallback: internal"
        )


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
