"""The exact workflow_executions rows and handler outcomes the worker's workflow path makes.

The expected rows (ROWS) and outcomes (OUTCOMES) were recorded from the handler, engine,
router and journal as they were before their per-event CPU was cut (SQLAlchemy executemany
writes, per-event plan parsing): every column, JSON columns as their stored text (JSON
'null' is not SQL NULL), with only ids, clock readings and durations replaced by
placeholders. The scenarios run through the runtime's wiring (PlatformDispatcher) on SQLite
and Postgres, and on Postgres also with the journal's SQLAlchemy path forced, so the
asyncpg fast path is compared with the path it replaced in the same test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from orchestration.execution_journal import ExecutionJournal
from orchestration.queue.types import ClaimedEvent, HandlerOutcome
from orchestration.runtime.routing import PlatformDispatcher, pending_routing
from orchestration.runtime.tools import WorkerTools
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.store import save_definition
from shared.crypto import cipher_from_settings
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_executions
from tests.integration.workflows.fakes import claimed, fake_services, queued_event

# The routing record of a run that stayed on the internal engine and completed.
INTERNAL_RUN: dict[str, Any] = {
    "order": ["internal"],
    "ran_on": "internal",
    "reason": "primary platform is internal",
    "skipped": {},
    "attempts": [{"outcome": "completed", "platform": "internal"}],
    "platform": "internal",
    "failed_over": False,
}

NOOP = """name: bench noop
trigger: {type: event, event_type: deal_closed}
steps:
  - name: nothing
    action: noop
"""

PIPELINE = """name: Qualify
trigger: {type: event, event_type: prospect_identified, condition: "rating >= 3"}
retry_policy: {max_attempts: 3, initial_delay_seconds: 5, jitter: false}
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

LENIENT = """name: Lenient
trigger: {type: event, event_type: churn_risk_detected}
error_handling: {on_step_failure: continue}
steps:
  - {name: first, action: noop, note: "hello {{ event.who }}"}
  - {name: broken, action: noop, note: "{{ event.nothing_here }}"}
  - {name: last, action: noop}
"""

STRICT = """name: Strict
trigger: {type: event, event_type: customer_onboarded}
steps:
  - {name: tell, action: update_crm, table: t, data: {x: 1}}
  - {name: check budget, condition: 'event.budget > 1000', action: analyze, kind: k}
"""

WAITING = """name: Reminder
trigger: {type: event, event_type: lead_qualified}
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

CUSTOMER = "6f1d2c0e-8a4b-4c1e-9d7a-2b3c4d5e6f70"

# Keys whose values are clock readings or durations (in JSON and as columns).
_CLOCK_KEYS = {
    "finished_at",
    "at",
    "created_at",
    "active_ms",
    "resume_at",
    "waited_until",
    "started_at",
    "completed_at",
    "execution_time_ms",
    "memory_usage_mb",
    "retry_at",
}


class _Ids:
    """Replaces each distinct uuid (or id-bearing string) with its order of appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        return self.seen.setdefault(value, f"<id{len(self.seen)}>")

    def text(self, value: str) -> str:
        for raw, placeholder in self.seen.items():
            value = value.replace(raw, placeholder)
        return value


def _normal(value: Any, ids: _Ids, key: str | None = None) -> Any:
    if key in _CLOCK_KEYS and value is not None:
        return "<clock>"
    if isinstance(value, dict):
        return {k: _normal(v, ids, k) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_normal(v, ids) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, uuid.UUID):
        return ids(str(value))
    if isinstance(value, str):
        return ids.text(value)
    return value


