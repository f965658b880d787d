"""`query_crm`'s filter model under arbitrary JSON: a validated CrmQuery or a pydantic
ValidationError, never another exception; a validated query compiles to SQL that contains
no text from the caller and runs on SQLite to a well-formed table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from shared.crm.query import ENTITIES, CrmQuery, FieldSpec, FieldType
from shared.crm.sql import SqlCrmRepository
from shared.crm.sql_queries import compile_query
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.strategies import hostile_text, json_values
from tests.unit.fuzz.world import ThreadedWorld, world_in_thread

OPS = ["eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "is_null", "like", "", "EQ"]
EDGE_VALUES: list[Any] = [
    "2026-03-01",
    "2026-03-01T09:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30",
    "00000000-0000-4000-8000-000000000001",
    "prospect",
    "won",
    "email",
    2**63,
    -(2**63) - 1,
    10**400,
    1e308,
    -0.0,
]


def _scalar() -> st.SearchStrategy[Any]:
    return (
        st.sampled_from(EDGE_VALUES)
        | st.none()
        | st.booleans()
        | st.integers()
        | st.floats()  # NaN and infinities too: Python callers can pass them
        | hostile_text(30)
    )


def _field(entity: str) -> st.SearchStrategy[str]:
    known = sorted(ENTITIES[entity].fields) if entity in ENTITIES else ["id"]
    return st.sampled_from(known) | st.sampled_from(["password", "tenant_id", "1; --", ""])


def _query(entity: str) -> st.SearchStrategy[dict[str, Any]]:
    value = _scalar() | st.lists(_scalar(), max_size=4) | json_values(4)
    filters = st.lists(
        st.fixed_dictionaries(
            {"field": _field(entity), "op": st.sampled_from(OPS)}, optional={"value": value}
        ),
        max_size=3,
    )
    metric = st.fixed_dictionaries(
        {"fn": st.sampled_from(["count", "sum", "avg", "min", "max", "median"])},
        optional={"field": _field(entity) | json_values(2)},
    )
    bucket = st.fixed_dictionaries(
        {"field": _field(entity), "unit": st.sampled_from(["day", "week", "month", "year"])}
    )
    order = st.fixed_dictionaries(
        {"by": _field(entity) | st.sampled_from(["count", "bucket", "sum_amount"])},
        optional={"descending": st.booleans() | json_values(2)},
    )
    return st.fixed_dictionaries(
        {"entity": st.just(entity)},
        optional={
            "filters": filters | json_values(4),
            "fields": st.lists(_field(entity), max_size=3) | json_values(3),
            "group_by": st.lists(_field(entity), max_size=2) | json_values(3),
            "metrics": st.lists(metric, max_size=2) | json_values(3),
            "time_bucket": bucket | json_values(2),
            "order_by": st.lists(order, max_size=2) | json_values(3),
            "limit": _scalar(),
        },
    )


# Built once per entity: building strategies per example costs more than running them.
_BY_ENTITY = {entity: _query(entity) for entity in [*ENTITIES, "users", ""]}
QUERIES = st.sampled_from(sorted(_BY_ENTITY)).flatmap(_BY_ENTITY.__getitem__)


def _typed_value(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values of the field's own type, edge cases included."""
    match spec.type:
        case FieldType.NUMBER:
            return st.integers(-(2**40), 2**40) | st.floats(-1e15, 1e15)
        case FieldType.DATE:
            return (
                st.sampled_from(EDGE_VALUES[:5])
                | st.dates().map(str)
                | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
            )
        case FieldType.ENUM:
            return st.sampled_from(spec.values)
        case FieldType.ID:
            return st.uuids().map(str)
        case FieldType.BOOL:
            return st.booleans()
        case FieldType.TEXT:
            return hostile_text(30).filter(lambda t: "\x00" not in t and t.isprintable())


def _well_formed(entity: str) -> st.SearchStrategy[dict[str, Any]]:
    """Queries made of the entity's own fields, operators and typed values: most validate,
    so the run and SQL properties see filters, groups, metrics and buckets together."""
    spec = ENTITIES[entity]
    fields = list(spec.fields.values())

    def one_filter(fs: FieldSpec) -> st.SearchStrategy[dict[str, Any]]:
        value = _typed_value(fs)
        return st.sampled_from(fs.ops).flatmap(
            lambda op: st.fixed_dictionaries(
                {
                    "field": st.just(fs.name),
                    "op": st.just(op.value),
                    "value": st.booleans()
                    if op.value == "is_null"
                    else st.lists(value, min_size=1, max_size=3)
                    if op.value == "in"
                    else value,
                }
            )
        )

    filters = st.lists(st.sampled_from(fields).flatmap(one_filter), max_size=3)
    plain = [f.name for f in fields if f.type is not FieldType.DATE]
    numbers = spec.fields_of(FieldType.NUMBER)
    metric = st.sampled_from(
        ["count", *(f"{fn}:{n}" for fn in ("sum", "avg", "max") for n in numbers)]
    )
    return st.fixed_dictionaries(
        {"entity": st.just(entity), "filters": filters},
        optional={
            "group_by": st.lists(st.sampled_from(plain), max_size=2, unique=True),
            "metrics": st.lists(metric, max_size=2, unique=True).map(
                lambda ms: [
                    {"fn": m.split(":")[0], **({"field": m.split(":")[1]} if ":" in m else {})}
                    for m in ms
                ]
            ),
            "time_bucket": st.fixed_dictionaries(
                {
                    "field": st.sampled_from(spec.fields_of(FieldType.DATE)),
                    "unit": st.sampled_from(["day", "week", "month"]),
                }
            ),
            "limit": st.integers(-5, 1_000),
        },
    )


