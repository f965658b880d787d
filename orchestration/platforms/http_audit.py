"""Who a platform call was made for, and what an audit row says about it.

PlatformHttp notes one `OutboundCall` per HTTP request it sends (each retry is one): who
(the `outbound_caller` context of the code that made it), platform, operation (method and
path with ids replaced by `{id}`), outcome, HTTP status, duration and a digest of what
was sent, never headers or payload values. `usage.flush_counter` writes them.

Whoever makes platform calls on someone's behalf says so around them:

    with outbound_caller(f"workflow:{name}", execution_id=str(execution.id)):
        ...

Calls made outside any such block are attributed to "system".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

import httpx

__all__ = [
    "OutboundCall",
    "OutboundCaller",
    "current_caller",
    "operation_name",
    "outbound_caller",
]


@dataclass(frozen=True)
class OutboundCaller:
    """Who the outbound calls of a block are made for: `workflow:NAME`, `tool:NAME` with the
    tool caller's id, `health-monitor`, `cli`... and, in a workflow, the execution id."""

    actor: str
    role: str | None = None
    execution_id: str | None = None


_SYSTEM = OutboundCaller("system")
_caller: ContextVar[OutboundCaller] = ContextVar("switchboard_outbound_caller", default=_SYSTEM)


def current_caller() -> OutboundCaller:
    return _caller.get()


@contextmanager
def outbound_caller(
    actor: str, *, role: str | None = None, execution_id: str | None = None
) -> Generator[OutboundCaller]:
    """Attribute the platform calls made inside the block (and its tasks) to `actor`."""
    caller = OutboundCaller(actor, role, execution_id)
    token = _caller.set(caller)
    try:
        yield caller
    finally:
        _caller.reset(token)


# A segment holding a digit (but not a version like v2), or one long enough to be a token.
_ID_SEGMENT = re.compile(r"^(?!v\d+$)(?=.*\d).+$|^.{24,}$")


def operation_name(method: str, base_url: str, url: str) -> str:
    """`POST /list/{id}/task`: the path below the base URL with every segment that holds a
    digit (or is token-long) replaced by `{id}`, so an audit row names the operation without
    object ids or a webhook's secret path; another host's URL keeps only its host."""
    target = httpx.URL(url)
    base = httpx.URL(base_url)
    path = target.path
    if target.host != base.host:
        return f"{method} {target.host}/{{id}}" if path.strip("/") else f"{method} {target.host}"
    prefix = base.path.rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix) :]
    segments = ["{id}" if _ID_SEGMENT.match(s) else s for s in path.split("/")]
    return f"{method} {'/'.join(segments) or '/'}"


@dataclass(frozen=True)
class OutboundCall:
    """One HTTP request sent to a platform, for the audit log."""

    tenant_id: uuid.UUID | None
    platform: str
    operation: str
    caller: OutboundCaller
    outcome: str  # ok | error
    status_code: int | None
    duration_ms: int
    digest: str
    attempt: int
    at: datetime
    error: str | None = None  # the transport error's kind when no answer came
