"""Platform runs still going on when their call answered are finished later: by the poller
reading n8n's and Make's execution APIs, or by a signed `n8n_execution_finished`
callback through the webhook ingress. A real worker runs the events; the platforms are the
contract fakes, in process."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

from orchestration.events.models import CustomerEvent, EventSource
from orchestration.events.publish import publish
from orchestration.executions import ExecutionRecord, list_executions
from orchestration.platforms.async_results import poll_platform_runs
from orchestration.platforms.config_store import save_tool_config
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.queue.config import QueueConfig
from orchestration.runtime import RuntimeConfig, WorkerRuntime, open_worker_runtime
from orchestration.templates.install import record_platform_refs
from orchestration.worker import create_worker
from orchestration.workflows.store import save_definition
from servers.http.ingest import GroupPublisher
from servers.http.webhooks import webhook_endpoint
from shared.config import Settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue
from shared.tenants import create_tenant
from shared.webhooks.signing import sign_switchboard
from tests.fakes.make import MakeFake
from tests.fakes.n8n import N8nFake, background_workflow

N8N_KEY, HOOK_HEADER, HOOK_VALUE = "n8n_api_SECRET_key_12345", "X-Switchboard-Auth", "hook-SECRET"
CALLBACK_SECRET = "whsec-n8n-callback-SECRET"
MAKE_TOKEN = "make-SECRET-token-4242"


def routed_yaml(platform: str) -> str:
    return f"""
name: Lead qualification
trigger: {{type: event, event_type: lead_qualified}}
primary_platform: {platform}
fallback_platform: internal
steps:
  - name: Score lead
    action: analyze
    kind: qualify_lead
