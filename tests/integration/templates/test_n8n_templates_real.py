"""Both n8n templates installed through `install_n8n` into a real n8n 2.8.4, fired through
the adapter and through Switchboard itself (publish -> worker -> router -> n8n adapter), and
seen succeeding in n8n's own execution list with the answer mapped back into
`workflow_executions` (`start_n8n` in .ci/services.sh)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from orchestration.executions import ExecutionRecord, list_executions
from orchestration.platforms.async_results import poll_platform_runs
from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig, save_tool_config
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.platforms.tools import load_tenant_tools
from orchestration.queue.config import QueueConfig
from orchestration.runtime import RuntimeConfig, open_worker_runtime
from orchestration.templates.catalog import find_template
from orchestration.templates.install import install_n8n, record_platform_refs
from orchestration.templates.n8n_callback import callback_url, with_callback
from orchestration.worker import create_worker
from orchestration.workflows.store import save_definition
from orchestration.workflows.triggers import trigger_workflow
from servers.http.app import HttpOptions, build_app
from shared.config import Settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue, workflow_definitions
from shared.tenants import create_tenant
from tests.fakes.n8n import background_workflow
from tests.fakes.server import serve_in_thread
from tests.services import REQUIRE_SERVICES, require

N8N_URL = os.environ.get("SWITCHBOARD_TEST_N8N_URL", "http://127.0.0.1:5678")
HOOK_HEADER = "X-Switchboard-Auth"

pytestmark = pytest.mark.n8n


@dataclass(frozen=True)
class Installed:
    """What the router hands the adapter: the definition's name and its platform_refs."""

    name: str
    platform_refs: Mapping[str, Any]


@pytest.fixture
async def adapter() -> AsyncIterator[N8nAdapter]:
    require(N8N_URL, "n8n")
    api_key = os.environ.get("SWITCHBOARD_TEST_N8N_API_KEY")
    if not api_key:
        reason = "SWITCHBOARD_TEST_N8N_API_KEY is unset; run `source .ci/services.sh && start_n8n`"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    async with httpx.AsyncClient(timeout=30) as client:
        config = ToolConfig(
            tenant_id=uuid.uuid4(),
            tool_name="n8n",
            api_endpoint=N8N_URL,
            credentials=Credentials(
                {
                    "api_key": api_key,
                    "webhook_auth_header": HOOK_HEADER,
                    "webhook_auth_value": uuid.uuid4().hex,
                },
                tool="n8n",
            ),
        )
        yield N8nAdapter(client, config, registry=ResilienceRegistry(), activation_grace_s=15)


async def _install(db: Database, adapter: N8nAdapter, slug: str) -> Installed:
    tenant = await create_tenant(db, f"t-{uuid.uuid4().hex[:8]}")
    result = await install_n8n(db, tenant.id, find_template(slug), adapter)
    async with db.engine.connect() as conn:
        refs = (
            await conn.execute(
                sa.select(workflow_definitions.c.platform_refs).where(
                    workflow_definitions.c.id == result.saved.stored.id
                )
            )
        ).scalar_one()
    assert result.saved.stored.definition.primary_platform == "n8n"
    assert result.saved.stored.definition.fallback_platform == "internal"
    assert refs["n8n"] == result.platform_refs
    return Installed(result.saved.stored.name, refs)


async def _run(adapter: N8nAdapter, installed: Installed, payload: dict[str, Any]) -> Any:
    context = ExecutionContext(
        tenant_id=adapter.config.tenant_id,
        idempotency_key=f"tmpl-{uuid.uuid4().hex}",
        payload=payload,
        event_type="prospect_identified",
    )
    # execute_workflow retries n8n's 404 "not registered" right after activation.
    result = await adapter.execute_workflow(installed, context)
    assert result.status is ResultStatus.COMPLETED, result
    return result.output


async def _successes(adapter: N8nAdapter, workflow_id: str, count: int) -> list[dict[str, Any]]:
    """n8n saves executions asynchronously: poll its list with a deadline."""
    deadline = time.monotonic() + 20
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = await adapter.list_executions(workflow_id=workflow_id)
        if len(found) >= count and all(e.get("status") == "success" for e in found):
            return found
        await anyio.sleep(0.2)
    raise AssertionError(f"n8n executions did not all succeed in time: {found}")


