"""Every template's artefacts load from package data and have the shape their platform needs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from orchestration.platforms.apify import GMB_COLLECTION_CONFIG
from orchestration.platforms.clickup_sync import FIELD_MAPPINGS, PROJECT_LISTS
from orchestration.platforms.n8n import WORKFLOW_BODY_KEYS
from orchestration.templates.catalog import TEMPLATES, Template, find_template
from orchestration.templates.install import WEBHOOK_NODE_TYPE, tenant_n8n_workflow
from orchestration.templates.integrations import integration_config
from shared.errors import NotFoundError, ValidationFailedError

N8N_TEMPLATES = [t for t in TEMPLATES if "n8n" in t.platforms]
MAKE_TEMPLATES = [t for t in TEMPLATES if "make" in t.platforms]


def _ids(templates: list[Template]) -> list[str]:
    return [t.slug for t in templates]


def test_catalog_holds_the_specs_two_n8n_workflows_and_two_make_scenarios() -> None:
    assert {t.name for t in N8N_TEMPLATES} == {
        "AI Lead Qualification Pipeline",
        "Churn Prevention Automation",
    }
    assert {t.name for t in MAKE_TEMPLATES} == {
        "Real-time ClickUp Synchronization",
        "Multi-Channel Campaign Orchestration",
    }
    for template in TEMPLATES:
        summary = template.summary()
        assert summary["description"] and summary["category"]
        assert summary["platforms"][0] == "internal"


@pytest.mark.parametrize("template", TEMPLATES, ids=_ids(list(TEMPLATES)))
def test_every_template_yaml_validates_with_the_workflow_parser(template: Template) -> None:
    definition = template.definition()
    assert definition.name == template.name
    assert definition.category == template.category
    assert definition.primary_platform == "internal"


def test_n8n_templates_keep_the_specs_steps_in_their_yaml() -> None:
    lead = find_template("lead-qualification").definition()
    assert [s.name for s in lead.steps] == [
        "Extract GMB Data", "AI Analysis", "Email Discovery", "Update CRM", "Sync to ClickUp",
        "Sync to ClickUp (no industry)",
    ]  # fmt: skip
    assert lead.trigger.endpoint == "/crm/prospect/new"
    assert all(s.condition and "qualification_score > 80" in s.condition for s in lead.steps[4:])
    assert lead.steps[1].fields["server"] == "claude_analysis"
    churn = find_template("Churn Prevention Automation").definition()
    assert churn.trigger.cron_expression == "0 0 * * *"
    assert churn.steps[0].fields["filter"] == "churn_probability > 0.7"


def _connection_targets(workflow: dict[str, Any]) -> list[str]:
    targets: list[str] = []
    for outputs in workflow["connections"].values():
        for branch in outputs["main"]:
            targets += [link["node"] for link in branch]
    return targets


@pytest.mark.parametrize("template", N8N_TEMPLATES, ids=_ids(N8N_TEMPLATES))
def test_n8n_json_is_importable_shape_with_webhook_and_valid_connections(
    template: Template,
) -> None:
    workflow = template.export("n8n")
    assert set(workflow) <= set(WORKFLOW_BODY_KEYS)  # the public API refuses anything else
    assert workflow["name"] == template.name
    names = [n["name"] for n in workflow["nodes"]]
    assert len(names) == len(set(names))
    (webhook,) = [n for n in workflow["nodes"] if n["type"] == WEBHOOK_NODE_TYPE]
    params = webhook["parameters"]
    assert params["responseMode"] == "responseNode"
    assert params["authentication"] == "headerAuth"
    assert params["httpMethod"] == "POST" and params["path"]
    assert any(n["type"] == "n8n-nodes-base.respondToWebhook" for n in workflow["nodes"])
    assert set(workflow["connections"]) <= set(names)
    assert set(_connection_targets(workflow)) <= set(names)
    # Every node but the trigger is reached from somewhere.
    assert set(names) - {webhook["name"]} <= set(_connection_targets(workflow))
    for node in workflow["nodes"]:
        assert {"id", "name", "type", "typeVersion", "position", "parameters"} <= set(node)
        assert node["notes"], f"node '{node['name']}' should say what it does"


def test_tenant_copy_gets_its_own_path_name_webhook_id_and_credential() -> None:
    template = find_template("lead-qualification")
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    copy_a = tenant_n8n_workflow(template, tenant_a, "cred-a")
    copy_b = tenant_n8n_workflow(template, tenant_b, "cred-b")
    hook_a = next(n for n in copy_a["nodes"] if n["type"] == WEBHOOK_NODE_TYPE)
    hook_b = next(n for n in copy_b["nodes"] if n["type"] == WEBHOOK_NODE_TYPE)
    assert hook_a["parameters"]["path"] != hook_b["parameters"]["path"]
    assert hook_a["webhookId"] != hook_b["webhookId"]
    assert copy_a["name"] != copy_b["name"]
    assert hook_a["credentials"]["httpHeaderAuth"]["id"] == "cred-a"
    # The packaged template itself is untouched.
    original = next(n for n in template.export("n8n")["nodes"] if n["type"] == WEBHOOK_NODE_TYPE)
    assert original["credentials"]["httpHeaderAuth"]["id"] == ""


@pytest.mark.parametrize("template", MAKE_TEMPLATES, ids=_ids(MAKE_TEMPLATES))
def test_make_blueprint_has_flow_modules_with_ids_starting_at_a_webhook(
    template: Template,
) -> None:
    blueprint = template.export("make")
    assert blueprint["name"] == template.name
    flow = blueprint["flow"]
    ids = [module["id"] for module in flow]
    assert all(isinstance(i, int) for i in ids) and len(ids) == len(set(ids))
    assert all(":" in module["module"] and "mapper" in module for module in flow)
    assert flow[0]["module"] == "gateway:CustomWebHook"
    assert "metadata" in blueprint
    # A mapping reads only bundles of modules that ran before it ({{2.id}} in module 3).
    for module in flow:
        referenced = {int(n) for n in re.findall(r"\{\{[^}]*?\b(\d+)\.", json.dumps(module))}
        assert referenced <= {i for i in ids if i < module["id"]}, module["id"]


def test_platform_without_an_artefact_and_unknown_template_are_clear_errors() -> None:
    with pytest.raises(ValidationFailedError, match="has no make version"):
        find_template("lead-qualification").export("make")
    with pytest.raises(NotFoundError, match="known templates: 'lead-qualification'"):
        find_template("no such thing")


def test_integration_configs_come_from_the_adapter_constants() -> None:
    clickup = integration_config("clickup")
    assert [m["crm_field"] for m in clickup["field_mappings"]] == [
        m.crm_field for m in FIELD_MAPPINGS
    ]
    assert clickup["field_mappings"][0]["data_transformation"] == "round"
    assert clickup["project_lists"] == PROJECT_LISTS
    apify = integration_config("apify")
    assert apify["search_queries"] == GMB_COLLECTION_CONFIG["search_queries"]
    assert apify["data_points"] == GMB_COLLECTION_CONFIG["data_points"]
    with pytest.raises(NotFoundError, match="clickup, apify"):
        integration_config("zapier")
