"""CRM changes become queued events: Postgres triggers, our write path, the poller."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orchestration.events import crm_sink
from orchestration.events.capture import (
    ChangePoller,
    events_for_account_change,
    install_change_capture,
    publish_changes,
)
from orchestration.events.crm_sink import CrmEventSink
from orchestration.queue.sql_store import SqlQueueStore
from shared.crm.models import LifecycleStage, NewHealthScore
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from shared.db.schema import accounts, customer_health_scores, deals
from shared.errors import ValidationFailedError
from shared.tenants import Tenant, create_tenant


async def _account(db: Database, tenant: Tenant, stage: str = "lead") -> uuid.UUID:
    account_id = uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(accounts).values(
                id=account_id, tenant_id=tenant.id, name="Bright Smile", lifecycle_stage=stage
            )
        )
    return account_id


async def _types(db: Database) -> list[str]:
    return sorted(e.event_type for e in await SqlQueueStore(db).list_events(limit=100))


async def test_postgres_triggers_turn_crm_changes_into_events(postgres_db: Database) -> None:
    async with postgres_db.transaction() as conn:
        await install_change_capture(conn)
        await install_change_capture(conn)  # idempotent
    tenant = await create_tenant(postgres_db, "acme")
    account_id = await _account(postgres_db, tenant)  # 'lead': not an event
    async with postgres_db.transaction() as conn:
        await conn.execute(
            sa.update(accounts).where(accounts.c.id == account_id).values(notes="called")
        )
        await conn.execute(
            sa.update(accounts)
            .where(accounts.c.id == account_id)
            .values(lifecycle_stage="qualified")
        )
        deal_id = uuid.uuid4()
        await conn.execute(
            sa.insert(deals).values(
                id=deal_id, tenant_id=tenant.id, account_id=account_id, title="Cleaning", amount=900
            )
        )
        await conn.execute(sa.update(deals).where(deals.c.id == deal_id).values(stage="won"))
        await conn.execute(sa.update(deals).where(deals.c.id == deal_id).values(amount=950))
        for minute, churn in enumerate((0.2, 0.8, 0.9)):  # reaches 0.7 once
            await conn.execute(
                sa.insert(customer_health_scores).values(
                    tenant_id=tenant.id,
                    account_id=account_id,
                    score=50,
                    churn_probability=churn,
                    computed_at=datetime.now(UTC) + timedelta(minutes=minute),
                )
            )
    assert await _types(postgres_db) == ["churn_risk_detected", "deal_closed", "lead_qualified"]
    [qualified] = await SqlQueueStore(postgres_db).list_events(event_type="lead_qualified")
    assert qualified.event_id == f"crm:account:{account_id}:stage:lead->qualified"
    assert qualified.event_data["to_stage"] == "qualified"
    assert (qualified.priority, qualified.event_source) == (5, "crm")
    store = SqlQueueStore(postgres_db)
    claimed = await store.claim("w", limit=10, per_tenant=10)
    await store.close()
    assert len(claimed) == 3  # trigger rows are claimable like any other


async def test_triggers_are_refused_on_sqlite(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as conn:
        with pytest.raises(ValidationFailedError, match="need Postgres"):
            await install_change_capture(conn)


async def test_own_write_path_publishes_in_the_same_transaction(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    account_id = await _account(any_db, tenant)
    async with any_db.transaction() as conn:
        before = (
            (await conn.execute(sa.select(accounts).where(accounts.c.id == account_id)))
            .mappings()
            .one()
        )
        await conn.execute(
            sa.update(accounts).where(accounts.c.id == account_id).values(lifecycle_stage="at_risk")
        )
        after = {**before, "lifecycle_stage": "at_risk"}
        results = await publish_changes(conn, events_for_account_change(before, after))
    assert [r.accepted for r in results] == [True]
    assert await _types(any_db) == ["churn_risk_detected"]


async def test_poller_queues_changes_once_across_overlapping_polls(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    poller = ChangePoller(any_db, since=datetime.now(UTC) - timedelta(minutes=1))
    await _account(any_db, tenant, stage="customer")
    await _account(any_db, tenant, stage="lead")
    assert await poller.poll_once() == 1
    assert await poller.poll_once() == 0  # the overlap re-reads rows; dedup keeps one event
    assert await _types(any_db) == ["customer_onboarded"]


async def test_repository_sink_and_triggers_never_queue_a_change_twice(
    postgres_db: Database, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(crm_sink, "_deferral_logged", False)  # logged once per process
    tenant = await create_tenant(postgres_db, "acme")
    sink = CrmEventSink(postgres_db, tenant.id)
    repo = SqlCrmRepository(postgres_db, tenant.id, change_sink=sink)
    first = await _account(postgres_db, tenant)
    await repo.update_lifecycle_stage(first, LifecycleStage.AT_RISK)  # no triggers: the sink
    [by_sink] = await SqlQueueStore(postgres_db).list_events()
    assert (by_sink.event_id or "").startswith("crm:stage:")

    async with postgres_db.transaction() as conn:
        await install_change_capture(conn)
    second = await _account(postgres_db, tenant)
    with caplog.at_level(logging.WARNING, logger="orchestration.events.crm_sink"):
        await repo.update_lifecycle_stage(second, LifecycleStage.AT_RISK)
        await repo.record_health_score(
            NewHealthScore(account_id=second, score=20, churn_probability=0.9)
        )

    events = await SqlQueueStore(postgres_db).list_events(limit=10)
    later = sorted(e.event_id or "" for e in events if e.customer_id == str(second))
    assert len(later) == 2  # one per change, both from the triggers
    assert later[0].startswith("crm:account:") and later[0].endswith("lead->at_risk")
    assert later[1].startswith("crm:health:")
    assert any("change-capture triggers are installed" in r.message for r in caplog.records)
