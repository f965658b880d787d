"""Installing a template for a tenant: its internal definition, and optionally its n8n
workflow in the tenant's n8n or its Make scenario in the tenant's Make organisation.

An n8n install makes the tenant's copy of the workflow JSON (its own webhook path,
webhook id and workflow name, so several tenants can share one n8n), creates the header
credential its Webhook node checks (from the tenant's n8n `webhook_auth_header` /
`webhook_auth_value`: a template is never installed with an open webhook), creates or
updates and activates it through `N8nAdapter.install`, then saves the definition with
primary platform n8n and fallback internal, and records the adapter's answer in
`workflow_definitions.platform_refs.n8n`. The header credential is found by its name and
updated in place on a re-install, so installing twice leaves one credential. When the
tenant's n8n settings name a `callback_base_url` (Switchboard's public URL), the workflow
also ends with the signed callback chain (templates.n8n_callback) that reports each run's
result to `/webhooks/n8n`.

A Make install makes the tenant's copy of the blueprint (its own scenario name), and
`MakeAdapter.install` creates (or updates) the scenario in the team of the tenant's make
settings `team_id`, with a custom webhook of the same name bound to its trigger, and
activates it; the definition is routed to make (fallback internal) and
`platform_refs.make` records `scenario_id`, `hook_id`, `webhook_url`, `team_id`.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from orchestration.platforms.jsonshape import as_dict, dicts
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.tools import TenantTools
from orchestration.templates.catalog import Template
from orchestration.templates.n8n_callback import callback_url, with_callback
from orchestration.workflows.store import SaveResult, save_definition
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.db.types import utcnow
from shared.errors import ConfigError

__all__ = [
    "WEBHOOK_NODE_TYPE",
    "InstallResult",
    "install_internal",
    "install_make",
    "install_n8n",
    "install_on",
    "record_platform_refs",
    "tenant_make_blueprint",
    "tenant_n8n_workflow",
]

WEBHOOK_NODE_TYPE = "n8n-nodes-base.webhook"
_WEBHOOK_IDS = uuid.UUID("9f6d3c1e-2b7a-4e58-9c31-5d8e0f4a7b62")  # namespace for uuid5


@dataclass(frozen=True)
class InstallResult:
    saved: SaveResult
    platform: str
    platform_refs: dict[str, Any] | None = None


def tenant_n8n_workflow(
    template: Template, tenant_id: uuid.UUID, credential_id: str
) -> dict[str, Any]:
    """The tenant's copy of the template's n8n JSON: a path, webhook id and name of its own,
    and the Webhook node bound to the header credential `credential_id`."""
    workflow = copy.deepcopy(template.export("n8n"))
    suffix = tenant_id.hex[:8]
    workflow["name"] = f"{template.name} [{suffix}]"
    for node in dicts(workflow.get("nodes")):
        if node.get("type") != WEBHOOK_NODE_TYPE:
            continue
        params = as_dict(node.get("parameters"))
        params["path"] = f"{params.get('path')}-{suffix}"
        node["webhookId"] = str(uuid.uuid5(_WEBHOOK_IDS, f"{tenant_id}:{template.slug}"))
        credentials = as_dict(node.get("credentials"))
        header_auth = as_dict(credentials.get("httpHeaderAuth"))
        header_auth["id"] = credential_id
        credentials["httpHeaderAuth"] = header_auth
        node["credentials"] = credentials
    return workflow


def tenant_make_blueprint(template: Template, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's copy of the template's Make blueprint: a scenario name of its own, so
    several tenants can share one Make team."""
    blueprint = copy.deepcopy(template.export("make"))
    blueprint["name"] = f"{template.name} [{tenant_id.hex[:8]}]"
    return blueprint


async def install_on(
    db: Database,
    tenant_id: uuid.UUID,
    template: Template,
    platform: str,
    tools: TenantTools | None,
    *,
    actor: str = "cli",
) -> InstallResult:
    """Install on `platform` (internal, n8n or make): the one entry point the CLI and the
    orchestration MCP server share. `tools` are the tenant's loaded adapters (unused for
    internal). ConfigError says what to configure when the platform is not usable."""
    if platform == "internal":
        return await install_internal(db, tenant_id, template, actor=actor)
    if platform not in template.platforms:
        raise ConfigError(
            f"template '{template.name}' has no {platform} version; install it with "
            f"platform one of: {', '.join(template.platforms)}"
        )
    adapter = _usable(tools or TenantTools(), platform)
    if isinstance(adapter, MakeAdapter):
        return await install_make(db, tenant_id, template, adapter, actor=actor)
    if isinstance(adapter, N8nAdapter):
        return await install_n8n(db, tenant_id, template, adapter, actor=actor)
    raise ConfigError(f"templates cannot be installed on {platform}")


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


