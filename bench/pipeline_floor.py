"""The least a whole-pipeline worker on Switchboard's tables can do per event: the reference
row that bench/pipeline.py prints beside pgqueuer and `switchboard worker`.

Per event it does the writes the issue's pipeline names, and nothing else: the same claim
statement as `switchboard worker` (fair per tenant, SKIP LOCKED; planned with the same
settings), one workflow_executions row with the same columns and a step_state of the same
shape for each matching active definition, and the event completed with its result, the
last two in one statement as the worker writes them (queue/pg_complete.py). Raw asyncpg,
two claim-then-write loops per process on connections of their own (one claims while the
other waits on its commit). Left out, because this is a
floor and not a worker: leases kept alive, handler timeouts, retries and dead letters,
routing and failover, the
step engine, trigger conditions, chains, metrics, LISTEN (it polls every few ms).

So the gap between this row and pgqueuer is what the tables' own work costs, and the gap
between this row and ours is what the worker's features cost in Python.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import pydantic_core
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg

from orchestration.queue.claim import CLAIM_POSTGRES, QUEUE_PLANNER_SETTINGS
from orchestration.queue.pg_complete import CompletionStatements, complete_postgres

_CLAIM = CLAIM_POSTGRES
# The definition every whole-pipeline bench drains with: one internal no-op step.
ONE_STEP_WORKFLOW = """\
name: bench_noop
trigger:
  type: event
  event_type: deal_closed
primary_platform: internal
steps:
  - name: nothing
    action: noop
"""
ACTIVE_DEFINITIONS = """
SELECT id, tenant_id, name, version, trigger_conditions->>'event_type' AS event_type,
       workflow_steps, retry_policy, error_handling
  FROM workflow_definitions
 WHERE is_active AND trigger_type = 'event'
"""
# The same records `switchboard worker` writes for a one-step internal run.
_ROUTING: dict[str, Any] = {
    "order": ["internal"],
    "ran_on": "internal",
    "reason": "primary platform is internal",
    "skipped": {},
    "attempts": [{"outcome": "completed", "platform": "internal"}],
    "platform": "internal",
    "failed_over": False,
}

Definitions = dict[tuple[uuid.UUID, str], list[asyncpg.Record]]


def _json(value: Any) -> Any:
    return pydantic_core.from_json(value) if isinstance(value, str) else value


def batch_writes(
    rows: list[asyncpg.Record], definitions: Definitions
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The execution rows and the events' results for one claimed batch."""
    executions: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for event in rows:
        snapshot = {
            "event_id": event["event_id"],
            "event_type": event["event_type"],
            "event_data": _json(event["event_data"]),
            "customer_id": event["customer_id"],
            "created_at": event["created_at"].isoformat(),
            "chain_depth": event["chain_depth"],
            "event_source": event["event_source"],
        }
        summary: list[dict[str, Any]] = []
        for definition in definitions.get((event["tenant_id"], event["event_type"]), ()):
            steps = _json(definition["workflow_steps"])
            now = datetime.now(UTC)
            stamp = now.isoformat()
            state = {
                "workflow_name": definition["name"],
                "workflow_id": str(definition["id"]),
                "plan": steps,
                "event": snapshot,
                "steps": {
                    str(step["name"]): {"output": {}, "status": "completed", "finished_at": stamp}
                    for step in steps
                },
                "active_ms": 0,
                "retry_policy": _json(definition["retry_policy"]),
                "error_handling": _json(definition["error_handling"]),
            }
            execution_id = uuid.uuid4()
            executions.append(
                {
                    "id": execution_id,
                    "workflow_definition_id": definition["id"],
                    "tenant_id": event["tenant_id"],
                    "trigger_event_id": event["id"],
                    "customer_id": None,
                    "execution_platform": "internal",
                    "status": "completed",
                    "started_at": now,
                    "completed_at": now,
                    "workflow_version": definition["version"],
                    "routing": _ROUTING,
                    "retry_count": 0,
                    "external_api_calls": 0,
                    "step_state": state,
                    "execution_result": {
                        "outputs": {name: {} for name in state["steps"]},
                        "skipped": [],
                        "failed_steps": [],
                    },
                    "execution_time_ms": 0,
                }
            )
            summary.append(
                {
                    "workflow": definition["name"],
                    "execution_id": str(execution_id),
                    "version": definition["version"],
                    "status": "completed",
                }
            )
        results.append({"executions": summary})
    return executions, results


LOOPS = 2  # claim-then-write loops per process, each on its own connection


async def run_floor_worker(url: str, batch: int) -> None:
    """Drain the queue until SIGTERM with LOOPS loops, each claiming a batch and writing it
    in one statement on its own connection (while one loop waits on its commit, the other
    claims); prints "ready" once connected."""
    connections: list[Any] = [
        await asyncpg.connect(url, server_settings=dict(QUEUE_PLANNER_SETTINGS))
        for _ in range(LOOPS)
    ]
    definitions: Definitions = {}
    for row in await connections[0].fetch(ACTIVE_DEFINITIONS):
        definitions.setdefault((row["tenant_id"], row["event_type"]), []).append(row)
    worker_id = f"floor:{uuid.uuid4().hex[:8]}"
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    statements = CompletionStatements(postgresql_asyncpg.dialect())

    async def loop(conn: Any) -> None:
        claim = await conn.prepare(_CLAIM)
        while not stop.is_set():
            rows = await claim.fetch(datetime.now(UTC), worker_id, batch, batch)
            if not rows:
                await asyncio.sleep(0.005)
                continue
            executions, results = batch_writes(rows, definitions)
            done = [
                (row["id"], row["attempts"], result)
                for row, result in zip(rows, results, strict=True)
            ]
            await complete_postgres(
                conn,
                worker_id=worker_id,
                now=datetime.now(UTC),
                done=done,
                executions=executions,
                statements=statements,
            )

    tasks = [asyncio.create_task(loop(conn)) for conn in connections]
    print("ready", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for conn in connections:
        await conn.close()
