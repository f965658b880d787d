"""The callback chain an n8n workflow ends with to report its result to Switchboard.

Three stock nodes, checked against n8n 2.8.4 (tests/integration/templates):

- "Switchboard Callback Body" (Set, run once): the timestamp and the JSON body, as one
  string, of an `n8n_execution_finished` event naming our execution (`execution_id` from
  the run's payload), n8n's own execution id, and the item the workflow produced;
- "Switchboard Sign" (Crypto, HMAC-SHA256, hex): over `"<timestamp>.<body>"` with the
  tenant's n8n `webhook_secret`, exactly our signing scheme (shared.webhooks.signing);
- "Switchboard Report" (HTTP Request): POSTs that body unchanged (raw) to
  `<callback_base_url>/webhooks/n8n?tenant=<tenant id>` with `X-Switchboard-Timestamp` and
  `X-Switchboard-Signature: v1=<hex>`.

The webhook ingress verifies it like any delivery and queues it; the worker completes the
execution (orchestration.platforms.async_results). The secret is a node parameter, so it is
stored in the tenant's n8n with the workflow: anyone who can edit that workflow there can
post events as n8n for this tenant, and nothing more.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from orchestration.platforms.jsonshape import as_dict, as_list, dicts
from shared.errors import ConfigError

__all__ = ["CALLBACK_NODE_NAMES", "callback_url", "with_callback"]

CALLBACK_NODE_NAMES = ("Switchboard Callback Body", "Switchboard Sign", "Switchboard Report")
_NODE_IDS = uuid.UUID("3c7a9e52-41d8-4b0f-9a66-0d2f7c5e8b13")  # namespace for uuid5

_BODY_EXPRESSION = (
    "={{ JSON.stringify({ eventId: 'n8n-execution-' + $execution.id, "
    "eventType: 'n8n_execution_finished', eventData: { "
    "execution_id: $('Webhook').first().json.body.execution_id, status: 'success', "
    "external_execution_id: $execution.id, result: $json } }) }}"
)


def callback_url(base_url: str, tenant_id: uuid.UUID) -> str:
    """Where a tenant's n8n reports: our webhook ingress for source n8n."""
    return f"{base_url.rstrip('/')}/webhooks/n8n?tenant={tenant_id}"


def _terminal_node(workflow: Mapping[str, Any]) -> str:
    connections = as_dict(workflow.get("connections"))
    names = [str(n.get("name")) for n in dicts(workflow.get("nodes"))]
    terminals = [name for name in names if not as_dict(connections.get(name)).get("main")]
    if len(terminals) != 1:
        raise ConfigError(
            f"n8n workflow '{workflow.get('name')}' ends in {len(terminals)} nodes "
            f"({', '.join(terminals)}); the Switchboard callback needs exactly one last node"
        )
    return terminals[0]


def with_callback(workflow: Mapping[str, Any], url: str, secret: str) -> dict[str, Any]:
    """A copy of `workflow` whose last node is followed by the callback chain to `url`.
    Applying it again replaces the chain (re-installs do not stack callbacks)."""
    result = copy.deepcopy(dict(workflow))
    nodes = [n for n in dicts(result.get("nodes")) if n.get("name") not in CALLBACK_NODE_NAMES]
    connections = {
        name: value
        for name, value in as_dict(result.get("connections")).items()
        if name not in CALLBACK_NODE_NAMES
    }
    for name, value in list(connections.items()):  # drop links into an old chain
        main = [
            [link for link in dicts(outputs) if link.get("node") not in CALLBACK_NODE_NAMES]
            for outputs in as_list(as_dict(value).get("main"))
        ]
        if any(main):
            connections[name] = {**as_dict(value), "main": main}
        else:
            del connections[name]
    result["nodes"], result["connections"] = nodes, connections
    last = _terminal_node(result)
    x, y = max(
        ((n.get("position") or [0, 0]) for n in nodes),
        key=lambda p: p[0],  # pyright: ignore[reportUnknownLambdaType]
    )
    body, sign, report = CALLBACK_NODE_NAMES

    def node_id(name: str) -> str:
        return str(uuid.uuid5(_NODE_IDS, f"{result.get('name')}:{name}"))

    nodes += [
        {
            "id": node_id(body),
            "name": body,
            "type": "n8n-nodes-base.set",
            "typeVersion": 3.4,
            "position": [x + 240, y],
            "executeOnce": True,
            "parameters": {
                "mode": "manual",
                "includeOtherFields": False,
                "options": {},
                "assignments": {
                    "assignments": [
                        {
                            "id": node_id("timestamp"),
                            "name": "timestamp",
                            "value": "={{ Math.floor(Date.now() / 1000) }}",
                            "type": "string",
                        },
                        {
                            "id": node_id("body"),
                            "name": "body",
                            "value": _BODY_EXPRESSION,
                            "type": "string",
                        },
                    ]
                },
            },
        },
        {
            "id": node_id(sign),
            "name": sign,
            "type": "n8n-nodes-base.crypto",
            "typeVersion": 1,
            "position": [x + 480, y],
            "parameters": {
                "action": "hmac",
                "type": "SHA256",
                "value": "={{ $json.timestamp + '.' + $json.body }}",
                "dataPropertyName": "signature",
                "secret": secret,
                "encoding": "hex",
            },
        },
        {
            "id": node_id(report),
            "name": report,
            "type": "n8n-nodes-base.httpRequest",
            "typeVersion": 4.2,
            "position": [x + 720, y],
            "parameters": {
                "method": "POST",
                "url": url,
                "sendHeaders": True,
                "headerParameters": {
                    "parameters": [
                        {"name": "X-Switchboard-Timestamp", "value": "={{ $json.timestamp }}"},
                        {
                            "name": "X-Switchboard-Signature",
                            "value": "={{ 'v1=' + $json.signature }}",
                        },
                    ]
                },
                "sendBody": True,
                "contentType": "raw",
                "rawContentType": "application/json",
                "body": "={{ $json.body }}",
                "options": {},
            },
        },
    ]

    def link(target: str) -> dict[str, Any]:
        return {"main": [[{"node": target, "type": "main", "index": 0}]]}

    connections[last] = link(body)
    connections[body] = link(sign)
    connections[sign] = link(report)
    return result
