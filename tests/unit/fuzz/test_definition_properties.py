"""Workflow definitions under arbitrary YAML: a WorkflowDefinition or a DefinitionError whose
problems each carry a reason and (when the YAML has one) a line inside the text; never another
exception, never a hang. A valid definition survives its own YAML round trip."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from orchestration.workflows.actions import ACTIONS
from orchestration.workflows.definition import WorkflowDefinition, parse_definition
from orchestration.workflows.errors import DefinitionError
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.strategies import HOSTILE_STRINGS, json_values

VALID = {
    "name": "Big deal alert",
    "category": "retention",
    "trigger": {"type": "event", "event_type": "deal_closed", "condition": "amount > 1000"},
    "primary_platform": "internal",
    "fallback_platform": "n8n",
    "execution_priority": 3,
    "retry_policy": {"max_attempts": 5, "initial_delay_seconds": 30},
    "steps": [
        {"name": "Check", "action": "noop"},
        {"name": "Later", "condition": "steps.check.done == true", "action": "noop"},
    ],
}


# What YAML counts as a line break (a NEL or a Unicode separator starts a new line too).
YAML_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _outcome(text: str) -> WorkflowDefinition | DefinitionError:
    try:
        return parse_definition(text, "fuzz.yaml")
    except DefinitionError as exc:
        return exc


def _check_problems(error: DefinitionError, text: str) -> None:
    lines = len(YAML_LINE_BREAKS.split(text))
    assert error.problems and str(error).startswith("invalid workflow definition")
    for problem in error.problems:
        assert problem.reason
        assert problem.line is None or 1 <= problem.line <= lines, (problem, lines)


FRAGMENTS = st.sampled_from(
    [
        "name: x\n", "trigger: {type: manual}\n", "steps:\n", "  - name: a\n", "    action: noop\n",
        "    condition: 'a >'\n", "  - {name: b, action: wait, duration: 2 days}\n", "- ", ": ",
        "&a ", "*a ", "[", "]", "{", "}", "!!python/object:os.system x\n", "\t", "'", '"',
        "? ", "---\n", "...\n", "%YAML 1.1\n", "<<: *a\n", "\x00", "\ud800", "\ufeff", "#",
        "cron: '0 0 31 2 *'\n", "trigger: {type: schedule, cron: '* * *'}\n",
    ]
)  # fmt: skip
YAML_TEXTS = st.lists(FRAGMENTS, max_size=25).map("".join) | st.text(max_size=200)


@fuzz_settings(max_examples=150)
@given(YAML_TEXTS)
def test_any_text_is_a_definition_or_problems_with_lines(text: str) -> None:
    outcome = _outcome(text)
    if isinstance(outcome, DefinitionError):
        _check_problems(outcome, text)


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of `document` with the value at `path` replaced."""
    copy: Any = yaml.safe_load(yaml.safe_dump(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copy


PATHS: list[tuple[str | int, ...]] = [
    ("name",), ("category",), ("trigger",), ("trigger", "type"), ("trigger", "event_type"),
    ("trigger", "condition"), ("primary_platform",), ("fallback_platform",),
    ("execution_priority",), ("retry_policy",), ("retry_policy", "max_attempts"), ("steps",),
    ("steps", 0), ("steps", 0, "name"), ("steps", 0, "action"), ("steps", 1, "condition"),
    ("steps", 1, "id"), ("error_handling",), ("is_active",),
]  # fmt: skip
HOSTILE = st.sampled_from(
    [*HOSTILE_STRINGS, *sorted(ACTIONS), "a >", "steps.later.x == 1"]
) | json_values(6)


@fuzz_settings(max_examples=100)
@given(st.sampled_from(PATHS), HOSTILE)
def test_one_bad_field_is_reported_at_its_line(path: tuple[str | int, ...], value: Any) -> None:
    try:
        text = yaml.safe_dump(_set(VALID, path, value), allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return  # the YAML library itself cannot write it (e.g. a lone surrogate)
    outcome = _outcome(text)
    if isinstance(outcome, DefinitionError):
        _check_problems(outcome, text)
    else:
        assert outcome.steps and outcome.name


@fuzz_settings(max_examples=60)
@given(st.sampled_from(PATHS), HOSTILE)
def test_valid_definitions_survive_their_yaml_round_trip(
    path: tuple[str | int, ...], value: Any
) -> None:
    try:
        definition = parse_definition(yaml.safe_dump(_set(VALID, path, value)))
    except (DefinitionError, yaml.YAMLError):
        return
    assert parse_definition(definition.to_yaml()) == definition


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 5_000, "nested deeper"),
        ("name: &a [*a]\ntrigger: {type: manual}\nsteps: *a\n", "aliases"),
        (
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
                for p, n in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "name: x\ntrigger: {type: manual}\nsteps: *i\n",
            "aliases",
        ),
        (
            "name: x\ntrigger: {type: schedule, cron: '0 0 31 2 *'}\n"
            "steps: [{name: a, action: noop}]",
            "never fires",
        ),
        ("name: \x00", "line 1"),
    ],
)
def test_hostile_yaml_is_refused_before_it_is_expanded(text: str, reason: str) -> None:
    # Before the shape check the alias bomb ran for minutes and the others hit RecursionError.
    outcome = _outcome(text)
    assert isinstance(outcome, DefinitionError) and reason in str(outcome), outcome
