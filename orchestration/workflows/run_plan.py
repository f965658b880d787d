"""An execution's steps as the engine runs them, with what is constant per step worked out
once per plan (the handler keeps one plan per loaded definition) instead of once per event.

Per step, once: its action's spec; whether its fields hold any `{{ }}` text (only then are
they rendered against the scope for each run); its checked fields themselves when they
hold no reference and only plain values (validated once and shared by every run, which is
safe because nothing in them can be changed in place); and whether the step reads the
execution's scope at all (a condition, a reference, or an action that may look a name up:
`lookup_name`). A step that reads none is run with an empty scope.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, cast

from pydantic import ValidationError

from orchestration.workflows.actions import ACTIONS
from orchestration.workflows.actions.base import ActionFields, ActionSpec
from orchestration.workflows.conditions import Condition, parse_condition
from orchestration.workflows.definition import ErrorHandling, StepSpec

__all__ = ["SCOPE_FREE_ACTIONS", "PlannedStep", "RunPlan", "condition_of"]

# Actions whose code never reads `ctx.scope` (no `lookup_name`): a step of one of these
# with no condition and no reference is run with an empty scope instead of a built one.
# tests/unit/orchestration/workflows/test_run_plan.py checks their source for it.
SCOPE_FREE_ACTIONS = frozenset({"noop"})

# Values a checked field may hold for the fields to be shared by every run: none of them can
# be changed in place.
_UNCHANGEABLE = (
    str,
    int,
    float,
    bool,
    type(None),
    enum.Enum,
    Decimal,
    uuid.UUID,
    date,
    time,
    timedelta,
)


@functools.lru_cache(maxsize=1024)
def condition_of(source: str) -> Condition:
    """`parse_condition`, once per distinct text (a parsed condition is never changed)."""
    return parse_condition(source)


@dataclass(frozen=True)
class PlannedStep:
    step: StepSpec
    action: ActionSpec | None  # None: not registered in this worker (run looks it up again)
    templated: bool  # some text in its fields holds "{{": rendered for each run
    fixed_fields: ActionFields | None  # checked once: no reference, only plain values
    reads_scope: bool  # a condition, a reference, or an action that may look names up

    @classmethod
    def of(cls, step: StepSpec) -> PlannedStep:
        action = ACTIONS.get(step.action)
        templated = _holds_template(step.fields)
        fixed: ActionFields | None = None
        if action is not None and not templated and _plain(step.fields):
            try:
                checked = action.fields.model_validate(step.fields)
            except ValidationError:
                pass  # a run checks them again and fails the step with the reason
            else:
                if all(isinstance(v, _UNCHANGEABLE) for v in vars(checked).values()):
                    fixed = checked
        reads_scope = (
            step.condition is not None or templated or step.action not in SCOPE_FREE_ACTIONS
        )
        return cls(step, action, templated, fixed, reads_scope)


@dataclass(frozen=True)
class RunPlan:
    """An execution's steps and error handling, parsed from what its step_state recorded."""

    steps: tuple[StepSpec, ...]
    error_handling: ErrorHandling

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RunPlan:
        """From a step_state (or a definition's run_plan, which a new step_state copies)."""
        return cls(
            tuple(StepSpec.model_validate(s) for s in state.get("plan", [])),
            ErrorHandling.model_validate(state.get("error_handling") or {}),
        )

    @cached_property
    def planned(self) -> tuple[PlannedStep, ...]:
        """The steps with what is constant about each worked out (made on first run)."""
        return tuple(PlannedStep.of(step) for step in self.steps)


def _holds_template(value: Any) -> bool:
    """Whether any text in a field value (inside dicts and lists too) holds "{{"."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, Mapping):
        return any(_holds_template(v) for v in cast(Mapping[Any, Any], value).values())
    if isinstance(value, list):
        return any(_holds_template(v) for v in cast(list[Any], value))
    return False


def _plain(fields: Mapping[str, Any]) -> bool:
    """Only unchangeable values, so checking them once gives what each run's copy would."""
    return all(isinstance(v, _UNCHANGEABLE) for v in fields.values())
