"""What every fake platform shares: a request log and configurable fault injection.

A fault matches requests by method and path prefix and fires `times` times (None:
forever), answering its status/headers/body instead of the real handler, optionally
after a delay (a slow response). `delay` without `status` slows the real answer.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["Fault", "FaultPlan", "RecordedRequest", "json_body"]


@dataclass
class Fault:
    path_prefix: str = "/"
    method: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict[str, str])
    body: Any = None
    delay: float = 0.0
    times: int | None = 1


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FaultPlan:
    """Faults to inject and the log of every request the fake received."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []

    def add(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method not in (None, method) or not path.startswith(fault.path_prefix):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    def matching(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def wrap(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The route handler with request recording and fault injection in front."""

        async def wrapped(request: Request) -> Response:
            body = await request.body()
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                )
            )
            fault = self.take(request.method, request.url.path)
            if fault is not None:
                if fault.delay:
                    await anyio.sleep(fault.delay)
                if fault.status is not None:
                    return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
            return await handler(request)

        return wrapped


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None
