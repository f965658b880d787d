"""Turning a tool's pydantic result into the MCP `CallToolResult`, with one serialization.

The SDK's own conversion (`FuncMetadata.convert_result`) validates the returned model again
(a no-op for an instance of the declared class), dumps it once as indented JSON for the
text copy and once more for `structured_content`. Our tools already return instances of
their declared output model, built and fenced by the tool body, so `tool_result` dumps the
model once (`mode="json"`, by alias, like the SDK) and serializes that same dict, compactly,
as the text copy: the two always carry the same data, and the text is a quarter shorter for
a page of search results (fewer tokens for a model that reads the text copy; the JSON-RPC
answer to search_prospects shrinks from 23 to 20 kB).

A tool that checks its result against the size budget has serialized it already:
`measured_size(model)` keeps that serialization for the call, and `tool_result` reuses it
when the tool returns that very model (so a model must not change once measured; the
models measured this way are frozen). Anything else a tool returns (a plain value, a dict,
content blocks, a model of another class) goes through the SDK's conversion unchanged.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import pydantic_core
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

__all__ = ["measured_size", "tool_result"]

# The last model `measured_size` serialized in this call: (model, structured, text).
_measured: ContextVar[tuple[BaseModel, dict[str, Any], str] | None] = ContextVar(
    "switchboard_measured_result", default=None
)


def _serialized(model: BaseModel) -> tuple[dict[str, Any], str]:
    structured: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return structured, pydantic_core.to_json(structured).decode()


def measured_size(model: BaseModel) -> int:
    """Characters of the model's JSON text copy, as `tool_result` would send it; the
    serialization is kept for `tool_result` should the tool return this model."""
    structured, text = _serialized(model)
    _measured.set((model, structured, text))
    return len(text)


def tool_result(metadata: FuncMetadata, result: Any) -> Any:
    """What the SDK's `metadata.convert_result(result)` returns, without its extra passes."""
    model = metadata.output_model
    if (
        metadata.output_schema is None
        or metadata.wrap_output
        or not isinstance(model, type)
        or not isinstance(result, model)
        or not isinstance(result, BaseModel)
    ):
        return metadata.convert_result(result)
    measured = _measured.get()
    if measured is not None:
        _measured.set(None)  # used once, and not kept alive past the call
    if measured is not None and measured[0] is result:
        structured, text = measured[1], measured[2]
    else:
        structured, text = _serialized(result)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )
