"""Tenant-defined event types, kept in `tenants.settings["custom_event_types"]`.

The spec fixes six lifecycle event types; a tenant may add its own (say `review_received`)
so its workflows can trigger on them. Anything else is refused at publish time so a typo
in a webhook never queues an event no workflow will ever match.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.models import EVENT_TYPE_PATTERN, StandardEventType
from shared.db.schema import tenants
from shared.errors import NotFoundError, ValidationFailedError

__all__ = [
    "CUSTOM_TYPES_KEY",
    "STANDARD_TYPES",
    "add_custom_event_types",
    "check_event_type",
    "custom_event_types",
    "remove_custom_event_types",
]

CUSTOM_TYPES_KEY = "custom_event_types"
STANDARD_TYPES = frozenset(t.value for t in StandardEventType)
# The workflow engine's own bookkeeping events (durable waits, schedule ticks, manual runs).
SYSTEM_TYPES = frozenset({"workflow_resume", "schedule_tick", "workflow_run"})
# What a platform's verified webhook reports (e.g. `clickup_task_status_updated`): named by
# the sender, so allowed for every tenant without configuration.
PLATFORM_TYPE_RE = re.compile(r"^(clickup|apify|n8n|make)_[a-z0-9_]{1,57}$")
_TYPE_RE = re.compile(EVENT_TYPE_PATTERN)


async def _settings(conn: AsyncConnection, tenant_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await conn.execute(sa.select(tenants.c.settings).where(tenants.c.id == tenant_id))
    ).first()
    if row is None:
        raise NotFoundError(
            f"tenant {tenant_id} does not exist; `switchboard tenants list` shows the tenants"
        )
    value = row[0]
    return dict(cast("dict[str, Any]", value)) if isinstance(value, dict) else {}


async def custom_event_types(conn: AsyncConnection, tenant_id: uuid.UUID) -> frozenset[str]:
    """The custom event types the tenant allows (empty when none are configured)."""
    configured: Any = (await _settings(conn, tenant_id)).get(CUSTOM_TYPES_KEY)
    if not isinstance(configured, list):
        return frozenset()
    return frozenset(str(t) for t in cast("list[Any]", configured))


async def check_event_type(conn: AsyncConnection, tenant_id: uuid.UUID, event_type: str) -> None:
    """Raise ValidationFailedError unless `event_type` is standard or allowed for the tenant."""
    if event_type in STANDARD_TYPES or event_type in SYSTEM_TYPES:
        return
    if PLATFORM_TYPE_RE.match(event_type):
        return
    if event_type in await custom_event_types(conn, tenant_id):
        return
    raise ValidationFailedError(
        f"unknown event type '{event_type}': use one of {', '.join(sorted(STANDARD_TYPES))}, "
        f"or allow it for this tenant with `switchboard events types add {event_type}`"
    )


def _validated(names: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for name in names:
        if not _TYPE_RE.match(name):
            raise ValidationFailedError(
                f"'{name}' is not a valid event type name: use 2-64 lowercase letters, digits "
                "and underscores, starting with a letter"
            )
        if name in STANDARD_TYPES:
            raise ValidationFailedError(f"'{name}' is already a standard event type")
        cleaned.append(name)
    return cleaned


async def _store(conn: AsyncConnection, tenant_id: uuid.UUID, types: Iterable[str]) -> None:
    settings = await _settings(conn, tenant_id)
    settings[CUSTOM_TYPES_KEY] = sorted(set(types))
    await conn.execute(
        sa.update(tenants).where(tenants.c.id == tenant_id).values(settings=settings)
    )


async def add_custom_event_types(
    conn: AsyncConnection, tenant_id: uuid.UUID, names: Iterable[str]
) -> frozenset[str]:
    """Allow more custom types for the tenant; returns the full set. Call in a transaction."""
    wanted = _validated(names)
    current = await custom_event_types(conn, tenant_id)
    updated = current | frozenset(wanted)
    await _store(conn, tenant_id, updated)
    return updated


async def remove_custom_event_types(
    conn: AsyncConnection, tenant_id: uuid.UUID, names: Iterable[str]
) -> frozenset[str]:
    """Stop allowing custom types (queued events stay); returns the remaining set."""
    updated = await custom_event_types(conn, tenant_id) - frozenset(names)
    await _store(conn, tenant_id, updated)
    return updated
