from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.workflows.definition import parse_definition
from orchestration.workflows.errors import DefinitionError

FIXTURES = Path(__file__).parents[3] / "fixtures" / "workflows"


def problems_of(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text, "flow.yaml")
    return [str(p) for p in caught.value.problems]


def test_spec_lead_qualification_template_loads_with_aliases() -> None:
    definition = parse_definition((FIXTURES / "lead_qualification.yaml").read_text())
    assert definition.name == "AI Lead Qualification Pipeline"
    assert definition.trigger.type == "webhook"
    assert definition.trigger.endpoint == "/crm/prospect/new"
    assert [s.action for s in definition.steps] == [
        "query_crm",
        "call_mcp_server",
        "find_email",
        "update_crm",
        "create_clickup_task",
    ]
    assert definition.steps[4].condition == "qualification_score > 80"
    assert definition.steps[1].key == "ai_analysis"


def test_spec_churn_prevention_template_loads_as_daily_schedule() -> None:
    definition = parse_definition((FIXTURES / "churn_prevention.yaml").read_text())
    assert definition.trigger.type == "schedule"
    assert definition.trigger.cron_expression == "0 0 * * *"
    assert definition.steps[3].fields == {"type": "follow_up_call", "due_date": "+3 days"}
    assert definition.primary_platform == "internal"


def test_extended_fields_and_round_trip_through_yaml() -> None:
    text = """
name: Hot lead alert
category: qualification
trigger: {type: event, event_type: lead_qualified, condition: "score > 80"}
primary_platform: n8n
fallback_platform: internal
execution_priority: 2
retry_policy: {max_attempts: 5, initial_delay_seconds: 1}
error_handling: {on_step_failure: continue}
steps:
  - name: analyze
    action: analyze
    kind: qualify_lead
  - name: notify
    condition: "steps.analyze.score > 50"
    action: http_request
    url: https://example.test/hook
    json: {score: "{{ steps.analyze.score }}"}
"""
    definition = parse_definition(text)
    assert definition.retry_policy.max_attempts == 5
    assert definition.error_handling.on_step_failure == "continue"
    assert parse_definition(definition.to_yaml()) == definition


def test_unknown_action_is_rejected_with_its_line() -> None:
    text = "name: x\ntrigger: {type: manual}\nsteps:\n  - name: a\n    action: frobnicate\n"
    (problem,) = problems_of(text)
    assert problem.startswith("line 5 (steps[1] \"a\".action): unknown action 'frobnicate'")


def test_bad_condition_is_rejected_with_line_and_caret() -> None:
    text = (
        "name: x\ntrigger: {type: manual}\nsteps:\n  - name: a\n    action: query_crm\n"
        "    table: t\n    condition: 'score >> 3'\n"
    )
    (problem,) = problems_of(text)
    assert problem.startswith('line 7 (steps[1] "a".condition)')
    assert "column 8" in problem


def test_unknown_platform_and_field_typos_are_each_reported() -> None:
    text = (
        "name: x\ntrigger: {type: event, event_type: deal_closed}\nprimary_platform: zapier\n"
        "steps:\n  - name: a\n    action: query_crm\n    tabel: t\n"
    )
    found = problems_of(text)
    assert any(p.startswith("line 3 (primary_platform): must be one of") for p in found)
    assert any(p.startswith('line 5 (steps[1] "a".table): missing required field') for p in found)
    assert any(p.startswith('line 7 (steps[1] "a".tabel): unknown field') for p in found)


def test_trigger_requirements_are_checked() -> None:
    found = problems_of("name: x\ntrigger:\n  type: schedule\n  cron: 'every day'\nsteps:\n"
                        "  - {name: a, action: wait, duration: 1 day}\n")  # fmt: skip
    assert found == ["line 4 (trigger.cron): 'every day' is not a cron expression"]
    found = problems_of(
        "name: x\ntrigger: {type: event}\nsteps: [{name: a, action: wait, duration: 1s}]"
    )
    assert found == ["line 2 (trigger): a event trigger needs 'event_type'"]


def test_reference_to_a_later_or_unknown_step_is_rejected() -> None:
    text = """name: x
trigger: {type: manual}
steps:
  - name: first
    action: update_crm
    table: t
    data: {score: "{{ steps.second.score }}"}
  - name: second
    action: analyze
    kind: qualify_lead
"""
    (problem,) = problems_of(text)
    assert problem.startswith('line 7 (steps[1] "first".data)')
    assert "'steps.second' is not an earlier step" in problem


def test_duplicate_keys_and_invalid_yaml_are_reported() -> None:
    assert problems_of("name: x\nname: y\ntrigger: {type: manual}\nsteps: []\n")[0] == (
        "line 2 (name): this key appears twice"
    )
    (problem,) = problems_of("name: x\nsteps: [\n")
    assert problem.startswith("line 3: not valid YAML")


def _emitter(name: str, listens: str, emits: str) -> str:
    return (
        f"name: {name}\ntrigger: {{type: event, event_type: {listens}}}\nsteps:\n"
        f"  - name: note\n    action: wait\n    duration: 1 minute\n"
        f"  - name: chain\n    action: emit_event\n    event_type: {emits}\n"
    )


def test_emit_event_of_own_trigger_type_is_a_cycle() -> None:
    (problem,) = problems_of(_emitter("loop", "lead_qualified", "lead_qualified"))
    assert problem.startswith("line 9 (steps[2] \"chain\".event_type): emitting 'lead_qualified'")
    assert "loop -> 'lead_qualified' -> loop" in problem


def test_cycle_through_other_definitions_is_rejected_and_a_chain_is_not() -> None:
    first = parse_definition(_emitter("first", "deal_closed", "customer_onboarded"))
    second = parse_definition(_emitter("second", "customer_onboarded", "churn_risk_detected"))
    closing = _emitter("third", "churn_risk_detected", "deal_closed")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(closing, others=[first, second])
    assert "third -> 'deal_closed' -> first -> 'customer_onboarded' -> second" in str(caught.value)
    # Without the loop-closing edge the same chain is fine.
    parse_definition(
        _emitter("third", "churn_risk_detected", "lead_qualified"), others=[first, second]
    )
    inactive = first.model_copy(update={"is_active": False})
    parse_definition(closing, others=[inactive, second])


def test_a_query_filter_is_checked_as_a_condition() -> None:
    text = (
        "name: x\ntrigger: {type: manual}\nsteps:\n  - name: q\n    action: query_crm\n"
        "    table: customer_health_scores\n    filter: 'churn_probability >'\n"
    )
    (problem,) = problems_of(text)
    assert problem.startswith('line 7 (steps[1] "q".filter)')
    assert "a value was expected" in problem
