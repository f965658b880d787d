"""CRM writes become customer lifecycle events: the `CrmChangeSink` the repositories call.

| CRM change                                   | event                          |
|----------------------------------------------|--------------------------------|
| lifecycle stage -> qualified                 | lead_qualified                 |
| lifecycle stage -> customer                  | customer_onboarded             |
| lifecycle stage -> at_risk                   | churn_risk_detected            |
| retention campaign created                   | retention_campaign_triggered   |
| qualification with score over the threshold  | lead_qualified                 |
| health score, churn probability >= threshold | churn_risk_detected            |

Other changes (stage -> prospect/lead/churned, activities, health scores under the churn
threshold, acquisition campaigns) emit nothing: no standard event means anything for them,
and a workflow that wants them can be triggered by a tenant-defined event instead. The
thresholds are the tenant's `settings["qualification_threshold"]` (default 80, the spec's
"score > 80") and `settings["churn_risk_threshold"]` (default 0.7, churn probability).
A health score emits only when it crosses: the account's previous score was under the
threshold, or there was none (re-scoring an account already at risk starts nothing new). Its
event id is `crm:health:{health_id}`, the id change capture (capture.py) gives the same row.

On Postgres with the change-capture triggers installed (capture.py), the triggers already
queue lifecycle-stage and health-score changes inside the write's transaction, with their own
event ids; the sink then publishes nothing for those two kinds (it checks the catalogue in the
same transaction and logs once that it defers), so one change is never queued twice.

Given a connection (the SQL repository calls inside the write's own transaction), the event
is published in that transaction, so the write and its event commit or roll back together.
Without one (a REST data source, after its write) the event is committed on its own.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.capture import capture_trigger_installed
from orchestration.events.models import (
    CustomerEvent,
    EventPriority,
    EventSource,
    StandardEventType,
)
from orchestration.events.publish import publish
from shared.crm.repository import CrmChange
from shared.db.database import Database
from shared.db.schema import customer_health_scores, tenants

__all__ = [
    "CHURN_RISK_THRESHOLD_KEY",
    "DEFAULT_CHURN_RISK_THRESHOLD",
    "DEFAULT_QUALIFICATION_THRESHOLD",
    "QUALIFICATION_THRESHOLD_KEY",
    "CrmEventSink",
    "events_for_change",
]

log = logging.getLogger(__name__)

QUALIFICATION_THRESHOLD_KEY = "qualification_threshold"
DEFAULT_QUALIFICATION_THRESHOLD = 80.0
# A stored health score at or over this churn probability emits
# churn_risk_detected.
CHURN_RISK_THRESHOLD_KEY = "churn_risk_threshold"
DEFAULT_CHURN_RISK_THRESHOLD = 0.7

_STAGE_EVENTS: dict[str, tuple[StandardEventType, EventPriority]] = {
    "qualified": (StandardEventType.LEAD_QUALIFIED, EventPriority.MEDIUM),
    "customer": (StandardEventType.CUSTOMER_ONBOARDED, EventPriority.MEDIUM),
    "at_risk": (StandardEventType.CHURN_RISK_DETECTED, EventPriority.HIGH),
}


def events_for_change(
    change: CrmChange,
    tenant_id: uuid.UUID,
    *,
    qualification_threshold: float,
    churn_risk_threshold: float = DEFAULT_CHURN_RISK_THRESHOLD,
    previous_churn_probability: float | None = None,
) -> list[CustomerEvent]:
    """The events one change causes (usually none or one). Pure: no I/O."""
    data: dict[str, Any] = dict(change.data)
    account = str(change.account_id) if change.account_id else None
    if account is not None:
        data.setdefault("account_id", account)
    data["crm_change"] = change.kind

    def event(kind: StandardEventType, priority: EventPriority, event_id: str) -> CustomerEvent:
        return CustomerEvent(
            eventId=event_id,
            tenantId=tenant_id,
            customerId=account,
            eventType=kind.value,
            eventData=data,
            source=EventSource.CRM,
            priority=priority,
        )

    if change.kind == "lifecycle_stage":
        found = _STAGE_EVENTS.get(str(data.get("new_stage")))
        if found is None:
            return []
        # Each real stage change is its own occurrence: a random id, never deduplicated.
        return [event(found[0], found[1], f"crm:stage:{uuid.uuid4()}")]
    if change.kind == "campaign" and data.get("campaign_kind") == "retention":
        return [
            event(
                StandardEventType.RETENTION_CAMPAIGN_TRIGGERED,
                EventPriority.HIGH,
                f"crm:campaign:{data.get('campaign_id')}",
            )
        ]
    if change.kind == "lead_qualification":
        score = data.get("score")
        if isinstance(score, int | float) and score > qualification_threshold:
            return [
                event(
                    StandardEventType.LEAD_QUALIFIED,
                    EventPriority.MEDIUM,
                    f"crm:qualification:{data.get('qualification_id')}",
                )
            ]
    if change.kind == "health_score":  # stored health scores over the churn threshold
        probability = data.get("churn_probability")
        was_at_risk = (
            previous_churn_probability is not None
            and previous_churn_probability >= churn_risk_threshold
        )
        if (
            isinstance(probability, int | float)
            and probability >= churn_risk_threshold
            and not was_at_risk
        ):
            data["threshold"] = churn_risk_threshold
            return [
                event(
                    StandardEventType.CHURN_RISK_DETECTED,
                    EventPriority.HIGH,
                    f"crm:health:{data.get('health_id')}",
                )
            ]
    return []


async def _threshold(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    key: str = QUALIFICATION_THRESHOLD_KEY,
    default: float = DEFAULT_QUALIFICATION_THRESHOLD,
) -> float:
    value = (
        await conn.execute(sa.select(tenants.c.settings).where(tenants.c.id == tenant_id))
    ).scalar()
    if isinstance(value, dict):
        configured = value.get(key)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if isinstance(configured, int | float) and not isinstance(configured, bool):
            return float(configured)
    return default


async def _previous_churn_probability(
    conn: AsyncConnection, tenant_id: uuid.UUID, change: CrmChange
) -> float | None:
    """The churn probability of the account's latest health score before this one."""
    this_id = change.data.get("health_id")
    stmt = (
        sa.select(customer_health_scores.c.churn_probability)
        .where(
            customer_health_scores.c.tenant_id == tenant_id,
            customer_health_scores.c.account_id == change.account_id,
        )
        .order_by(customer_health_scores.c.computed_at.desc())
        .limit(1)
    )
    if this_id is not None:
        stmt = stmt.where(customer_health_scores.c.id != uuid.UUID(str(this_id)))
    value = (await conn.execute(stmt)).scalar()
    return float(value) if value is not None else None


