"""The signed callback chain appended to n8n workflows, and installs that add it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.templates.catalog import find_template
from orchestration.templates.install import install_n8n, tenant_n8n_workflow
from orchestration.templates.n8n_callback import CALLBACK_NODE_NAMES, callback_url, with_callback
from shared.db.database import Database
from shared.errors import ConfigError
from shared.tenants import create_tenant
from tests.fakes.n8n import N8nFake

SECRET = "whsec-SECRET-n8n"
TENANT = uuid.UUID("6f1c2a9e-0000-4000-8000-000000000001")


def _node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in workflow["nodes"] if n["name"] == name)


def test_the_chain_follows_the_last_node_and_signs_our_scheme() -> None:
    template = tenant_n8n_workflow(find_template("lead-qualification"), TENANT, "cred-1")
    url = callback_url("https://sb.example.com/", TENANT)
    assert url == f"https://sb.example.com/webhooks/n8n?tenant={TENANT}"
    workflow = with_callback(template, url, SECRET)

    body, sign, report = CALLBACK_NODE_NAMES
    assert workflow["connections"]["Respond to Webhook"]["main"][0][0]["node"] == body
    assert workflow["connections"][body]["main"][0][0]["node"] == sign
    assert workflow["connections"][sign]["main"][0][0]["node"] == report
    assert _node(workflow, body)["executeOnce"] is True
    assert "n8n_execution_finished" in str(_node(workflow, body)["parameters"])
    signing = _node(workflow, sign)["parameters"]
    assert (signing["action"], signing["type"], signing["encoding"]) == ("hmac", "SHA256", "hex")
    assert signing["secret"] == SECRET
    assert signing["value"] == "={{ $json.timestamp + '.' + $json.body }}"
    posting = _node(workflow, report)["parameters"]
    assert posting["url"] == url and posting["contentType"] == "raw"
    headers = {h["name"] for h in posting["headerParameters"]["parameters"]}
    assert headers == {"X-Switchboard-Timestamp", "X-Switchboard-Signature"}
    assert CALLBACK_NODE_NAMES[0] not in str(template)  # the input is not changed


def test_applying_it_again_replaces_the_chain_instead_of_stacking_it() -> None:
    template = tenant_n8n_workflow(find_template("churn-prevention"), TENANT, "cred-1")
    once = with_callback(template, "https://a.example/webhooks/n8n", SECRET)
    twice = with_callback(once, "https://b.example/webhooks/n8n", "other-secret")
    assert len(twice["nodes"]) == len(once["nodes"]) == len(template["nodes"]) + 3
    assert _node(twice, CALLBACK_NODE_NAMES[2])["parameters"]["url"].startswith("https://b.")
    assert _node(twice, CALLBACK_NODE_NAMES[1])["parameters"]["secret"] == "other-secret"


def test_a_workflow_with_two_last_nodes_is_refused_with_their_names() -> None:
    workflow = {
        "name": "forked",
        "nodes": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
        "connections": {
            "A": {
                "main": [
                    [{"node": "B", "type": "main", "index": 0}],
                    [{"node": "C", "type": "main", "index": 0}],
                ]
            },
        },
    }
    with pytest.raises(ConfigError, match=r"ends in 2 nodes \(B, C\)"):
        with_callback(workflow, "https://sb.example/webhooks/n8n", SECRET)


def _adapter(fake: N8nFake, settings: dict[str, Any], **credentials: str) -> N8nAdapter:
    config = ToolConfig(
        tenant_id=TENANT,
        tool_name="n8n",
        api_endpoint="http://n8n.test",
        credentials=Credentials(
            {
                "api_key": fake.api_key,
                "webhook_auth_header": "X-Auth",
                "webhook_auth_value": "hook-SECRET",
                **credentials,
            },
            tool="n8n",
        ),
        settings=settings,
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    return N8nAdapter(client, config, registry=ResilienceRegistry())


async def test_install_with_a_callback_base_url_adds_the_chain_once(sqlite_db: Database) -> None:
    fake = N8nFake()
    tenant = await create_tenant(sqlite_db, "acme")
    adapter = _adapter(fake, {"callback_base_url": "https://sb.example.com"}, webhook_secret=SECRET)
    template = find_template("lead-qualification")
    first = await install_n8n(sqlite_db, tenant.id, template, adapter)
    await install_n8n(sqlite_db, tenant.id, template, adapter)
    assert first.platform_refs is not None and first.platform_refs["callback"] is True
    (workflow,) = fake.workflows.values()
    names = [n["name"] for n in workflow["nodes"]]
    assert [n for n in names if n in CALLBACK_NODE_NAMES] == list(CALLBACK_NODE_NAMES)
    report = _node(workflow, CALLBACK_NODE_NAMES[2])
    assert report["parameters"]["url"] == callback_url("https://sb.example.com", tenant.id)
    assert len(fake.credentials) == 1


async def test_install_with_a_callback_but_no_webhook_secret_is_refused_before_any_call(
    sqlite_db: Database,
) -> None:
    fake = N8nFake()
    tenant = await create_tenant(sqlite_db, "acme")
    adapter = _adapter(fake, {"callback_base_url": "https://sb.example.com"})
    with pytest.raises(ConfigError, match="lack 'webhook_secret'"):
        await install_n8n(sqlite_db, tenant.id, find_template("lead-qualification"), adapter)
    assert fake.plan.requests == []
