"""The query_crm model: only whitelisted fields, operators and typed values get through."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from shared.crm.query import ENTITIES, MAX_QUERY_ROWS, CrmQuery, FieldType, describe_schema
from shared.crm.sql_queries import compile_query


def query(**data: Any) -> CrmQuery:
    return CrmQuery.model_validate({"entity": "deals", **data})


def rejected(**data: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        query(**data)
    return str(caught.value)


def test_unknown_field_error_lists_the_allowed_fields() -> None:
    message = rejected(filters=[{"field": "password", "op": "eq", "value": "x"}])
    assert "unknown field 'password' for entity deals" in message
    assert "allowed: id, account_id, title, stage, amount" in message


def test_unknown_operator_and_entity_errors_list_the_allowed_ones() -> None:
    assert "'eq', 'ne', 'lt'" in rejected(filters=[{"field": "amount", "op": "like", "value": 1}])
    with pytest.raises(ValidationError, match="'accounts', 'deals', 'activities'"):
        CrmQuery.model_validate({"entity": "users"})


def test_an_operator_a_field_does_not_support_is_refused_with_the_ones_it_does() -> None:
    message = rejected(filters=[{"field": "stage", "op": "gt", "value": "won"}])
    assert "operator 'gt' does not apply to enum field 'stage'; allowed: eq, ne, in, is_null" in (
        message
    )
    assert "contains" in rejected(filters=[{"field": "amount", "op": "contains", "value": "1"}])


@pytest.mark.parametrize(
    ("bad_filter", "says"),
    [
        ({"field": "stage", "op": "eq", "value": "closed"}, "allowed: new, proposal"),
        ({"field": "amount", "op": "gt", "value": "lots"}, "'amount' is a number field"),
        ({"field": "amount", "op": "gt", "value": True}, "'amount' is a number field"),
        ({"field": "amount", "op": "in", "value": 5}, "takes a non-empty list"),
        ({"field": "amount", "op": "in", "value": []}, "takes a non-empty list"),
        ({"field": "amount", "op": "in", "value": list(range(101))}, "at most 100"),
        ({"field": "amount", "op": "is_null", "value": "yes"}, "takes true or false"),
        ({"field": "amount", "op": "eq"}, "takes one number value"),
        ({"field": "created_at", "op": "gte", "value": "last week"}, "ISO date like"),
        ({"field": "account_id", "op": "eq", "value": "42"}, "'account_id' is a id field"),
        ({"field": "title", "op": "contains", "value": ""}, "non-empty text"),
    ],
)
def test_filter_values_must_fit_the_field(bad_filter: dict[str, Any], says: str) -> None:
    assert says in rejected(filters=[bad_filter])


def test_filter_values_are_converted_to_the_field_type() -> None:
    account = uuid.uuid4()
    q = query(
        filters=[
            {"field": "created_at", "op": "gte", "value": "2026-03-01"},
            {"field": "closed_at", "op": "lt", "value": "2026-03-01T09:30:00"},
            {"field": "updated_at", "op": "lt", "value": "2026-03-01T09:30:00+02:00"},
            {"field": "expected_close_date", "op": "lte", "value": "2026-04-30"},
            {"field": "account_id", "op": "in", "value": [str(account)]},
        ]
    )
    assert [f.typed_value for f in q.filters] == [
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        datetime(2026, 3, 1, 7, 30, tzinfo=UTC),
        date(2026, 4, 30),
        [account],
    ]


def test_limit_is_clamped_not_refused() -> None:
    assert query(limit=10_000).limit == MAX_QUERY_ROWS
    assert query(limit=0).limit == 1
    assert query().limit == 100


def test_grouping_metrics_and_order_are_checked() -> None:
    assert "use time_bucket" in rejected(group_by=["created_at"])
    assert "metric sum needs a field of deals; allowed: amount" in rejected(
        metrics=[{"fn": "sum", "field": "stage"}]
    )
    assert "time_bucket needs a date field" in rejected(
        time_bucket={"field": "stage", "unit": "day"}
    )
    assert "order by a result column: stage, count" in rejected(
        group_by=["stage"], order_by=[{"by": "amount"}]
    )
    assert "fields lists records" in rejected(fields=["title"], group_by=["stage"])


def test_result_columns_and_default_order() -> None:
    grouped = query(
        group_by=["stage"],
        time_bucket={"field": "created_at", "unit": "week"},
        metrics=[{"fn": "sum", "field": "amount"}, {"fn": "count"}],
    )
    counted = query(group_by=["stage"])
    listed = query(fields=["title", "amount"])

    assert grouped.result_columns() == ["bucket", "stage", "sum_amount", "count"]
    assert [o.by for o in grouped.effective_order()] == ["bucket", "stage"]
    assert counted.result_columns() == ["stage", "count"]
    assert [(o.by, o.descending) for o in counted.effective_order()] == [("count", True)]
    assert listed.result_columns() == ["title", "amount"]
    assert [(o.by, o.descending) for o in listed.effective_order()] == [("created_at", True)]


def test_values_reach_sql_only_as_bound_parameters() -> None:
    hostile = "x'); DROP TABLE accounts; --"
    q = CrmQuery.model_validate(
        {"entity": "accounts", "filters": [{"field": "name", "op": "contains", "value": hostile}]}
    )
    stmt = compile_query("sqlite", uuid.uuid4(), q)
    sql = str(stmt.compile(dialect=sqlite.dialect()))
    assert "DROP" not in sql
    assert any("DROP" in str(v) for v in stmt.compile().params.values())


def test_time_buckets_compile_per_dialect() -> None:
    q = query(time_bucket={"field": "created_at", "unit": "week"})
    lite = str(compile_query("sqlite", uuid.uuid4(), q).compile(dialect=sqlite.dialect()))
    pg = str(compile_query("postgresql", uuid.uuid4(), q).compile(dialect=postgresql.dialect()))
    assert "date(deals.created_at" in lite
    assert "date_trunc" in pg and "timezone" in pg


def test_schema_description_covers_every_entity_and_field() -> None:
    schema = describe_schema()
    assert set(schema["entities"]) == {
        "accounts", "deals", "activities", "campaigns", "transactions", "reviews"
    }  # fmt: skip
    for name, spec in ENTITIES.items():
        fields = schema["entities"][name]["fields"]
        assert set(fields) == set(spec.fields)
        for field in fields.values():
            assert field["description"] and field["operators"]
            assert FieldType(field["type"])
    assert schema["entities"]["deals"]["fields"]["stage"]["values"][0] == "new"
