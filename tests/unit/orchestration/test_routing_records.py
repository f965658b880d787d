"""The routing record PlatformDispatcher writes for a run only the internal engine was a
candidate for: the same record, key for key and in the same order, as before its internal
paths were split (a new run on an internal-primary definition; a resumed run with and
without an earlier record)."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from orchestration.executions import record_from_row
from orchestration.queue.types import ClaimedEvent
from orchestration.runtime.routing import PlatformDispatcher
from orchestration.workflows.engine import RunResult
from orchestration.workflows.store import StoredDefinition
from tests.unit.orchestration.claimed_events import claimed_event

_NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)


class _Journal:
    def __init__(self, *, unwritten: bool = False) -> None:
        self.unwritten = unwritten  # the handler started the row in this journal
        self.updates: list[tuple[uuid.UUID, dict[str, Any], bool]] = []

    def holds_unwritten(self, execution_id: uuid.UUID) -> bool:
        return self.unwritten

    async def update(self, execution_id: uuid.UUID, *, wait: bool = True, **values: Any) -> None:
        self.updates.append((execution_id, values, wait))


class _Definition:
    primary_platform = "internal"
    fallback_platform = None
    name = "W"


class _Stored:
    definition = _Definition()


def _event() -> ClaimedEvent:
    return claimed_event(event_id="e", created_at=_NOW, scheduled_for=_NOW)


PREVIOUS = {
    "platform": "internal",
    "order": ["internal"],
    "skipped": {},
    "reason": "primary platform is internal",
    "ran_on": "internal",
    "attempts": [{"platform": "internal", "outcome": "retrying"}],
    "failed_over": False,
}


def _fresh(reason: str, outcome: str) -> dict[str, Any]:
    return {
        "platform": "internal",
        "order": ["internal"],
        "skipped": {},
        "reason": reason,
        "ran_on": "internal",
        "attempts": [{"platform": "internal", "outcome": outcome}],
        "failed_over": False,
    }


CASES = [
    # A new run: the handler's pending record says no platform was chosen yet.
    (
        {"platform": None, "primary": "internal", "fallback": None, "reason": "routing: ..."},
        {},
        "completed",
        _fresh("primary platform is internal", "completed"),
    ),
    # Checkpoints exist but no record does (an execution from before routing).
    (
        None,
        {"steps": {"a": {"status": "completed"}}},
        "failed",
        _fresh("execution already started on the internal engine; resumed there", "failed"),
    ),
    # A retried internal run: its record gains this attempt.
    (
        PREVIOUS,
        {"steps": {"a": {"status": "completed"}}},
        "completed",
        {
            **PREVIOUS,
            "attempts": [
                {"platform": "internal", "outcome": "retrying"},
                {"platform": "internal", "outcome": "completed"},
            ],
            "ran_on": "internal",
        },
    ),
]


@pytest.mark.parametrize(("routing", "state", "status", "expected"), CASES)
async def test_an_internal_run_records_the_routing_it_always_recorded(
    routing: dict[str, Any] | None, state: dict[str, Any], status: Any, expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(routing)
    journal = _Journal()
    dispatcher = PlatformDispatcher(cast(Any, None), cast(Any, None), cast(Any, journal))
    execution = record_from_row(
        {"id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "routing": routing, "step_state": state}
    )
    ran = RunResult(status)

    async def run_internal() -> RunResult:
        return ran

    result = await dispatcher(
        cast(StoredDefinition, _Stored()), _event(), execution, run_internal, last_attempt=False
    )

    assert result is ran
    ((written_id, values, waited),) = journal.updates
    assert written_id == execution.id and waited  # used alone, it writes the record itself
    assert values == {"routing": expected}
    assert list(values["routing"]) == list(expected)  # the stored JSON's key order too
    assert routing == before  # the execution's own record is not changed


async def test_a_new_runs_record_goes_with_the_handlers_row() -> None:
    """The handler started the row and never wrote it: the record joins its pending values
    (the handler hands them to the queue) instead of inserting the row on its own."""
    journal = _Journal(unwritten=True)
    dispatcher = PlatformDispatcher(cast(Any, None), cast(Any, None), cast(Any, journal))
    routing, state, status, expected = CASES[0]
    execution = record_from_row(
        {"id": uuid.uuid4(), "tenant_id": uuid.uuid4(), "routing": routing, "step_state": state}
    )

    async def run_internal() -> RunResult:
        return RunResult(status)

    await dispatcher(
        cast(StoredDefinition, _Stored()), _event(), execution, run_internal, last_attempt=False
    )

    assert journal.updates == [(execution.id, {"routing": expected}, False)]
