"""CRM change capture: lifecycle stage changes, a churn probability crossing the risk
threshold, and won deals become events without the CRM writer calling us.

Three ways in, one meaning (the same event types, data and, for the first two, event ids,
so a change seen twice is queued once):

- Postgres: triggers installed by `install_change_capture(conn)` write event_queue rows and
  NOTIFY in the writer's own transaction.
- Our own write path (SQLite, or Postgres without triggers): `events_for_*` compute the
  events from the row before and after, and `publish_changes` queues them in the same
  transaction as the write.
- An existing CRM where triggers cannot be installed: `ChangePoller` reads rows changed
  since a cursor (`updated_at`, `computed_at`). It cannot see the stage a row had before, so
  its stage-event ids are once per (account, stage) and never mix with the trigger's; run
  either the triggers or the poller, not both.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import PublishResult, publish_in
from shared.db.database import Database
from shared.db.schema import accounts, customer_health_scores, deals, tenants
from shared.errors import ValidationFailedError

__all__ = [
    "DEFAULT_CHURN_RISK_THRESHOLD",
    "STAGE_EVENTS",
    "ChangePoller",
    "capture_trigger_installed",
    "events_for_account_change",
    "events_for_deal_change",
    "events_for_health_score",
    "health_threshold",
    "install_change_capture",
    "publish_changes",
    "uninstall_change_capture",
]

Row = Mapping[Any, Any]  # a dict, or a SQLAlchemy RowMapping

# Entering these lifecycle stages is an event; `lead` and `churned` are not (yet).
STAGE_EVENTS: dict[str, tuple[str, EventPriority]] = {
    "prospect": ("prospect_identified", EventPriority.MEDIUM),
    "qualified": ("lead_qualified", EventPriority.MEDIUM),
    "customer": ("customer_onboarded", EventPriority.MEDIUM),
    "at_risk": ("churn_risk_detected", EventPriority.HIGH),
}
# A churn probability reaching this is a churn risk (the tenant's `churn_risk_threshold`),
# as in the CRM repository's sink, so both ways of capture agree.
DEFAULT_CHURN_RISK_THRESHOLD = 0.7
THRESHOLD_SETTING = "churn_risk_threshold"


def _event(tenant_id: Any, event_id: str, event_type: str, priority: EventPriority,
           customer_id: Any, data: dict[str, Any]) -> CustomerEvent:  # fmt: skip
    return CustomerEvent(
        eventId=event_id,
        tenantId=tenant_id,
        customerId=str(customer_id),
        eventType=event_type,
        eventData=data,
        source=EventSource.CRM,
        priority=priority,
    )


def events_for_account_change(before: Row | None, after: Row) -> list[CustomerEvent]:
    """Events for an account written with `after` (and `before`, None for an insert)."""
    old_stage = before.get("lifecycle_stage") if before is not None else None
    new_stage = after.get("lifecycle_stage")
    if new_stage == old_stage or new_stage not in STAGE_EVENTS:
        return []
    event_type, priority = STAGE_EVENTS[new_stage]
    account_id = after["id"]
    data = {
        "account_id": str(account_id),
        "name": after.get("name"),
        "from_stage": old_stage,
        "to_stage": new_stage,
        "lead_score": after.get("lead_score"),
    }
    event_id = f"crm:account:{account_id}:stage:{old_stage or 'new'}->{new_stage}"
    return [_event(after["tenant_id"], event_id, event_type, priority, account_id, data)]


def events_for_deal_change(before: Row | None, after: Row) -> list[CustomerEvent]:
    """A deal_closed event when a deal becomes won (once per deal)."""
    if after.get("stage") != "won" or (before is not None and before.get("stage") == "won"):
        return []
    data = {
        "deal_id": str(after["id"]),
        "account_id": str(after["account_id"]),
        "title": after.get("title"),
        "amount": after.get("amount"),
        "currency": after.get("currency"),
    }
    event_id = f"crm:deal:{after['id']}:won"
    return [
        _event(
            after["tenant_id"],
            event_id,
            "deal_closed",
            EventPriority.MEDIUM,
            after["account_id"],
            data,
        )
    ]


def events_for_health_score(
    previous_probability: float | None,
    row: Row,
    *,
    threshold: float = DEFAULT_CHURN_RISK_THRESHOLD,
) -> list[CustomerEvent]:
    """churn_risk_detected when a new health score row's churn probability reaches
    `threshold` and the account's previous one (None: first score) was below it; the same
    rule and event id as the CRM repository's sink (crm_sink.py)."""
    probability = float(row["churn_probability"])
    if probability < threshold or (
        previous_probability is not None and previous_probability >= threshold
    ):
        return []
    data = {
        "account_id": str(row["account_id"]),
        "health_id": str(row["id"]),
        "score": row.get("score"),
        "churn_probability": probability,
        "previous_churn_probability": previous_probability,
        "threshold": threshold,
        "drivers": row.get("drivers"),
    }
    event_id = f"crm:health:{row['id']}"
    return [
        _event(
            row["tenant_id"],
            event_id,
            "churn_risk_detected",
            EventPriority.HIGH,
            row["account_id"],
            data,
        )
    ]


