"""Make.com: run a scenario through its API or a custom webhook; read its interface;
install a blueprint as a scenario; read an execution's status back.

API v2 lives on the organisation's zone (`https://eu1.make.com/api/v2`), auth
`Authorization: Token <token>`. Limits are per organisation per minute by plan
(60/120/240/1000): set `rate_limits.requests_per_minute` to the plan's figure (60 by
default). A responsive run longer than 40 s answers a timeout while the scenario goes
on: that is reported as RUNNING with its executionId, never as a failure, and
`GET /scenarios/{id}/executions/{executionId}` tells later how it ended.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
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
from orchestration.platforms.jsonshape import as_dict, dicts, text
from orchestration.platforms.resilience import ResilienceRegistry, RetryPolicy

__all__ = ["EXECUTION_STATUS", "MakeAdapter", "webhook_modules"]

RESPONSIVE_LIMIT_S = 40.0
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
WEBHOOK_MODULE = "gateway:CustomWebHook"
WEBHOOK_HOOK_TYPE = "gateway-webhook"
# A scenario that starts with an instant trigger (a custom webhook) runs "immediately";
# one run only through the API is "on-demand".
INSTANT_SCHEDULING: dict[str, Any] = {"type": "immediately"}
ON_DEMAND_SCHEDULING: dict[str, Any] = {"type": "on-demand"}
# GET /scenarios/{id}/executions/{executionId} "status" values.
EXECUTION_STATUS = {
    "SUCCESS": ResultStatus.COMPLETED,
    "WARNING": ResultStatus.COMPLETED,  # finished; Make kept going past a module's warning
    "ERROR": ResultStatus.FAILED,
    "RUNNING": ResultStatus.RUNNING,
}


def webhook_modules(blueprint: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The blueprint's custom-webhook trigger modules (where a hook id goes)."""
    return [m for m in dicts(blueprint.get("flow")) if m.get("module") == WEBHOOK_MODULE]


def _message(body: Any) -> str | None:
    data = as_dict(body)
    parts = [text(data.get("message")), text(data.get("detail"))]
    parts += [text(s.get("message")) for s in dicts(data.get("suberrors"))]
    found = [p for p in parts if p]
    return "; ".join(found) or None


def _code(body: Any) -> str | None:
    return text(as_dict(body).get("code"))


def _is_timeout(response: httpx.Response) -> bool:
    if response.status_code in (408, 504):
        return True
    try:
        body = as_dict(response.json()) if response.content else {}
    except ValueError:  # an HTML error page: not Make's timeout answer
        return False
    return "timed out" in (text(body.get("message")) or "").lower()


