from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from orchestration.queue.types import OutcomeKind
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.matching import find_webhook_definition
from orchestration.workflows.store import save_definition, set_active
from orchestration.workflows.triggers import trigger_workflow
from shared.db.database import Database
from shared.errors import ValidationFailedError
from tests.integration.workflows.fakes import fake_services, queued_event

FIXTURES = Path(__file__).parents[2] / "fixtures" / "workflows"


async def test_a_webhook_run_is_found_by_endpoint_queued_once_and_runs_the_spec_pipeline(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, (FIXTURES / "lead_qualification.yaml").read_text())
    async with db.engine.connect() as conn:
        found = await find_webhook_definition(conn, tenant_id, "/crm/prospect/new")
        assert await find_webhook_definition(conn, tenant_id, "/other") is None
    assert found is not None
    data = {"company_domain": "brightsmiles.test", "qualification_results": {"score": 91}}
    first = await trigger_workflow(db, tenant_id, found.name, data, event_id="delivery-1")
    again = await trigger_workflow(db, tenant_id, found.name, data, event_id="delivery-1")
    assert first.accepted and again.duplicate

    services, crm, clickup = fake_services()
    outcome = await WorkflowEventHandler(db, services)(await queued_event(db, "workflow_run"))
    # The spec's pipeline reaches its MCP step, which this test does not wire: a readable
    # failure naming the step, after the CRM read.
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error and "step 'AI Analysis'" in outcome.error["message"]
    assert crm.updates == [] and not clickup.calls


async def test_a_paused_workflow_cannot_be_run(db: Database, tenant_id: uuid.UUID) -> None:
    await save_definition(db, tenant_id, (FIXTURES / "churn_prevention.yaml").read_text())
    await set_active(db, tenant_id, "Churn Prevention Automation", False)
    with pytest.raises(ValidationFailedError, match="paused"):
        await trigger_workflow(db, tenant_id, "Churn Prevention Automation")
