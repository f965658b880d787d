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

PROSPECT = {
    "id": "acc-1",
    "name": "Bright Smiles",
    "industry": "dentist",
    "website": "https://brightsmiles.example",
    "gmb_rating": 4.8,
    "gmb_review_count": 150,
    "lead_score": 91.6,
}


class FakeMcp:
    """Stands for the tenant's registered claude_analysis / retention_ai servers."""

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
            "qualification_results": {"score": self.score, "grade": "A"},
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


async def _outputs(db: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    (execution,) = await list_executions(db, tenant_id)
    assert execution.status == "completed", execution.error_details
    assert execution.execution_result is not None
    return execution.execution_result


async def test_lead_qualification_yaml_runs_every_step_and_syncs_a_hot_lead(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("lead-qualification"))
    services, crm, clickup = fake_services()
    crm.records = [PROSPECT]
    finder, mcp = FakeEmailFinder(), FakeMcp(score=92)
    services.mcp, services.email_finder = mcp, finder
    event = claimed(
        tenant_id, "prospect_identified",
        {"account_id": "acc-1", "company_domain": "brightsmiles.example"},
        triggers=["AI Lead Qualification Pipeline"],
    )  # fmt: skip

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert [server for server, _ in mcp.calls] == ["claude_analysis"]
    assert finder.queries == [{"domain": "brightsmiles.example"}]
    (table, data, _) = crm.updates[0]
    assert (table, data) == ("ai_lead_qualification", {"score": 92, "grade": "A"})
    assert sum(clickup.calls.values()) == 1  # score 92 > 80, with an industry
    result = await _outputs(sqlite_db, tenant_id)
    assert result["outputs"]["sync_to_clickup"]["name"] == "Bright Smiles"
    assert "sync_to_clickup_default_assignee" in result["skipped"]


async def test_lead_qualification_yaml_skips_clickup_and_email_when_not_applicable(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("lead-qualification"))
    services, crm, clickup = fake_services()
    crm.records = [PROSPECT]
    finder = FakeEmailFinder()
    services.mcp, services.email_finder = FakeMcp(score=40), finder
    event = claimed(
        tenant_id, "prospect_identified", {"account_id": "acc-1"},
        triggers=["AI Lead Qualification Pipeline"],
    )  # fmt: skip
    assert (await WorkflowEventHandler(sqlite_db, services)(event)).kind is OutcomeKind.COMPLETED
    assert sum(clickup.calls.values()) == 0 and finder.queries == []
    assert len(crm.updates) == 1  # the low score is still recorded


async def test_churn_prevention_yaml_starts_a_campaign_and_schedules_a_call(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("churn-prevention"))
    services, crm, _ = fake_services()
    at_risk = {"account_id": "acc-9", "customer_id": "acc-9", "churn_probability": 0.85}
    crm.records = [at_risk]
    mcp = FakeMcp(score=0)
    services.mcp = mcp
    event = claimed(tenant_id, "schedule_tick", {}, triggers=["Churn Prevention Automation"])

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert mcp.calls[0][0] == "retention_ai"
    assert mcp.calls[0][1]["customers"] == [at_risk]
    assert crm.campaigns[0]["type"] == "retention"
    assert crm.campaigns[0]["audience"] == {"customers": [at_risk]}
    (activity, due_at, _) = crm.activities[0]
    assert activity["type"] == "follow_up_call" and activity["account_id"] == "acc-9"
    assert due_at is not None


async def test_churn_prevention_yaml_does_nothing_on_a_day_without_risk(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("churn-prevention"))
    services, crm, _ = fake_services()
    crm.records = []
    services.mcp = FakeMcp(score=0)
    event = claimed(tenant_id, "schedule_tick", {}, triggers=["Churn Prevention Automation"])
    assert (await WorkflowEventHandler(sqlite_db, services)(event)).kind is OutcomeKind.COMPLETED
    assert crm.campaigns == [] and crm.activities == []


async def test_clickup_sync_yaml_creates_task_with_mapped_fields_and_reminder(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("clickup-sync"))
    services, crm, clickup = fake_services()
    crm.records = [PROSPECT]
    event = claimed(tenant_id, "lead_qualified", {"account_id": "acc-1", "score": 91.6})

    outcome = await WorkflowEventHandler(sqlite_db, services)(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert sum(clickup.calls.values()) == 1
    (activity, due_at, _) = crm.activities[0]
    assert activity["account_id"] == "acc-1" and due_at is not None
    result = await _outputs(sqlite_db, tenant_id)
    assert result["outputs"]["create_clickup_task"]["name"] == "Bright Smiles"


async def test_campaign_orchestration_yaml_emails_then_waits_two_days_for_the_sms(
    sqlite_db: Database,
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await install_internal(sqlite_db, tenant_id, find_template("campaign-orchestration"))
    services, crm, clickup = fake_services()
    handler = WorkflowEventHandler(sqlite_db, services)

    from_stage = {"account_id": "acc-1", "crm_change": "account"}
    skipped = await handler(claimed(tenant_id, "churn_risk_detected", from_stage))
    assert skipped.result == {"executions": []}
    data = {"account_id": "acc-1", "crm_change": "health_score", "churn_probability": 0.8}
    outcome = await handler(claimed(tenant_id, "churn_risk_detected", data))

    assert outcome.kind is OutcomeKind.COMPLETED  # the event is handled; the run is parked
    assert [(c["type"], c["channel"]) for c in crm.campaigns] == [("retention", "email")]
    assert sum(clickup.calls.values()) == 0
    (execution,) = await list_executions(sqlite_db, tenant_id)
    assert execution.status == "waiting"
