"""What a RunPlan works out once per step must give each run exactly what preparing the step
from scratch gives: the same checked fields, the same condition outcome, the same failure,
and the same scope for every step that reads it."""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from orchestration.executions import record_from_row
from orchestration.workflows.actions import ACTIONS
from orchestration.workflows.definition import StepSpec
from orchestration.workflows.engine import StepEngine
from orchestration.workflows.run_plan import SCOPE_FREE_ACTIONS, PlannedStep, RunPlan
from orchestration.workflows.scope import build_scope
from orchestration.workflows.services import Services
from orchestration.workflows.step_runner import StepFailure
from tests.unit.orchestration.claimed_events import claimed_event

_NOW = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
_TENANT = uuid.uuid4()

EVENT = claimed_event(
    tenant_id=_TENANT,
    event_id="evt-1",
    event_data={"amount": 1200, "who": "Ann", "city": "Austin"},
    customer_id="c-1",
    created_at=_NOW,
    scheduled_for=_NOW,
)
OUTPUTS: dict[str, Any] = {"analyze": {"score": 91}, "listed": [1, 2]}

STEPS: list[dict[str, Any]] = [
    {"key": "a", "name": "a", "action": "noop"},
    {"key": "a", "name": "a", "action": "noop", "fields": {"note": "hi"}},
    {"key": "a", "name": "a", "action": "noop", "fields": {"note": "hello {{ event.who }}"}},
    {"key": "a", "name": "a", "action": "noop", "fields": {"note": "{{ event.nothing }}"}},
    {"key": "a", "name": "a", "action": "noop", "condition": "amount > 1000"},
    {"key": "a", "name": "a", "action": "noop", "condition": "amount > 5000"},
    {"key": "a", "name": "a", "action": "noop", "condition": "amount >"},
    {"key": "a", "name": "a", "action": "noop", "fields": {"note": 5}},  # bad fields
    {"key": "a", "name": "a", "action": "noop", "fields": {"nope": "x"}},  # unknown field
    {"key": "a", "name": "a", "action": "analyze", "fields": {"kind": "qualify_lead"}},
    {"key": "a", "name": "a", "action": "analyze", "fields": {"kind": "k", "input": "analyze"}},
    {"key": "a", "name": "a", "action": "update_crm", "fields": {"table": "t", "data": {"x": 1}}},
    {
        "key": "a",
        "name": "a",
        "action": "update_crm",
        "fields": {"table": "t", "data": {"s": "{{ steps.analyze.score }}", "n": "{{ amount }}"}},
    },
    {"key": "a", "name": "a", "action": "query_crm", "fields": {"table": "t", "fields": ["x"]}},
    {"key": "a", "name": "a", "action": "query_crm", "fields": {"table": "t", "limit": 5}},
    {
        "key": "a",
        "name": "a",
        "action": "http_request",
        "fields": {"url": "https://example.test/x", "headers": {"A": "b"}, "json": {"k": [1]}},
    },
    {"key": "a", "name": "a", "action": "emit_event", "fields": {"event_type": "x_y"}},
    {
        "key": "a",
        "name": "a",
        "action": "emit_event",
        "fields": {"event_type": "x_y", "priority": "high", "data": "analyze"},
    },
    {"key": "a", "name": "a", "action": "wait", "fields": {"duration": "2 days"}},
    {"key": "a", "name": "a", "action": "wait", "fields": {}},  # refused by its validator
    {
        "key": "a",
        "name": "a",
        "action": "create_activity",
        "condition": "steps.analyze.score > 80",
        "fields": {"type": "call", "due_date": "+3 days"},
    },
]


def _general(step: StepSpec) -> PlannedStep:
    """The step as the engine prepared every step before plans did work once: rendered,
    checked and given a built scope for every run."""
    return PlannedStep(step, ACTIONS.get(step.action), True, None, True)


