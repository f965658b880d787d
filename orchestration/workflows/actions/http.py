"""http_request: call any HTTP endpoint with the step's idempotency key."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field

from orchestration.workflows.actions.base import ActionFields, StepContext, register, require
from orchestration.workflows.errors import StepFailedError, TransientStepError

__all__ = ["HttpFields"]

MAX_BODY_CHARS = 20_000  # what is kept of a response body in the step output


class HttpFields(ActionFields):
    url: str = Field(pattern=r"^(https?://|\{\{)")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    headers: dict[str, str] | None = None
    json_body: Any = Field(default=None, alias="json")
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)


@register("http_request", HttpFields, side_effecting=True, summary="call an HTTP endpoint")
async def http_request(ctx: StepContext, fields: HttpFields) -> dict[str, Any]:
    client = require(ctx.services.http, "HTTP client", ctx.step_name)
    headers = {"Idempotency-Key": ctx.idempotency_key, **(fields.headers or {})}
    ctx.count_api_call()
    try:
        response = await client.request(
            fields.method,
            fields.url,
            headers=headers,
            json=fields.json_body,
            timeout=fields.timeout_seconds,
        )
    except httpx.TransportError as exc:
        raise TransientStepError(
            f"step '{ctx.step_name}': {fields.method} {_host(fields.url)} failed: "
            f"{type(exc).__name__}"
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientStepError(
            f"step '{ctx.step_name}': {_host(fields.url)} answered {response.status_code}"
        )
    if response.status_code >= 400:
        raise StepFailedError(
            f"step '{ctx.step_name}': {_host(fields.url)} refused the request with "
            f"{response.status_code}: {response.text[:300]}"
        )
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text[:MAX_BODY_CHARS]
    return {"status_code": response.status_code, "body": body}


def _host(url: str) -> str:
    """Scheme and host only: query strings may carry tokens, which never go into errors."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the endpoint"
    return f"{parsed.scheme}://{parsed.host}"
