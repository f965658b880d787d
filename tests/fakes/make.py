"""A Make.com API v2 fake (one zone), faithful to PLATFORM-APIS.md.

`Authorization: Token <token>`; error bodies `{"message", "detail", "code", "suberrors"}`;
a per-organisation per-minute limit answering 429 with the documented message (and a
`Retry-After` when `send_retry_after`: unverified on the real API); responsive runs
longer than `responsive_timeout` answer a timeout error while the run goes on
(simulated time: nothing waits 40 s); custom webhooks answer `Accepted`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.common import FaultPlan, json_body

__all__ = ["MakeFake"]


def _error(status: int, message: str, code: str, detail: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message, "code": code, "suberrors": []}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


@dataclass
class MakeFake:
    token: str = "make-token-abc123456"
    org_limit_per_minute: int = 60
    send_retry_after: bool = True
    responsive_timeout: float = 40.0
    timeout_status: int = 504
    scenarios: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    hooks: dict[str, list[Any]] = field(default_factory=dict[str, list[Any]])  # id -> payloads
    hook_responses: dict[str, Any] = field(default_factory=dict[str, Any])  # id -> custom JSON
    runs: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    plan: FaultPlan = field(default_factory=FaultPlan)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _window: list[float] = field(default_factory=list[float])

    def add_scenario(
        self,
        scenario_id: int,
        name: str,
        *,
        inputs: list[dict[str, Any]] | None = None,
        outputs: dict[str, Any] | None = None,
        duration: float = 1.0,
        active: bool = True,
    ) -> None:
        self.scenarios[scenario_id] = {
            "id": scenario_id,
            "name": name,
            "description": "",
            "isActive": active,
            "scheduling": {"type": "on-demand"},
            "interface": {"input": inputs or [], "output": None},
            "outputs": outputs or {},
            "duration": duration,
        }

    def app(self) -> Starlette:
        w = self.plan.wrap
        return Starlette(
            routes=[
                Route("/api/v2/users/me", w(self._me), methods=["GET"]),
                Route("/api/v2/scenarios", w(self._list), methods=["GET"]),
                Route("/api/v2/scenarios/{id:int}/interface", w(self._interface), methods=["GET"]),
                Route("/api/v2/scenarios/{id:int}/run", w(self._run), methods=["POST"]),
                Route("/hook/{hook_id}", w(self._hook), methods=["POST"]),
            ]
        )

    def _gate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Token {self.token}":
            return _error(401, "Unauthorized", "IM005", "Invalid access token.")
        now = time.time()
        self._window = [t for t in self._window if now - t < 60]
        if len(self._window) >= self.org_limit_per_minute:
            headers = {"Retry-After": str(int(self._window[0] + 60 - now) + 1)}
            return JSONResponse(
                {"message": "Requests limit for organization exceeded, please try again later."},
                status_code=429,
                headers=headers if self.send_retry_after else {},
            )
        self._window.append(now)
        return None

    async def _me(self, request: Request) -> Response:
        return self._gate(request) or JSONResponse({"authUser": {"id": 1, "name": "Fake"}})

    async def _list(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        if "teamId" not in request.query_params:
            return _error(400, "Bad Request", "SC400", "teamId or organizationId is required")
        scenarios = [
            {k: s[k] for k in ("id", "name", "description", "scheduling", "isActive")}
            for s in self.scenarios.values()
        ]
        return JSONResponse({"scenarios": scenarios})

    def _scenario(self, request: Request) -> dict[str, Any] | None:
        return self.scenarios.get(int(request.path_params["id"]))

    async def _interface(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        scenario = self._scenario(request)
        if scenario is None:
            return _error(404, "Scenario not found", "IM004")
        return JSONResponse({"interface": scenario["interface"]})

    async def _run(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        scenario = self._scenario(request)
        if scenario is None:
            return _error(404, "Scenario not found", "IM004")
        if not scenario["isActive"]:
            return _error(400, "Bad Request", "SC400", "Scenario is not active.")
        body = await json_body(request)
        data = body.get("data", {}) if isinstance(body, dict) else {}  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        suberrors = [
            {"message": f"Missing value of required parameter '{i['name']}'.", "name": "Error"}
            for i in scenario["interface"]["input"]
            if i.get("required") and i["name"] not in data
        ]
        if suberrors:
            return JSONResponse(
                {
                    "message": "Bad Request",
                    "detail": "Invalid input",
                    "code": "SC400",
                    "suberrors": suberrors,
                },
                status_code=400,
            )
        execution_id = f"exec{next(self._ids):08x}"
        self.runs.append({"scenario_id": scenario["id"], "executionId": execution_id, "data": data})
        responsive = body.get("responsive", False) if isinstance(body, dict) else False  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        if not responsive:
            return JSONResponse({"executionId": execution_id})
        if scenario["duration"] > self.responsive_timeout:
            return JSONResponse(
                {
                    "message": "Scenario execution timed out.",
                    "code": "SC504",
                    "executionId": execution_id,
                },
                status_code=self.timeout_status,
            )
        return JSONResponse({"executionId": execution_id, "outputs": scenario["outputs"]})

    async def _hook(self, request: Request) -> Response:
        hook_id = request.path_params["hook_id"]
        if hook_id not in self.hooks:
            return PlainTextResponse("There is no scenario listening for this webhook.", 410)
        self.hooks[hook_id].append(await json_body(request))
        if hook_id in self.hook_responses:
            return JSONResponse(self.hook_responses[hook_id])
        return PlainTextResponse("Accepted")