async def _remove(adapter: N8nAdapter, installed: Installed) -> None:
    refs = installed.platform_refs["n8n"]
    await adapter.deactivate(str(refs["workflow_id"]))
    await adapter.delete_workflow(str(refs["workflow_id"]))
    if refs.get("credential_id"):
        await adapter.delete_credential(str(refs["credential_id"]))


async def test_lead_qualification_template_scores_and_routes_in_real_n8n(
    adapter: N8nAdapter, sqlite_db: Database
) -> None:
    installed = await _install(sqlite_db, adapter, "lead-qualification")
    try:
        hot = await _run(
            adapter,
            installed,
            {"account_id": "acc-1", "company_name": "Bright Smiles", "industry": "dentist",
             "company_domain": "brightsmiles.example", "rating": 4.8, "review_count": 150},
        )  # fmt: skip
        assert hot["qualification_results"]["qualification_score"] == 92
        assert hot["qualification_results"]["qualification_status"] == "qualified"
        assert hot["clickup_task"]["project"] == "qualified_prospects"
        assert hot["clickup_task"]["custom_fields"] == {
            "lead_score": 92, "qualification_status": "qualified", "industry": "dentist",
        }  # fmt: skip
        # A CRM accounts row as the payload: its column names work too.
        cold = await _run(
            adapter,
            installed,
            {"id": "acc-2", "name": "Quiet Plumbing", "website": "https://www.quiet.example/x",
             "gmb_rating": 3, "gmb_review_count": 10},
        )  # fmt: skip
        assert cold["qualification_results"] == {
            "account_id": "acc-2", "company_domain": "quiet.example", "industry": "",
            "qualification_score": 53, "qualification_status": "not_qualified",
            "method": "rating_reviews_website_v1",
        }  # fmt: skip
        assert cold["clickup_task"] is None

        refs = installed.platform_refs["n8n"]
        await _successes(adapter, str(refs["workflow_id"]), 2)
        # The webhook refuses a caller without the tenant's header.
        response = await adapter.http.client.post(
            f"{N8N_URL}/webhook/{refs['webhook_path']}", json={"rating": 5}
        )
        assert response.status_code == 403
    finally:
        await _remove(adapter, installed)


async def test_churn_prevention_template_plans_only_for_at_risk_customers_in_real_n8n(
    adapter: N8nAdapter, sqlite_db: Database
) -> None:
    installed = await _install(sqlite_db, adapter, "churn-prevention")
    try:
        output = await _run(
            adapter,
            installed,
            {"customers": [
                {"customer_id": "c-risky", "name": "Acme HVAC", "churn_probability": 0.9},
                {"customer_id": "c-fine", "churn_probability": 0.2},
                {"customer_id": "c-edge", "churn_probability": 0.7},
            ]},
        )  # fmt: skip
        (at_risk,) = output["at_risk"]
        assert at_risk["customer_id"] == "c-risky"
        assert at_risk["retention_plan"]["priority"] == "urgent"
        assert at_risk["campaign"] == {
            "platform": "internal_crm", "type": "retention", "customer_id": "c-risky",
            "plan": at_risk["retention_plan"],
        }  # fmt: skip
        assert at_risk["follow_up"]["type"] == "follow_up_call"
        assert at_risk["follow_up"]["due_date"]
        nobody = await _run(adapter, installed, {"customers": []})
        assert nobody["at_risk"] == []
        await _successes(adapter, str(installed.platform_refs["n8n"]["workflow_id"]), 2)
    finally:
        await _remove(adapter, installed)


# -- through Switchboard: stored config, publish -> worker -> router -> n8n adapter ---------


@dataclass
class Tenant:
    db: Database
    tenant_id: uuid.UUID
    key: str
    adapter: N8nAdapter


@pytest.fixture
async def configured(sqlite_db: Database, adapter: N8nAdapter) -> AsyncIterator[Tenant]:
    """A tenant whose n8n configuration is stored encrypted, as `tools configure` leaves it,
    and the adapter built from it the way the CLI and the worker build theirs."""
    key = generate_key()
    tenant_id = (await create_tenant(sqlite_db, f"t-{uuid.uuid4().hex[:8]}")).id
    credentials = adapter.config.credentials
    await save_tool_config(
        sqlite_db,
        CredentialCipher(key),
        tenant_id=tenant_id,
        tool_name="n8n",
        api_endpoint=N8N_URL,
        credentials=dict(credentials),
    )
    async with httpx.AsyncClient(timeout=30) as client:
        tools = await load_tenant_tools(
            sqlite_db, CredentialCipher(key), tenant_id, client, registry=ResilienceRegistry()
        )
        stored = tools.adapters["n8n"]
        assert isinstance(stored, N8nAdapter)
        yield Tenant(sqlite_db, tenant_id, key, stored)


