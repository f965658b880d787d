"""Simplified output schemas accept and reject exactly what the originals do."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from servers.mcp.common.schema import simplify_schema
from servers.mcp.crm_models import AccountDetailOut, ProspectPage


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(BaseModel):
    title: str  # a field named like a schema keyword
    score: float | None = None


class Outer(BaseModel):
    color: Color | None = None
    inner: Inner | None = None
    items: list[Inner] = []
    count: int | None = None


INSTANCES: list[Any] = [
    {},
    {"color": None, "inner": None, "count": None},
    {"color": "red", "inner": {"title": "a", "score": 1.5}, "items": [{"title": "b"}]},
    {"color": "green"},
    {"color": 3},
    {"inner": {"score": 1}},
    {"items": [{"title": 1}]},
    {"count": "many"},
    {"count": 1.5},
]


@pytest.mark.parametrize("instance", INSTANCES)
def test_simplified_schema_is_equivalent(instance: Any) -> None:
    original = Outer.model_json_schema()
    simple = simplify_schema(original)
    assert "$defs" not in simple and "$ref" not in str(simple)
    assert Draft202012Validator(original).is_valid(instance) == Draft202012Validator(
        simple
    ).is_valid(instance)


@pytest.mark.parametrize("model", [ProspectPage, AccountDetailOut])
def test_tool_output_schemas_simplify_to_valid_schemas(model: type[BaseModel]) -> None:
    simple = simplify_schema(model.model_json_schema())
    Draft202012Validator.check_schema(simple)
    assert simple["type"] == "object"
