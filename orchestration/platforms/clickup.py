"""ClickUp API v2: tasks, custom fields, list membership and webhooks.

Auth is `Authorization: <token>` (a personal `pk_...` token, or an OAuth access token),
never "Bearer". The per-token limit (100/min on most plans) is the default bucket;
429s carry `X-RateLimit-Reset`, honoured by PlatformHttp. Error bodies are
`{"err": ..., "ECODE": ...}`. The sync logic (which list, which fields) is in
`clickup_sync.py`; this module only speaks the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from orchestration.platforms.adapter import HttpAdapterBase, error_from_response, json_body
from orchestration.platforms.base import (
    ExecutionContext,
    PlatformDefinition,
    ResultStatus,
    ToolCapability,
    WorkflowResult,
    platform_ref,
)
from orchestration.platforms.config_store import ToolConfig
from orchestration.platforms.errors import PlatformRequestError
from orchestration.platforms.http_audit import outbound_caller
from orchestration.platforms.jsonshape import as_dict, dicts, text
from orchestration.platforms.mappings import MappingStore
from orchestration.platforms.resilience import ResilienceRegistry, RetryPolicy

__all__ = ["CLICKUP_API", "ClickUpAdapter"]

CLICKUP_API = "https://api.clickup.com/api/v2"


def _err_message(body: Any) -> str | None:
    return text(as_dict(body).get("err"))


def _err_code(body: Any) -> str | None:
    return text(as_dict(body).get("ECODE"))


class ClickUpAdapter(HttpAdapterBase):
    name = "clickup"
    default_per_minute = 100.0
    capabilities = frozenset(
        {
            ToolCapability.TASKS,
            ToolCapability.CUSTOM_FIELDS,
            ToolCapability.REMINDERS,
            ToolCapability.OUTBOUND_WEBHOOKS,
        }
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ToolConfig,
        *,
        registry: ResilienceRegistry | None = None,
        policy: RetryPolicy | None = None,
        mappings: MappingStore | None = None,
    ) -> None:
        self.mappings = mappings
        token = config.credentials.require("api_token")
        super().__init__(
            client,
            config,
            base_url=config.endpoint(CLICKUP_API),
            headers={"Authorization": token},
            registry=registry,
            policy=policy,
        )
        self._field_cache: dict[str, list[dict[str, Any]]] = {}

    async def _call(
        self, method: str, path: str, what: str, *, json: Any = None, params: Any = None
    ) -> dict[str, Any]:
        response = await self.http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise error_from_response(self.http, response, what, _err_message, _err_code)
        return as_dict(json_body(self.http, response, what))

    async def _probe(self) -> None:
        await self._call("GET", "/user", "read the authorised user")

    # -- tasks -----------------------------------------------------------------------------

    async def create_task(self, list_id: str, task: Mapping[str, Any]) -> dict[str, Any]:
        """POST /list/{id}/task; `task` is ClickUp's body (name, tags, custom_fields, ...).

        Not retried on timeouts or 5xx (it may have been applied): callers look the task
        up by its idempotency tag before creating it again.
        """
        return await self._call(
            "POST", f"/list/{list_id}/task", f"create a task in list {list_id}", json=dict(task)
        )

    async def update_task(self, task_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call(
            "PUT", f"/task/{task_id}", f"update task {task_id}", json=dict(changes)
        )

    async def get_task(self, task_id: str) -> dict[str, Any]:
        return await self._call("GET", f"/task/{task_id}", f"read task {task_id}")

    async def find_tasks_by_tag(self, list_id: str, tag: str) -> list[dict[str, Any]]:
        """Tasks of a list (closed ones too) carrying `tag`."""
        body = await self._call(
            "GET",
            f"/list/{list_id}/task",
            f"search list {list_id}",
            params={"tags[]": tag, "include_closed": "true", "subtasks": "true"},
        )
        return dicts(body.get("tasks"))

    async def add_task_to_list(self, list_id: str, task_id: str) -> None:
        """Adds the task to another list (needs the "Tasks in Multiple Lists" ClickApp)."""
        await self._call(
            "POST", f"/list/{list_id}/task/{task_id}", f"add task {task_id} to list {list_id}"
        )

    # -- custom fields ---------------------------------------------------------------------

    async def list_fields(self, list_id: str) -> list[dict[str, Any]]:
        if list_id not in self._field_cache:
            body = await self._call(
                "GET", f"/list/{list_id}/field", f"read the fields of list {list_id}"
            )
            self._field_cache[list_id] = dicts(body.get("fields"))
        return self._field_cache[list_id]

    async def field_value(self, list_id: str, field_id: str, value: Any) -> Any:
        """The value ClickUp accepts for a field: a drop-down takes its option id, so an
        option name (case-insensitive) is translated; other values pass through."""
        definition = next(
            (f for f in await self.list_fields(list_id) if f.get("id") == field_id), None
        )
        if definition is None or definition.get("type") != "drop_down" or value is None:
            return value
        options = dicts(as_dict(definition.get("type_config")).get("options"))
        for option in options:
            if value in (option.get("id"), option.get("orderindex")):
                return option.get("id")
            if str(option.get("name", "")).lower() == str(value).lower():
                return option.get("id")
        names = ", ".join(str(o.get("name")) for o in options)
        raise PlatformRequestError(
            f"'{value}' is not an option of ClickUp drop-down field {field_id} (options: "
            f"{names}); add the option in ClickUp or change the field mapping",
            platform=self.name,
        )

    async def set_custom_field(self, task_id: str, field_id: str, value: Any) -> None:
        await self._call(
            "POST",
            f"/task/{task_id}/field/{field_id}",
            f"set field {field_id} on task {task_id}",
            json={"value": value},
        )

    # -- webhooks --------------------------------------------------------------------------

    async def create_webhook(
        self, team_id: str, endpoint: str, events: Sequence[str], list_id: str | None = None
    ) -> tuple[str, str]:
        """Register a webhook; returns (webhook id, signing secret). Store the secret
        encrypted: deliveries are verified with it (`clickup_webhooks.verify_signature`)."""
        body: dict[str, Any] = {"endpoint": endpoint, "events": list(events)}
        if list_id:
            body["list_id"] = list_id
        answer = await self._call("POST", f"/team/{team_id}/webhook", "create a webhook", json=body)
        hook = as_dict(answer.get("webhook"))
        return str(answer.get("id") or hook.get("id")), str(hook.get("secret", ""))

    # -- the contract ----------------------------------------------------------------------

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult:
        """Syncs the account in `context.payload["account"]` into ClickUp: the spec's
        "Real-time ClickUp Synchronization" (task, custom fields, assignee, reminder)."""
        from orchestration.platforms.clickup_sync import ClickUpSync, ClickUpSyncSettings

        ref = platform_ref(definition, self.name)
        settings = ClickUpSyncSettings.from_settings({**self.config.settings, **dict(ref)})
        account = as_dict(context.payload.get("account"))
        calls_before = self.http.counter.calls
        if not account:
            raise PlatformRequestError(
                f"workflow '{definition.name}' ran the ClickUp sync with no 'account' object "
                "in its payload; pass the CRM account record",
                platform=self.name,
            )
        with outbound_caller(
            f"workflow:{definition.name}", execution_id=str(context.execution_id or "") or None
        ):
            outcome = await ClickUpSync(self, settings, self.mappings).sync_account(
                context.tenant_id, account, event_type=context.event_type
            )
        return WorkflowResult(
            platform=self.name,
            status=ResultStatus.COMPLETED,
            output=outcome.as_dict(),
            external_execution_id=outcome.task_id,
            api_calls=self.http.counter.calls - calls_before,
        )