class MakeAdapter(HttpAdapterBase):
    name = "make"
    default_per_minute = 60.0
    capabilities = frozenset(
        {
            ToolCapability.RUN_WORKFLOW,
            ToolCapability.WEBHOOK_TRIGGER,
            ToolCapability.MANAGE_WORKFLOWS,
        }
    )

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ToolConfig,
        *,
        registry: ResilienceRegistry | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        token = config.credentials.require("api_token")
        super().__init__(
            client,
            config,
            base_url=config.endpoint(),  # the zone: https://eu1.make.com/api/v2
            headers={"Authorization": f"Token {token}"},
            registry=registry,
            policy=policy,
            timeout=RESPONSIVE_LIMIT_S + 10,
            # Make counts requests per organisation: tenants on one organisation share it.
            limit_scope=(
                f"make-org:{config.settings['organization_id']}"
                if config.settings.get("organization_id")
                else None
            ),
        )

    async def _call(self, method: str, path: str, what: str, **kw: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kw)
        if response.status_code >= 400:
            raise error_from_response(self.http, response, what, _message, _code)
        return as_dict(json_body(self.http, response, what))

    async def _probe(self) -> None:
        await self._call("GET", "/users/me", "read the authorised user")

    async def list_scenarios(self, team_id: str | int, limit: int = 100) -> list[dict[str, Any]]:
        body = await self._call(
            "GET", "/scenarios", "list scenarios", params={"teamId": team_id, "pg[limit]": limit}
        )
        return dicts(body.get("scenarios"))

    # -- installing ------------------------------------------------------------------------

    async def list_hooks(self, team_id: str | int) -> list[dict[str, Any]]:
        body = await self._call("GET", "/hooks", "list webhooks", params={"teamId": team_id})
        return dicts(body.get("hooks"))

    async def create_hook(self, name: str, team_id: str | int) -> dict[str, Any]:
        """A custom webhook (`gateway-webhook`); answers the hook with its `id` and `url`."""
        body = await self._call(
            "POST",
            "/hooks",
            "create a webhook",
            json={
                "name": name,
                "teamId": int(team_id),
                "typeName": WEBHOOK_HOOK_TYPE,
                "method": False,
                "header": False,
                "stringify": False,
            },
            idempotent=False,
        )
        return as_dict(body.get("hook"))

    async def create_scenario(
        self,
        blueprint: Mapping[str, Any],
        team_id: str | int,
        scheduling: Mapping[str, Any],
        *,
        folder_id: int | None = None,
    ) -> dict[str, Any]:
        """POST /scenarios; Make takes the blueprint and scheduling as JSON *strings*.
        The scenario is created inactive."""
        payload: dict[str, Any] = {
            "blueprint": json.dumps(blueprint),
            "teamId": int(team_id),
            "scheduling": json.dumps(scheduling),
        }
        if folder_id is not None:
            payload["folderId"] = folder_id
        body = await self._call(
            "POST", "/scenarios", "create a scenario", json=payload, idempotent=False
        )
        return as_dict(body.get("scenario"))

    async def update_scenario(
        self, scenario_id: int, blueprint: Mapping[str, Any], scheduling: Mapping[str, Any]
    ) -> dict[str, Any]:
        body = await self._call(
            "PATCH",
            f"/scenarios/{scenario_id}",
            f"update scenario {scenario_id}",
            json={"blueprint": json.dumps(blueprint), "scheduling": json.dumps(scheduling)},
            idempotent=True,
        )
        return as_dict(body.get("scenario"))

    async def start_scenario(self, scenario_id: int) -> dict[str, Any]:
        """Activate it (`isActive: true`); starting an active scenario changes nothing."""
        body = await self._call(
            "POST",
            f"/scenarios/{scenario_id}/start",
            f"activate scenario {scenario_id}",
            idempotent=True,
        )
        return as_dict(body.get("scenario"))

    async def install(self, blueprint: Mapping[str, Any], team_id: str | int) -> dict[str, Any]:
        """Create (or update, when the team has a scenario of the blueprint's name) and
        activate a scenario; a custom-webhook trigger gets a hook of the same name (reused
        on re-install). Answers the `platform_refs.make` to record:
        `{"scenario_id", "team_id", "hook_id"?, "webhook_url"?}`."""
        name = text(blueprint.get("name"))
        if not name:
            raise PlatformRequestError(
                "Make blueprint has no name; export it from Make or use a template",
                platform=self.name,
            )
        draft: dict[str, Any] = json.loads(json.dumps(blueprint))  # a deep copy we may edit
        triggers = webhook_modules(draft)
        refs: dict[str, Any] = {"team_id": int(team_id)}
        if triggers:
            hook = next((h for h in await self.list_hooks(team_id) if h.get("name") == name), None)
            hook = hook or await self.create_hook(name, team_id)
            for module in triggers:
                module["parameters"] = {**as_dict(module.get("parameters")), "hook": hook["id"]}
            refs["hook_id"] = hook["id"]
            refs["webhook_url"] = text(hook.get("url"))
        scheduling = INSTANT_SCHEDULING if triggers else ON_DEMAND_SCHEDULING
        existing = next(
            (s for s in await self.list_scenarios(team_id) if s.get("name") == name), None
        )
        if existing is None:
            scenario_id = int((await self.create_scenario(draft, team_id, scheduling))["id"])
        else:
            scenario_id = int(existing["id"])
            await self.update_scenario(scenario_id, draft, scheduling)
        await self.start_scenario(scenario_id)
        refs["scenario_id"] = scenario_id
        return refs

    # -- executions ------------------------------------------------------------------------

    async def get_execution(self, scenario_id: int, execution_id: str) -> dict[str, Any]:
        """`{"status": "RUNNING" | "SUCCESS" | "WARNING" | "ERROR", "outputs"?, "error"?}`."""
        return await self._call(
            "GET",
            f"/scenarios/{scenario_id}/executions/{execution_id}",
            f"read execution {execution_id} of scenario {scenario_id}",
        )

    def execution_result(self, execution: Mapping[str, Any], execution_id: str) -> WorkflowResult:
        """A Make execution status as the WorkflowResult the executions recorder stores."""
        status_text = (text(execution.get("status")) or "RUNNING").upper()
        status = EXECUTION_STATUS.get(status_text, ResultStatus.FAILED)
        error = as_dict(execution.get("error"))
        return WorkflowResult(
            platform=self.name,
            status=status,
            output={"make_status": status_text, **as_dict(execution.get("outputs"))},
            external_execution_id=execution_id,
            error=(
                {"message": _message(error) or f"Make execution {status_text.lower()}"}
                if status is ResultStatus.FAILED
                else None
            ),
        )

    async def scenario_interface(self, scenario_id: int) -> dict[str, Any]:
        """`{"input": [{"name", "type", "required", ...}], "output": ...}`."""
        body = await self._call(
            "GET", f"/scenarios/{scenario_id}/interface", f"read scenario {scenario_id}'s interface"
        )
        return as_dict(body.get("interface"))

    async def run_scenario(
        self, scenario_id: int, data: dict[str, Any], *, responsive: bool = True
    ) -> WorkflowResult:
        """POST /scenarios/{id}/run. Over 40 s, Make answers a timeout while the run goes
        on: RUNNING with the executionId (when Make gives one)."""
        started = time.monotonic()
        calls = self.http.counter.calls
        response = await self.http.request(
            "POST",
            f"/scenarios/{scenario_id}/run",
            json={"data": data, "responsive": responsive},
            passthrough=(408, 504),
        )
        body = as_dict(json_body(self.http, response, f"run scenario {scenario_id}"))
        execution_id = text(body.get("executionId"))
        duration = int((time.monotonic() - started) * 1000)
        if response.status_code >= 400:
            if _is_timeout(response):
                return WorkflowResult(
                    platform=self.name,
                    status=ResultStatus.RUNNING,
                    output={"note": "responsive run passed 40 s; the scenario is still running"},
                    external_execution_id=execution_id,
                    api_calls=self.http.counter.calls - calls,
                    duration_ms=duration,
                )
            raise error_from_response(
                self.http, response, f"run scenario {scenario_id}", _message, _code
            )
        return WorkflowResult(
            platform=self.name,
            status=ResultStatus.COMPLETED if responsive else ResultStatus.RUNNING,
            output=as_dict(body.get("outputs")),
            external_execution_id=execution_id,
            api_calls=self.http.counter.calls - calls,
            duration_ms=duration,
        )

    async def call_webhook(
        self, webhook_url: str, payload: dict[str, Any], idempotency_key: str
    ) -> WorkflowResult:
        """POST to a custom webhook. Make queues it and answers "Accepted" (RUNNING), unless
        the scenario replies through a "Webhook response" module (COMPLETED, its JSON)."""
        started = time.monotonic()
        response = await self.http.request(
            "POST",
            webhook_url,
            json=payload,
            headers={IDEMPOTENCY_HEADER: idempotency_key},
            idempotent=False,
        )
        if response.status_code >= 400:
            raise error_from_response(self.http, response, "call the scenario webhook", _message)
        duration = int((time.monotonic() - started) * 1000)
        content_type = response.headers.get("content-type", "")
        if "json" in content_type:
            return WorkflowResult(
                platform=self.name,
                status=ResultStatus.COMPLETED,
                output=as_dict(json_body(self.http, response, "call the scenario webhook")),
                api_calls=1,
                duration_ms=duration,
            )
        return WorkflowResult(
            platform=self.name,
            status=ResultStatus.RUNNING,
            output={"accepted": response.text.strip()[:200]},
            api_calls=1,
            duration_ms=duration,
        )

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult:
        """Runs `platform_refs.make`: `{"scenario_id": 42}` (API, responsive) or
        `{"webhook_url": "https://hook.eu1.make.com/..."}`."""
        ref = platform_ref(definition, self.name)
        data = {**dict(context.payload), "idempotency_key": context.idempotency_key}
        if ref.get("webhook_url"):
            return await self.call_webhook(str(ref["webhook_url"]), data, context.idempotency_key)
        scenario = ref.get("scenario_id")
        if scenario is None:
            raise PlatformRequestError(
                f"workflow '{definition.name}' has no Make scenario_id or webhook_url in "
                "platform_refs.make; install its template into Make first",
                platform=self.name,
            )
        return await self.run_scenario(
            int(scenario), data, responsive=bool(ref.get("responsive", True))
        )
