"""The CRM server's resources: `crm://schema` (what query_crm can ask) and
`crm://accounts/{id}` (one account, as get_account returns it)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from servers.mcp.common.fence import FENCE_NOTICE, Fence
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import app_state
from servers.mcp.crm_models import AccountDetailOut
from shared.crm.query import describe_schema
from shared.errors import NotFoundError, SwitchboardError

__all__ = ["register_resources"]


def schema() -> str:
    return json.dumps(describe_schema(), indent=1)


async def account(id: str, ctx: Context[AppState, Any]) -> str:
    try:
        account_id = uuid.UUID(id)
    except ValueError:
        raise ResourceNotFoundError(
            f"{id!r} is not an account id (a UUID); search_prospects lists ids"
        ) from None
    state = app_state(ctx)
    caller = await state.caller(ctx.request_context)
    try:
        detail = await (await state.crm(caller.tenant_id)).get_account(account_id)
    except NotFoundError as exc:
        raise ResourceNotFoundError(f"{exc}; search_prospects lists ids") from exc
    except SwitchboardError as exc:
        raise ResourceError(str(exc)) from exc
    out = AccountDetailOut.model_validate(detail, from_attributes=True, context=Fence().context())
    return out.model_dump_json(indent=1)


def register_resources(server: MCPServer[Any]) -> None:
    server.resource(
        "crm://schema",
        name="crm-schema",
        title="CRM schema",
        description="Entities, fields (type, meaning, allowed values and operators), metrics "
        "and time buckets that query_crm accepts",
        mime_type="application/json",
    )(schema)
    server.resource(
        "crm://accounts/{id}",
        name="crm-account",
        title="CRM account",
        description="One account with contacts, open deals, recent activities and reviews, "
        "latest qualification and health score. " + FENCE_NOTICE,
        mime_type="application/json",
    )(account)
