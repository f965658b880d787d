"""Every HTTP request a worker sends to a platform leaves exactly one audit row.

One event runs two workflows through a real worker against the four contract fakes on
127.0.0.1: the first goes to n8n (answering 503, then failed over to Make), the
second runs on the internal engine and calls Apify and ClickUp (whose first task creation
is answered 429 and retried). Each fake's request log is then compared with the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
import stamina
from pydantic import SecretStr

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.executions import list_executions
from orchestration.platforms.config_store import save_tool_config
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.queue.config import QueueConfig
from orchestration.runtime import RuntimeConfig, open_worker_runtime
from orchestration.templates.install import record_platform_refs
from orchestration.worker import create_worker
from orchestration.workflows.store import save_definition
from shared.config import Settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import audit_log
from shared.tenants import create_tenant
from tests.fakes.apify import ApifyFake
from tests.fakes.clickup import ClickUpFake
from tests.fakes.make import MakeFake
from tests.fakes.n8n import N8nFake
from tests.fakes.server import serve_in_thread

N8N_KEY, HOOK_HEADER, HOOK_VALUE = "n8n_api_SECRET_key_12345", "X-Auth", "hook-SECRET-777"
MAKE_TOKEN = "make-SECRET-token-4242"
CLICKUP_TOKEN = "pk_12345_SECRETTOKENVALUE"
APIFY_TOKEN = "apify_api_SECRETtoken123"
SECRETS = (N8N_KEY, HOOK_VALUE, MAKE_TOKEN, CLICKUP_TOKEN, APIFY_TOKEN)

QUALIFY = """
name: Lead qualification
trigger: {type: event, event_type: lead_qualified}
primary_platform: n8n
fallback_platform: make
steps:
  - name: Score lead
    action: analyze
    kind: qualify_lead
"""
COLLECT_AND_SYNC = """
name: Collect and sync
trigger: {type: event, event_type: lead_qualified}
steps:
  - name: Collect
    action: run_apify_actor
    actor: compass~crawler-google-places
    input: {searchStringsArray: ["dentist in Austin"]}
  - name: Create task
    action: create_clickup_task
    project: qualified_prospects
    task_name: "Call {{ event.name }}"