async def install_internal(
    db: Database, tenant_id: uuid.UUID, template: Template, *, actor: str = "cli"
) -> InstallResult:
    saved = await save_definition(
        db, tenant_id, template.definition_yaml(), source_name=template.definition_file,
        actor=actor,
    )  # fmt: skip
    return InstallResult(saved=saved, platform="internal")


async def install_n8n(
    db: Database,
    tenant_id: uuid.UUID,
    template: Template,
    adapter: N8nAdapter,
    *,
    actor: str = "cli",
) -> InstallResult:
    """Create (or update) and activate the template in n8n, then save its definition routed
    to n8n with the internal engine as fallback. Raises ConfigError when the tenant's n8n
    credentials have no webhook header pair."""
    credentials = adapter.config.credentials
    header = credentials.optional("webhook_auth_header")
    value = credentials.optional("webhook_auth_value")
    if not header or not value:
        raise ConfigError(
            "n8n credentials lack 'webhook_auth_header' and 'webhook_auth_value'; templates "
            "protect their webhook with that header, so add both with "
            "`switchboard tools configure n8n`"
        )
    callback_base = adapter.config.settings.get("callback_base_url")
    secret = credentials.optional("webhook_secret")
    if callback_base and not secret:
        raise ConfigError(
            "n8n settings name a callback_base_url but the n8n credentials lack "
            "'webhook_secret' (the secret its callbacks are signed with); add it with "
            "`switchboard tools configure n8n --credential webhook_secret=...`"
        )
    credential_id = await adapter.ensure_header_credential(
        f"Switchboard webhook auth [{tenant_id.hex[:8]}] {template.slug}", header, value
    )
    workflow = tenant_n8n_workflow(template, tenant_id, credential_id)
    if callback_base and secret:
        url = callback_url(str(callback_base), tenant_id)
        workflow = with_callback(workflow, url, secret)
    refs = await adapter.install(workflow)
    refs["credential_id"] = credential_id
    refs["callback"] = bool(callback_base)
    return await _save_routed(db, tenant_id, template, "n8n", refs, actor)


async def install_make(
    db: Database,
    tenant_id: uuid.UUID,
    template: Template,
    adapter: MakeAdapter,
    *,
    actor: str = "cli",
) -> InstallResult:
    """Create (or update) and activate the template's scenario in Make, then save its
    definition routed to make with the internal engine as fallback. Raises ConfigError
    when the tenant's make settings name no `team_id`."""
    team_id = adapter.config.settings.get("team_id")
    if team_id is None or not str(team_id).isdigit():
        raise ConfigError(
            "make settings lack a numeric 'team_id' (the Make team the scenarios go in, "
            "shown in the team's URL); add it with `switchboard tools configure make "
            "--setting team_id=123`"
        )
    refs = await adapter.install(tenant_make_blueprint(template, tenant_id), int(str(team_id)))
    return await _save_routed(db, tenant_id, template, "make", refs, actor)


async def _save_routed(
    db: Database,
    tenant_id: uuid.UUID,
    template: Template,
    platform: str,
    refs: dict[str, Any],
    actor: str,
) -> InstallResult:
    definition = template.definition().model_copy(
        update={"primary_platform": platform, "fallback_platform": "internal"}
    )
    saved = await save_definition(
        db, tenant_id, definition.to_yaml(), source_name=template.definition_file, actor=actor
    )
    await record_platform_refs(db, saved.stored.id, platform, refs)
    return InstallResult(saved=saved, platform=platform, platform_refs=refs)


async def record_platform_refs(
    db: Database, definition_id: uuid.UUID, platform: str, refs: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge `refs` under `platform` into the definition's platform_refs; returns them all.

    Written here because the workflow store does not handle platform_refs yet (save keeps
    the column untouched, so a later re-save does not lose it)."""
    table = workflow_definitions
    async with db.transaction() as conn:
        current: Any = (
            await conn.execute(sa.select(table.c.platform_refs).where(table.c.id == definition_id))
        ).scalar_one()
        merged = dict(cast(dict[str, Any], current or {}))
        merged[platform] = dict(refs)
        await conn.execute(
            sa.update(table)
            .where(table.c.id == definition_id)
            .values(platform_refs=merged, updated_at=utcnow())
        )
    return merged