async def _drain_through_worker(tenant: Tenant) -> None:
    settings = Settings(database_url="sqlite://", secret_key=SecretStr(tenant.key))
    config = RuntimeConfig(run_schedules=False, run_health_monitor=False, tools_cache_s=0)
    async with (
        httpx.AsyncClient(timeout=30) as client,
        open_worker_runtime(
            settings, tenant.db, config=config, client=client, registry=ResilienceRegistry()
        ) as runtime,
    ):
        worker = create_worker(tenant.db, runtime.handler, config=QueueConfig(poll_interval_s=0.05))
        with anyio.fail_after(60):
            await worker.run(drain=True)


async def _poll_until_finished(tenant: Tenant) -> list[ExecutionRecord]:
    settings = Settings(database_url="sqlite://", secret_key=SecretStr(tenant.key))
    config = RuntimeConfig(run_schedules=False, run_health_monitor=False, tools_cache_s=0)
    deadline = time.monotonic() + 20
    async with (
        httpx.AsyncClient(timeout=30) as client,
        open_worker_runtime(settings, tenant.db, config=config, client=client) as runtime,
    ):
        while True:
            await poll_platform_runs(tenant.db, runtime.tools.for_tenant)
            executions = await list_executions(tenant.db, tenant.tenant_id)
            if all(e.status != "running" for e in executions):
                return executions
            if time.monotonic() > deadline:
                raise AssertionError([e.as_dict() for e in executions])
            await anyio.sleep(0.2)


async def test_both_templates_run_from_switchboard_events_and_map_back_from_real_n8n(
    configured: Tenant,
) -> None:
    db, tenant_id, adapter = configured.db, configured.tenant_id, configured.adapter
    results = {
        slug: await install_n8n(db, tenant_id, find_template(slug), adapter)
        for slug in ("lead-qualification", "churn-prevention")
    }
    refs = {slug: r.platform_refs or {} for slug, r in results.items()}
    try:
        # Installing again updates in place: same workflow, same single credential.
        again = await install_n8n(db, tenant_id, find_template("lead-qualification"), adapter)
        assert again.platform_refs == refs["lead-qualification"]
        credential_names = [c.get("name") for c in await adapter.list_credentials()]
        for slug in refs:
            name = f"Switchboard webhook auth [{tenant_id.hex[:8]}] {slug}"
            assert credential_names.count(name) == 1

        # Events through Switchboard: queued, claimed by a worker, routed to n8n.
        await trigger_workflow(
            db, tenant_id, "AI Lead Qualification Pipeline",
            {"account_id": "acc-1", "company_name": "Bright Smiles", "industry": "dentist",
             "company_domain": "brightsmiles.example", "rating": 4.8, "review_count": 150},
        )  # fmt: skip
        await trigger_workflow(
            db, tenant_id, "Churn Prevention Automation",
            {"customers": [{"customer_id": "c-risky", "churn_probability": 0.9},
                           {"customer_id": "c-fine", "churn_probability": 0.2}]},
        )  # fmt: skip
        await _drain_through_worker(configured)

        executions = {e.workflow_name: e for e in await list_executions(db, tenant_id)}
        lead = executions["AI Lead Qualification Pipeline"]
        churn = executions["Churn Prevention Automation"]
        for execution in (lead, churn):
            assert execution.status == "completed", execution.as_dict()
            assert execution.execution_platform == "n8n"
            assert (execution.routing or {})["ran_on"] == "n8n"
            assert execution.external_api_calls >= 1
        lead_result = lead.execution_result or {}
        assert lead_result["output"]["qualification_results"]["qualification_score"] == 92
        assert lead_result["output"]["clickup_task"]["project"] == "qualified_prospects"
        (at_risk,) = (churn.execution_result or {})["output"]["at_risk"]
        assert at_risk["customer_id"] == "c-risky"

        # The same runs, succeeded, in n8n's own execution list, under the ids we recorded.
        for slug, execution in (("lead-qualification", lead), ("churn-prevention", churn)):
            listed = await _successes(adapter, str(refs[slug]["workflow_id"]), 1)
            external = (execution.execution_result or {})["external_execution_id"]
            assert [str(e["id"]) for e in listed] == [external]
    finally:
        for slug in refs:
            await _remove(adapter, Installed(slug, {"n8n": refs[slug]}))


