"""Both n8n templates installed through `install_n8n` into a real n8n 2.8.4, fired through
the adapter, and seen succeeding in n8n's own execution list (`start_n8n` in .ci/services.sh)."""

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

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.templates.catalog import find_template
from orchestration.templates.install import install_n8n
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.tenants import create_tenant
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
    workflow_id = str(installed.platform_refs["n8n"]["workflow_id"])
    await adapter.deactivate(workflow_id)
    await adapter.delete_workflow(workflow_id)


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
