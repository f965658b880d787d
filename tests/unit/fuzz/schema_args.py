"""Arguments for any MCP tool, derived from its `inputSchema` (what `tools/list` returns):
a plausible baseline that satisfies the schema, and hostile variations of it."""

from __future__ import annotations

import uuid
from typing import Any, cast

from hypothesis import strategies as st

from tests.unit.fuzz.strategies import hostile_strings, json_values, wrong_types

__all__ = ["accepts_strings", "baseline", "hostile_arguments", "properties", "required"]

Schema = dict[str, Any]


def _resolve(schema: Schema, root: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return cast(Schema, root.get("$defs", {})[ref.removeprefix("#/$defs/")])
    return schema


def _branches(schema: Schema, root: Schema) -> list[Schema]:
    schema = _resolve(schema, root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        return [_resolve(cast(Schema, o), root) for o in cast(list[Any], options)]
    return [schema]


def properties(tool_schema: Schema) -> dict[str, Schema]:
    return cast(dict[str, Schema], tool_schema.get("properties", {}))


def required(tool_schema: Schema) -> list[str]:
    return cast(list[str], tool_schema.get("required", []))


def plausible(schema: Schema, root: Schema) -> Any:
    """A value the schema accepts (the first non-null branch), for the fields a test keeps."""
    branches = [b for b in _branches(schema, root) if b.get("type") != "null"] or [{}]
    branch = branches[0]
    if "enum" in branch:
        return branch["enum"][0]
    if "const" in branch:
        return branch["const"]
    kind = branch.get("type")
    if kind == "string":
        fmt = branch.get("format")
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        return "a" * max(int(branch.get("minLength", 1)), 2)
    if kind in ("integer", "number"):
        low = branch.get("minimum", branch.get("exclusiveMinimum", 0))
        value = int(low) + 1 if "exclusiveMinimum" in branch else int(low)
        return value if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {
            name: plausible(sub, root)
            for name, sub in properties(branch).items()
            if name in required(branch)
        }
    return None


def baseline(tool_schema: Schema) -> dict[str, Any]:
    """Every required argument with a plausible value."""
    props = properties(tool_schema)
    return {name: plausible(props[name], tool_schema) for name in required(tool_schema)}


def accepts_strings(schema: Schema, root: Schema) -> bool:
    return any(b.get("type") == "string" for b in _branches(schema, root))


def hostile_arguments(tool_schema: Schema) -> st.SearchStrategy[dict[str, Any]]:
    """The baseline with one or two fields made hostile, a required field dropped, or an
    unknown field added."""
    props = properties(tool_schema)
    base = baseline(tool_schema)
    names = sorted(props)

    def hostile_value(name: str) -> st.SearchStrategy[Any]:
        others = wrong_types() | json_values(6)
        return (hostile_strings() | others) if accepts_strings(props[name], tool_schema) else others

    one_field = (
        st.sampled_from(names).flatmap(lambda n: hostile_value(n).map(lambda v: {**base, n: v}))
        if names
        else st.just(base)
    )
    two_fields = (
        st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True).flatmap(
            lambda pair: st.tuples(hostile_value(pair[0]), hostile_value(pair[1])).map(
                lambda vs: {**base, pair[0]: vs[0], pair[1]: vs[1]}
            )
        )
        if len(names) >= 2
        else one_field
    )
    missing = (
        st.sampled_from(required(tool_schema)).map(
            lambda n: {k: v for k, v in base.items() if k != n}
        )
        if required(tool_schema)
        else st.just(base)
    )
    unknown = st.sampled_from(["tenant_id", "__proto__", "x" * 300, "\ud800", "$where"]).map(
        lambda n: {**base, n: "1"}
    )
    return one_field | two_fields | missing | unknown