"""


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _instant_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=2):
        yield


async def _configure(db: Database, key: str, tenant_id: uuid.UUID, urls: dict[str, str]) -> None:
    cipher = CredentialCipher(key)
    configs: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
        "n8n": (
            urls["n8n"],
            {
                "api_key": N8N_KEY,
                "webhook_auth_header": HOOK_HEADER,
                "webhook_auth_value": HOOK_VALUE,
            },
            {},
        ),
        "make": (f"{urls['make']}/api/v2", {"api_token": MAKE_TOKEN}, {}),
        "clickup": (
            f"{urls['clickup']}/api/v2",
            {"api_token": CLICKUP_TOKEN},
            {"lists": {"qualified_prospects": "L1"}},
        ),
        "apify": (f"{urls['apify']}/v2", {"api_token": APIFY_TOKEN}, {}),
    }
    for tool, (endpoint, credentials, settings) in configs.items():
        await save_tool_config(
            db,
            cipher,
            tenant_id=tenant_id,
            tool_name=tool,
            api_endpoint=endpoint,
            credentials=credentials,
            settings=settings,
        )


async def _audit_rows(db: Database, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(audit_log).where(audit_log.c.tenant_id == tenant_id))
        return [dict(r) for r in rows.mappings()]


async def test_each_request_a_fake_saw_left_exactly_one_audit_row(any_db: Database) -> None:
    key = generate_key()
    tenant_id = (await create_tenant(any_db, f"audit-{uuid.uuid4().hex[:6]}")).id
    n8n, make = N8nFake(api_key=N8N_KEY, registration_lag=0), MakeFake(token=MAKE_TOKEN)
    make.add_scenario(7, "Qualify", inputs=[{"name": "name", "type": "text", "required": True}])
    clickup, apify = ClickUpFake(token=CLICKUP_TOKEN), ApifyFake(token=APIFY_TOKEN)
    clickup.add_list("L1", "Qualified Prospects")
    apify.add_actor("compass~crawler-google-places", items=[{"title": "Smile Dental"}])
    n8n.plan.add(path_prefix="/webhook/", status=503, body={"message": "down"}, times=None)
    clickup.plan.add(
        path_prefix="/api/v2/list/L1/task",
        method="POST",
        status=429,
        headers={"Retry-After": "1"},
        body={"err": "Rate limit reached", "ECODE": "APP_002"},
    )
    qualify = await save_definition(any_db, tenant_id, QUALIFY)
    await save_definition(any_db, tenant_id, COLLECT_AND_SYNC)
    await record_platform_refs(any_db, qualify.stored.id, "n8n", {"webhook_path": "lead/qualify"})
    await record_platform_refs(any_db, qualify.stored.id, "make", {"scenario_id": 7})
    fakes = {"n8n": n8n, "make": make, "clickup": clickup, "apify": apify}

    with ExitStack() as stack:
        urls = {name: stack.enter_context(serve_in_thread(f.app())) for name, f in fakes.items()}
        await _configure(any_db, key, tenant_id, urls)
        event = CustomerEvent(
            eventId=f"evt-{uuid.uuid4()}",
            tenantId=tenant_id,
            customerId="cust-1",
            eventType="lead_qualified",
            eventData={"name": "Bright Smiles Dental", "industry": "dentist"},
        )
        await publish(any_db, event, max_retries=3)
        clock = _Clock()
        registry = ResilienceRegistry(clock=clock, sleep=clock.sleep)
        settings = Settings(database_url="sqlite://", secret_key=SecretStr(key))
        config = RuntimeConfig(run_schedules=False, run_health_monitor=False, tools_cache_s=0)
        runtime_context = open_worker_runtime(settings, any_db, config=config, registry=registry)
        async with runtime_context as runtime:
            worker = create_worker(
                any_db, runtime.handler, config=QueueConfig(poll_interval_s=0.05, batch_size=1)
            )
            with anyio.fail_after(60):
                await worker.run(drain=True)

    runs = {r.workflow_name: r for r in await list_executions(any_db, tenant_id)}
    assert runs["Lead qualification"].status == "completed", runs["Lead qualification"]
    assert runs["Lead qualification"].execution_platform == "make"  # n8n failed over
    assert runs["Collect and sync"].status == "completed", runs["Collect and sync"]

    rows = [r for r in await _audit_rows(any_db, tenant_id) if r["action"].startswith("outbound:")]
    for platform, fake in fakes.items():
        seen = fake.plan.requests
        audited = [r for r in rows if r["action"] == f"outbound:{platform}"]
        assert seen, f"the run should have called {platform}"
        assert len(audited) == len(seen), (platform, [r["target"] for r in audited], seen)
    n8n_rows = [r for r in rows if r["action"] == "outbound:n8n"]
    assert {(r["details"]["status"], r["outcome"]) for r in n8n_rows} == {(503, "error")}
    clickup_posts = [r for r in rows if r["target"] == "POST /list/{id}/task"]
    # The 429 and its retry are two requests, so two rows, attempts 1 and 2.
    assert sorted((r["details"]["status"], r["details"]["attempt"]) for r in clickup_posts) == [
        (200, 2),
        (429, 1),
    ]
    # Attributed to the workflow run that made them, with its execution id.
    for row in n8n_rows + clickup_posts:
        workflow = "Lead qualification" if row in n8n_rows else "Collect and sync"
        assert row["actor"] == f"workflow:{workflow}", row
        assert row["details"]["execution_id"] == str(runs[workflow].id), row
    for row in rows:
        assert str(row["argument_digest"]).startswith("sha256:"), row
        assert row["duration_ms"] is not None and row["actor"]
        text = str(row)
        assert not any(secret in text for secret in SECRETS)
        assert "Bright Smiles" not in text  # payload values never, only their digest