WELL_FORMED = st.sampled_from(sorted(ENTITIES)).flatmap(
    {entity: _well_formed(entity) for entity in ENTITIES}.__getitem__
)


# What the compiled SQL may legitimately contain: whitelisted names and SQL words. A caller
# value made only of these (the stage 'lead' inside 'lead_score') proves nothing.
SQL_VOCABULARY = " ".join(
    [
        *(f"{e.name} {e.table} {' '.join(e.fields)}" for e in ENTITIES.values()),
        "select from where order by limit offset desc asc nulls last and or not in is null",
        "like escape lower count sum avg min max group as cast float strftime date weekday",
        "distinct tenant_id timezone to_char date_trunc bucket",
    ]
).lower()


def _caller_strings(raw: dict[str, Any]) -> list[str]:
    """Filter values from the caller long enough that finding one in SQL is no accident."""
    found: list[str] = []
    filters = raw.get("filters")
    for item in filters if isinstance(filters, list) else []:
        value = item.get("value") if isinstance(item, dict) else None
        values = value if isinstance(value, list) else [value]
        found += [
            v
            for v in values
            if isinstance(v, str) and len(v) >= 4 and v.lower() not in SQL_VOCABULARY
        ]
    return found


@fuzz_settings(max_examples=80)
@given(QUERIES | WELL_FORMED)
def test_any_query_document_validates_or_says_why(raw: dict[str, Any]) -> None:
    try:
        query = CrmQuery.model_validate(raw)
    except ValidationError as exc:
        assert exc.errors(), raw
        return
    assert query.entity in ENTITIES
    assert 1 <= query.limit <= 500
    for f in query.filters:
        spec = ENTITIES[query.entity].field(f.field)
        assert f.op in spec.ops
        if spec.type is FieldType.NUMBER and f.op.value not in ("in", "is_null"):
            assert abs(f.typed_value) <= 1e15


@fuzz_settings(max_examples=100)
@given(QUERIES | WELL_FORMED)
def test_no_caller_text_ever_becomes_sql(raw: dict[str, Any]) -> None:
    try:
        query = CrmQuery.model_validate(raw)
    except ValidationError:
        return
    for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
        sql = str(compile_query(name, uuid.UUID(int=7), query).compile(dialect=dialect))
        for text in _caller_strings(raw):
            assert text not in sql, (text, sql)


@pytest.fixture(scope="module")
def store(fuzz_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWorld]:
    with world_in_thread(fuzz_template, tmp_path_factory.mktemp("fuzz-query")) as threaded:
        yield threaded


@fuzz_settings(max_examples=80)
@given(WELL_FORMED | QUERIES)
def test_every_valid_query_runs_to_a_table(store: ThreadedWorld, raw: dict[str, Any]) -> None:
    try:
        query = CrmQuery.model_validate(raw)
    except ValidationError:
        return
    repository = SqlCrmRepository(store.database, store.world.tenant_id)
    result = store.portal.call(repository.query, query)
    assert result.columns == query.result_columns()
    assert result.row_count == len(result.rows) <= query.limit
    assert all(len(row) == len(result.columns) for row in result.rows)
    json.dumps(result.model_dump())  # every cell is JSON


def test_edge_values_that_used_to_crash_are_refused_with_the_field_named() -> None:
    cases: list[tuple[str, Any, str]] = [
        ("created_at", "0001-01-01T00:00:00+01:00", "outside the years 1 to 9999"),
        ("gmb_rating", 2**70, "finite numbers"),
        ("gmb_rating", float("nan"), "finite numbers"),
        ("name", "a\x00b", "NUL"),
        ("name", "\ud800", "surrogate"),
    ]
    with pytest.raises(ValidationError, match="twice"):  # SQL would return the column once
        CrmQuery.model_validate({"entity": "accounts", "fields": ["city", "city"]})
    for field, value, expected in cases:
        with pytest.raises(ValidationError) as caught:
            CrmQuery.model_validate(
                {"entity": "accounts", "filters": [{"field": field, "op": "eq", "value": value}]}
            )
        assert expected in str(caught.value) and field in str(caught.value)
