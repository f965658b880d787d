"""A Make.com API v2 fake (one zone), faithful to PLATFORM-APIS.md.

`Authorization: Token <token>`; error bodies `{"message", "detail", "code", "suberrors"}`;
a per-organisation per-minute limit answering 429 with the documented message (and a
`Retry-After` when `send_retry_after`: unverified on the real API); responsive runs
longer than `responsive_timeout` answer a timeout error while the run goes on
(simulated time: nothing waits 40 s); custom webhooks answer `Accepted`.

Installing: `GET/POST /hooks` (custom webhooks, `{"hook": {"id", "url", ...}}`),
`POST /scenarios` and `PATCH /scenarios/{id}` with the blueprint and scheduling as JSON
*strings* (as Make documents them), `POST /scenarios/{id}/start` (refused while a
custom-webhook module names no existing hook). A webhook bound to an active scenario
answers what its "Webhook response" module would (`webhook_response`), else `Accepted`.
`GET /scenarios/{id}/executions/{executionId}` answers `RUNNING` for an unfinished run
until it has been asked `polls_until_done` times, then `SUCCESS` with the scenario's
outputs (or `ERROR` when the scenario is in `failing`).
"""

from __future__ import annotations

import itertools
import json
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
    hook_records: dict[int, dict[str, Any]] = field(default_factory=dict[int, dict[str, Any]])
    executions: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    polls_until_done: int = 1
    failing: set[int] = field(default_factory=set[int])  # scenario ids whose runs end in ERROR
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
            "teamId": 1,
            "blueprint": {"name": name, "flow": []},
            "webhook_response": None,
        }

    def app(self) -> Starlette:
        w = self.plan.wrap
        return Starlette(
            routes=[
                Route("/api/v2/users/me", w(self._me), methods=["GET"]),
                Route("/api/v2/scenarios", w(self._list), methods=["GET"]),
                Route("/api/v2/scenarios", w(self._create), methods=["POST"]),
                Route("/api/v2/scenarios/{id:int}", w(self._update), methods=["PATCH"]),
                Route("/api/v2/scenarios/{id:int}/start", w(self._start), methods=["POST"]),
                Route("/api/v2/scenarios/{id:int}/interface", w(self._interface), methods=["GET"]),
                Route("/api/v2/scenarios/{id:int}/run", w(self._run), methods=["POST"]),
                Route(
                    "/api/v2/scenarios/{id:int}/executions/{execution_id}",
                    w(self._execution),
                    methods=["GET"],
                ),
                Route("/api/v2/hooks", w(self._list_hooks), methods=["GET"]),
                Route("/api/v2/hooks", w(self._create_hook), methods=["POST"]),
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
        execution_id = self._new_execution(scenario, data)
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
        payload = await json_body(request)
        self.hooks[hook_id].append(payload)
        if hook_id in self.hook_responses:
            return JSONResponse(self.hook_responses[hook_id])
        scenario = self._listening(hook_id)
        if scenario is not None:
            self._new_execution(scenario, payload, finished=True)
            if scenario["webhook_response"] is not None:
                return JSONResponse(scenario["webhook_response"])
        return PlainTextResponse("Accepted")

    # -- installing ------------------------------------------------------------------------

    def _new_execution(self, scenario: dict[str, Any], data: Any, *, finished: bool = False) -> str:
        execution_id = f"{next(self._ids):032x}"
        self.runs.append({"scenario_id": scenario["id"], "executionId": execution_id, "data": data})
        long_run = scenario["duration"] > self.responsive_timeout and not finished
        self.executions[execution_id] = {
            "scenario_id": scenario["id"],
            "polls_left": self.polls_until_done if long_run else 0,
        }
        return execution_id

    def _listening(self, hook_udid: str) -> dict[str, Any] | None:
        """The active scenario whose custom-webhook module is bound to this hook."""
        record = next((h for h in self.hook_records.values() if h["udid"] == hook_udid), None)
        if record is None:
            return None
        for scenario in self.scenarios.values():
            bound = [
                m for m in scenario["blueprint"].get("flow", [])
                if m.get("module") == "gateway:CustomWebHook"
                and m.get("parameters", {}).get("hook") == record["id"]
            ]  # fmt: skip
            if bound and scenario["isActive"]:
                return scenario
        return None

    async def _list_hooks(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        team = request.query_params.get("teamId")
        if team is None:
            return _error(400, "Bad Request", "SC400", "teamId is required")
        hooks = [h for h in self.hook_records.values() if str(h["teamId"]) == team]
        return JSONResponse({"hooks": hooks})

    async def _create_hook(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        body = await json_body(request)
        body = body if isinstance(body, dict) else {}
        missing = [k for k in ("name", "teamId", "typeName") if k not in body]
        if missing:
            return _invalid([f"Missing value of required parameter '{k}'." for k in missing])
        hook_id = next(self._ids)
        udid = f"{hook_id:032x}"
        record = {
            "id": hook_id,
            "name": str(body["name"]),  # pyright: ignore[reportUnknownArgumentType]
            "teamId": body["teamId"],
            "udid": udid,
            "typeName": body["typeName"],
            "url": f"{str(request.base_url).rstrip('/')}/hook/{udid}",
            "enabled": True,
        }
        self.hook_records[hook_id] = record
        self.hooks[udid] = []
        return JSONResponse({"hook": record})

    @staticmethod
    def _blueprint_fields(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | str:
        """The decoded blueprint and scheduling, or what is wrong with them."""
        try:
            blueprint = json.loads(body["blueprint"]) if "blueprint" in body else None
            scheduling = json.loads(body["scheduling"]) if "scheduling" in body else None
        except (TypeError, ValueError):
            return "blueprint and scheduling must be JSON strings"
        if not isinstance(blueprint, dict) or not isinstance(blueprint.get("flow"), list):  # pyright: ignore[reportUnknownMemberType]
            return "Invalid blueprint: 'flow' must be an array"
        if not isinstance(scheduling, dict) or "type" not in scheduling:
            return "Invalid scheduling: 'type' is required"
        return blueprint, scheduling  # pyright: ignore[reportUnknownVariableType]

    async def _create(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        body = await json_body(request)
        body = body if isinstance(body, dict) else {}
        if "teamId" not in body:
            return _invalid(["Missing value of required parameter 'teamId'."])
        fields = self._blueprint_fields(body)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(fields, str):
            return _invalid([fields])
        blueprint, scheduling = fields
        scenario_id = next(self._ids)
        self.add_scenario(scenario_id, str(blueprint.get("name") or "New scenario"), active=False)
        scenario = self.scenarios[scenario_id]
        scenario.update(blueprint=blueprint, scheduling=scheduling, teamId=body["teamId"])
        return JSONResponse({"scenario": self._public(scenario)})

    async def _update(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        scenario = self._scenario(request)
        if scenario is None:
            return _error(404, "Scenario not found", "IM004")
        body = await json_body(request)
        fields = self._blueprint_fields(body if isinstance(body, dict) else {})  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(fields, str):
            return _invalid([fields])
        scenario["blueprint"], scenario["scheduling"] = fields
        scenario["name"] = str(fields[0].get("name") or scenario["name"])
        return JSONResponse({"scenario": self._public(scenario)})

    async def _start(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        scenario = self._scenario(request)
        if scenario is None:
            return _error(404, "Scenario not found", "IM004")
        for module in scenario["blueprint"].get("flow", []):
            hook = module.get("parameters", {}).get("hook")
            if module.get("module") == "gateway:CustomWebHook" and hook not in self.hook_records:
                return _invalid([f"Module {module.get('id')}: webhook is not set."])
        scenario["isActive"] = True
        return JSONResponse({"scenario": {"id": scenario["id"], "isActive": True}})

    async def _execution(self, request: Request) -> Response:
        if (rejected := self._gate(request)) is not None:
            return rejected
        scenario = self._scenario(request)
        execution = self.executions.get(request.path_params["execution_id"])
        if scenario is None or execution is None or execution["scenario_id"] != scenario["id"]:
            return _error(404, "Execution not found", "IM004")
        if execution["polls_left"] > 0:
            execution["polls_left"] -= 1
            return JSONResponse({"status": "RUNNING"})
        if scenario["id"] in self.failing:
            return JSONResponse(
                {"status": "ERROR", "error": {"message": "Module 2 failed.", "name": "DataError"}}
            )
        return JSONResponse({"status": "SUCCESS", "outputs": scenario["outputs"]})

    @staticmethod
    def _public(scenario: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "description", "scheduling", "isActive", "teamId")
        return {k: scenario[k] for k in keys}


def _invalid(messages: list[str]) -> JSONResponse:
    """Make's validation error: SC400 with one suberror per problem."""
    return JSONResponse(
        {
            "message": "Bad Request",
            "detail": "Validation failed",
            "code": "SC400",
            "suberrors": [{"message": m, "name": "ValidationError"} for m in messages],
        },
        status_code=400,
    )