async def test_a_background_run_fired_through_switchboard_is_read_back_by_the_poller(
    configured: Tenant,
) -> None:
    db, tenant_id, adapter = configured.db, configured.tenant_id, configured.adapter
    path = f"switchboard-bg-{uuid.uuid4().hex[:8]}"
    hook = adapter.config.credentials.require("webhook_auth_value")
    credential = await adapter.ensure_header_credential(f"switchboard {path}", HOOK_HEADER, hook)
    refs = await adapter.install(background_workflow(f"Switchboard {path}", path, credential))
    try:
        saved = await save_definition(db, tenant_id, BACKGROUND_YAML)
        await record_platform_refs(db, saved.stored.id, "n8n", refs)
        await trigger_workflow(db, tenant_id, "Background scoring", {"n": 21})
        await _drain_through_worker(configured)
        (waiting,) = await list_executions(db, tenant_id)
        assert waiting.status == "running", waiting.as_dict()
        external = (waiting.execution_result or {})["external_execution_id"]

        (done,) = await _poll_until_finished(configured)
        assert done.status == "completed" and done.completed_at is not None
        result = done.execution_result or {}
        assert result["external_execution_id"] == external
        assert result["completed_by"] == "poller"
        assert result["output"]["result"]["received"]["n"] == 21
        listed = await _successes(adapter, str(refs["workflow_id"]), 1)
        assert [str(e["id"]) for e in listed] == [external]
    finally:
        await adapter.deactivate(str(refs["workflow_id"]))
        await adapter.delete_workflow(str(refs["workflow_id"]))
        await adapter.delete_credential(credential)


BACKGROUND_YAML = """
name: Background scoring
trigger: {type: webhook, endpoint: /background}
primary_platform: n8n
fallback_platform: internal
steps:
  - name: Score
    action: analyze
    kind: qualify_lead
"""


async def test_a_background_run_reports_back_through_the_signed_callback_into_switchboard(
    sqlite_db: Database, sqlite_url: str, adapter: N8nAdapter
) -> None:
    """n8n signs (Crypto node HMAC) and posts `n8n_execution_finished` to the real webhook
    ingress; a worker applies it: the execution completes without any poll."""
    key = generate_key()
    tenant_id = (await create_tenant(sqlite_db, f"t-{uuid.uuid4().hex[:8]}")).id
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr(key))
    app = build_app(settings, HttpOptions(embedded_worker=False))
    with serve_in_thread(app, lifespan="on") as switchboard_url:
        await save_tool_config(
            sqlite_db,
            CredentialCipher(key),
            tenant_id=tenant_id,
            tool_name="n8n",
            api_endpoint=N8N_URL,
            credentials={**dict(adapter.config.credentials), "webhook_secret": CALLBACK_SECRET},
            settings={"callback_base_url": switchboard_url},
        )
        async with httpx.AsyncClient(timeout=30) as client:
            tools = await load_tenant_tools(sqlite_db, CredentialCipher(key), tenant_id, client)
            n8n = tools.adapters["n8n"]
            assert isinstance(n8n, N8nAdapter)
            tenant = Tenant(sqlite_db, tenant_id, key, n8n)
            path = f"switchboard-cb-{uuid.uuid4().hex[:8]}"
            hook = n8n.config.credentials.require("webhook_auth_value")
            credential = await n8n.ensure_header_credential(f"sb {path}", HOOK_HEADER, hook)
            workflow = with_callback(
                background_workflow(f"Switchboard {path}", path, credential, answer="started"),
                callback_url(switchboard_url, tenant_id),
                CALLBACK_SECRET,
            )
            refs = await n8n.install(workflow)
            try:
                saved = await save_definition(sqlite_db, tenant_id, BACKGROUND_YAML)
                await record_platform_refs(sqlite_db, saved.stored.id, "n8n", refs)
                await trigger_workflow(sqlite_db, tenant_id, "Background scoring", {"n": 7})
                await _drain_through_worker(tenant)
                # n8n answered "Workflow was started": no result yet. Its callback may come
                # in while that worker still drains, or after: either way nothing polls.
                await _wait_for_event(sqlite_db, tenant_id, "n8n_execution_finished")
                await _drain_through_worker(tenant)
                (done,) = await list_executions(sqlite_db, tenant_id)
                assert done.status == "completed", done.as_dict()
                result = done.execution_result or {}
                assert result["completed_by"] == "callback"
                assert result["output"]["received"]["n"] == 7
                (listed,) = await _successes(n8n, str(refs["workflow_id"]), 1)
                assert result["external_execution_id"] == str(listed["id"])
            finally:
                await n8n.deactivate(str(refs["workflow_id"]))
                await n8n.delete_workflow(str(refs["workflow_id"]))
                await n8n.delete_credential(credential)