def _engine() -> StepEngine:
    # _prepare only hands these on to the step's context.
    return StepEngine(
        cast(Any, "db"), Services(), cast(Any, "publisher"), journal=cast(Any, "journal")
    )


def _execution() -> Any:
    return record_from_row(
        {
            "id": uuid.uuid4(),
            "tenant_id": _TENANT,
            "workflow_definition_id": uuid.uuid4(),
            "workflow_version": 2,
            "step_state": {"workflow_name": "W"},
        }
    )


def _prepared(planned: PlannedStep, execution: Any, *, scope: bool) -> dict[str, Any]:
    """What _prepare gives for the step (with its scope if `scope`), or the failure it
    raises."""
    try:
        ctx, fields, run_it = _engine()._prepare(  # pyright: ignore[reportPrivateUsage]
            execution,
            execution.workflow_definition_id,
            EVENT,
            planned,
            ACTIONS[planned.step.action],
            dict(OUTPUTS),
        )
    except StepFailure as failure:
        return {"failure": str(failure), "transient": failure.transient}
    context = {k: v for k, v in vars(ctx).items() if k not in ("scope", "now")}
    return {
        "run_it": run_it,
        "fields": fields,
        "fields_type": type(fields),
        "fields_set": getattr(fields, "model_fields_set", None),
        "context": context,
        "scope": ctx.scope if scope else None,
    }


@pytest.mark.parametrize("raw", STEPS)
def test_a_planned_step_prepares_what_the_general_path_prepares(raw: dict[str, Any]) -> None:
    step = StepSpec.model_validate(raw)
    execution = _execution()
    fast, general = PlannedStep.of(step), _general(step)
    # A step that reads no scope is given an empty one; one that does, the same one.
    reads = fast.reads_scope
    assert _prepared(fast, execution, scope=reads) == _prepared(general, execution, scope=reads)


def test_a_step_that_reads_no_scope_is_one_of_the_scope_free_actions() -> None:
    plain = PlannedStep.of(StepSpec.model_validate(STEPS[1]))
    assert not plain.reads_scope and plain.fixed_fields is not None
    for index in (2, 4, 9, 16):  # a reference, a condition, analyze, emit_event
        assert PlannedStep.of(StepSpec.model_validate(STEPS[index])).reads_scope
    analyze = PlannedStep.of(StepSpec.model_validate(STEPS[9]))
    ctx, _, _ = _engine()._prepare(  # pyright: ignore[reportPrivateUsage]
        _execution(), uuid.uuid4(), EVENT, analyze, ACTIONS["analyze"], {}
    )
    assert ctx.scope == build_scope(EVENT, {})


@pytest.mark.parametrize("action", sorted(SCOPE_FREE_ACTIONS))
def test_scope_free_actions_never_read_the_scope(action: str) -> None:
    # An action added to SCOPE_FREE_ACTIONS, or changed to look names up, fails here.
    source = inspect.getsource(ACTIONS[action].run)
    assert "scope" not in source
    assert "lookup_name" not in source


def test_fields_are_shared_only_when_nothing_in_them_can_change() -> None:
    def planned(index: int) -> PlannedStep:
        return PlannedStep.of(StepSpec.model_validate(STEPS[index]))

    assert planned(0).fixed_fields is not None
    assert planned(16).fixed_fields is not None  # an enum default
    assert planned(2).fixed_fields is None and planned(2).templated  # a reference
    assert planned(11).fixed_fields is None  # a dict value
    assert planned(13).fixed_fields is None  # a list value
    assert planned(15).fixed_fields is None  # dicts in fields
    assert planned(7).fixed_fields is None  # refused: every run fails it again
    assert planned(19).fixed_fields is None


def test_a_plan_works_its_steps_out_once() -> None:
    plan = RunPlan.from_state({"plan": STEPS[:3], "error_handling": {}})
    assert plan.planned is plan.planned
    assert [p.step for p in plan.planned] == list(plan.steps)
    assert plan == RunPlan.from_state({"plan": STEPS[:3], "error_handling": {}})
