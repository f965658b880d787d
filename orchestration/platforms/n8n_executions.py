"""Reading an n8n execution (`GET /executions/{id}?includeData=true`) back into a result.

n8n keeps each node's output under `data.resultData.runData[<node>][run].data.main[0]`;
what a workflow produced is the output of the node that ran last. The Webhook node's own
data holds the caller's headers (our webhook auth value among them), so it is read only
for the idempotency key in its body, never copied into a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.platforms.base import ResultStatus, WorkflowResult
from orchestration.platforms.jsonshape import as_dict, as_list, dicts, text

__all__ = [
    "RUNNING_ANSWERS",
    "WEBHOOK_NODE_TYPE",
    "execution_output",
    "execution_result",
    "webhook_key",
]

_EXECUTION_STATUS = {
    "success": ResultStatus.COMPLETED,
    "error": ResultStatus.FAILED,
    "crashed": ResultStatus.FAILED,
    "canceled": ResultStatus.FAILED,
    "waiting": ResultStatus.RUNNING,
    "running": ResultStatus.RUNNING,
    "new": ResultStatus.RUNNING,
}
# What an early "Respond to Webhook" answers in `status` while the workflow goes on.
RUNNING_ANSWERS = frozenset({"running", "started", "accepted"})
WEBHOOK_NODE_TYPE = "n8n-nodes-base.webhook"


def _run_items(run_data: Mapping[str, Any], node: str) -> list[dict[str, Any]]:
    """The JSON of the items a node's last run put on its first output."""
    runs = dicts(run_data.get(node))
    if not runs:
        return []
    outputs = as_list(as_dict(runs[-1].get("data")).get("main"))
    first = dicts(outputs[0]) if outputs else []
    return [as_dict(item.get("json")) for item in first]


def execution_output(execution: Mapping[str, Any]) -> Any:
    """What the workflow produced: the items of the node that ran last (one item: its JSON;
    several: a list). Never the Webhook node's own data (it holds the caller's headers)."""
    result_data = as_dict(as_dict(execution.get("data")).get("resultData"))
    last = text(result_data.get("lastNodeExecuted"))
    run_data = as_dict(result_data.get("runData"))
    if not last or last not in run_data or _is_trigger(execution, last):
        return None
    items = _run_items(run_data, last)
    # A Respond to Webhook node passes the trigger's items (with the caller's headers) on.
    if not items or any("webhookUrl" in item and "headers" in item for item in items):
        return None
    return items[0] if len(items) == 1 else items


def _is_trigger(execution: Mapping[str, Any], node_name: str) -> bool:
    nodes = dicts(as_dict(execution.get("workflowData")).get("nodes"))
    found = next((n for n in nodes if n.get("name") == node_name), None)
    return found is not None and found.get("type") == WEBHOOK_NODE_TYPE


def webhook_key(execution: Mapping[str, Any]) -> str | None:
    """The idempotency key the run was called with (from the trigger node's body)."""
    run_data = as_dict(as_dict(as_dict(execution.get("data")).get("resultData")).get("runData"))
    for node in run_data:
        for item in _run_items(run_data, node):
            key = as_dict(item.get("body")).get("idempotency_key")
            if isinstance(key, str) and "webhookUrl" in item:
                return key
    return None


def execution_result(execution: Mapping[str, Any]) -> WorkflowResult:
    """An n8n execution as the WorkflowResult the executions recorder stores."""
    status_text = text(execution.get("status")) or (
        "success" if execution.get("finished") else "running"
    )
    status = _EXECUTION_STATUS.get(status_text, ResultStatus.FAILED)
    result_data = as_dict(as_dict(execution.get("data")).get("resultData"))
    error = as_dict(result_data.get("error"))
    output: dict[str, Any] = {
        "n8n_status": status_text,
        "started_at": text(execution.get("startedAt")),
        "stopped_at": text(execution.get("stoppedAt")),
        "last_node": text(result_data.get("lastNodeExecuted")),
    }
    if status is ResultStatus.COMPLETED:
        output["result"] = execution_output(execution)
    return WorkflowResult(
        platform="n8n",
        status=status,
        output=output,
        external_execution_id=text(execution.get("id")),
        error=(
            {"message": text(error.get("message")) or f"n8n execution {status_text}"}
            if status is ResultStatus.FAILED
            else None
        ),
    )
