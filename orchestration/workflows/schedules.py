"""Schedule triggers: cron (or hourly/daily/weekly) ticks become queued events, once each.

Every worker may run the schedule loop. A tick is claimed by publishing an event whose id
is `schedule:<definition id>:<tick ISO time>`; the queue accepts an event id once per
tenant, so however many workers see the tick, one event (and so one execution) results.

Only the latest due tick fires: after downtime, missed ticks collapse into one run rather
than a burst. A tick before the definition existed never fires. Times are UTC.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
import sqlalchemy as sa
from croniter import CroniterError, croniter
from sqlalchemy.exc import SQLAlchemyError

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.workflows.publishing import SCHEDULE_EVENT_TYPE, publish_follow_up
from orchestration.workflows.store import StoredDefinition, definition_from_row
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.db.types import utcnow

__all__ = ["FiredTick", "fire_due_schedules", "latest_tick", "run_schedule_loop", "tick_event"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FiredTick:
    workflow: str
    tenant_id: uuid.UUID
    tick: datetime
    accepted: bool  # False: another worker (or an earlier pass) already queued this tick


def latest_tick(cron: str, now: datetime) -> datetime:
    """The most recent time <= now the cron expression fires (UTC)."""
    before: datetime = croniter(cron, now).get_prev(datetime)
    after: datetime = croniter(cron, before).get_next(datetime)
    return after if after <= now else before  # get_prev is strict: now itself may be a tick


def _priority(execution_priority: int) -> EventPriority:
    if execution_priority <= 2:
        return EventPriority.CRITICAL
    if execution_priority <= 4:
        return EventPriority.HIGH
    return EventPriority.MEDIUM if execution_priority <= 6 else EventPriority.LOW


def tick_event(stored: StoredDefinition, tick: datetime) -> CustomerEvent:
    return CustomerEvent(
        eventId=f"schedule:{stored.id}:{tick.isoformat()}",
        tenantId=stored.tenant_id,
        eventType=SCHEDULE_EVENT_TYPE,
        eventData={"workflow_definition_id": str(stored.id), "tick": tick.isoformat()},
        timestamp=tick,
        source=EventSource.CRM,
        priority=_priority(stored.definition.execution_priority),
        workflow_triggers=[str(stored.id)],
    )


async def fire_due_schedules(db: Database, *, now: datetime | None = None) -> list[FiredTick]:
    """Queue the latest due tick of every active schedule definition, in every tenant."""
    now = now or utcnow()
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(workflow_definitions).where(
                    workflow_definitions.c.trigger_type == "schedule",
                    workflow_definitions.c.is_active.is_(True),
                )
            )
        ).mappings()
        scheduled = [definition_from_row(r) for r in rows]
    fired: list[FiredTick] = []
    for stored in scheduled:
        cron = stored.definition.trigger.cron_expression
        if cron is None:
            continue
        try:
            tick = latest_tick(cron, now)
        except CroniterError as exc:  # stored before save-time checks refused such crons
            log.warning("schedule of %s cannot fire (%s); fix its cron", stored.name, exc)
            continue
        if stored.created_at is not None and tick < stored.created_at:
            continue
        async with db.transaction() as conn:
            result = await publish_follow_up(conn, tick_event(stored, tick), None, 0)
        fired.append(FiredTick(stored.name, stored.tenant_id, tick, result.accepted))
        if result.accepted:
            log.info("schedule tick %s queued for %s", tick.isoformat(), stored.name)
    return fired


async def run_schedule_loop(
    db: Database, *, period_s: float = 30.0, clock: Callable[[], datetime] = utcnow
) -> None:
    """Fire due ticks every `period_s` seconds until cancelled; run it beside a worker."""
    while True:
        try:
            await fire_due_schedules(db, now=clock())
        except (OSError, SQLAlchemyError) as exc:  # the next pass tries again
            log.warning("schedule pass failed: %s", exc)
        await anyio.sleep(period_s)
