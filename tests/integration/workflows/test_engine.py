"""The internal engine through the handler, on SQLite and Postgres."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from orchestration.executions import get_execution, list_executions
from orchestration.queue.types import OutcomeKind
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue
from shared.db.types import utcnow
from tests.integration.workflows.fakes import Crash, claimed, fake_services, queued_event

PIPELINE = """name: Qualify
trigger: {type: event, event_type: prospect_identified, condition: "rating >= 3"}
steps:
  - name: analyze
    action: analyze
    kind: qualify_lead
  - name: save score
    action: update_crm
    table: ai_lead_qualification
    data:
      score: "{{ steps.analyze.score }}"
      note: "scored {{ steps.analyze.score }} for {{ event.city }}"
  - name: hot lead task
    condition: "steps.analyze.score > 80"
    action: create_clickup_task
    project: qualified_prospects
    task_name: "Call {{ event.name }}"
  - name: nurture
    condition: "score <= 80"
    action: create_activity
    type: nurture_email
"""


async def test_multi_step_workflow_runs_conditional_steps_with_templating(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE)
    services, crm, clickup = fake_services()
    handler = WorkflowEventHandler(db, services)
    event = claimed(
        tenant_id, "prospect_identified", {"rating": 4.5, "city": "Austin", "name": "Bright Smiles"}
    )

    outcome = await handler(event)

    assert outcome.kind is OutcomeKind.COMPLETED
    assert crm.updates[0][1] == {"score": 90.0, "note": "scored 90.0 for Austin"}
    assert sum(clickup.calls.values()) == 1
    assert crm.activities == []  # the nurture step's condition was false
    (execution,) = await list_executions(db, tenant_id)
    assert execution.status == "completed" and execution.workflow_version == 1
    assert execution.routing == {"platform": "internal", "reason": "primary platform is internal"}
    assert execution.external_api_calls == 1
    assert execution.memory_usage_mb and execution.memory_usage_mb > 0
    assert execution.execution_time_ms is not None and execution.completed_at is not None
    assert execution.execution_result is not None
    assert execution.execution_result["skipped"] == ["nurture"]
    assert execution.execution_result["outputs"]["hot_lead_task"]["name"] == "Call Bright Smiles"


async def test_trigger_condition_and_type_decide_which_workflows_run(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE)
    services, crm, _ = fake_services()
    handler = WorkflowEventHandler(db, services)
    low = await handler(claimed(tenant_id, "prospect_identified", {"rating": 1}))
    other = await handler(claimed(tenant_id, "deal_closed", {"rating": 5}))
    assert low.result == {"executions": []} and other.result == {"executions": []}
    assert crm.updates == [] and await list_executions(db, tenant_id) == []
    named = await handler(claimed(tenant_id, "schedule_tick", {}, triggers=["Qualify"]))
    assert named.result is not None and named.result["executions"][0]["workflow"] == "Qualify"


async def test_crash_mid_execution_resumes_without_repeating_completed_side_effects(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE.replace("score <= 80", "score > 10"))
    services, crm, clickup = fake_services()
    crm.crash_on_activity = 1
    event = claimed(tenant_id, "prospect_identified", {"rating": 5, "city": "Austin", "name": "X"})

    with pytest.raises(Crash):
        await WorkflowEventHandler(db, services)(event)
    (running,) = await list_executions(db, tenant_id)
    assert running.status == "running"
    assert set(running.step_state["steps"]) == {"analyze", "save_score", "hot_lead_task"}

    redelivered = claimed(
        tenant_id, "prospect_identified", event.event_data, queue_id=event.id, attempts=2
    )
    outcome = await WorkflowEventHandler(db, services)(redelivered)  # a fresh worker

    assert outcome.kind is OutcomeKind.COMPLETED
    assert len(crm.updates) == 1
    assert list(clickup.calls.values()) == [1]
    (first, second) = crm.activities  # the crashed step ran again, with the same key
    assert first[2] == second[2]
    (done,) = await list_executions(db, tenant_id)
    assert done.id == running.id and done.status == "completed"


async def test_bad_data_fails_the_execution_with_a_readable_error(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(
        db,
        tenant_id,
        "name: Big deal\ntrigger: {type: event, event_type: deal_closed}\nsteps:\n"
        "  - {name: tell, action: update_crm, table: t, data: {x: 1}}\n"
        "  - {name: check budget, condition: 'event.budget > 1000', action: analyze, kind: k}\n",
    )
    services, crm, _ = fake_services()
    outcome = await WorkflowEventHandler(db, services)(
        claimed(tenant_id, "deal_closed", {"budget": "lots"})
    )
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error is not None and "Big deal: step 'check budget'" in outcome.error["message"]
    (execution,) = await list_executions(db, tenant_id)
    assert execution.status == "failed" and len(crm.updates) == 1
    assert execution.error_details is not None
    assert execution.error_details["step"] == "check budget"
    assert "cannot compare a string with a number" in execution.error_details["message"]


async def test_event_data_a_trigger_condition_cannot_read_fails_the_event(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE)
    outcome = await WorkflowEventHandler(db)(
        claimed(tenant_id, "prospect_identified", {"rating": "4"})
    )
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error and "trigger condition of 'Qualify'" in outcome.error["message"]
    assert await list_executions(db, tenant_id) == []


async def test_transient_failure_retries_and_the_retry_resumes_at_the_failed_step(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE)
    services, crm, clickup = fake_services()
    clickup.transient_failures = 1
    data = {"rating": 5, "city": "A", "name": "B"}
    event = claimed(tenant_id, "prospect_identified", data)

    first = await WorkflowEventHandler(db, services)(event)
    assert first.kind is OutcomeKind.RETRY and first.retry_at is not None
    assert first.retry_at > utcnow()
    (execution,) = await list_executions(db, tenant_id)
    assert (execution.status, execution.retry_count) == ("retrying", 1)
    assert execution.error_details and "503" in execution.error_details["message"]

    again = claimed(tenant_id, "prospect_identified", data, queue_id=event.id, attempts=2)
    second = await WorkflowEventHandler(db, services)(again)
    assert second.kind is OutcomeKind.COMPLETED
    assert len(crm.updates) == 1 and list(clickup.calls.values()) == [2]  # same key twice
    assert (await get_execution(db, tenant_id, str(execution.id))).status == "completed"


async def test_transient_failure_on_the_last_attempt_fails_for_good(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, PIPELINE)
    services, _, clickup = fake_services()
    clickup.transient_failures = 5
    event = claimed(
        tenant_id, "prospect_identified", {"rating": 5, "city": "A", "name": "B"}, attempts=4
    )
    outcome = await WorkflowEventHandler(db, services)(event)
    assert outcome.kind is OutcomeKind.FAILED
    (execution,) = await list_executions(db, tenant_id)
    assert execution.status == "failed" and execution.completed_at is not None


WAITING = """name: Reminder
trigger: {type: event, event_type: churn_risk_detected}
steps:
  - name: email
    action: update_crm
    table: campaign_sends
    data: {channel: email}
  - name: pause
    action: wait
    duration: 2 days
  - name: sms
    action: create_clickup_task
    project: reminders
