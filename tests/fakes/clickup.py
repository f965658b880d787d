"""A ClickUp API v2 fake, faithful to the public docs (see PLATFORM-APIS.md).

Paths under `/api/v2`, `Authorization: <token>` with no "Bearer", error bodies
`{"err", "ECODE"}`, a per-token per-minute limit answering 429 with `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds) and no `Retry-After`,
drop-down custom fields that take an option id, and signed webhook deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.common import FaultPlan, RecordedRequest, json_body

__all__ = ["ClickUpFake", "sign_delivery"]


def _error(status: int, err: str, ecode: str) -> JSONResponse:
    return JSONResponse({"err": err, "ECODE": ecode}, status_code=status)


def sign_delivery(secret: str, raw_body: bytes) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


@dataclass
class ClickUpFake:
    token: str = "pk_test_token_123456"
    limit_per_minute: int = 100
    lists: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    # list id -> custom field definitions (as GET /list/{id}/field returns them)
    fields: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    allow_multiple_lists: bool = True  # the "Tasks in Multiple Lists" ClickApp
    webhooks: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    plan: FaultPlan = field(default_factory=FaultPlan)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _window: list[float] = field(default_factory=list[float])

    def add_list(self, list_id: str, name: str, fields: list[dict[str, Any]] | None = None) -> None:
        self.lists[list_id] = {"id": list_id, "name": name}
        self.fields[list_id] = fields or []

    def app(self) -> Starlette:
        w = self.plan.wrap
        routes = [
            Route("/api/v2/user", w(self._user), methods=["GET"]),
            Route("/api/v2/list/{list_id}/task", w(self._create_task), methods=["POST"]),
            Route("/api/v2/list/{list_id}/task", w(self._list_tasks), methods=["GET"]),
            Route("/api/v2/list/{list_id}/field", w(self._list_fields), methods=["GET"]),
            Route("/api/v2/list/{list_id}/task/{task_id}", w(self._add_to_list), methods=["POST"]),
            Route("/api/v2/task/{task_id}", w(self._get_task), methods=["GET"]),
            Route("/api/v2/task/{task_id}", w(self._update_task), methods=["PUT"]),
            Route("/api/v2/task/{task_id}/field/{field_id}", w(self._set_field), methods=["POST"]),
            Route("/api/v2/team/{team_id}/webhook", w(self._create_webhook), methods=["POST"]),
        ]
        app = Starlette(routes=routes)
        app.add_middleware(_AuthAndLimit, fake=self)  # pyright: ignore[reportArgumentType]
        return app

    # -- gatekeeping ---------------------------------------------------------------------

    def check(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != self.token:
            return _error(401, "Token invalid", "OAUTH_025")
        now = time.time()
        self._window = [t for t in self._window if now - t < 60]
        if len(self._window) >= self.limit_per_minute:
            reset = int(self._window[0] + 60) + 1
            return JSONResponse(
                {"err": "Rate limit reached", "ECODE": "APP_002"},
                status_code=429,
                headers={
                    "X-RateLimit-Limit": str(self.limit_per_minute),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(reset),
                },
            )
        self._window.append(now)
        return None

    # -- handlers ------------------------------------------------------------------------

    async def _user(self, request: Request) -> Response:
        return JSONResponse({"user": {"id": 1, "username": "fake", "email": "fake@example.com"}})

    async def _create_task(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            return _error(404, "List not found", "ITEM_013")
        body = await json_body(request)
        if not isinstance(body, dict) or not body.get("name"):  # pyright: ignore[reportUnknownMemberType]
            return _error(400, "Task name invalid", "INPUT_005")
        data: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        task_id = f"86{next(self._ids):06x}"
        now_ms = str(int(time.time() * 1000))
        custom: dict[str, Any] = {}
        for item in data.get("custom_fields") or []:
            error = self._validate_field(list_id, item.get("id"), item.get("value"))
            if error is not None:
                return error
            custom[item["id"]] = item.get("value")
        task: dict[str, Any] = {
            "id": task_id,
            "name": data["name"],
            "description": data.get("description") or data.get("markdown_description") or "",
            "status": {"status": data.get("status") or "to do", "type": "open"},
            "date_created": now_ms,
            "date_updated": now_ms,
            "assignees": [{"id": a, "username": f"user{a}"} for a in data.get("assignees") or []],
            "tags": [{"name": str(t).lower()} for t in data.get("tags") or []],
            "priority": data.get("priority"),
            "due_date": str(data["due_date"]) if data.get("due_date") is not None else None,
            "start_date": str(data["start_date"]) if data.get("start_date") is not None else None,
            "list": {"id": list_id},
            "locations": [],
            "url": f"https://app.clickup.com/t/{task_id}",
            "_fields": custom,
        }
        self.tasks[task_id] = task
        return JSONResponse(self._public(task))

    def _public(self, task: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in task.items() if not k.startswith("_")}
        list_fields = {f["id"]: f for f in self.fields.get(task["list"]["id"], [])}
        view["custom_fields"] = [
            {**list_fields.get(fid, {"id": fid, "type": "text"}), "value": value}
            for fid, value in task["_fields"].items()
        ]
        return view

    def _validate_field(self, list_id: str, field_id: Any, value: Any) -> Response | None:
        defs = {f["id"]: f for f in self.fields.get(list_id, [])}
        definition = defs.get(field_id)
        if definition is None:
            return _error(400, "Custom field not found on list", "FIELD_001")
        if definition.get("type") == "drop_down":
            options = definition.get("type_config", {}).get("options", [])
            if value not in {o["id"] for o in options}:
                return _error(400, "Value is not a valid option", "FIELD_010")
        if definition.get("type") == "number" and not isinstance(value, int | float):
            return _error(400, "Value must be a number", "FIELD_011")
        return None

    async def _list_tasks(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            return _error(404, "List not found", "ITEM_013")
        wanted = set(request.query_params.getlist("tags[]"))
        found = [
            self._public(t)
            for t in self.tasks.values()
            if (t["list"]["id"] == list_id or list_id in {loc["id"] for loc in t["locations"]})
            and wanted <= {tag["name"] for tag in t["tags"]}
        ]
        return JSONResponse({"tasks": found, "last_page": True})

    async def _list_fields(self, request: Request) -> Response:
        list_id = request.path_params["list_id"]
        if list_id not in self.lists:
            return _error(404, "List not found", "ITEM_013")
        return JSONResponse({"fields": self.fields[list_id]})

    def _task(self, request: Request) -> dict[str, Any] | None:
        return self.tasks.get(request.path_params["task_id"])

    async def _get_task(self, request: Request) -> Response:
        task = self._task(request)
        if task is None:
            return _error(404, "Task not found", "ITEM_015")
        return JSONResponse(self._public(task))

    async def _update_task(self, request: Request) -> Response:
        task = self._task(request)
        if task is None:
            return _error(404, "Task not found", "ITEM_015")
        body = await json_body(request)
        if not isinstance(body, dict):
            return _error(400, "Invalid body", "INPUT_001")
        data: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        for key in ("name", "description", "priority"):
            if key in data:
                task[key] = data[key]
        if "status" in data:
            task["status"] = {"status": data["status"], "type": "custom"}
        if "due_date" in data:
            task["due_date"] = str(data["due_date"]) if data["due_date"] is not None else None
        if "assignees" in data:
            current = {a["id"] for a in task["assignees"]}
            current |= set(data["assignees"].get("add", []))
            current -= set(data["assignees"].get("rem", []))
            task["assignees"] = [{"id": a, "username": f"user{a}"} for a in sorted(current)]
        task["date_updated"] = str(int(time.time() * 1000))
        return JSONResponse(self._public(task))

    async def _set_field(self, request: Request) -> Response:
        task = self._task(request)
        if task is None:
            return _error(404, "Task not found", "ITEM_015")
        body = await json_body(request)
        value = body.get("value") if isinstance(body, dict) else None  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        error = self._validate_field(task["list"]["id"], request.path_params["field_id"], value)
        if error is not None:
            return error
        task["_fields"][request.path_params["field_id"]] = value
        task["date_updated"] = str(int(time.time() * 1000))
        return JSONResponse({})

    async def _add_to_list(self, request: Request) -> Response:
        task = self._task(request)
        list_id = request.path_params["list_id"]
        if task is None:
            return _error(404, "Task not found", "ITEM_015")
        if list_id not in self.lists:
            return _error(404, "List not found", "ITEM_013")
        if not self.allow_multiple_lists:
            return _error(400, "Tasks in Multiple Lists ClickApp is not enabled", "ITEM_137")
        task["locations"].append({"id": list_id})
        return JSONResponse({})

    async def _create_webhook(self, request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not body.get("endpoint"):  # pyright: ignore[reportUnknownMemberType]
            return _error(400, "Endpoint invalid", "WH_001")
        data: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        hook = {
            "id": f"wh-{next(self._ids)}",
            "endpoint": data["endpoint"],
            "events": data.get("events", ["*"]),
            "secret": hashlib.sha256(str(data).encode()).hexdigest()[:32].upper(),
        }
        self.webhooks.append(hook)
        return JSONResponse({"id": hook["id"], "webhook": hook})

    # -- deliveries (the fake calling us) --------------------------------------------------

    def delivery(
        self, webhook: dict[str, Any], event: str, task_id: str, **extra: Any
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery body and its headers, signed like ClickUp signs them."""
        body = json.dumps(
            {"webhook_id": webhook["id"], "event": event, "task_id": task_id, **extra}
        ).encode()
        return body, {"X-Signature": sign_delivery(webhook["secret"], body)}


class _AuthAndLimit:
    """Auth and the per-token limit run before routing, as on the real API."""

    def __init__(self, app: Any, fake: ClickUpFake) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            rejected = self.fake.check(Request(scope, receive))
            if rejected is not None:
                self.fake.plan.requests.append(_record_rejected(scope))
                await rejected(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _record_rejected(scope: Any) -> RecordedRequest:
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    return RecordedRequest(scope["method"], scope["path"], {}, headers, b"")