async def health_threshold(conn: AsyncConnection, tenant_id: uuid.UUID) -> float:
    """The tenant's `churn_risk_threshold` setting, or DEFAULT_CHURN_RISK_THRESHOLD."""
    settings = (
        await conn.execute(sa.select(tenants.c.settings).where(tenants.c.id == tenant_id))
    ).scalar()
    found = cast("dict[str, Any]", settings) if isinstance(settings, dict) else {}
    value = found.get(THRESHOLD_SETTING)
    return float(value) if isinstance(value, int | float) else DEFAULT_CHURN_RISK_THRESHOLD


async def publish_changes(
    conn: AsyncConnection, events: Sequence[CustomerEvent]
) -> list[PublishResult]:
    """Queue captured events in the CRM write's own transaction (commit publishes them)."""
    return [await publish_in(conn, event) for event in events]


# -- Postgres triggers ---------------------------------------------------------------------

_ENQUEUE_FUNCTION = """
CREATE OR REPLACE FUNCTION switchboard_enqueue(
    p_tenant uuid, p_event_id text, p_type text, p_priority int, p_customer text, p_data jsonb
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_queue (id, tenant_id, event_id, event_type, event_data, event_source,
                             customer_id, priority, scheduled_for, max_retries, status,
                             attempts, chain_depth, occurred_at, created_at, updated_at)
    VALUES (gen_random_uuid(), p_tenant, p_event_id, p_type, p_data, 'crm', p_customer,
            p_priority, now(), 3, 'pending', 0, 0, now(), now(), now())
    ON CONFLICT (tenant_id, event_id) DO NOTHING;
    PERFORM pg_notify('switchboard_events', '');
END $$
"""

_ACCOUNT_FUNCTION = """
CREATE OR REPLACE FUNCTION switchboard_capture_account() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_stage text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.lifecycle_stage END;
    ev_type text;
    ev_priority int;
BEGIN
    IF NEW.lifecycle_stage IS NOT DISTINCT FROM old_stage THEN RETURN NULL; END IF;
    SELECT t, p INTO ev_type, ev_priority FROM (VALUES
        ('prospect', 'prospect_identified', 5), ('qualified', 'lead_qualified', 5),
        ('customer', 'customer_onboarded', 5), ('at_risk', 'churn_risk_detected', 3)
    ) AS m(stage, t, p) WHERE m.stage = NEW.lifecycle_stage;
    IF ev_type IS NULL THEN RETURN NULL; END IF;
    PERFORM switchboard_enqueue(
        NEW.tenant_id,
        'crm:account:' || NEW.id || ':stage:' || COALESCE(old_stage, 'new') || '->'
            || NEW.lifecycle_stage,
        ev_type, ev_priority, NEW.id::text,
        jsonb_build_object('account_id', NEW.id::text, 'name', NEW.name,
                           'from_stage', old_stage, 'to_stage', NEW.lifecycle_stage,
                           'lead_score', NEW.lead_score));
    RETURN NULL;
END $$
"""

_DEAL_FUNCTION = """
CREATE OR REPLACE FUNCTION switchboard_capture_deal() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stage <> 'won' OR (TG_OP = 'UPDATE' AND OLD.stage = 'won') THEN RETURN NULL; END IF;
    PERFORM switchboard_enqueue(
        NEW.tenant_id, 'crm:deal:' || NEW.id || ':won', 'deal_closed', 5, NEW.account_id::text,
        jsonb_build_object('deal_id', NEW.id::text, 'account_id', NEW.account_id::text,
                           'title', NEW.title, 'amount', NEW.amount, 'currency', NEW.currency));
    RETURN NULL;
END $$
"""

_HEALTH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION switchboard_capture_health() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    threshold float8;
    previous float8;
BEGIN
    SELECT COALESCE((settings->>'{THRESHOLD_SETTING}')::float8, {DEFAULT_CHURN_RISK_THRESHOLD})
      INTO threshold FROM tenants WHERE id = NEW.tenant_id;
    IF NEW.churn_probability < threshold THEN RETURN NULL; END IF;
    SELECT churn_probability INTO previous FROM customer_health_scores
     WHERE account_id = NEW.account_id AND id <> NEW.id AND computed_at <= NEW.computed_at
     ORDER BY computed_at DESC LIMIT 1;
    IF previous IS NOT NULL AND previous >= threshold THEN RETURN NULL; END IF;
    PERFORM switchboard_enqueue(
        NEW.tenant_id, 'crm:health:' || NEW.id, 'churn_risk_detected', 3,
        NEW.account_id::text,
        jsonb_build_object('account_id', NEW.account_id::text, 'health_id', NEW.id::text,
                           'score', NEW.score, 'churn_probability', NEW.churn_probability,
                           'previous_churn_probability', previous,
                           'threshold', threshold, 'drivers', NEW.drivers));
    RETURN NULL;