"""


async def test_durable_wait_parks_and_a_later_resume_event_completes_it(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, WAITING)
    services, crm, clickup = fake_services()
    before = utcnow()

    handler = WorkflowEventHandler(db, services)
    trigger = claimed(tenant_id, "churn_risk_detected", {})
    outcome = await handler(trigger)

    assert outcome.kind is OutcomeKind.COMPLETED  # the worker is free while it waits
    (parked,) = await list_executions(db, tenant_id)
    assert parked.status == "waiting" and parked.resume_at is not None
    assert before + timedelta(days=2) <= parked.resume_at <= utcnow() + timedelta(days=2)
    resume = await queued_event(db, "workflow_resume")
    assert resume.scheduled_for == parked.resume_at
    assert resume.event_data == {"execution_id": str(parked.id), "step": "pause"}
    assert len(crm.updates) == 1 and not clickup.calls
    # The trigger delivered again while parked changes nothing.
    again = claimed(tenant_id, "churn_risk_detected", {}, queue_id=trigger.id, attempts=2)
    assert (await handler(again)).kind is OutcomeKind.COMPLETED
    (still,) = await list_executions(db, tenant_id)
    assert (still.status, still.resume_at) == ("waiting", parked.resume_at)
    assert len(crm.updates) == 1

    # Two days later, after a restart: a fresh handler gets the resume event.
    finished = await WorkflowEventHandler(db, services)(resume)

    assert finished.kind is OutcomeKind.COMPLETED
    (done,) = await list_executions(db, tenant_id)
    assert done.status == "completed" and done.resume_at is None
    assert len(crm.updates) == 1 and sum(clickup.calls.values()) == 1
    assert (
        done.step_state["steps"]["pause"]["output"]["waited_until"] == parked.resume_at.isoformat()
    )


EMITTER = """name: Hand off
trigger: {type: event, event_type: deal_closed}
steps:
  - name: onboard
    action: emit_event
    event_type: customer_onboarded
    data: {plan: "{{ event.plan }}"}