async def _wait_for_event(db: Database, tenant_id: uuid.UUID, event_type: str) -> None:
    """The callback arrives when n8n has finished: poll the queue with a deadline."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with db.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count()).where(
                    event_queue.c.tenant_id == tenant_id, event_queue.c.event_type == event_type
                )
            )
        if found:
            return
        await anyio.sleep(0.2)
    raise AssertionError(f"no {event_type} event reached the queue")


CALLBACK_SECRET = "whsec-n8n-callback-test"


async def test_a_template_installed_with_a_callback_reports_its_run_signed_to_switchboard(
    sqlite_db: Database, sqlite_url: str, adapter: N8nAdapter
) -> None:
    """The lead qualification template, installed with `callback_base_url`: n8n answers the
    webhook (which completes the execution) and then reports the same run through the
    signed callback, which the ingress accepts and the worker finds already finished."""
    key = generate_key()
    tenant_id = (await create_tenant(sqlite_db, f"t-{uuid.uuid4().hex[:8]}")).id
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr(key))
    app = build_app(settings, HttpOptions(embedded_worker=False))
    with serve_in_thread(app, lifespan="on") as switchboard_url:
        await save_tool_config(
            sqlite_db,
            CredentialCipher(key),
            tenant_id=tenant_id,
            tool_name="n8n",
            api_endpoint=N8N_URL,
            credentials={**dict(adapter.config.credentials), "webhook_secret": CALLBACK_SECRET},
            settings={"callback_base_url": switchboard_url},
        )
        async with httpx.AsyncClient(timeout=30) as client:
            tools = await load_tenant_tools(sqlite_db, CredentialCipher(key), tenant_id, client)
            n8n = tools.adapters["n8n"]
            assert isinstance(n8n, N8nAdapter)
            installed = await install_n8n(
                sqlite_db, tenant_id, find_template("lead-qualification"), n8n
            )
            refs = installed.platform_refs or {}
            assert refs["callback"] is True
            try:
                await trigger_workflow(
                    sqlite_db, tenant_id, "AI Lead Qualification Pipeline",
                    {"account_id": "acc-9", "rating": 4.8, "review_count": 150,
                     "company_domain": "x.example"},
                )  # fmt: skip
                await _drain_through_worker(Tenant(sqlite_db, tenant_id, key, n8n))
                await _wait_for_event(sqlite_db, tenant_id, "n8n_execution_finished")
                await _drain_through_worker(Tenant(sqlite_db, tenant_id, key, n8n))
                (execution,) = await list_executions(sqlite_db, tenant_id)
                q = event_queue.c
                query = sa.select(q.status, q.event_data, q.processing_result)
                async with sqlite_db.engine.connect() as conn:
                    callback = (
                        await conn.execute(query.where(q.event_type == "n8n_execution_finished"))
                    ).one()
            finally:
                await _remove(n8n, Installed("lead", {"n8n": refs}))
    assert execution.status == "completed"
    assert (execution.execution_result or {})["output"]["qualification_results"][
        "qualification_score"
    ] == 92
    # The callback: verified, queued, applied to the right execution (already finished).
    assert callback.status == "completed"
    assert callback.event_data["execution_id"] == str(execution.id)
    assert callback.event_data["result"]["qualification_score"] == 92
    assert (
        callback.event_data["external_execution_id"]
        == ((execution.execution_result or {})["external_execution_id"])
    )
    assert callback.processing_result["applied"] is False
