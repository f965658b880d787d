"""`/healthz` (the process answers) and `/readyz` (database, worker, platforms)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from shared.errors import SwitchboardError

__all__ = ["ReadinessCheck", "healthz", "readyz_endpoint"]

ReadinessCheck = Callable[[], Awaitable[dict[str, Any]]]
"""Returns details when ready; raises SwitchboardError saying what is not."""


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def readyz_endpoint(
    checks: dict[str, ReadinessCheck],
) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def readyz(_request: Request) -> JSONResponse:
        report: dict[str, Any] = {}
        ready = True
        for name, check in checks.items():
            try:
                report[name] = {"ok": True, **await check()}
            except SwitchboardError as exc:
                ready = False
                report[name] = {"ok": False, "error": str(exc)}
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": report},
            status_code=200 if ready else 503,
        )

    return readyz