"""


@dataclass
class World:
    db: Database
    tenant_id: uuid.UUID
    runtime: WorkerRuntime
    http: httpx.AsyncClient

    async def emit(self, event_type: str = "lead_qualified", **data: Any) -> None:
        await publish(
            self.db,
            CustomerEvent(
                eventId=f"evt-{uuid.uuid4()}",
                tenantId=self.tenant_id,
                eventType=event_type,
                eventData=data,
            ),
        )

    async def drain(self) -> None:
        worker = create_worker(
            self.db, self.runtime.handler, config=QueueConfig(poll_interval_s=0.05)
        )
        with anyio.fail_after(30):
            await worker.run(drain=True)

    async def only_execution(self) -> ExecutionRecord:
        (execution,) = await list_executions(self.db, self.tenant_id)
        return execution

    async def poll(self) -> None:
        await poll_platform_runs(self.db, self.runtime.tools.for_tenant)


@pytest.fixture
def secret_key() -> str:
    return generate_key()


@asynccontextmanager
async def world(
    db: Database,
    key: str,
    registry: ResilienceRegistry,
    app: Starlette,
    tool: str,
    endpoint: str,
    credentials: dict[str, str],
    settings: dict[str, Any] | None = None,
) -> AsyncIterator[World]:
    tenant_id = (await create_tenant(db, f"acme-{uuid.uuid4().hex[:6]}")).id
    await save_tool_config(
        db,
        CredentialCipher(key),
        tenant_id=tenant_id,
        tool_name=tool,
        api_endpoint=endpoint,
        credentials=credentials,
        settings=settings,
    )
    runtime_settings = Settings(database_url="sqlite://", secret_key=SecretStr(key))
    config = RuntimeConfig(run_schedules=False, run_health_monitor=False, tools_cache_s=0)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http,
        open_worker_runtime(
            runtime_settings, db, config=config, client=http, registry=registry
        ) as runtime,
    ):
        yield World(db, tenant_id, runtime, http)


N8N_CREDENTIALS = {
    "api_key": N8N_KEY,
    "webhook_auth_header": HOOK_HEADER,
    "webhook_auth_value": HOOK_VALUE,
    "webhook_secret": CALLBACK_SECRET,
}


async def _n8n_definition(w: World, answer: str) -> dict[str, Any]:
    """The workflow installed in the fake n8n and the definition routed to it."""
    adapter = (await w.runtime.tools.for_tenant(w.tenant_id)).adapters["n8n"]
    assert isinstance(adapter, N8nAdapter)
    credential = await adapter.ensure_header_credential("switchboard", HOOK_HEADER, HOOK_VALUE)
    refs = await adapter.install(
        background_workflow("Lead qualification", "lead/qualify", credential, answer=answer)
    )
    saved = await save_definition(w.db, w.tenant_id, routed_yaml("n8n"))
    await record_platform_refs(w.db, saved.stored.id, "n8n", refs)
    return refs


@pytest.mark.parametrize("answer", ["running", "started"])
async def test_an_n8n_run_that_answers_early_is_completed_by_the_poller(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry, answer: str
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0, polls_until_done=1)
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "n8n", "http://n8n.test", N8N_CREDENTIALS
    ) as w:
        await _n8n_definition(w, answer)
        await w.emit(name="Bright Smiles")
        await w.drain()
        waiting = await w.only_execution()
        assert waiting.status == "running" and waiting.execution_platform == "n8n"
        assert waiting.completed_at is None
        (n8n_run,) = fake.executions.values()
        if answer == "running":  # n8n's execution id, from the early Respond to Webhook
            assert (waiting.execution_result or {})["external_execution_id"] == n8n_run["id"]

        await w.poll()  # n8n still running: nothing changes
        assert (await w.only_execution()).status == "running"
        await w.poll()
        done = await w.only_execution()

    assert done.status == "completed" and done.completed_at is not None
    result = done.execution_result or {}
    assert result["external_execution_id"] == n8n_run["id"]
    assert result["completed_by"] == "poller"
    assert result["output"]["n8n_status"] == "success"
    assert result["output"]["result"]["received"]["name"] == "Bright Smiles"
    assert HOOK_VALUE not in json.dumps(result)  # the Webhook node's headers stay in n8n
    assert done.external_api_calls >= 2  # the webhook call and the reads


async def test_a_failed_n8n_run_fails_the_execution_with_n8ns_message(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0, polls_until_done=0)
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "n8n", "http://n8n.test", N8N_CREDENTIALS
    ) as w:
        await _n8n_definition(w, "running")
        await w.emit()
        await w.drain()
        (n8n_run,) = fake.executions.values()
        n8n_run.update(status="error", finished=False)
        n8n_run["data"]["resultData"]["error"] = {"message": "ClickUp node: list not found"}
        await w.poll()
        failed = await w.only_execution()
    assert failed.status == "failed"
    assert failed.error_details is not None
    assert failed.error_details["message"] == "ClickUp node: list not found"
    assert failed.error_details["platform"] == "n8n"


async def test_a_make_run_past_40s_stays_running_until_makes_execution_status_says_done(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = MakeFake(token=MAKE_TOKEN, polls_until_done=1)
    fake.add_scenario(8, "Slow sync", duration=95, outputs={"synced": 3})
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "make",
        "http://eu1.make.test/api/v2", {"api_token": MAKE_TOKEN},
    ) as w:  # fmt: skip
        saved = await save_definition(w.db, w.tenant_id, routed_yaml("make"))
        await record_platform_refs(w.db, saved.stored.id, "make", {"scenario_id": 8})
        await w.emit()
        await w.drain()
        waiting = await w.only_execution()
        assert waiting.status == "running" and waiting.execution_platform == "make"
        assert len(fake.runs) == 1
        await w.poll()
        assert (await w.only_execution()).status == "running"
        await w.poll()
        done = await w.only_execution()
    assert done.status == "completed"
    result = done.execution_result or {}
    assert result["output"] == {"make_status": "SUCCESS", "synced": 3}
    assert result["external_execution_id"] == fake.runs[0]["executionId"]
    assert len(fake.runs) == 1  # reading back never runs the scenario again


async def test_a_run_with_nothing_to_ask_about_fails_after_the_give_up_time(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = MakeFake(token=MAKE_TOKEN)
    fake.hooks["h1"] = []  # a webhook that only answers "Accepted": no execution id
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "make",
        "http://eu1.make.test/api/v2", {"api_token": MAKE_TOKEN},
    ) as w:  # fmt: skip
        saved = await save_definition(w.db, w.tenant_id, routed_yaml("make"))
        refs = {"webhook_url": "http://hook.eu1.make.test/hook/h1"}
        await record_platform_refs(w.db, saved.stored.id, "make", refs)
        await w.emit()
        await w.drain()
        await poll_platform_runs(w.db, w.runtime.tools.for_tenant)
        assert (await w.only_execution()).status == "running"
        await poll_platform_runs(w.db, w.runtime.tools.for_tenant, give_up_after_s=0)
        failed = await w.only_execution()
    assert failed.status == "failed"
    assert failed.error_details is not None
    assert failed.error_details["message"].startswith("make reported no result within 0s")


def _callback(execution_id: uuid.UUID, **data: Any) -> bytes:
    body = {
        "eventId": f"n8n-callback-{execution_id}",
        "eventType": "n8n_execution_finished",
        "eventData": {"execution_id": str(execution_id), **data},
    }
    return json.dumps(body).encode()


async def test_a_signed_n8n_callback_completes_the_execution_once(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry, sqlite_url: str
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0, polls_until_done=5)
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr(secret_key))
    ingress = Starlette(
        routes=[
            Route(
                "/webhooks/{source}",
                webhook_endpoint(sqlite_db, settings, GroupPublisher(sqlite_db)),
                methods=["POST"],
            )
        ]
    )
    async with (
        world(
            sqlite_db, secret_key, registry, fake.app(), "n8n", "http://n8n.test",
            N8N_CREDENTIALS,
        ) as w,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ingress), base_url="http://switchboard.test"
        ) as switchboard,
    ):  # fmt: skip
        await _n8n_definition(w, "running")
        await w.emit()
        await w.drain()
        waiting = await w.only_execution()
        assert waiting.status == "running"

        body = _callback(waiting.id, status="success", result={"score": 92})
        url = f"/webhooks/n8n?tenant={w.tenant_id}"
        unsigned = await switchboard.post(url, content=body)
        assert unsigned.status_code == 401
        signed = await switchboard.post(
            url, content=body, headers=sign_switchboard(CALLBACK_SECRET, body)
        )
        assert signed.status_code == 202, signed.text
        await w.drain()
        done = await w.only_execution()
        assert done.status == "completed"
        assert done.execution_result == {
            "output": {"score": 92}, "completed_by": "callback",
        }  # fmt: skip

        # A late failure report, or the poller, changes nothing once it is finished.
        late = _callback(waiting.id, status="error", error={"message": "late"})
        await switchboard.post(
            url,
            content=late,
            headers={**sign_switchboard(CALLBACK_SECRET, late), "X-Switchboard-Delivery": "2"},
        )
        await w.drain()
        await w.poll()
        assert (await w.only_execution()).status == "completed"


async def test_a_callback_naming_no_execution_of_this_tenant_is_dead_lettered_with_why(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY)
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "n8n", "http://n8n.test", N8N_CREDENTIALS
    ) as w:
        event = CustomerEvent(
            eventId="cb-1",
            tenantId=w.tenant_id,
            eventType="n8n_execution_finished",
            eventData={"execution_id": "not-an-id", "status": "success"},
            source=EventSource.N8N,
        )
        queued = await publish(w.db, event)
        await w.drain()
        async with w.db.engine.connect() as conn:
            query = sa.select(event_queue.c.status, event_queue.c.error_details)
            row = (await conn.execute(query.where(event_queue.c.id == queued.queue_id))).one()
    assert row.status == "failed"  # dead-lettered at once: a retry would not fix the data
    assert "execution_id must be the execution_id" in json.dumps(row.error_details)


async def test_a_callback_that_did_not_come_through_the_platforms_webhook_is_refused(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0, polls_until_done=5)
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "n8n", "http://n8n.test", N8N_CREDENTIALS
    ) as w:
        await _n8n_definition(w, "running")
        await w.emit()
        await w.drain()
        waiting = await w.only_execution()
        forged = CustomerEvent(  # e.g. published by an agent: source crm, not n8n's webhook
            eventId="forged-1",
            tenantId=w.tenant_id,
            eventType="n8n_execution_finished",
            eventData={"execution_id": str(waiting.id), "status": "success"},
        )
        await publish(w.db, forged)
        await w.drain()
        assert (await w.only_execution()).status == "running"


async def test_a_run_the_platform_no_longer_knows_waits_then_fails_after_the_give_up_time(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = MakeFake(token=MAKE_TOKEN)
    fake.add_scenario(8, "Slow sync", duration=95)
    async with world(
        sqlite_db, secret_key, registry, fake.app(), "make",
        "http://eu1.make.test/api/v2", {"api_token": MAKE_TOKEN},
    ) as w:  # fmt: skip
        saved = await save_definition(w.db, w.tenant_id, routed_yaml("make"))
        await record_platform_refs(w.db, saved.stored.id, "make", {"scenario_id": 8})
        await w.emit()
        await w.drain()
        fake.executions.clear()  # Make answers 404 for it from now on
        report = await poll_platform_runs(w.db, w.runtime.tools.for_tenant)
        assert (report.unreachable, report.still_running) == (1, 1)
        assert (await w.only_execution()).status == "running"
        await poll_platform_runs(w.db, w.runtime.tools.for_tenant, give_up_after_s=0)
        failed = await w.only_execution()
    assert failed.status == "failed"
    assert failed.error_details is not None
    assert "check execution" in failed.error_details["message"]
