"""The CRM write tools, and the lifecycle events each one queues in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from mcp import Client

from servers.mcp.crm import build_crm_server
from shared.db.schema import event_queue, tenants
from tests.unit.servers.mcp.crm_world import CrmWorld


async def _call(world: CrmWorld, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _events(world: CrmWorld) -> list[dict[str, Any]]:
    async with world.database.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                event_queue.c.tenant_id,
                event_queue.c.event_type,
                event_queue.c.event_source,
                event_queue.c.customer_id,
                event_queue.c.event_data,
                event_queue.c.priority,
            ).order_by(event_queue.c.created_at)
        )
        return [dict(r) for r in rows.mappings()]


async def test_stage_to_qualified_emits_lead_qualified(world: CrmWorld) -> None:
    change = await _call(
        world, "update_lifecycle_stage", {"account_id": str(world.smile_id), "stage": "qualified"}
    )
    assert change == {
        "account_id": str(world.smile_id),
        "previous_stage": "lead",
        "new_stage": "qualified",
        "changed": True,
    }
    [event] = await _events(world)
    assert event["event_type"] == "lead_qualified"
    assert event["event_source"] == "crm"
    assert event["tenant_id"] == world.tenant_id
    assert event["customer_id"] == str(world.smile_id)
    assert event["event_data"]["previous_stage"] == "lead"


async def test_stage_events_for_customer_and_at_risk(world: CrmWorld) -> None:
    await _call(
        world, "update_lifecycle_stage", {"account_id": str(world.bright_id), "stage": "customer"}
    )
    await _call(
        world, "update_lifecycle_stage", {"account_id": str(world.cool_id), "stage": "at_risk"}
    )
    types = [e["event_type"] for e in await _events(world)]
    assert types == ["customer_onboarded", "churn_risk_detected"]


async def test_setting_the_same_stage_changes_nothing_and_emits_nothing(world: CrmWorld) -> None:
    change = await _call(
        world, "update_lifecycle_stage", {"account_id": str(world.cool_id), "stage": "customer"}
    )
    assert change["changed"] is False
    assert await _events(world) == []


async def test_stage_to_lead_emits_nothing(world: CrmWorld) -> None:
    await _call(
        world, "update_lifecycle_stage", {"account_id": str(world.bright_id), "stage": "lead"}
    )
    assert await _events(world) == []


async def test_log_activity_schedules_a_follow_up_call(world: CrmWorld) -> None:
    before = datetime.now(UTC)
    logged = await _call(
        world,
        "log_activity",
        {
            "account_id": str(world.bright_id),
            "kind": "call",
            "subject": "Discussed a new website",
            "follow_up_in_days": 3,
        },
    )
    assert logged["activity"]["kind"] == "call" and logged["activity"]["done_at"]
    assert logged["activity"]["created_by"] == "agent"
    follow_up = logged["follow_up"]
    assert follow_up["kind"] == "follow_up_call" and follow_up["done_at"] is None
    due = datetime.fromisoformat(follow_up["due_at"])
    assert before + timedelta(days=3) <= due <= datetime.now(UTC) + timedelta(days=3)
    account = await _call(world, "get_account", {"account_id": str(world.bright_id)})
    assert len(account["recent_activities"]) == 2


async def test_log_activity_on_an_unknown_account_says_how_to_find_ids(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool(
            "log_activity",
            {"account_id": str(world.foreign_id), "kind": "note", "subject": "x"},
        )
    assert result.is_error and "search_prospects" in result.content[0].text  # type: ignore[union-attr]


async def test_retention_campaign_emits_retention_campaign_triggered(world: CrmWorld) -> None:
    campaign = await _call(
        world,
        "create_campaign",
        {
            "name": "Win back Cool Air",
            "kind": "retention",
            "channel": "email",
            "account_id": str(world.cool_id),
            "message": "We miss you",
            "scheduled_at": "2030-01-01T09:00:00",
        },
    )
    assert campaign["kind"] == "retention" and campaign["created_by"] == "agent"
    assert campaign["scheduled_at"].startswith("2030-01-01T09:00:00")
    [event] = await _events(world)
    assert event["event_type"] == "retention_campaign_triggered"
    assert event["event_data"]["campaign_id"] == campaign["id"]


async def test_acquisition_campaign_emits_nothing(world: CrmWorld) -> None:
    await _call(
        world, "create_campaign", {"name": "Dentists", "kind": "acquisition", "channel": "sms"}
    )
    assert await _events(world) == []


async def test_qualification_over_the_threshold_emits_lead_qualified(world: CrmWorld) -> None:
    high = await _call(
        world,
        "record_lead_qualification",
        {
            "account_id": str(world.smile_id),
            "score": 91,
            "grade": "A",
            "recommended_action": "call",
        },
    )
    await _call(
        world,
        "record_lead_qualification",
        {"account_id": str(world.bright_id), "score": 60, "grade": "C"},
    )
    assert high["score"] == 91 and high["grade"] == "A"
    [event] = await _events(world)
    assert event["event_type"] == "lead_qualified"
    assert event["customer_id"] == str(world.smile_id)
    assert event["event_data"]["score"] == 91


async def test_the_tenant_threshold_decides(world: CrmWorld) -> None:
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == world.tenant_id)
            .values(settings={"qualification_threshold": 50})
        )
    await _call(
        world,
        "record_lead_qualification",
        {"account_id": str(world.bright_id), "score": 60, "grade": "C"},
    )
    assert [e["event_type"] for e in await _events(world)] == ["lead_qualified"]
