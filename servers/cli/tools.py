"""`switchboard tools ...`: configure, list, check the external platforms; rotate their keys.

Credentials are encrypted with SWITCHBOARD_SECRET_KEY before they are stored and are
never printed: listings show each credential's name with `***`, and every message names
fields, never values.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import sqlalchemy as sa
import typer

from orchestration.platforms.clickup_reconcile_runs import reconcile_tenant
from orchestration.platforms.config_store import (
    KNOWN_TOOLS,
    WEBHOOK_ONLY_TOOLS,
    ToolConfig,
    list_tool_configs,
    load_tool_config,
    rotate_credentials,
    save_tool_config,
)
from orchestration.platforms.http_audit import outbound_caller
from orchestration.platforms.tools import build_adapter
from orchestration.platforms.usage import flush_counter, record_health
from servers.cli.common import audit_cli, echo_json, fail, open_database, run
from shared.config import get_settings
from shared.crypto import cipher_from_settings
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from shared.errors import NotFoundError, SwitchboardError
from shared.tenants import Tenant, resolve_tenant

__all__ = ["app"]

app = typer.Typer(
    help="External platforms (n8n, make, clickup, apify): configure, list, check, reconcile, "
    "rotate keys.",
    no_args_is_help=True,
)

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant name or id (default: SWITCHBOARD_TENANT, or demo)"),
]
MASK = "***"


async def _tenant(db: Database, name: str | None) -> Tenant:
    return await resolve_tenant(db, name or get_settings().tenant)


def _pairs(values: list[str], flag: str, *, as_json: bool) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for position, item in enumerate(values, start=1):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # Nothing of the argument is shown: without '=' it may be the secret itself.
            fail(f"{flag} takes KEY=VALUE (e.g. {flag} api_key=...); {flag} #{position} has no key")
        if as_json:
            try:
                parsed[key.strip()] = json.loads(value)
            except json.JSONDecodeError as exc:
                fail(
                    f"{flag} {key.strip()}=... is not JSON ({exc.msg}); quote strings, "
                    'e.g. --setting \'lists={"qualified_prospects": "901"}\''
                )
        else:
            parsed[key.strip()] = value
    return parsed


CONFIGURABLE = KNOWN_TOOLS + WEBHOOK_ONLY_TOOLS  # `generic`: a sender of webhooks only


def _check_tool(tool: str) -> None:
    if tool not in CONFIGURABLE:
        fail(f"unknown tool '{tool}'; choose one of {', '.join(CONFIGURABLE)}")


@app.command("configure")
def configure_command(
    tool: Annotated[str, typer.Argument(help="n8n, make, clickup, apify or generic")],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="API base URL (kept when omitted)")
    ] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option("--credential", help="KEY=VALUE, repeatable; stored encrypted"),
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option("--setting", help="KEY=JSON, repeatable (e.g. ClickUp lists, Make zone)"),
    ] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option("--rate-limit", min=1, help="Requests per minute this tool may receive"),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Add or change a platform's configuration; given credentials/settings are merged in."""
    _check_tool(tool)
    credentials = _pairs(credential or [], "--credential", as_json=False)
    settings_given = _pairs(setting or [], "--setting", as_json=True)
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        fail(f"--endpoint must be an http(s) URL, e.g. https://n8n.example.com; got '{endpoint}'")

    async def main() -> tuple[str, list[str], bool]:
        cipher = cipher_from_settings(get_settings().secret_key)
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            try:
                current: ToolConfig | None = await load_tool_config(db, cipher, owner.id, tool)
            except NotFoundError:
                current = None
            if current is None and endpoint is None and tool not in WEBHOOK_ONLY_TOOLS:
                fail(f"{tool} is not configured yet: give --endpoint URL")
            merged_credentials = {**(dict(current.credentials) if current else {}), **credentials}
            rate_limits = dict(current.rate_limits) if current else {}
            if rate_limit is not None:
                rate_limits["requests_per_minute"] = rate_limit
            await save_tool_config(
                db,
                cipher,
                tenant_id=owner.id,
                tool_name=tool,
                api_endpoint=endpoint or (current.api_endpoint if current else None),
                credentials=merged_credentials,
                authentication_type=current.authentication_type if current else "api_key",
                rate_limits=rate_limits,
                supported_operations=current.supported_operations if current else None,
                webhook_endpoints=current.webhook_endpoints if current else None,
                settings={**(current.settings if current else {}), **settings_given},
                tool_version=current.tool_version if current else None,
            )
            await audit_cli(
                db,
                "cli.tools.configure",
                tenant_id=owner.id,
                target=f"tool:{tool}",
                details={"credential_names": sorted(credentials), "created": current is None},
            )
            return owner.name, sorted(merged_credentials), current is None

    tenant_name, names, created = run(main)
    shown = ", ".join(f"{n}={MASK}" for n in names) or "none"
    next_step = (
        f"it may now POST signed deliveries to /webhooks/{tool}?tenant=<tenant id>"
        if tool in WEBHOOK_ONLY_TOOLS
        else f"check it with `switchboard tools check {tool}`"
    )
    typer.echo(
        f"{tool} {'configured' if created else 'updated'} for tenant {tenant_name} "
        f"(credentials: {shown}); {next_step}"
    )


