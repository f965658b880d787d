"""Workflow definitions: the pydantic model and the YAML format (the spec's templates, extended).

    name: "Churn Prevention Automation"
    category: retention
    trigger: {type: schedule, frequency: daily}      # or cron: "0 6 * * 1-5"
    primary_platform: internal                        # internal | n8n | make
    execution_priority: 3                             # 1 (first) .. 10
    retry_policy: {max_attempts: 5, initial_delay_seconds: 30}
    error_handling: {on_step_failure: fail}
    steps:
      - name: "Detect At-Risk Customers"
        action: query_crm                             # query_supabase is accepted too
        table: customer_health_scores
        filter: "churn_probability > 0.7"
      - name: "Sync to ClickUp"
        condition: "qualification_score > 80"
        action: create_clickup_task
        project: qualified_prospects

Every field other than name/id/action/condition in a step is the action's own field, checked
against the action's model. `parse_definition` raises DefinitionError listing each problem
with its YAML line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, cast

import yaml
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestration.events.models import EVENT_TYPE_PATTERN
from orchestration.workflows.actions import ACTIONS, canonical_action
from orchestration.workflows.conditions import parse_condition
from orchestration.workflows.definition_guards import check_yaml_shape, ever_fires
from orchestration.workflows.errors import (
    ConditionError,
    DefinitionError,
    DefinitionProblem,
    TemplateError,
)
from orchestration.workflows.templating import find_references

__all__ = [
    "FREQUENCIES",
    "PLATFORMS",
    "ErrorHandling",
    "RetryPolicy",
    "StepSpec",
    "Trigger",
    "WorkflowDefinition",
    "parse_definition",
    "step_key",
]

PLATFORMS = ("internal", "n8n", "make")
FREQUENCIES = {"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 1"}
STEP_KEYS = ("id", "name", "action", "condition")
KEY_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(_Strict):
    type: Literal["event", "schedule", "webhook", "manual"]
    event_type: str | None = Field(default=None, pattern=EVENT_TYPE_PATTERN)
    condition: str | None = None
    frequency: Literal["hourly", "daily", "weekly"] | None = None
    cron: str | None = None
    endpoint: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_\-/.]{0,200}$")

    @property
    def cron_expression(self) -> str | None:
        """The schedule as cron (UTC): `cron` as written, or the frequency's equivalent."""
        return self.cron or (FREQUENCIES[self.frequency] if self.frequency else None)


class RetryPolicy(_Strict):
    """Exponential backoff with jitter: delay n = min(initial * multiplier**(n-1), max)."""

    max_attempts: int = Field(default=3, ge=1, le=20)
    initial_delay_seconds: float = Field(default=10.0, ge=0, le=86_400)
    max_delay_seconds: float = Field(default=3_600.0, ge=0, le=7 * 86_400)
    multiplier: float = Field(default=2.0, ge=1, le=10)
    jitter: bool = True


class ErrorHandling(_Strict):
    # fail: the execution fails at the first failed step; continue: record and go on.
    on_step_failure: Literal["fail", "continue"] = "fail"


class StepSpec(_Strict):
    key: str = Field(pattern=KEY_PATTERN)  # what {{ steps.KEY.field }} names
    name: str = Field(min_length=1, max_length=200)
    action: str  # canonical name (aliases resolved)
    condition: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict[str, Any])

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name}
        if self.key != step_key(self.name):
            doc["id"] = self.key
        if self.condition is not None:
            doc["condition"] = self.condition
        doc["action"] = self.action
        doc.update(self.fields)
        return doc


