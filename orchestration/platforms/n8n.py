"""n8n: run workflows through their production webhooks; manage them through the public API.

The public API (`<base>/api/v1`, header `X-N8N-API-KEY`) has no "execute" endpoint, so a
workflow runs through its Webhook node at `<base>/webhook/<path>`, with header auth
(credentials `webhook_auth_header` / `webhook_auth_value`) and our idempotency key. Right
after activation n8n can answer 404 "not registered" for about a second: that answer is
retried until `activation_grace_s` has passed, and only then reported.
Credentials: `api_key` (public API), optional webhook header pair.

A webhook answers either the workflow's result (a "Respond to Webhook" node at the end:
COMPLETED), or that it is still running: `{"status": "running", "executionId": ...}` from a
"Respond to Webhook" node placed early (RUNNING with n8n's execution id), or n8n's own
"Workflow was started" (`responseMode: onReceived`; RUNNING, no id: the execution is
found later by the idempotency key in its Webhook node's body). `execution_result` maps a
finished execution read from `GET /executions/{id}?includeData=true`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
import stamina

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
from orchestration.platforms.errors import PlatformRequestError, WebhookNotRegisteredError
from orchestration.platforms.jsonshape import as_dict, dicts, text
from orchestration.platforms.n8n_executions import (
    RUNNING_ANSWERS,
    WEBHOOK_NODE_TYPE,
    execution_output,
    execution_result,
    webhook_key,
)
from orchestration.platforms.resilience import ResilienceRegistry, RetryPolicy

__all__ = [
    "IDEMPOTENCY_HEADER",
    "RUNNING_ANSWERS",
    "WORKFLOW_BODY_KEYS",
    "N8nAdapter",
    "execution_output",
    "workflow_body",
]

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
WORKFLOW_BODY_KEYS = ("name", "nodes", "connections", "settings")


def workflow_body(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys the public API accepts on create/update (anything else is a 400)."""
    body = {key: workflow[key] for key in WORKFLOW_BODY_KEYS if key in workflow}
    body.setdefault("settings", {"executionOrder": "v1"})
    missing = [key for key in ("name", "nodes", "connections") if key not in body]
    if missing:
        raise PlatformRequestError(
            f"n8n workflow JSON lacks {', '.join(missing)}; export it from n8n or use a template",
            platform="n8n",
        )
    return body


def _message(body: Any) -> str | None:
    return text(as_dict(body).get("message"))


