from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestration.workflows.errors import DefinitionError
from orchestration.workflows.store import (
    get_definition,
    list_definitions,
    save_definition,
    save_document,
    set_active,
)
from shared.db.database import Database
from shared.db.orchestration_tables import audit_log
from shared.errors import NotFoundError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "workflows"

SIMPLE = """name: Hot lead
trigger: {type: event, event_type: lead_qualified, condition: "score > 80"}
steps:
  - name: analyze
    action: analyze
    kind: qualify_lead
"""


async def test_saving_creates_version_one_and_each_change_bumps_it(
    db: Database, tenant_id: uuid.UUID
) -> None:
    first = await save_definition(db, tenant_id, SIMPLE)
    assert (first.created, first.changed, first.stored.version) == (True, True, 1)
    again = await save_definition(db, tenant_id, SIMPLE + "# only a comment\n")
    assert (again.created, again.changed, again.stored.version) == (False, False, 1)
    edited = await save_definition(db, tenant_id, SIMPLE.replace("80", "90"))
    assert edited.changed and edited.stored.version == 2
    assert edited.stored.id == first.stored.id
    assert edited.stored.definition.trigger.condition == "score > 90"
    paused = await set_active(db, tenant_id, "Hot lead", False)
    assert paused.version == 3 and not paused.definition.is_active
    via_api = edited.stored.definition.to_document()
    via_api["execution_priority"] = 1
    saved = await save_document(db, tenant_id, via_api)
    assert saved.stored.version == 4 and saved.stored.definition.execution_priority == 1
    async with db.engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit_log.c.action))).scalars().all()
    assert actions.count("workflow.save") == 3 and "workflow.deactivate" in actions


async def test_spec_templates_load_into_the_store_and_read_back(
    db: Database, tenant_id: uuid.UUID
) -> None:
    for name in ("lead_qualification.yaml", "churn_prevention.yaml"):
        await save_definition(db, tenant_id, (FIXTURES / name).read_text())
    listed = await list_definitions(db, tenant_id)
    assert [d.name for d in listed] == [
        "AI Lead Qualification Pipeline",
        "Churn Prevention Automation",
    ]
    churn = await get_definition(db, tenant_id, str(listed[1].id))
    assert churn.definition.trigger.frequency == "daily"
    assert churn.definition.steps[0].action == "query_crm"
    with pytest.raises(NotFoundError, match="workflows list"):
        await get_definition(db, tenant_id, "nope")


async def test_a_chain_closing_a_loop_is_rejected_at_save_time(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(
        db,
        tenant_id,
        "name: onboard\ntrigger: {type: event, event_type: deal_closed}\nsteps:\n"
        "  - {name: next, action: emit_event, event_type: customer_onboarded}\n",
    )
    closing = (
        "name: welcome\ntrigger: {type: event, event_type: customer_onboarded}\nsteps:\n"
        "  - name: back\n    action: emit_event\n    event_type: deal_closed\n"
    )
    with pytest.raises(DefinitionError) as caught:
        await save_definition(db, tenant_id, closing)
    assert str(caught.value.problems[0]).startswith('line 6 (steps[1] "back".event_type)')
    assert len(await list_definitions(db, tenant_id)) == 1