class WorkflowDefinition(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    category: Literal["acquisition", "qualification", "retention", "analytics"] | None = None
    trigger: Trigger
    primary_platform: Literal["internal", "n8n", "make"] = "internal"
    fallback_platform: Literal["internal", "n8n", "make"] | None = None
    execution_priority: int = Field(default=5, ge=1, le=10)
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    error_handling: ErrorHandling = Field(default_factory=ErrorHandling)
    is_active: bool = True
    steps: list[StepSpec] = Field(min_length=1, max_length=100)

    def to_document(self) -> dict[str, Any]:
        """The YAML-shaped form (`steps` as the spec writes them), for show and re-save."""
        doc = self.model_dump(mode="json", exclude={"steps"}, exclude_none=True)
        doc["steps"] = [step.to_document() for step in self.steps]
        return doc

    def to_yaml(self) -> str:
        dumped: str = yaml.safe_dump(  # pyright: ignore[reportUnknownMemberType]
            self.to_document(), sort_keys=False, allow_unicode=True
        )
        return dumped


def step_key(name: str) -> str:
    """The reference key of a step named e.g. "AI Analysis": ai_analysis."""
    key = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return key if key and not key[0].isdigit() else f"step_{key}"


# ---- YAML with line numbers -----------------------------------------------------------

Loc = tuple[str | int, ...]


def _node_lines(node: yaml.Node, path: Loc, lines: dict[Loc, int], problems: list[str]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:  # pyright: ignore[reportUnknownVariableType]
            key = str(key_node.value)  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
            if key in seen:
                problems.append(f"{key_node.start_mark.line + 1}\x00{key}")  # pyright: ignore[reportUnknownMemberType]
            seen.add(key)
            _node_lines(value_node, (*path, key), lines, problems)  # pyright: ignore[reportUnknownArgumentType]
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
            _node_lines(item, (*path, index), lines, problems)  # pyright: ignore[reportUnknownArgumentType]


class _Collector:
    def __init__(self, lines: dict[Loc, int], steps: list[Any]) -> None:
        self.lines = lines
        self.steps = steps
        self.problems: list[DefinitionProblem] = []

    def add(self, loc: Loc, reason: str) -> None:
        line = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines:
                line = self.lines[loc[:cut]]
                break
        self.problems.append(DefinitionProblem(self._describe(loc), reason, line))

    def _describe(self, loc: Loc) -> str:
        text = ""
        for index, part in enumerate(loc):
            if isinstance(part, int):
                label = ""
                if index == 1 and loc[0] == "steps" and part < len(self.steps):
                    step: Any = self.steps[part]
                    name = (
                        cast(dict[str, Any], step).get("name") if isinstance(step, dict) else None
                    )
                    if isinstance(name, str):
                        label = f' "{name}"'
                text += f"[{part + 1}]{label}"
            else:
                text += f".{part}" if text else part
        return text


def parse_definition(
    text: str,
    source_name: str | None = None,
    *,
    others: Iterable[WorkflowDefinition] = (),
) -> WorkflowDefinition:
    """Parse and check a YAML definition; raises DefinitionError with line and reason.

    `others` are the tenant's other definitions: an emit_event chain that loops back through
    them to this one is refused.
    """
    try:
        check_yaml_shape(text, source_name)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        position = getattr(exc, "position", None)  # a ReaderError (e.g. a NUL) has no mark
        if line is None and isinstance(position, int):
            line = text.count("\n", 0, position) + 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(
            [DefinitionProblem("", f"not valid YAML: {reason}", line)], source_name
        ) from None
    if root is None or not isinstance(data, dict):
        raise DefinitionError(
            [DefinitionProblem("", "a definition is a YAML mapping with name, trigger, steps", 1)],
            source_name,
        )
    lines: dict[Loc, int] = {}
    duplicates: list[str] = []
    _node_lines(root, (), lines, duplicates)
    document = cast(dict[str, Any], data)
    raw_steps: Any = document.get("steps")
    collector = _Collector(lines, cast(list[Any], raw_steps) if isinstance(raw_steps, list) else [])
    for entry in duplicates:
        line, key = entry.split("\x00")
        collector.problems.append(DefinitionProblem(key, "this key appears twice", int(line)))
    definition = build_definition(document, collector)
    if definition is not None:
        from orchestration.workflows.chains import find_chain_cycle  # chains imports this module

        cycle = find_chain_cycle(definition, others)
        if cycle is not None:
            collector.add(("steps", cycle.step_index, "event_type"), cycle.description)
    if collector.problems or definition is None:
        problems = sorted(collector.problems, key=lambda p: p.line or 0)
        raise DefinitionError(problems, source_name)
    return definition


def build_definition(
    data: dict[str, Any], collector: _Collector | None = None
) -> WorkflowDefinition | None:
    """Check a document (YAML-shaped dict); problems go to the collector (None: raise)."""
    own = collector or _Collector({}, data.get("steps") or [])
    steps_doc = data.get("steps")
    steps: list[StepSpec] = []
    if isinstance(steps_doc, list):
        steps = _build_steps(steps_doc, own)  # pyright: ignore[reportUnknownArgumentType]
    definition: WorkflowDefinition | None = None
    try:
        definition = WorkflowDefinition.model_validate(
            {**data, "steps": [s.model_dump() for s in steps] or steps_doc}
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            checked_alone = loc[:1] == ("trigger",) and data.get("trigger") is not None
            if (loc[:1] == ("steps",) and len(loc) > 1) or checked_alone:
                continue  # each step and a given trigger are checked on their own
            own.add(loc, _reason(error))
    _check_trigger(data.get("trigger"), own)
    if definition is not None and definition.fallback_platform == definition.primary_platform:
        own.add(("fallback_platform",), "the fallback platform must differ from the primary")
    if collector is None and own.problems:
        raise DefinitionError(own.problems)
    return definition if not own.problems else None


def _reason(error: Any) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "missing required field"
    if kind == "literal_error":
        return f"{message}".replace("Input should be", "must be one of")
    return str(message)


def _check_trigger(raw: Any, collector: _Collector) -> None:
    if raw is None:
        return  # reported as a missing field
    try:
        trigger = Trigger.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            collector.add(("trigger", *error["loc"]), _reason(error))
        return
    needs = {"event": "event_type", "webhook": "endpoint"}
    if trigger.type in needs and getattr(trigger, needs[trigger.type]) is None:
        collector.add(("trigger",), f"a {trigger.type} trigger needs '{needs[trigger.type]}'")
    if trigger.type == "schedule":
        if (trigger.frequency is None) == (trigger.cron is None):
            collector.add(
                ("trigger",), "a schedule trigger needs one of 'frequency' (hourly/daily/weekly) "
                "or 'cron' (e.g. '0 6 * * 1-5')"
            )  # fmt: skip
        elif trigger.cron is not None and not croniter.is_valid(trigger.cron):
            collector.add(("trigger", "cron"), f"'{trigger.cron}' is not a cron expression")
        elif trigger.cron is not None and not ever_fires(trigger.cron):
            collector.add(
                ("trigger", "cron"),
                f"'{trigger.cron}' never fires (no such day, e.g. February 30th); check the "
                "day of month and month fields",
            )
    if trigger.condition is not None:
        try:
            condition = parse_condition(trigger.condition)
        except ConditionError as exc:
            collector.add(("trigger", "condition"), str(exc))
        else:
            if any(p.parts[0] == "steps" for p in condition.paths()):
                collector.add(
                    ("trigger", "condition"), "a trigger condition cannot read step outputs"
                )


def _build_steps(steps_doc: list[Any], collector: _Collector) -> list[StepSpec]:
    built: list[StepSpec] = []
    seen_keys: set[str] = set()
    for index, raw in enumerate(steps_doc):
        loc: Loc = ("steps", index)
        if not isinstance(raw, dict):
            collector.add(loc, "a step is a mapping with at least 'name' and 'action'")
            continue
        step: dict[str, Any] = {str(k): v for k, v in cast(dict[Any, Any], raw).items()}
        name, action = step.get("name"), step.get("action")
        if not isinstance(name, str) or not name.strip():
            collector.add(loc, "a step needs a 'name'")
            continue
        key = step.get("id") if step.get("id") is not None else step_key(name)
        if not isinstance(key, str) or not re.fullmatch(KEY_PATTERN, key):
            collector.add((*loc, "id"), f"'{key}' is not a step id (lowercase, digits, _)")
            continue
        if key in seen_keys:
            collector.add(loc, f"another step already has the id '{key}'; give this one an 'id'")
        seen_keys.add(key)
        if not isinstance(action, str):
            collector.add(loc, f"step needs an 'action'; one of {', '.join(sorted(ACTIONS))}")
            continue
        canonical = canonical_action(action)
        if canonical not in ACTIONS:
            collector.add(
                (*loc, "action"),
                f"unknown action '{action}'; known actions: {', '.join(sorted(ACTIONS))}",
            )
            continue
        fields = {k: v for k, v in step.items() if k not in STEP_KEYS}
        condition = step.get("condition")
        ok = _check_step(loc, canonical, fields, condition, seen_keys - {key}, collector)
        if not ok:
            continue
        try:
            built.append(StepSpec(key=key, name=name, action=canonical, condition=condition,
                                  fields=fields))  # fmt: skip
        except ValidationError as exc:  # e.g. a name with a lone surrogate (a "\ud800" escape)
            for error in exc.errors():
                collector.add((*loc, *error["loc"]), _reason(error))
    return built


def _check_step(
    loc: Loc,
    action: str,
    fields: dict[str, Any],
    condition: Any,
    earlier: set[str],
    collector: _Collector,
) -> bool:
    before = len(collector.problems)
    if condition is not None:
        if not isinstance(condition, str):
            collector.add((*loc, "condition"), "a condition is a string")
        else:
            try:
                parsed = parse_condition(condition)
            except ConditionError as exc:
                collector.add((*loc, "condition"), str(exc))
            else:
                for path in parsed.paths():
                    _check_step_reference(loc, "condition", path.parts, earlier, collector)
    for field_name, value in fields.items():
        try:
            references = find_references(value)
        except TemplateError as exc:
            collector.add((*loc, field_name), str(exc))
            continue
        for path in references:
            _check_step_reference(loc, field_name, path.parts, earlier, collector)
    spec = ACTIONS[action]
    try:
        spec.fields.model_validate(_templates_as_any(fields))
    except ValidationError as exc:
        for error in exc.errors():
            collector.add((*loc, *error["loc"]), _reason(error))
    return len(collector.problems) == before


def _templates_as_any(fields: dict[str, Any]) -> dict[str, Any]:
    """A field that is one whole {{ reference }} is checked at run time, once it has a value;
    for the save-time check it stands in as a value of the right type where one is obvious."""
    checked: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str) and re.fullmatch(r"\s*\{\{.*\}\}\s*", value, re.DOTALL):
            if name in ("limit",):
                checked[name] = 1
            elif name in ("timeout_seconds",):
                checked[name] = 1.0
            else:
                checked[name] = value
        else:
            checked[name] = value
    return checked


def _check_step_reference(
    loc: Loc, field_name: str, parts: tuple[str | int, ...], earlier: set[str], c: _Collector
) -> None:
    if parts[0] != "steps":
        return
    if len(parts) < 2 or str(parts[1]) not in earlier:
        named = str(parts[1]) if len(parts) > 1 else ""
        known = ", ".join(sorted(earlier)) or "none"
        c.add(
            (*loc, field_name),
            f"'steps.{named}' is not an earlier step (earlier step ids: {known})",
        )