async def _rows(db: Database, ids: _Ids) -> list[dict[str, Any]]:
    x = workflow_executions
    json_columns = {"execution_result", "error_details", "routing", "step_state"}
    as_text = [sa.cast(c, sa.Text()).label(c.name) if c.name in json_columns else c for c in x.c]
    async with db.engine.connect() as conn:
        found = (await conn.execute(sa.select(*as_text).order_by(x.c.created_at))).mappings()
        rows = [dict(r) for r in found]
    out: list[dict[str, Any]] = []
    for row in rows:
        for column in (
            "id",
            "tenant_id",
            "workflow_definition_id",
            "trigger_event_id",
            "customer_id",
        ):
            if row[column] is not None:
                ids(str(row[column]))
    for row in rows:
        shown: dict[str, Any] = {}
        for column, value in row.items():
            if column in json_columns and value is not None:
                # 'null' (JSON) stays apart from None (SQL NULL); key order as stored.
                value = {"json": json.loads(value)} if value != "null" else "JSON null"
            shown[column] = _normal(value, ids, column)
        out.append(shown)
    return out


def _outcome(outcome: HandlerOutcome, ids: _Ids) -> dict[str, Any]:
    return _normal(
        {
            "kind": outcome.kind.value,
            "result": outcome.result,
            "error": outcome.error,
            "retry_at": outcome.retry_at,
        },
        ids,
    )


@pytest.fixture
async def wired(db: Database) -> AsyncIterator[tuple[Database, httpx.AsyncClient]]:
    async with httpx.AsyncClient() as client:
        yield db, client


def _handler(db: Database, client: httpx.AsyncClient, *, sqlalchemy_path: bool) -> Any:
    """The runtime's wiring (orchestration.runtime.build) with fake step services."""
    services, _, clickup = fake_services()
    clickup.transient_failures = 1  # the pipeline's ClickUp step fails once, transiently
    journal = ExecutionJournal(db)
    if sqlalchemy_path:
        journal._writes = None  # pyright: ignore[reportPrivateUsage]
    tools = WorkerTools(db, lambda: cipher_from_settings(None), client)
    return WorkflowEventHandler(
        db,
        services,
        router=pending_routing,
        dispatch=PlatformDispatcher(db, tools, journal),
        journal=journal,
    )


async def _acknowledged(handler: WorkflowEventHandler, event: ClaimedEvent) -> HandlerOutcome:
    """The handler's answer, with the executions it handed over inserted as the queue's
    acknowledgement would (that statement writes the same values:
    tests/integration/queue/test_executions_with_ack.py)."""
    outcome = await handler(event)
    await handler.journal.insert(list(outcome.executions))
    return outcome