END $$
"""

_TRIGGERS = {
    "switchboard_capture_account": (
        "accounts",
        "AFTER INSERT OR UPDATE OF lifecycle_stage",
        "switchboard_capture_account",
    ),
    "switchboard_capture_deal": (
        "deals",
        "AFTER INSERT OR UPDATE OF stage",
        "switchboard_capture_deal",
    ),
    "switchboard_capture_health": (
        "customer_health_scores",
        "AFTER INSERT",
        "switchboard_capture_health",
    ),
}


def _require_postgres(conn: AsyncConnection) -> None:
    if conn.dialect.name != "postgresql":
        raise ValidationFailedError(
            "CRM change triggers need Postgres; on SQLite our own CRM writes publish changes "
            "(events_for_* + publish_changes), and ChangePoller covers any other writer"
        )


_TRIGGER_OF_TABLE = {table: name for name, (table, _when, _fn) in _TRIGGERS.items()}


async def capture_trigger_installed(conn: AsyncConnection, table: str) -> bool:
    """True when our enabled change-capture trigger is on `table` (Postgres), so writes to it
    are already queued by the trigger and must not be published a second time."""
    name = _TRIGGER_OF_TABLE.get(table)
    if name is None or conn.dialect.name != "postgresql":
        return False
    found = await conn.execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(:table) "
            "AND tgname = :name AND tgenabled <> 'D')"
        ),
        {"table": table, "name": name},
    )
    return bool(found.scalar())


async def install_change_capture(conn: AsyncConnection) -> None:
    """Create (or replace) the capture functions and triggers; safe to run again.

    The CRM repository's change sink (crm_sink.py) sees them and stops publishing the
    changes they capture, so a change is never queued by both."""
    _require_postgres(conn)
    for ddl in (_ENQUEUE_FUNCTION, _ACCOUNT_FUNCTION, _DEAL_FUNCTION, _HEALTH_FUNCTION):
        await conn.exec_driver_sql(ddl)
    for name, (table, when, function) in _TRIGGERS.items():
        await conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        await conn.exec_driver_sql(
            f"CREATE TRIGGER {name} {when} ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


async def uninstall_change_capture(conn: AsyncConnection) -> None:
    _require_postgres(conn)
    for name, (table, _when, function) in _TRIGGERS.items():
        await conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        await conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")
    await conn.exec_driver_sql(
        "DROP FUNCTION IF EXISTS switchboard_enqueue(uuid, text, text, int, text, jsonb)"
    )


# -- polling fallback ----------------------------------------------------------------------


class ChangePoller:
    """Reads CRM rows changed since its cursor and queues their events (deduplicated, so
    overlapping polls are harmless). Call `poll_once()` on a schedule."""

    def __init__(self, db: Database, *, since: datetime, overlap: timedelta | None = None) -> None:
        self.db = db
        self.cursor = since
        # Rows committed late with an earlier timestamp are caught by re-reading a margin.
        self.overlap = overlap if overlap is not None else timedelta(seconds=5)

    async def poll_once(self) -> int:
        """Queue events for changes since the cursor; returns how many were new."""
        start = self.cursor - self.overlap
        newest = self.cursor
        queued = 0
        async with self.db.transaction() as conn:
            changed = await conn.execute(sa.select(accounts).where(accounts.c.updated_at >= start))
            for row in changed.mappings():
                newest = max(newest, row["updated_at"])
                for event in events_for_account_change(None, row):
                    # no "before" here: the id is once per (account, stage)
                    stage = row["lifecycle_stage"]
                    event = event.model_copy(
                        update={"event_id": f"crm:account:{row['id']}:stage:{stage}"}
                    )
                    queued += (await publish_in(conn, event)).accepted
            won = await conn.execute(
                sa.select(deals).where(deals.c.updated_at >= start, deals.c.stage == "won")
            )
            for row in won.mappings():
                newest = max(newest, row["updated_at"])
                for event in events_for_deal_change(None, row):
                    queued += (await publish_in(conn, event)).accepted
            queued += await self._health(conn, start)
            newest = max(newest, await self._newest_health(conn, start))
        self.cursor = newest
        return queued

    async def _health(self, conn: AsyncConnection, start: datetime) -> int:
        h = customer_health_scores.c
        rows = await conn.execute(
            sa.select(customer_health_scores).where(h.computed_at >= start).order_by(h.computed_at)
        )
        queued = 0
        for row in rows.mappings():
            previous = (
                await conn.execute(
                    sa.select(h.churn_probability)
                    .where(
                        h.account_id == row["account_id"],
                        h.id != row["id"],
                        h.computed_at <= row["computed_at"],
                    )
                    .order_by(h.computed_at.desc())
                    .limit(1)
                )
            ).scalar()
            threshold = await health_threshold(conn, row["tenant_id"])
            for event in events_for_health_score(previous, row, threshold=threshold):
                queued += (await publish_in(conn, event)).accepted
        return queued

    async def _newest_health(self, conn: AsyncConnection, start: datetime) -> datetime:
        h = customer_health_scores.c
        newest = (
            await conn.execute(sa.select(sa.func.max(h.computed_at)).where(h.computed_at >= start))
        ).scalar()
        return newest or self.cursor
