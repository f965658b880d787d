"""An Apify API v2 fake: actor runs, run status, dataset pages (PLATFORM-APIS.md).

`Authorization: Bearer <token>`; errors `{"error": {"type", "message"}}`; each
`GET /actor-runs/{id}` moves the run one step along its actor's status sequence
(READY -> RUNNING -> SUCCEEDED by default), so a client following it never waits;
dataset pages carry the `X-Apify-Pagination-*` headers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.common import FaultPlan, json_body

__all__ = ["ApifyFake"]


def _error(status: int, type_: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message}}, status_code=status)


@dataclass
class ApifyFake:
    token: str = "apify_api_SECRETtoken123"
    actors: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    runs: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    datasets: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict[str, list[dict[str, Any]]]
    )
    plan: FaultPlan = field(default_factory=FaultPlan)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add_actor(
        self,
        actor_id: str,
        items: list[dict[str, Any]],
        statuses: tuple[str, ...] = ("READY", "RUNNING", "SUCCEEDED"),
    ) -> None:
        self.actors[actor_id] = {"items": items, "statuses": statuses}

    def app(self) -> Starlette:
        w = self.plan.wrap
        return Starlette(
            routes=[
                Route("/v2/users/me", w(self._me), methods=["GET"]),
                Route("/v2/acts/{actor_id}/runs", w(self._start), methods=["POST"]),
                Route("/v2/actor-runs/{run_id}", w(self._run), methods=["GET"]),
                Route("/v2/actor-runs/{run_id}/abort", w(self._abort), methods=["POST"]),
                Route("/v2/datasets/{dataset_id}/items", w(self._items), methods=["GET"]),
            ]
        )

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _unauthorised(self) -> JSONResponse:
        return _error(
            401,
            "user-or-token-not-found",
            "User was not found or authentication token is not valid",
        )

    async def _me(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        return JSONResponse({"data": {"id": "u1", "username": "fake"}})

    async def _start(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        actor_id = request.path_params["actor_id"]
        actor = self.actors.get(actor_id)
        if actor is None:
            return _error(404, "record-not-found", f"Actor {actor_id} was not found")
        run_id = f"run{next(self._ids):05d}"
        dataset_id = f"ds-{run_id}"
        self.datasets[dataset_id] = list(actor["items"])
        run = {
            "id": run_id,
            "actId": actor_id,
            "status": actor["statuses"][0],
            "defaultDatasetId": dataset_id,
            "defaultKeyValueStoreId": f"kv-{run_id}",
            "input": await json_body(request),
            "options": dict(request.query_params),
            "_step": 0,
        }
        self.runs[run_id] = run
        return JSONResponse({"data": self._public(run)}, status_code=201)

    @staticmethod
    def _public(run: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in run.items() if not k.startswith("_") and k != "input"}

    async def _run(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        statuses = self.actors[run["actId"]]["statuses"]
        if run["status"] not in ("ABORTED", "ABORTING"):
            run["_step"] = min(run["_step"] + 1, len(statuses) - 1)
            run["status"] = statuses[run["_step"]]
        return JSONResponse({"data": self._public(run)})

    async def _abort(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        run = self.runs.get(request.path_params["run_id"])
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        run["status"] = "ABORTED"
        return JSONResponse({"data": self._public(run)})

    async def _items(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        items = self.datasets.get(request.path_params["dataset_id"])
        if items is None:
            return _error(404, "record-not-found", "Dataset was not found")
        offset = int(request.query_params.get("offset", 0))
        limit = int(request.query_params.get("limit", 1000))
        page = items[offset : offset + limit]
        return JSONResponse(
            page,
            headers={
                "X-Apify-Pagination-Offset": str(offset),
                "X-Apify-Pagination-Limit": str(limit),
                "X-Apify-Pagination-Count": str(len(page)),
                "X-Apify-Pagination-Total": str(len(items)),
            },
        )
