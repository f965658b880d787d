"""The operations dashboard: one static page, its JSON, and the retry and replay actions.

    GET  /dashboard                          the page (a login form until it has a token)
    GET  /api/dashboard                      the numbers for the caller's tenant (viewer+)
    POST /api/dashboard/retry/{execution_id} replay a failed execution's event (operator+)
    POST /api/dashboard/replay/{queue_id}    replay a dead-lettered event (operator+)

The page holds no data and needs no token; everything under /api goes through
BearerAuthMiddleware, so the tenant always comes from the token. The page keeps the token
in sessionStorage (gone when the tab closes) and polls every 2.5 s.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, Router

from orchestration.queue.sql_store import SqlQueueStore
from servers.http.auth import BearerAuthMiddleware, principal_of
from servers.http.dashboard_data import dashboard_snapshot
from shared.audit import AuditEntry, record_audit
from shared.auth.principal import Principal, Role
from shared.auth.tokens import BearerTokenVerifier
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue, workflow_executions
from shared.errors import NotFoundError, SwitchboardError, ValidationFailedError

__all__ = ["dashboard_routes", "replay_dead_letter", "retry_execution"]

PAGE = Path(__file__).with_name("dashboard.html")
_q = event_queue.c
_x = workflow_executions.c


def _parse_id(raw: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFoundError(f"'{raw}' is not {what} id; the dashboard lists them") from None


async def _replay_in_tenant(db: Database, tenant_id: uuid.UUID, queue_id: uuid.UUID) -> None:
    async with db.engine.connect() as conn:
        status = (
            await conn.execute(
                sa.select(_q.status).where(_q.id == queue_id, _q.tenant_id == tenant_id)
            )
        ).scalar()
    if status is None:
        raise NotFoundError(f"no event {queue_id} in this tenant; the dashboard lists dead letters")
    if status not in ("failed", "completed"):
        raise ValidationFailedError(
            f"event {queue_id} is {status}: it is still queued or running, wait for it to finish"
        )
    await SqlQueueStore(db).replay(ids=[queue_id])


async def replay_dead_letter(db: Database, tenant_id: uuid.UUID, queue_id: str) -> str:
    """Queue a failed (or completed) event of this tenant again, with fresh attempts.

    Raises NotFoundError for an id not in this tenant, ValidationFailedError for an event
    still pending or processing."""
    wanted = _parse_id(queue_id, "an event")
    await _replay_in_tenant(db, tenant_id, wanted)
    return str(wanted)


async def retry_execution(db: Database, tenant_id: uuid.UUID, execution_id: str) -> str:
    """Retry a failed execution by replaying its triggering event; returns the event id.

    The redelivered event resumes the same execution (finished steps are not run again).
    Raises NotFoundError or ValidationFailedError saying why it cannot be retried."""
    wanted = _parse_id(execution_id, "an execution")
    async with db.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(_x.status, _x.trigger_event_id).where(
                        _x.id == wanted, _x.tenant_id == tenant_id
                    )
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"no execution {execution_id} in this tenant")
    if row["status"] != "failed":
        raise ValidationFailedError(
            f"execution {execution_id} is {row['status']}; only failed executions can be retried"
        )
    if row["trigger_event_id"] is None:
        raise ValidationFailedError(
            f"execution {execution_id} has no triggering event to replay; run its workflow again"
        )
    await _replay_in_tenant(db, tenant_id, row["trigger_event_id"])
    return str(row["trigger_event_id"])


def _principal(request: Request) -> Principal:
    found = principal_of(request.scope)
    if found is None:  # the middleware guarantees one; refuse rather than guess
        raise PermissionError("no verified token on this request")
    return found


def _audit(
    principal: Principal, action: str, outcome: str, target: str, duration_ms: int | None = None
) -> AuditEntry:
    return AuditEntry(
        tenant_id=principal.tenant_id,
        actor=principal.subject,
        actor_role=principal.role.value,
        action=action,
        outcome=outcome,
        target=target,
        duration_ms=duration_ms,
    )


Action = Callable[[Database, uuid.UUID, str], Awaitable[str]]


def _action_endpoint(
    db: Database, action: Action, name: str, param: str
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        principal = _principal(request)
        target = str(request.path_params[param])
        if not principal.role.allows(Role.OPERATOR):
            await record_audit(db, _audit(principal, name, "denied", target))
            return JSONResponse(
                {
                    "error": "forbidden",
                    "detail": f"{name} needs the operator role; this token is "
                    f"{principal.role.value}. Ask an admin for an operator key "
                    "(`switchboard keys create --role operator`)",
                },
                status_code=403,
            )
        started = time.monotonic()
        try:
            event_id = await action(db, principal.tenant_id, target)
        except SwitchboardError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 409
            outcome = "error"
            body: dict[str, str] = {"error": "not_found" if status == 404 else "conflict"}
            body["detail"] = str(exc)
        else:
            status, outcome = 202, "ok"
            body = {"status": "queued", "event_id": event_id}
        elapsed_ms = int((time.monotonic() - started) * 1000)
        await record_audit(db, _audit(principal, name, outcome, target, elapsed_ms))
        return JSONResponse(body, status_code=status)

    return endpoint


def dashboard_routes(db: Database, verifier: BearerTokenVerifier) -> list[Route | Mount]:
    """`/dashboard` (open: only the login form and script) and `/api/dashboard...` (token)."""
    page = PAGE.read_text(encoding="utf-8")

    async def dashboard_page(_request: Request) -> Response:
        return HTMLResponse(
            page,
            headers={
                "cache-control": "no-store",
                "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
                "x-content-type-options": "nosniff",
            },
        )

    async def dashboard_json(request: Request) -> Response:
        principal = _principal(request)
        data = await dashboard_snapshot(db, principal.tenant_id)
        data["caller"] = {"role": principal.role.value, "tenant_id": str(principal.tenant_id)}
        return JSONResponse(data, headers={"cache-control": "no-store"})

    api = Router(
        routes=[
            Route("/dashboard", dashboard_json),
            Route(
                "/dashboard/retry/{execution_id}",
                _action_endpoint(db, retry_execution, "dashboard.retry_execution", "execution_id"),
                methods=["POST"],
            ),
            Route(
                "/dashboard/replay/{queue_id}",
                _action_endpoint(db, replay_dead_letter, "dashboard.replay_event", "queue_id"),
                methods=["POST"],
            ),
        ]
    )
    return [
        Route("/dashboard", dashboard_page),
        Mount("/api", app=BearerAuthMiddleware(api, verifier, "dashboard")),
    ]
