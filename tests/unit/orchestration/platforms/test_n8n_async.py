"""N8nAdapter with runs that answer before finishing, reading executions back, and header
credentials kept one per name, against the n8n fake."""

from __future__ import annotations

import uuid

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.n8n import execution_output
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.n8n import N8nFake, background_workflow
from tests.unit.orchestration.platforms.test_n8n import HOOK_VALUE, Definition, adapter_for


async def test_an_early_answer_is_running_with_n8ns_execution_id_then_reads_back_completed(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(registration_lag=0, polls_until_done=1)
    adapter = adapter_for(fake, tenant_id, registry)
    cred = await adapter.ensure_header_credential("sb", "X-Switchboard-Auth", HOOK_VALUE)
    await adapter.install(background_workflow("Scoring", "score", cred))
    context = ExecutionContext(tenant_id=tenant_id, idempotency_key="k-1", payload={"n": 2})
    started = await adapter.execute_workflow(Definition("score"), context)
    (run,) = fake.executions.values()
    assert started.status is ResultStatus.RUNNING
    assert started.external_execution_id == run["id"]
    assert started.output["idempotency_key"] == "k-1"

    first = adapter.execution_result(await adapter.get_execution(run["id"], include_data=True))
    assert first.status is ResultStatus.RUNNING
    done = adapter.execution_result(await adapter.get_execution(run["id"], include_data=True))
    assert done.status is ResultStatus.COMPLETED
    assert done.output["result"]["received"]["n"] == 2
    assert HOOK_VALUE not in str(done.output)


async def test_workflow_was_started_is_running_and_found_later_by_its_idempotency_key(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(registration_lag=0, polls_until_done=0)
    adapter = adapter_for(fake, tenant_id, registry)
    cred = await adapter.ensure_header_credential("sb", "X-Switchboard-Auth", HOOK_VALUE)
    refs = await adapter.install(background_workflow("Scoring", "score", cred, answer="started"))
    for key in ("k-1", "k-2"):
        context = ExecutionContext(tenant_id=tenant_id, idempotency_key=key, payload={"k": key})
        started = await adapter.execute_workflow(Definition("score"), context)
        assert started.status is ResultStatus.RUNNING and started.external_execution_id is None
    found = await adapter.find_execution(refs["workflow_id"], "k-1")
    assert found is not None
    assert execution_output(found) == {"ok": True, "received": {
        "k": "k-1", "idempotency_key": "k-1", "event_type": None, "customer_id": None,
    }}  # fmt: skip
    assert await adapter.find_execution(refs["workflow_id"], "k-unknown") is None


def test_the_trigger_nodes_items_are_never_taken_as_the_result() -> None:
    trigger_item = {"headers": {"x-switchboard-auth": "s3cret"}, "body": {}, "webhookUrl": "u"}
    execution = {
        "status": "success",
        "data": {
            "resultData": {
                "lastNodeExecuted": "Respond",
                "runData": {"Respond": [{"data": {"main": [[{"json": trigger_item}]]}}]},
            }
        },
    }
    assert execution_output(execution) is None


async def test_ensuring_a_credential_again_updates_it_instead_of_adding_one(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake()
    adapter = adapter_for(fake, tenant_id, registry)
    first = await adapter.ensure_header_credential("sb", "X-Switchboard-Auth", "old-value")
    second = await adapter.ensure_header_credential("sb", "X-Switchboard-Auth", "new-value")
    assert first == second and list(fake.credentials) == [first]
    assert fake.credentials[first]["data"] == {"name": "X-Switchboard-Auth", "value": "new-value"}
    other = await adapter.ensure_header_credential("other", "X-Switchboard-Auth", "v")
    assert other != first and len(fake.credentials) == 2
