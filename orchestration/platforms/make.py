"""Make.com: run a scenario through its API or a custom webhook; read its interface.

API v2 lives on the organisation's zone (`https://eu1.make.com/api/v2`), auth
`Authorization: Token <token>`. Limits are per organisation per minute by plan
(60/120/240/1000): set `rate_limits.requests_per_minute` to the plan's figure (60 by
default). A responsive run longer than 40 s answers a timeout while the scenario goes
on: that is reported as RUNNING with its executionId, never as a failure.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from orchestration.platforms.adapter import HttpAdapterBase, error_from_response
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

__all__ = ["MakeAdapter"]

RESPONSIVE_LIMIT_S = 40.0
IDEMPOTENCY_HEADER = "X-Idempotency-Key"


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
    body = as_dict(response.json()) if response.content else {}
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
        return as_dict(response.json()) if response.content else {}

    async def _probe(self) -> None:
        await self._call("GET", "/users/me", "read the authorised user")

    async def list_scenarios(self, team_id: str | int, limit: int = 100) -> list[dict[str, Any]]:
        body = await self._call(
            "GET", "/scenarios", "list scenarios", params={"teamId": team_id, "pg[limit]": limit}
        )
        return dicts(body.get("scenarios"))

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
        body = as_dict(response.json()) if response.content else {}
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
                output=as_dict(response.json()),
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