async def _rows(db: Database, tenant_id: Any) -> dict[str, dict[str, Any]]:
    t = external_tool_configs
    query = sa.select(
        t.c.tool_name,
        t.c.connection_status,
        t.c.last_health_check,
        t.c.health_check_results,
        t.c.monthly_api_calls,
        t.c.last_api_call,
        t.c.error_count,
    ).where(t.c.tenant_id == tenant_id)
    async with db.engine.connect() as conn:
        return {str(r["tool_name"]): dict(r) for r in (await conn.execute(query)).mappings()}


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
    tenant: TenantOption = None,
) -> None:
    """The tenant's platforms: endpoint, credential names (values masked), health, usage."""

    async def main() -> list[dict[str, Any]]:
        cipher = cipher_from_settings(get_settings().secret_key)
        async with open_database() as db:
            owner = await _tenant(db, tenant)
            configs = await list_tool_configs(db, cipher, owner.id)
            rows = await _rows(db, owner.id)
        shown: list[dict[str, Any]] = []
        for config in configs:
            row = rows.get(config.tool_name, {})
            last_check = row.get("last_health_check")
            health: dict[str, Any] = row.get("health_check_results") or {}
            shown.append(
                {
                    "tool": config.tool_name,
                    "endpoint": config.api_endpoint,
                    "credentials": dict.fromkeys(sorted(config.credentials), MASK),
                    "rate_limits": config.rate_limits,
                    "settings": config.settings,
                    "connection_status": row.get("connection_status"),
                    "last_health_check": last_check.isoformat() if last_check else None,
                    "health_detail": health.get("detail"),
                    "monthly_api_calls": row.get("monthly_api_calls") or 0,
                    "error_count": row.get("error_count") or 0,
                }
            )
        return shown

    tools = run(main)
    if as_json:
        echo_json(tools)
        return
    if not tools:
        typer.echo("no tools configured; add one with `switchboard tools configure TOOL ...`")
        return
    for item in tools:
        creds = ", ".join(f"{k}={v}" for k, v in item["credentials"].items()) or "none"
        status = item["connection_status"] if item["last_health_check"] else "unchecked"
        typer.echo(
            f"{item['tool']:<8} {status or '?':<12} {item['endpoint'] or '-'}"
            f"  credentials: {creds}  calls this month: {item['monthly_api_calls']}"
        )


@app.command("check")
def check_command(
    tool: Annotated[str | None, typer.Argument(help="One tool (default: all configured)")] = None,
    tenant: TenantOption = None,
) -> None:
    """Validate each platform's connection now (one authenticated call) and store its health;
    exit 1 if one failed."""
    if tool is not None:
        _check_tool(tool)

    async def main() -> list[tuple[str, bool, str, str | None]]:
        cipher = cipher_from_settings(get_settings().secret_key)
        results: list[tuple[str, bool, str, str | None]] = []
        async with open_database() as db, httpx.AsyncClient(timeout=30.0) as client:
            owner = await _tenant(db, tenant)
            configs = [
                c
                for c in await list_tool_configs(db, cipher, owner.id)
                if c.tool_name not in WEBHOOK_ONLY_TOOLS  # nothing of ours calls them
            ]
            if tool is not None:
                configs = [c for c in configs if c.tool_name == tool]
                if not configs:
                    fail(f"{tool} is not configured; add it with `switchboard tools configure`")
            for config in configs:
                try:
                    adapter = build_adapter(client, config)
                except SwitchboardError as exc:
                    results.append((config.tool_name, False, "misconfigured", str(exc)))
                    continue
                # One probe: get_status is validate_connection's call, with the detail kept.
                with outbound_caller("cli"):
                    status = await adapter.get_status()
                valid = status.detail is None
                await record_health(db, owner.id, config.tool_name, status)
                await flush_counter(db, owner.id, config.tool_name, adapter.http.counter)
                results.append(
                    (config.tool_name, valid, status.connection_status.value, status.detail)
                )
        return results

    results = run(main)
    if not results:
        typer.echo("no tools configured; add one with `switchboard tools configure TOOL ...`")
        return
    for name, valid, status, detail in results:
        verdict = "ok" if valid else "FAILED"
        typer.echo(f"{name:<8} {verdict:<7} {status}" + (f": {detail}" if detail else ""))
    if not all(valid for _, valid, _, _ in results):
        raise typer.Exit(1)


@app.command("reconcile")
def reconcile_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
    tenant: TenantOption = None,
) -> None:
    """Compare every synced CRM account with its ClickUp task field by field, repair drift
    (the CRM wins unless the task changed later) and store the run's sync accuracy."""

    async def main() -> dict[str, Any]:
        cipher = cipher_from_settings(get_settings().secret_key)
        async with open_database() as db, httpx.AsyncClient(timeout=30.0) as client:
            owner = await _tenant(db, tenant)
            try:
                done = await reconcile_tenant(db, cipher, owner.id, client, triggered_by="cli")
            except NotFoundError:
                fail(
                    "clickup is not configured for this tenant; add it with `switchboard tools "
                    "configure clickup --endpoint URL --credential api_token=...`"
                )
                raise  # fail() exits; this keeps the type checker informed
            return done.as_dict()

    figures = run(main)
    if as_json:
        echo_json(figures)
        return
    typer.echo(
        f"reconciled {figures['records']} account(s): {figures['fields_compared']} fields "
        f"compared, {figures['drifted']} drifted, {figures['repaired']} repaired, "
        f"{figures['resynced']} task(s) made again; sync accuracy {figures['accuracy_pct']}%"
    )


@app.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every stored credential with the newest key in SWITCHBOARD_SECRET_KEY.

    Put the new key first (comma-separated, newest first), run this, then drop the old key.
    """

    async def main() -> int:
        cipher = cipher_from_settings(get_settings().secret_key)
        async with open_database() as db:
            rewritten = await rotate_credentials(db, cipher)
            await audit_cli(
                db, "cli.tools.rotate_keys", tenant_id=None, details={"rewritten": rewritten}
            )
            return rewritten

    count = run(main)
    typer.echo(
        f"re-encrypted {count} credential set(s) with the newest key; keys after the first "
        "in SWITCHBOARD_SECRET_KEY can now be removed"
    )