class N8nAdapter(HttpAdapterBase):
    name = "n8n"
    default_per_minute = 600.0  # self-hosted: no documented limit; protect the instance
    capabilities = frozenset(
        {
            ToolCapability.RUN_WORKFLOW,
            ToolCapability.WEBHOOK_TRIGGER,
            ToolCapability.MANAGE_WORKFLOWS,
            ToolCapability.READ_EXECUTIONS,
        }
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ToolConfig,
        *,
        registry: ResilienceRegistry | None = None,
        policy: RetryPolicy | None = None,
        activation_grace_s: float = 10.0,
    ) -> None:
        credentials = config.credentials
        super().__init__(
            client,
            config,
            base_url=config.endpoint(),
            headers={"X-N8N-API-KEY": credentials.require("api_key")},
            registry=registry,
            policy=policy,
        )
        header = credentials.optional("webhook_auth_header")
        value = credentials.optional("webhook_auth_value")
        self._webhook_headers = {header: value} if header and value else {}
        self.activation_grace_s = activation_grace_s

    async def _api(self, method: str, path: str, what: str, **kw: Any) -> dict[str, Any]:
        response = await self.http.request(method, f"/api/v1{path}", **kw)
        if response.status_code >= 400:
            raise error_from_response(self.http, response, what, _message)
        return as_dict(json_body(self.http, response, what))

    async def _probe(self) -> None:
        await self._api("GET", "/workflows", "list workflows", params={"limit": 1})

    # -- workflows -------------------------------------------------------------------------

    async def list_workflows(self, *, active: bool | None = None) -> list[dict[str, Any]]:
        """Every workflow, following `nextCursor`."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if active is not None:
                params["active"] = str(active).lower()
            if cursor:
                params["cursor"] = cursor
            page = await self._api("GET", "/workflows", "list workflows", params=params)
            found += dicts(page.get("data"))
            cursor = text(page.get("nextCursor"))
            if not cursor:
                return found

    async def create_workflow(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        """Create (inactive); extra keys such as id, active, tags are dropped, not sent."""
        return await self._api(
            "POST",
            "/workflows",
            "create a workflow",
            json=workflow_body(workflow),
            idempotent=False,
        )

    async def update_workflow(
        self, workflow_id: str, workflow: Mapping[str, Any]
    ) -> dict[str, Any]:
        return await self._api(
            "PUT",
            f"/workflows/{workflow_id}",
            f"update workflow {workflow_id}",
            json=workflow_body(workflow),
        )

    async def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return await self._api("GET", f"/workflows/{workflow_id}", f"read workflow {workflow_id}")

    async def delete_workflow(self, workflow_id: str) -> None:
        await self._api("DELETE", f"/workflows/{workflow_id}", f"delete workflow {workflow_id}")

    async def activate(self, workflow_id: str) -> dict[str, Any]:
        return await self._api(
            "POST",
            f"/workflows/{workflow_id}/activate",
            f"activate workflow {workflow_id}",
            idempotent=True,
        )

    async def deactivate(self, workflow_id: str) -> dict[str, Any]:
        return await self._api(
            "POST",
            f"/workflows/{workflow_id}/deactivate",
            f"deactivate workflow {workflow_id}",
            idempotent=True,
        )

    async def create_header_credential(self, name: str, header: str, value: str) -> str:
        """An `httpHeaderAuth` credential for a Webhook node; returns its id."""
        body = await self._api(
            "POST",
            "/credentials",
            "create a credential",
            json={"name": name, "type": "httpHeaderAuth", "data": {"name": header, "value": value}},
            idempotent=False,
        )
        return str(body.get("id"))

    async def list_credentials(self) -> list[dict[str, Any]]:
        """Every credential's id, name and type (never its data), following `nextCursor`."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            page = await self._api("GET", "/credentials", "list credentials", params=params)
            found += dicts(page.get("data"))
            cursor = text(page.get("nextCursor"))
            if not cursor:
                return found

    async def ensure_header_credential(self, name: str, header: str, value: str) -> str:
        """The `httpHeaderAuth` credential called `name`, created once and updated in place
        afterwards (`PATCH /credentials/{id}`), so re-installing never piles up copies and a
        rotated header value reaches n8n. Returns its id."""
        existing = next(
            (
                c
                for c in await self.list_credentials()
                if c.get("name") == name and c.get("type") == "httpHeaderAuth"
            ),
            None,
        )
        if existing is None:
            return await self.create_header_credential(name, header, value)
        credential_id = str(existing["id"])
        await self._api(
            "PATCH",
            f"/credentials/{credential_id}",
            f"update credential {credential_id}",
            json={"name": name, "type": "httpHeaderAuth", "data": {"name": header, "value": value}},
            idempotent=True,
        )
        return credential_id

    async def delete_credential(self, credential_id: str) -> None:
        await self._api(
            "DELETE", f"/credentials/{credential_id}", f"delete credential {credential_id}"
        )

    async def install(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        """Create (or update, when a workflow of the same name exists) and activate a
        workflow; answers the `platform_refs.n8n` to record in its definition:
        `{"workflow_id", "webhook_path", "http_method"}`. Re-running it installs nothing twice.
        """
        body = workflow_body(workflow)
        hook = next((n for n in dicts(body["nodes"]) if n.get("type") == WEBHOOK_NODE_TYPE), None)
        params = as_dict(hook.get("parameters")) if hook else {}
        path = text(params.get("path"))
        if not path:
            raise PlatformRequestError(
                f"n8n workflow '{body['name']}' has no Webhook node with a path, so "
                "Switchboard could not run it; add one",
                platform=self.name,
            )
        existing = next(
            (w for w in await self.list_workflows() if w.get("name") == body["name"]), None
        )
        if existing is None:
            workflow_id = str((await self.create_workflow(body))["id"])
        else:
            workflow_id = str(existing["id"])
            await self.update_workflow(workflow_id, body)
        await self.activate(workflow_id)
        return {
            "workflow_id": workflow_id,
            "webhook_path": path,
            "http_method": text(params.get("httpMethod")) or "GET",
        }

    # -- executions ------------------------------------------------------------------------

    async def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        include_data: bool = False,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        params: dict[str, Any] = {"limit": limit}
        if workflow_id:
            params["workflowId"] = workflow_id
        if status:
            params["status"] = status
        if include_data:
            params["includeData"] = "true"
        page = await self._api("GET", "/executions", "list executions", params=params)
        return dicts(page.get("data"))

    async def find_execution(
        self, workflow_id: str, idempotency_key: str, *, limit: int = 50
    ) -> dict[str, Any] | None:
        """The recent execution of `workflow_id` that was called with `idempotency_key`
        (for a run n8n answered only "Workflow was started"), with its data; None when n8n
        has not saved it yet (it saves executions asynchronously)."""
        for execution in await self.list_executions(
            workflow_id=workflow_id, limit=limit, include_data=True
        ):
            if webhook_key(execution) == idempotency_key:
                return execution
        return None

    async def get_execution(
        self, execution_id: str, *, include_data: bool = False
    ) -> dict[str, Any]:
        params = {"includeData": "true"} if include_data else None
        return await self._api(
            "GET", f"/executions/{execution_id}", f"read execution {execution_id}", params=params
        )

    def execution_result(self, execution: Mapping[str, Any]) -> WorkflowResult:
        """An n8n execution as the WorkflowResult the executions recorder stores."""
        return execution_result(execution)

    # -- running ---------------------------------------------------------------------------

    async def call_webhook(
        self, path: str, payload: Mapping[str, Any], idempotency_key: str, *, method: str = "POST"
    ) -> WorkflowResult:
        """Run a workflow through its production webhook. A 404 "not registered" is
        retried within `activation_grace_s` (the activation race), then raised as
        WebhookNotRegisteredError."""
        started = time.monotonic()
        calls = self.http.counter.calls
        headers = {**self._webhook_headers, IDEMPOTENCY_HEADER: idempotency_key}
        url = f"/webhook/{path.lstrip('/')}"
        response: httpx.Response | None = None
        async for attempt in stamina.retry_context(
            on=WebhookNotRegisteredError,
            attempts=None,
            timeout=self.activation_grace_s,
            wait_initial=0.1,
            wait_max=1.0,
            wait_jitter=0.1,
        ):
            with attempt:
                response = await self.http.request(
                    method,
                    url,
                    json=dict(payload),
                    headers=headers,
                    idempotent=False,
                    passthrough=(500,),
                )
                if response.status_code == 404 and "not registered" in (
                    _message(self._json(response) if response.content else None) or ""
                ):
                    raise WebhookNotRegisteredError(
                        f"n8n webhook '{path}' is not registered: activate its workflow "
                        "(`switchboard templates install`) or check the path",
                        platform=self.name,
                        status_code=404,
                    )
        assert response is not None
        duration = int((time.monotonic() - started) * 1000)
        api_calls = self.http.counter.calls - calls
        if response.status_code == 500:
            return WorkflowResult(
                platform=self.name,
                status=ResultStatus.FAILED,
                error={"message": _message(self._json(response)) or "n8n workflow failed"},
                api_calls=api_calls,
                duration_ms=duration,
            )
        if response.status_code >= 400:
            raise error_from_response(self.http, response, f"call webhook '{path}'", _message)
        body = self._json(response)
        answer = as_dict(body)
        # responseMode onReceived answers at once: the workflow is still running.
        started_only = _message(body) == "Workflow was started"
        accepted = str(answer.get("status", "")).lower() in RUNNING_ANSWERS and bool(
            text(answer.get("executionId"))
        )
        output = answer or {"response": body}
        if started_only or accepted:  # how the poller finds the run when n8n gave no id
            output = {**output, "idempotency_key": idempotency_key}
        return WorkflowResult(
            platform=self.name,
            status=ResultStatus.RUNNING if started_only or accepted else ResultStatus.COMPLETED,
            output=output,
            # Templates answer n8n's `$execution.id` too, finished or not.
            external_execution_id=text(answer.get("executionId")),
            api_calls=api_calls,
            duration_ms=duration,
        )

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return response.text

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult:
        """Runs `platform_refs.n8n.webhook_path` with the payload and idempotency key."""
        ref = platform_ref(definition, self.name)
        path = text(ref.get("webhook_path"))
        if not path:
            raise PlatformRequestError(
                f"workflow '{definition.name}' has no n8n webhook_path in platform_refs.n8n; "
                "install its template into n8n first",
                platform=self.name,
            )
        payload = {
            **dict(context.payload),
            "idempotency_key": context.idempotency_key,
            "event_type": context.event_type,
            "customer_id": context.customer_id,
        }
        return await self.call_webhook(
            path, payload, context.idempotency_key, method=str(ref.get("http_method", "POST"))
        )