"""


async def test_emit_event_queues_a_follow_up_once_with_a_deeper_chain(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, EMITTER)
    handler = WorkflowEventHandler(db)
    event = claimed(tenant_id, "deal_closed", {"plan": "pro"}, chain_depth=2)
    assert (await handler(event)).kind is OutcomeKind.COMPLETED
    follow_up = await queued_event(db, "customer_onboarded")
    assert follow_up.event_data == {"plan": "pro"} and follow_up.chain_depth == 3
    assert follow_up.event_id.startswith("emit:sb-")


async def test_emit_event_beyond_the_chain_depth_limit_fails(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, EMITTER)
    outcome = await WorkflowEventHandler(db)(
        claimed(tenant_id, "deal_closed", {"plan": "x"}, chain_depth=10)
    )
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error and "limit 10" in outcome.error["message"]
    async with db.engine.connect() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(event_queue))).scalar()
    assert count == 0


async def test_an_execution_keeps_the_version_it_started_with_across_an_edit(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, WAITING)
    services, _, clickup = fake_services()
    handler = WorkflowEventHandler(db, services)
    await handler(claimed(tenant_id, "churn_risk_detected", {}))
    edited = await save_definition(
        db, tenant_id, WAITING.replace("project: reminders", "project: vip")
    )
    assert edited.stored.version == 2

    await handler(await queued_event(db, "workflow_resume"))
    await handler(claimed(tenant_id, "churn_risk_detected", {}))

    old, new = sorted(await list_executions(db, tenant_id), key=lambda e: e.workflow_version or 0)
    assert (old.workflow_version, old.status) == (1, "completed")
    assert old.execution_result is not None
    assert old.execution_result["outputs"]["sms"]["name"].startswith("Reminder")
    assert (new.workflow_version, new.status) == (2, "waiting")
    assert sum(clickup.calls.values()) == 1  # the parked v1 run used its own (v1) steps


async def test_on_step_failure_continue_records_the_failed_step_and_goes_on(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(
        db,
        tenant_id,
        "name: Lenient\ntrigger: {type: event, event_type: deal_closed}\n"
        "error_handling: {on_step_failure: continue}\nsteps:\n"
        "  - {name: mcp, action: call_mcp_server, server: retention_ai}\n"
        "  - {name: save, action: update_crm, table: t, data: {ok: true}}\n",
    )
    services, crm, _ = fake_services()  # no MCP client: the first step fails for good
    outcome = await WorkflowEventHandler(db, services)(claimed(tenant_id, "deal_closed", {}))
    assert outcome.kind is OutcomeKind.COMPLETED
    (execution,) = await list_executions(db, tenant_id)
    assert execution.status == "completed" and len(crm.updates) == 1
    assert execution.execution_result and execution.execution_result["failed_steps"] == ["mcp"]
    assert "MCP client" in execution.step_state["steps"]["mcp"]["error"]["message"]
