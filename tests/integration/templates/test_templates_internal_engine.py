"""Each template's internal YAML, installed with `install_internal`, runs on the step engine
(the handler with counting fake services, on SQLite)."""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.executions import list_executions
from orchestration.queue.types import OutcomeKind
from orchestration.templates.catalog import find_template
from orchestration.templates.install import install_internal
from orchestration.workflows.handler import WorkflowEventHandler
from shared.db.database import Database
from shared.tenants import create_tenant
from tests.integration.workflows.fakes import claimed, fake_services


class FakeMcp:
    def __init__(self, score: int) -> None:
        self.score = score
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call_tool(
        self,
        tenant_id: Any,
        server: str,
        tool: str | None,
        arguments: dict[str, Any],
        *,
        idempotency_key: str,
    ) -> dict[str, Any]:
        self.calls.append((server, arguments))
        return {
            "qualification_score": self.score,
            "qualification_results": {"score": self.score, "status": "qualified"},
            "plan": "call and offer a review",
        }


class FakeEmailFinder:
    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    async def find_email(self, query: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        self.queries.append(query)
        return {"email": f"owner@{query['domain']}"}


async def _tenant(db: Database) -> uuid.UUID:
    return (await create_tenant(db, f"t-{uuid.uuid4().hex[:8]}")).id


async def test_lead_qualification_yaml_runs_every_step_and_syncs_a_hot_lead(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("lead-qualification"))
    services, crm, clickup = fake_services()
    finder = FakeEmailFinder()
    services.mcp, services.email_finder = FakeMcp(score=92), finder
    event = claimed(
        tenant_id, "prospect_identified", {"company_domain": "bright.example"},
        triggers=["AI Lead Qualification Pipeline"],
    )  # fmt: skip

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert finder.queries == [{"domain": "bright.example"}]
    assert crm.updates[0][:2] == (
        "ai_lead_qualification", {"score": 92, "status": "qualified"},
    )  # fmt: skip
    assert sum(clickup.calls.values()) == 1  # score 92 > 80
    (execution,) = await list_executions(sqlite_db, tenant_id)
    assert execution.status == "completed"


async def test_lead_qualification_yaml_skips_clickup_for_a_cold_lead(sqlite_db: Database) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("lead-qualification"))
    services, _, clickup = fake_services()
    services.mcp, services.email_finder = FakeMcp(score=40), FakeEmailFinder()
    event = claimed(
        tenant_id, "prospect_identified", {"company_domain": "quiet.example"},
        triggers=["AI Lead Qualification Pipeline"],
    )  # fmt: skip
    assert (await WorkflowEventHandler(sqlite_db, services)(event)).kind is OutcomeKind.COMPLETED
    assert sum(clickup.calls.values()) == 0


async def test_churn_prevention_yaml_starts_a_campaign_and_schedules_a_call(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("churn-prevention"))
    services, crm, _ = fake_services()
    services.mcp = FakeMcp(score=0)
    event = claimed(tenant_id, "schedule_tick", {}, triggers=["Churn Prevention Automation"])

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert crm.campaigns[0]["type"] == "retention"
    (activity, due_at, _) = crm.activities[0]
    assert activity["type"] == "follow_up_call" and due_at is not None


async def test_clickup_sync_yaml_creates_task_with_mapped_fields_and_reminder(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("clickup-sync"))
    services, crm, clickup = fake_services()
    event = claimed(
        tenant_id, "lead_qualified",
        {"company_name": "Bright Smiles", "industry": "dentist", "lead_score": 91.6,
         "qualification_status": "qualified"},
    )  # fmt: skip

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert sum(clickup.calls.values()) == 1
    (activity, due_at, _) = crm.activities[0]
    assert activity["type"] == "follow_up_reminder" and due_at is not None
    (execution,) = await list_executions(sqlite_db, tenant_id)
    assert execution.execution_result is not None
    task = execution.execution_result["outputs"]["create_clickup_task"]
    assert task["name"] == "Bright Smiles"


async def test_campaign_orchestration_yaml_emails_then_waits_two_days_for_the_sms(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("campaign-orchestration"))
    services, crm, clickup = fake_services()
    handler = WorkflowEventHandler(sqlite_db, services)

    healthy = await handler(claimed(tenant_id, "health_score_changed", {"health_score": 80}))
    assert healthy.result == {"executions": []}
    outcome = await handler(claimed(tenant_id, "health_score_changed", {"health_score": 25}))

    assert outcome.kind is OutcomeKind.COMPLETED  # the event is handled; the run is parked
    assert [c["type"] for c in crm.campaigns] == ["retention_email"]
    assert sum(clickup.calls.values()) == 0
    (execution,) = await list_executions(sqlite_db, tenant_id)
    assert execution.status == "waiting"
