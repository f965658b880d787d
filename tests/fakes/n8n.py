"""An n8n fake: the public API v1 (workflows, executions, credentials) and production
webhooks, faithful to PLATFORM-APIS.md and to what the real n8n 2.8.4 answers.

- `X-N8N-API-KEY` on `/api/v1`; 401 `{"message": "unauthorized"}`.
- `POST/PUT /workflows` accept only name, nodes, connections, settings (400 "request/body
  must NOT have additional properties" otherwise); workflows are created inactive.
- `/webhook/<path>` answers the documented 404 "not registered" for inactive workflows,
  and for the first `registration_lag` calls after an activation (the real race,
  counted in calls instead of seconds so tests never wait).
- Header auth on the Webhook node (`authentication: headerAuth`) is checked against
  the credential the node names; a workflow in `failing` answers 500 "Error in workflow".
- Runs that go on after the answer, as the real one does them: `responseMode: onReceived`
  answers `{"message": "Workflow was started"}`; a workflow with an early "Respond to
  Webhook" node named `Accepted` answers `{"status": "running", "executionId"}`. Such an
  execution reads `running` until it has been read `polls_until_done` times.
- Executions carry `data.resultData.runData` as n8n 2.8.4 saves it (the Webhook node's
  item with headers, body and webhookUrl; the last node's output) with `includeData=true`.
- Credentials: `GET /credentials` (no data), `POST`, `PATCH /credentials/{id}`, `DELETE`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.common import FaultPlan, json_body

__all__ = ["N8nFake", "background_workflow", "echo_workflow"]

ALLOWED_WORKFLOW_KEYS = {"name", "nodes", "connections", "settings"}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class N8nFake:
    api_key: str = "n8n_api_SECRET_key_12345"
    registration_lag: int = 2
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    executions: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    failing: set[str] = field(default_factory=set[str])
    polls_until_done: int = 1
    plan: FaultPlan = field(default_factory=FaultPlan)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lag: dict[str, int] = field(default_factory=dict[str, int])

    def app(self) -> Starlette:
        w = self.plan.wrap
        api = "/api/v1"
        return Starlette(
            routes=[
                Route(f"{api}/workflows", w(self._list_workflows), methods=["GET"]),
                Route(f"{api}/workflows", w(self._create_workflow), methods=["POST"]),
                Route(f"{api}/workflows/{{id}}", w(self._get_workflow), methods=["GET"]),
                Route(f"{api}/workflows/{{id}}", w(self._update_workflow), methods=["PUT"]),
                Route(f"{api}/workflows/{{id}}", w(self._delete_workflow), methods=["DELETE"]),
                Route(f"{api}/workflows/{{id}}/activate", w(self._activate), methods=["POST"]),
                Route(f"{api}/workflows/{{id}}/deactivate", w(self._deactivate), methods=["POST"]),
                Route(f"{api}/executions", w(self._list_executions), methods=["GET"]),
                Route(f"{api}/executions/{{id}}", w(self._get_execution), methods=["GET"]),
                Route(f"{api}/credentials", w(self._create_credential), methods=["POST"]),
                Route(f"{api}/credentials", w(self._list_credentials), methods=["GET"]),
                Route(f"{api}/credentials/{{id}}", w(self._patch_credential), methods=["PATCH"]),
                Route(f"{api}/credentials/{{id}}", w(self._delete_credential), methods=["DELETE"]),
                Route("/webhook/{path:path}", w(self._webhook), methods=["GET", "POST"]),
            ]
        )

    # -- public API ------------------------------------------------------------------------

    def _unauthorised(self, request: Request) -> Response | None:
        if request.headers.get("x-n8n-api-key") != self.api_key:
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        return None

    @staticmethod
    def _validate(body: Any) -> Response | None:
        if not isinstance(body, dict):
            return JSONResponse({"message": "request/body must be object"}, status_code=400)
        extra = set(body) - ALLOWED_WORKFLOW_KEYS  # pyright: ignore[reportUnknownArgumentType]
        if extra:
            return JSONResponse(
                {"message": "request/body must NOT have additional properties"}, status_code=400
            )
        for key in sorted(ALLOWED_WORKFLOW_KEYS):
            if key not in body:
                return JSONResponse(
                    {"message": f"request/body must have required property '{key}'"},
                    status_code=400,
                )
        return None

    def _workflow(self, request: Request) -> dict[str, Any] | None:
        return self.workflows.get(request.path_params["id"])

    @staticmethod
    def _not_found() -> JSONResponse:
        return JSONResponse({"message": "Not Found"}, status_code=404)

    async def _list_workflows(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        active = request.query_params.get("active")
        data = [
            wf
            for wf in self.workflows.values()
            if active is None or str(wf["active"]).lower() == active.lower()
        ]
        return JSONResponse({"data": data, "nextCursor": None})

    async def _create_workflow(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        body = await json_body(request)
        if (r := self._validate(body)) is not None:
            return r
        wf_id = f"wf{next(self._ids):010d}"
        workflow = {**body, "id": wf_id, "active": False, "createdAt": _now(), "updatedAt": _now()}
        self.workflows[wf_id] = workflow
        return JSONResponse(workflow)

    async def _get_workflow(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf = self._workflow(request)
        return JSONResponse(wf) if wf is not None else self._not_found()

    async def _update_workflow(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf = self._workflow(request)
        if wf is None:
            return self._not_found()
        body = await json_body(request)
        if (r := self._validate(body)) is not None:
            return r
        wf.update(body)
        wf["updatedAt"] = _now()
        return JSONResponse(wf)

    async def _delete_workflow(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf = self.workflows.pop(request.path_params["id"], None)
        return JSONResponse(wf) if wf is not None else self._not_found()

    async def _activate(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf = self._workflow(request)
        if wf is None:
            return self._not_found()
        if not any(n.get("type") == "n8n-nodes-base.webhook" for n in wf["nodes"]):
            return JSONResponse(
                {"message": "Workflow has no node to start the workflow"}, status_code=400
            )
        wf["active"] = True
        self._lag[wf["id"]] = self.registration_lag
        return JSONResponse(wf)

    async def _deactivate(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf = self._workflow(request)
        if wf is None:
            return self._not_found()
        wf["active"] = False
        return JSONResponse(wf)

    async def _list_executions(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        wf_id = request.query_params.get("workflowId")
        status = request.query_params.get("status")
        with_data = request.query_params.get("includeData") == "true"
        limit = int(request.query_params.get("limit", "100"))
        data = [
            self._shown(e, with_data)
            for e in reversed(self.executions.values())
            if (wf_id is None or e["workflowId"] == wf_id)
            and (status is None or e["status"] == status)
        ]
        return JSONResponse({"data": data[:limit], "nextCursor": None})

    def _shown(self, execution: dict[str, Any], with_data: bool) -> dict[str, Any]:
        """The execution as read now: an unfinished run finishes after enough reads."""
        if not execution["finished"] and execution["status"] == "running":
            if execution["_polls_left"] <= 0:
                execution.update(finished=True, status="success", stoppedAt=_now())
            execution["_polls_left"] -= 1
        hidden = {"_polls_left"} | (set() if with_data else {"data"})
        return {k: v for k, v in execution.items() if k not in hidden}

    async def _get_execution(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        execution = self.executions.get(request.path_params["id"])
        if execution is None:
            return self._not_found()
        return JSONResponse(
            self._shown(execution, request.query_params.get("includeData") == "true")
        )

    async def _create_credential(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        body = await json_body(request)
        if not isinstance(body, dict) or not {"name", "type", "data"} <= set(body):  # pyright: ignore[reportUnknownArgumentType]
            return JSONResponse(
                {"message": "request/body must have required property 'data'"}, status_code=400
            )
        cred_id = f"cr{next(self._ids):06d}"
        self.credentials[cred_id] = {**body, "id": cred_id}
        return JSONResponse({"id": cred_id, "name": body["name"], "type": body["type"]})

    async def _list_credentials(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        data = [{k: v for k, v in c.items() if k != "data"} for c in self.credentials.values()]
        return JSONResponse({"data": data, "nextCursor": None})

    async def _patch_credential(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        credential = self.credentials.get(request.path_params["id"])
        if credential is None:
            return self._not_found()
        body = await json_body(request)
        if isinstance(body, dict):
            credential.update(body)  # pyright: ignore[reportUnknownArgumentType]
        return JSONResponse({k: v for k, v in credential.items() if k != "data"})

    async def _delete_credential(self, request: Request) -> Response:
        if (r := self._unauthorised(request)) is not None:
            return r
        credential = self.credentials.pop(request.path_params["id"], None)
        if credential is None:
            return self._not_found()
        return JSONResponse({k: v for k, v in credential.items() if k != "data"})

    # -- webhooks --------------------------------------------------------------------------

    def _find_webhook(self, method: str, path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for wf in self.workflows.values():
            for node in wf["nodes"]:
                params = node.get("parameters", {})
                if (
                    node.get("type") == "n8n-nodes-base.webhook"
                    and params.get("path") == path
                    and params.get("httpMethod", "GET") == method
                    and wf["active"]
                ):
                    return wf, node
        return None

    async def _webhook(self, request: Request) -> Response:
        path = request.path_params["path"]
        found = self._find_webhook(request.method, path)
        if found is not None and self._lag.get(found[0]["id"], 0) > 0:
            self._lag[found[0]["id"]] -= 1
            found = None
        if found is None:
            return JSONResponse(
                {
                    "code": 404,
                    "message": (
                        f'The requested webhook "{request.method} {path}" is not registered.'
                    ),
                    "hint": "The workflow must be active for a production URL to run.",
                },
                status_code=404,
            )
        wf, node = found
        if node.get("parameters", {}).get("authentication") == "headerAuth":
            cred_ref = node.get("credentials", {}).get("httpHeaderAuth", {})
            cred = self.credentials.get(cred_ref.get("id", ""), {}).get("data", {})
            if not cred or request.headers.get(cred["name"].lower()) != cred["value"]:
                return Response("Authorization data is wrong!", status_code=403)
        body = await json_body(request)
        exec_id = str(next(self._ids))
        failed = wf["id"] in self.failing
        mode = node.get("parameters", {}).get("responseMode")
        early = any(
            n.get("name") == "Accepted" and n.get("type") == "n8n-nodes-base.respondToWebhook"
            for n in wf["nodes"]
        )
        goes_on = mode == "onReceived" or early
        answer = {"ok": True, "workflow": wf["name"], "received": body}
        trigger_item = {
            "headers": dict(request.headers),
            "params": {},
            "query": dict(request.query_params),
            "body": body,
            "webhookUrl": str(request.url),
            "executionMode": "production",
        }
        run_data: dict[str, Any] = {"Webhook": [{"data": {"main": [[{"json": trigger_item}]]}}]}
        if not failed:
            result = {"ok": True, "received": body}  # what background_workflow's Set node makes
            run_data["Result"] = [{"data": {"main": [[{"json": result}]]}}]
        self.executions[exec_id] = {
            "id": exec_id,
            "finished": not failed and not goes_on,
            "mode": "webhook",
            "startedAt": _now(),
            "stoppedAt": None if goes_on else _now(),
            "workflowId": wf["id"],
            "status": "error" if failed else "running" if goes_on else "success",
            "data": {
                "resultData": {
                    "runData": run_data,
                    "lastNodeExecuted": "Webhook" if failed else "Result",
                    **({"error": {"message": "Error in workflow"}} if failed else {}),
                },
            },
            "_polls_left": self.polls_until_done,
        }
        if mode == "onReceived":
            return JSONResponse({"message": "Workflow was started"})
        if failed:
            return JSONResponse({"message": "Error in workflow"}, status_code=500)
        if early:
            return JSONResponse({"status": "running", "executionId": exec_id})
        return JSONResponse(answer)


def echo_workflow(name: str, path: str, credential_id: str | None = None) -> dict[str, Any]:
    """A Webhook -> Respond to Webhook workflow as n8n 2.8.4 imports it (checked against
    the real one in tests/integration/platforms/test_n8n_real.py). With a credential id,
    the Webhook node requires that header credential."""
    webhook_params: dict[str, Any] = {
        "httpMethod": "POST",
        "path": path,
        "responseMode": "responseNode",
        "options": {},
    }
    webhook: dict[str, Any] = {
        "id": "5b0d7c7e-0000-4000-8000-000000000001",
        "name": "Webhook",
        "type": "n8n-nodes-base.webhook",
        "typeVersion": 2,
        "position": [0, 0],
        "webhookId": "5b0d7c7e-0000-4000-8000-0000000000aa",
        "parameters": webhook_params,
    }
    if credential_id:
        webhook_params["authentication"] = "headerAuth"
        webhook["credentials"] = {"httpHeaderAuth": {"id": credential_id, "name": "switchboard"}}
    respond = {
        "id": "5b0d7c7e-0000-4000-8000-000000000002",
        "name": "Respond",
        "type": "n8n-nodes-base.respondToWebhook",
        "typeVersion": 1.1,
        "position": [300, 0],
        "parameters": {
            "respondWith": "json",
            "responseBody": '={{ { "ok": true, "received": $json.body } }}',
            "options": {},
        },
    }
    return {
        "name": name,
        "nodes": [webhook, respond],
        "connections": {"Webhook": {"main": [[{"node": "Respond", "type": "main", "index": 0}]]}},
        "settings": {"executionOrder": "v1"},
        "active": False,  # not accepted by the API: the adapter must drop it
        "tags": [],
    }


def background_workflow(
    name: str, path: str, credential_id: str | None = None, *, answer: str = "running"
) -> dict[str, Any]:
    """A workflow that answers before it has finished, as n8n 2.8.4 runs it (checked against
    the real one): `answer="running"` puts a "Respond to Webhook" node named Accepted first,
    answering `{"status": "running", "executionId": $execution.id}`; `answer="started"`
    uses `responseMode: onReceived` (n8n answers "Workflow was started", no id). Either
    way a Set node named Result then produces `{"ok": true, "received": <body>}`."""
    workflow = echo_workflow(name, path, credential_id)
    webhook = workflow["nodes"][0]
    result = {
        "id": "5b0d7c7e-0000-4000-8000-000000000003",
        "name": "Result",
        "type": "n8n-nodes-base.set",
        "typeVersion": 3.4,
        "position": [600, 0],
        "parameters": {
            "mode": "raw",
            "jsonOutput": "={{ { ok: true, received: $('Webhook').item.json.body } }}",
            "includeOtherFields": False,
            "options": {},
        },
    }
    if answer == "started":
        webhook["parameters"]["responseMode"] = "onReceived"
        workflow["nodes"] = [webhook, result]
        workflow["connections"] = {
            "Webhook": {"main": [[{"node": "Result", "type": "main", "index": 0}]]}
        }
        return workflow
    accepted = {
        "id": "5b0d7c7e-0000-4000-8000-000000000002",
        "name": "Accepted",
        "type": "n8n-nodes-base.respondToWebhook",
        "typeVersion": 1.1,
        "position": [300, 0],
        "parameters": {
            "respondWith": "json",
            "responseBody": "={{ { status: 'running', executionId: $execution.id } }}",
            "options": {},
        },
    }
    workflow["nodes"] = [webhook, accepted, result]
    workflow["connections"] = {
        "Webhook": {"main": [[{"node": "Accepted", "type": "main", "index": 0}]]},
        "Accepted": {"main": [[{"node": "Result", "type": "main", "index": 0}]]},
    }
    return workflow