async def _scenarios(
    db: Database, client: httpx.AsyncClient, tenant_id: uuid.UUID, *, sqlalchemy_path: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    for document in (NOOP, PIPELINE, LENIENT, STRICT, WAITING):
        await save_definition(db, tenant_id, document)
    handler = _handler(db, client, sqlalchemy_path=sqlalchemy_path)
    events: list[ClaimedEvent] = [
        replace(claimed(tenant_id, "deal_closed", {"amount": 1200}), customer_id=CUSTOMER),
        claimed(tenant_id, "prospect_identified", {"rating": 5, "city": "Austin", "name": "B"}),
        claimed(tenant_id, "churn_risk_detected", {"who": "Ann"}),
        claimed(tenant_id, "customer_onboarded", {"budget": "lots"}),
        claimed(tenant_id, "lead_qualified", {}),
    ]
    outcomes = [await _acknowledged(handler, event) for event in events]
    # The transiently failed pipeline, delivered again: it resumes at the failed step.
    retry = events[1]
    outcomes.append(
        await _acknowledged(
            handler,
            claimed(tenant_id, retry.event_type, retry.event_data, queue_id=retry.id, attempts=2),
        )
    )
    # The parked reminder's resume event.
    outcomes.append(await _acknowledged(handler, await queued_event(db, "workflow_resume")))
    ids = _Ids()
    ids(str(tenant_id))
    rows = await _rows(db, ids)
    return rows, [_outcome(o, ids) for o in outcomes]


async def test_the_workflow_path_writes_the_recorded_rows_and_outcomes(
    wired: tuple[Database, httpx.AsyncClient], tenant_id: uuid.UUID
) -> None:
    db, client = wired
    rows, outcomes = await _scenarios(db, client, tenant_id, sqlalchemy_path=False)
    assert outcomes == OUTCOMES
    assert rows == ROWS


async def test_the_journal_sqlalchemy_path_writes_the_same_rows(
    postgres_db: Database,
) -> None:
    from shared.tenants import create_tenant

    tenant_id = (await create_tenant(postgres_db, "sqlalchemy-path")).id
    async with httpx.AsyncClient() as client:
        rows, outcomes = await _scenarios(postgres_db, client, tenant_id, sqlalchemy_path=True)
    assert outcomes == OUTCOMES
    assert rows == ROWS


ROWS: list[dict[str, Any]] = [
    {
        "id": "<id1>",
        "workflow_definition_id": "<id2>",
        "tenant_id": "<id0>",
        "trigger_event_id": "<id3>",
        "execution_platform": "internal",
        "customer_id": "<id4>",
        "status": "completed",
        "started_at": "<clock>",
        "completed_at": "<clock>",
        "execution_result": {
            "json": {"outputs": {"nothing": {}}, "skipped": [], "failed_steps": []}
        },
        "error_details": "JSON null",
        "retry_count": 0,
        "execution_time_ms": "<clock>",
        "memory_usage_mb": "<clock>",
        "external_api_calls": 0,
        "created_at": "<clock>",
        "workflow_version": 1,
        "routing": {"json": INTERNAL_RUN},
        "step_state": {
            "json": {
                "plan": [
                    {
                        "key": "nothing",
                        "name": "nothing",
                        "action": "noop",
                        "fields": {},
                        "condition": None,
                    }
                ],
                "event": {
                    "event_id": "evt-<id3>",
                    "created_at": "<clock>",
                    "event_data": {"amount": 1200},
                    "event_type": "deal_closed",
                    "chain_depth": 0,
                    "customer_id": "<id4>",
                    "event_source": "crm",
                },
                "steps": {
                    "nothing": {"output": {}, "status": "completed", "finished_at": "<clock>"}
                },
                "active_ms": "<clock>",
                "workflow_id": "<id2>",
                "retry_policy": {
                    "jitter": True,
                    "multiplier": 2.0,
                    "max_attempts": 3,
                    "max_delay_seconds": 3600.0,
                    "initial_delay_seconds": 10.0,
                },
                "workflow_name": "bench noop",
                "error_handling": {"on_step_failure": "fail"},
            }
        },
        "resume_at": None,
    },
    {
        "id": "<id5>",
        "workflow_definition_id": "<id6>",
        "tenant_id": "<id0>",
        "trigger_event_id": "<id7>",
        "execution_platform": "internal",
        "customer_id": None,
        "status": "completed",
        "started_at": "<clock>",
        "completed_at": "<clock>",
        "execution_result": {
            "json": {
                "outputs": {
                    "analyze": {"kind": "qualify_lead", "score": 100},
                    "save_score": {
                        "note": "scored 100 for Austin",
                        "score": 100,
                        "updated": "ai_lead_qualification",
                    },
                    "hot_lead_task": {"name": "Call B", "task_id": "t2"},
                },
                "skipped": ["nurture"],
                "failed_steps": [],
            }
        },
        "error_details": "JSON null",
        "retry_count": 1,
        "execution_time_ms": "<clock>",
        "memory_usage_mb": "<clock>",
        "external_api_calls": 2,
        "created_at": "<clock>",
        "workflow_version": 1,
        "routing": {
            "json": {
                "order": ["internal"],
                "ran_on": "internal",
                "reason": "primary platform is internal",
                "skipped": {},
                "attempts": [
                    {"outcome": "retrying", "platform": "internal"},
                    {"outcome": "completed", "platform": "internal"},
                ],
                "platform": "internal",
                "failed_over": False,
            }
        },
        "step_state": {
            "json": {
                "plan": [
                    {
                        "key": "analyze",
                        "name": "analyze",
                        "action": "analyze",
                        "fields": {"kind": "qualify_lead"},
                        "condition": None,
                    },
                    {
                        "key": "save_score",
                        "name": "save score",
                        "action": "update_crm",
                        "fields": {
                            "data": {
                                "note": "scored {{ steps.analyze.score }} for {{ event.city }}",
                                "score": "{{ steps.analyze.score }}",
                            },
                            "table": "ai_lead_qualification",
                        },
                        "condition": None,
                    },
                    {
                        "key": "hot_lead_task",
                        "name": "hot lead task",
                        "action": "create_clickup_task",
                        "fields": {
                            "project": "qualified_prospects",
                            "task_name": "Call {{ event.name }}",
                        },
                        "condition": "steps.analyze.score > 80",
                    },
                    {
                        "key": "nurture",
                        "name": "nurture",
                        "action": "create_activity",
                        "fields": {"type": "nurture_email"},
                        "condition": "score <= 80",
                    },
                ],
                "event": {
                    "event_id": "evt-<id7>",
                    "created_at": "<clock>",
                    "event_data": {"city": "Austin", "name": "B", "rating": 5},
                    "event_type": "prospect_identified",
                    "chain_depth": 0,
                    "customer_id": "cust-1",
                    "event_source": "crm",
                },
                "steps": {
                    "analyze": {
                        "output": {"kind": "qualify_lead", "score": 100},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                    "nurture": {"status": "skipped", "finished_at": "<clock>"},
                    "save_score": {
                        "output": {
                            "note": "scored 100 for Austin",
                            "score": 100,
                            "updated": "ai_lead_qualification",
                        },
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                    "hot_lead_task": {
                        "output": {"name": "Call B", "task_id": "t2"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                },
                "active_ms": "<clock>",
                "workflow_id": "<id6>",
                "retry_policy": {
                    "jitter": False,
                    "multiplier": 2.0,
                    "max_attempts": 3,
                    "max_delay_seconds": 3600.0,
                    "initial_delay_seconds": 5.0,
                },
                "workflow_name": "Qualify",
                "error_handling": {"on_step_failure": "fail"},
            }
        },
        "resume_at": None,
    },
    {
        "id": "<id8>",
        "workflow_definition_id": "<id9>",
        "tenant_id": "<id0>",
        "trigger_event_id": "<id10>",
        "execution_platform": "internal",
        "customer_id": None,
        "status": "completed",
        "started_at": "<clock>",
        "completed_at": "<clock>",
        "execution_result": {
            "json": {
                "outputs": {"last": {}, "first": {"note": "hello Ann"}},
                "skipped": [],
                "failed_steps": ["broken"],
            }
        },
        "error_details": "JSON null",
        "retry_count": 0,
        "execution_time_ms": "<clock>",
        "memory_usage_mb": "<clock>",
        "external_api_calls": 0,
        "created_at": "<clock>",
        "workflow_version": 1,
        "routing": {"json": INTERNAL_RUN},
        "step_state": {
            "json": {
                "plan": [
                    {
                        "key": "first",
                        "name": "first",
                        "action": "noop",
                        "fields": {"note": "hello {{ event.who }}"},
                        "condition": None,
                    },
                    {
                        "key": "broken",
                        "name": "broken",
                        "action": "noop",
                        "fields": {"note": "{{ event.nothing_here }}"},
                        "condition": None,
                    },
                    {
                        "key": "last",
                        "name": "last",
                        "action": "noop",
                        "fields": {},
                        "condition": None,
                    },
                ],
                "event": {
                    "event_id": "evt-<id10>",
                    "created_at": "<clock>",
                    "event_data": {"who": "Ann"},
                    "event_type": "churn_risk_detected",
                    "chain_depth": 0,
                    "customer_id": "cust-1",
                    "event_source": "crm",
                },
                "steps": {
                    "last": {"output": {}, "status": "completed", "finished_at": "<clock>"},
                    "first": {
                        "output": {"note": "hello Ann"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                    "broken": {
                        "error": {
                            "at": "<clock>",
                            "step": "broken",
                            "action": "noop",
                            "message": "'{{ event.nothing_here }}' has no value in this execution",
                            "step_key": "broken",
                            "transient": False,
                        },
                        "status": "failed",
                    },
                },
                "active_ms": "<clock>",
                "workflow_id": "<id9>",
                "retry_policy": {
                    "jitter": True,
                    "multiplier": 2.0,
                    "max_attempts": 3,
                    "max_delay_seconds": 3600.0,
                    "initial_delay_seconds": 10.0,
                },
                "workflow_name": "Lenient",
                "error_handling": {"on_step_failure": "continue"},
            }
        },
        "resume_at": None,
    },
    {
        "id": "<id11>",
        "workflow_definition_id": "<id12>",
        "tenant_id": "<id0>",
        "trigger_event_id": "<id13>",
        "execution_platform": "internal",
        "customer_id": None,
        "status": "failed",
        "started_at": "<clock>",
        "completed_at": "<clock>",
        "execution_result": None,
        "error_details": {
            "json": {
                "at": "<clock>",
                "step": "check budget",
                "action": "analyze",
                "message": "condition: cannot compare a string with a number "
                "using '>' at column 14\n"
                "  event.budget > 1000\n"
                "               ^",
                "step_key": "check_budget",
                "transient": False,
            }
        },
        "retry_count": 0,
        "execution_time_ms": "<clock>",
        "memory_usage_mb": "<clock>",
        "external_api_calls": 0,
        "created_at": "<clock>",
        "workflow_version": 1,
        "routing": {
            "json": {
                "order": ["internal"],
                "ran_on": "internal",
                "reason": "primary platform is internal",
                "skipped": {},
                "attempts": [{"outcome": "failed", "platform": "internal"}],
                "platform": "internal",
                "failed_over": False,
            }
        },
        "step_state": {
            "json": {
                "plan": [
                    {
                        "key": "tell",
                        "name": "tell",
                        "action": "update_crm",
                        "fields": {"data": {"x": 1}, "table": "t"},
                        "condition": None,
                    },
                    {
                        "key": "check_budget",
                        "name": "check budget",
                        "action": "analyze",
                        "fields": {"kind": "k"},
                        "condition": "event.budget > 1000",
                    },
                ],
                "event": {
                    "event_id": "evt-<id13>",
                    "created_at": "<clock>",
                    "event_data": {"budget": "lots"},
                    "event_type": "customer_onboarded",
                    "chain_depth": 0,
                    "customer_id": "cust-1",
                    "event_source": "crm",
                },
                "steps": {
                    "tell": {
                        "output": {"x": 1, "updated": "t"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    }
                },
                "active_ms": "<clock>",
                "workflow_id": "<id12>",
                "retry_policy": {
                    "jitter": True,
                    "multiplier": 2.0,
                    "max_attempts": 3,
                    "max_delay_seconds": 3600.0,
                    "initial_delay_seconds": 10.0,
                },
                "workflow_name": "Strict",
                "error_handling": {"on_step_failure": "fail"},
            }
        },
        "resume_at": None,
    },
    {
        "id": "<id14>",
        "workflow_definition_id": "<id15>",
        "tenant_id": "<id0>",
        "trigger_event_id": "<id16>",
        "execution_platform": "internal",
        "customer_id": None,
        "status": "completed",
        "started_at": "<clock>",
        "completed_at": "<clock>",
        "execution_result": {
            "json": {
                "outputs": {
                    "sms": {"name": "Reminder: cust-1", "task_id": "t3"},
                    "email": {"channel": "email", "updated": "campaign_sends"},
                    "pause": {"waited_until": "<clock>"},
                },
                "skipped": [],
                "failed_steps": [],
            }
        },
        "error_details": "JSON null",
        "retry_count": 0,
        "execution_time_ms": "<clock>",
        "memory_usage_mb": "<clock>",
        "external_api_calls": 1,
        "created_at": "<clock>",
        "workflow_version": 1,
        "routing": {
            "json": {
                "order": ["internal"],
                "ran_on": "internal",
                "reason": "primary platform is internal",
                "skipped": {},
                "attempts": [{"outcome": "waiting", "platform": "internal"}],
                "platform": "internal",
                "failed_over": False,
            }
        },
        "step_state": {
            "json": {
                "plan": [
                    {
                        "key": "email",
                        "name": "email",
                        "action": "update_crm",
                        "fields": {"data": {"channel": "email"}, "table": "campaign_sends"},
                        "condition": None,
                    },
                    {
                        "key": "pause",
                        "name": "pause",
                        "action": "wait",
                        "fields": {"duration": "2 days"},
                        "condition": None,
                    },
                    {
                        "key": "sms",
                        "name": "sms",
                        "action": "create_clickup_task",
                        "fields": {"project": "reminders"},
                        "condition": None,
                    },
                ],
                "event": {
                    "event_id": "evt-<id16>",
                    "created_at": "<clock>",
                    "event_data": {},
                    "event_type": "lead_qualified",
                    "chain_depth": 0,
                    "customer_id": "cust-1",
                    "event_source": "crm",
                },
                "steps": {
                    "sms": {
                        "output": {"name": "Reminder: cust-1", "task_id": "t3"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                    "email": {
                        "output": {"channel": "email", "updated": "campaign_sends"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                    "pause": {
                        "output": {"waited_until": "<clock>"},
                        "status": "completed",
                        "finished_at": "<clock>",
                    },
                },
                "active_ms": "<clock>",
                "workflow_id": "<id15>",
                "retry_policy": {
                    "jitter": True,
                    "multiplier": 2.0,
                    "max_attempts": 3,
                    "max_delay_seconds": 3600.0,
                    "initial_delay_seconds": 10.0,
                },
                "workflow_name": "Reminder",
                "error_handling": {"on_step_failure": "fail"},
            }
        },
        "resume_at": None,
    },
]

OUTCOMES: list[dict[str, Any]] = [
    {
        "kind": "completed",
        "result": {
            "executions": [
                {
                    "workflow": "bench noop",
                    "execution_id": "<id1>",
                    "version": 1,
                    "status": "completed",
                }
            ]
        },
        "error": None,
        "retry_at": None,
    },
    {
        "kind": "retry",
        "result": {
            "executions": [
                {"workflow": "Qualify", "execution_id": "<id5>", "version": 1, "status": "retrying"}
            ]
        },
        "error": {
            "message": "Qualify: step 'hot lead task': ClickUp answered 503",
            "executions": [
                {
                    "workflow": "Qualify",
                    "step": "hot lead task",
                    "step_key": "hot_lead_task",
                    "action": "create_clickup_task",
                    "message": "ClickUp answered 503",
                    "transient": True,
                    "at": "<clock>",
                }
            ],
        },
        "retry_at": "<clock>",
    },
    {
        "kind": "completed",
        "result": {
            "executions": [
                {
                    "workflow": "Lenient",
                    "execution_id": "<id8>",
                    "version": 1,
                    "status": "completed",
                }
            ]
        },
        "error": None,
        "retry_at": None,
    },
    {
        "kind": "failed",
        "result": {
            "executions": [
                {"workflow": "Strict", "execution_id": "<id11>", "version": 1, "status": "failed"}
            ],
            "refused": [],
        },
        "error": {
            "message": "Strict: step 'check budget': condition: cannot compare a string with "
            "a number using '>' at column 14\n"
            "  event.budget > 1000\n"
            "               ^",
            "executions": [
                {
                    "workflow": "Strict",
                    "step": "check budget",
                    "step_key": "check_budget",
                    "action": "analyze",
                    "message": "condition: cannot compare a string with a number "
                    "using '>' at column 14\n"
                    "  event.budget > 1000\n"
                    "               ^",
                    "transient": False,
                    "at": "<clock>",
                }
            ],
            "refused": [],
        },
        "retry_at": None,
    },
    {
        "kind": "completed",
        "result": {
            "executions": [
                {
                    "workflow": "Reminder",
                    "execution_id": "<id14>",
                    "version": 1,
                    "status": "waiting",
                }
            ]
        },
        "error": None,
        "retry_at": None,
    },
    {
        "kind": "completed",
        "result": {
            "executions": [
                {
                    "workflow": "Qualify",
                    "execution_id": "<id5>",
                    "version": 1,
                    "status": "completed",
                }
            ]
        },
        "error": None,
        "retry_at": None,
    },
    {
        "kind": "completed",
        "result": {
            "executions": [
                {
                    "workflow": "Reminder",
                    "execution_id": "<id14>",
                    "version": 1,
                    "status": "completed",
                }
            ]
        },
        "error": None,
        "retry_at": None,
    },
]
