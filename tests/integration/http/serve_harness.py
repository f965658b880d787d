"""`serve`'s app on a real socket, over a SQLite store holding one tenant ("acme") with one
account, one configured platform tool and one workflow: what the end-to-end serve tests
share."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import sqlalchemy as sa
from pydantic import SecretStr

from orchestration.executions import ExecutionRecord, list_executions
from orchestration.platforms.config_store import save_tool_config
from orchestration.workflows.store import save_definition
from servers.http.app import build_app
from shared.config import Settings
from shared.crypto import cipher_from_settings, generate_key
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.schema import accounts
from shared.tenants import Tenant, create_tenant
from tests.fakes.server import serve_in_thread


@dataclass
class ServedTenant:
    url: str
    db: Database
    tenant: Tenant
    account_id: uuid.UUID


@contextmanager
def serve_tenant(
    store: Path,
    *,
    tool: str,
    credentials: dict[str, str],
    workflow: str,
    api_endpoint: str | None = None,
    prepare: Callable[[Database, Tenant, uuid.UUID], Awaitable[None]] | None = None,
) -> Iterator[ServedTenant]:
    """Serve the app over `store`; `prepare` adds what a test needs beyond the basics."""
    url = f"sqlite:///{store}"
    settings = Settings(database_url=url, secret_key=SecretStr(generate_key()))
    db = Database.from_url(url)
    account_id = uuid.uuid4()

    async def build() -> Tenant:
        await upgrade(db.engine)
        tenant = await create_tenant(db, "acme")
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id, tenant_id=tenant.id, name="Smile Dental", industry="dentist"
                )
            )
        await save_tool_config(
            db,
            cipher_from_settings(settings.secret_key),
            tenant_id=tenant.id,
            tool_name=tool,
            api_endpoint=api_endpoint,
            credentials=credentials,
        )
        if prepare is not None:
            await prepare(db, tenant, account_id)
        await save_definition(db, tenant.id, workflow)
        return tenant

    tenant = anyio.run(build)
    try:
        with serve_in_thread(build_app(settings), lifespan="on") as base:
            yield ServedTenant(base, db, tenant, account_id)
    finally:
        anyio.run(db.dispose)


async def finished_executions(served: ServedTenant, timeout_s: float = 30) -> list[ExecutionRecord]:
    """The tenant's executions once the first has finished. The embedded worker runs in the
    server's thread, so this polls with a deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = await list_executions(served.db, served.tenant.id)
        if runs and runs[0].status in {"completed", "failed"}:
            return runs
        assert time.monotonic() < deadline, f"no finished execution: {runs}"
        await anyio.sleep(0.05)