# The change kinds the Postgres capture triggers also see, by the table they write.
_TRIGGER_TABLES = {"lifecycle_stage": "accounts", "health_score": "customer_health_scores"}
_deferral_logged = False


async def _left_to_triggers(conn: AsyncConnection, kind: str) -> bool:
    """True when a capture trigger already queued this change in this transaction."""
    global _deferral_logged
    table = _TRIGGER_TABLES.get(kind)
    if table is None or not await capture_trigger_installed(conn, table):
        return False
    if not _deferral_logged:
        _deferral_logged = True
        log.warning(
            "CRM change-capture triggers are installed: lifecycle-stage and health-score "
            "events come from the triggers, and the repository's change sink does not "
            "publish them again (`switchboard events capture install` installed them)"
        )
    return True


class CrmEventSink:
    """Publishes the lifecycle events of one tenant's CRM writes (source `crm`)."""

    def __init__(self, database: Database, tenant_id: uuid.UUID) -> None:
        self._database = database
        self._tenant_id = tenant_id

    async def __call__(self, change: CrmChange, *, connection: Any | None) -> None:
        if isinstance(connection, AsyncConnection):
            await self._publish(change, connection)
            return
        async with self._database.transaction() as conn:
            await self._publish(change, conn)

    async def _publish(self, change: CrmChange, conn: AsyncConnection) -> None:
        if await _left_to_triggers(conn, change.kind):
            return
        threshold = (
            await _threshold(conn, self._tenant_id)
            if change.kind == "lead_qualification"
            else DEFAULT_QUALIFICATION_THRESHOLD
        )
        churn, previous = DEFAULT_CHURN_RISK_THRESHOLD, None
        if change.kind == "health_score":  # the churn threshold and the score before
            churn = await _threshold(
                conn, self._tenant_id, CHURN_RISK_THRESHOLD_KEY, DEFAULT_CHURN_RISK_THRESHOLD
            )
            previous = await _previous_churn_probability(conn, self._tenant_id, change)
        for event in events_for_change(
            change,
            self._tenant_id,
            qualification_threshold=threshold,
            churn_risk_threshold=churn,
            previous_churn_probability=previous,
        ):
            await publish(conn, event)
