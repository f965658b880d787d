"""The safe structured query behind `query_crm`: a whitelist, validated before any database.

A `CrmQuery` names one entity, filters (`field op value`), optional `group_by`, metrics and
one time bucket, an order and a limit. Every field is looked up in `ENTITIES`; an unknown
field or an operator a field does not support is a validation error whose message lists
what is allowed, so a model can correct itself. Filter values are converted to the field's
type here (dates to UTC datetimes, ids to UUIDs, enums checked), so a data source compiles
only known columns and typed values: no text from the caller ever becomes SQL.

Results are tables: `columns` and `rows`. Without metrics, group_by or time bucket a query
lists records (the entity's fields); otherwise it aggregates. Time buckets are labelled with
the ISO date their period starts on (weeks start on Monday, ISO 8601).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from shared.crm.query_schema import (
    ENTITIES,
    MAX_QUERY_ROWS,
    EntitySpec,
    FieldSpec,
    FieldType,
    FilterOp,
    describe_schema,
)

__all__ = [
    "ENTITIES",
    "MAX_QUERY_ROWS",
    "CrmQuery",
    "CrmQueryResult",
    "EntityName",
    "EntitySpec",
    "FieldSpec",
    "FieldType",
    "FilterOp",
    "MetricFn",
    "QueryFilter",
    "QueryMetric",
    "QueryOrder",
    "TimeBucket",
    "TimeUnit",
    "describe_schema",
    "to_cell",
]

DEFAULT_QUERY_ROWS = 100
MAX_IN_VALUES = 100
# Filter numbers stay well inside what SQLite's 64-bit integers and doubles compare exactly.
MAX_NUMBER = 1e15

EntityName = Literal["accounts", "deals", "activities", "campaigns", "transactions", "reviews"]
TimeUnit = Literal["day", "week", "month"]
MetricFn = Literal["count", "sum", "avg", "min", "max"]

Scalar = bool | int | float | str
FilterValue = Scalar | list[Scalar] | None
Cell = str | int | float | bool | None


class QueryFilter(BaseModel):
    """`field op value`. `in` takes a list; `is_null` takes true (is null) or false."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(max_length=64, description="A field of the entity (see crm://schema)")
    op: FilterOp
    value: FilterValue = None
    _typed: Any = PrivateAttr(default=None)

    @property
    def typed_value(self) -> Any:
        """The value converted to the field's type (datetime, date, UUID, list of those)."""
        return self._typed


class QueryMetric(BaseModel):
    """An aggregate. `count` needs no field; sum/avg need a number field, min/max a number
    or date field. The result column is named `count` or `<fn>_<field>`."""

    model_config = ConfigDict(extra="forbid")

    fn: MetricFn
    field: str | None = Field(default=None, max_length=64)

    @property
    def alias(self) -> str:
        return self.fn if self.field is None else f"{self.fn}_{self.field}"


class TimeBucket(BaseModel):
    """Group by period of a date field; the result column `bucket` is the period's first day."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(max_length=64)
    unit: TimeUnit


class QueryOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(max_length=64, description="A result column: a field, `bucket` or a metric")
    descending: bool = False


class CrmQuery(BaseModel):
    """One entity, ANDed filters, optional grouping and metrics, order and limit.

    Without metrics, group_by and time_bucket the query lists records (`fields`, default all
    of the entity's fields); grouping without metrics counts rows. `limit` is clamped to
    1..500.
    """

    model_config = ConfigDict(extra="forbid")

    entity: EntityName
    filters: list[QueryFilter] = Field(default_factory=list[QueryFilter], max_length=20)
    fields: list[str] | None = Field(
        default=None, max_length=30, description="Record listing only: the columns to return"
    )
    group_by: list[str] = Field(default_factory=list[str], max_length=3)
    metrics: list[QueryMetric] = Field(default_factory=list[QueryMetric], max_length=6)
    time_bucket: TimeBucket | None = None
    order_by: list[QueryOrder] = Field(default_factory=list[QueryOrder], max_length=3)
    limit: int = Field(default=DEFAULT_QUERY_ROWS, description="Clamped to 1..500")

    @field_validator("limit")
    @classmethod
    def _clamp_limit(cls, value: int) -> int:
        # After validation, so 0, -1.0 or 1e9 (floats pydantic accepts as ints) clamp too.
        return max(1, min(value, MAX_QUERY_ROWS))

    @property
    def spec(self) -> EntitySpec:
        return ENTITIES[self.entity]

    @property
    def is_aggregate(self) -> bool:
        return bool(self.metrics or self.group_by or self.time_bucket)

    @property
    def effective_metrics(self) -> list[QueryMetric]:
        """Grouping without metrics counts rows."""
        return self.metrics or ([QueryMetric(fn="count")] if self.is_aggregate else [])

    @property
    def record_fields(self) -> list[str]:
        return self.fields or list(self.spec.fields)

    def result_columns(self) -> list[str]:
        if not self.is_aggregate:
            return self.record_fields
        bucket = ["bucket"] if self.time_bucket else []
        return [*bucket, *self.group_by, *(m.alias for m in self.effective_metrics)]

    def effective_order(self) -> list[QueryOrder]:
        """The order asked for, else: buckets in time order, then the first metric
        descending; records newest first by the entity's main date."""
        if self.order_by:
            return self.order_by
        if not self.is_aggregate:
            return [QueryOrder(by=self.spec.default_date_field, descending=True)]
        if self.time_bucket:
            return [QueryOrder(by="bucket"), *(QueryOrder(by=g) for g in self.group_by)]
        return [QueryOrder(by=self.effective_metrics[0].alias, descending=True)]

    @model_validator(mode="after")
    def _known_fields_only(self) -> CrmQuery:
        spec = self.spec
        for f in self.filters:
            f._typed = _check_filter(spec, f)  # pyright: ignore[reportPrivateUsage]
        if self.fields is not None:
            if self.is_aggregate:
                raise ValueError("fields lists records; with group_by/metrics leave it out")
            for name in self.fields:
                spec.field(name)
            if len(set(self.fields)) != len(self.fields):
                raise ValueError("fields lists a field twice")
        for name in self.group_by:
            if spec.field(name).type is FieldType.DATE:
                raise ValueError(
                    f"group_by {name!r} is a date; use time_bucket {{field: {name!r}, unit: "
                    "day|week|month}} instead"
                )
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by lists a field twice")
        for metric in self.metrics:
            _check_metric(spec, metric)
        if len({m.alias for m in self.metrics}) != len(self.metrics):
            raise ValueError("metrics lists the same metric twice")
        if self.time_bucket and spec.field(self.time_bucket.field).type is not FieldType.DATE:
            raise ValueError(
                f"time_bucket needs a date field; allowed: "
                f"{', '.join(spec.fields_of(FieldType.DATE))}"
            )
        columns = self.result_columns()
        for order in self.order_by:
            if order.by not in columns:
                raise ValueError(
                    f"cannot order by {order.by!r}; order by a result column: {', '.join(columns)}"
                )
        return self


def _check_metric(spec: EntitySpec, metric: QueryMetric) -> None:
    if metric.fn == "count":
        if metric.field is not None:
            spec.field(metric.field)
        return
    allowed = (
        spec.fields_of(FieldType.NUMBER)
        if metric.fn in ("sum", "avg")
        else spec.fields_of(FieldType.NUMBER, FieldType.DATE)
    )
    if metric.field is None or metric.field not in allowed:
        raise ValueError(
            f"metric {metric.fn} needs a field of {spec.name}; allowed: "
            f"{', '.join(allowed) or '(none)'}"
        )


def _check_filter(spec: EntitySpec, f: QueryFilter) -> Any:
    """Return the value converted to the field's type, or raise ValueError saying why."""
    fs = spec.field(f.field)
    if f.op not in fs.ops:
        raise ValueError(
            f"operator {f.op.value!r} does not apply to {fs.type.value} field {f.field!r}; "
            f"allowed: {', '.join(op.value for op in fs.ops)}"
        )
    if f.op is FilterOp.IS_NULL:
        if not isinstance(f.value, bool):
            raise ValueError(f"is_null on {f.field!r} takes true or false")
        return f.value
    if f.op is FilterOp.IN:
        if not isinstance(f.value, list) or not f.value:
            raise ValueError(f"'in' on {f.field!r} takes a non-empty list of values")
        if len(f.value) > MAX_IN_VALUES:
            raise ValueError(f"'in' takes at most {MAX_IN_VALUES} values")
        return [_coerce(fs, v) for v in f.value]
    if f.value is None or isinstance(f.value, list):
        raise ValueError(f"{f.op.value!r} on {f.field!r} takes one {fs.type.value} value")
    if f.op is FilterOp.CONTAINS and not (isinstance(f.value, str) and f.value):
        raise ValueError(f"contains on {f.field!r} takes non-empty text")
    return _coerce(fs, f.value)


def _coerce(fs: FieldSpec, value: Scalar) -> Any:
    wrong = ValueError(f"{fs.name!r} is a {fs.type.value} field; {value!r} is not a valid value")
    match fs.type:
        case FieldType.TEXT:
            if not isinstance(value, str) or len(value) > 500:
                raise wrong
            return _storable_text(fs, value)
        case FieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise wrong
            if not math.isfinite(value) or abs(value) > MAX_NUMBER:
                raise ValueError(
                    f"{fs.name!r} compares with finite numbers up to {MAX_NUMBER:.0e}, not {value}"
                )
            return value
        case FieldType.BOOL:
            if not isinstance(value, bool):
                raise wrong
            return value
        case FieldType.ENUM:
            if value not in fs.values:
                raise ValueError(
                    f"{value!r} is not a value of {fs.name!r}; allowed: {', '.join(fs.values)}"
                )
            return value
        case FieldType.ID:
            try:
                return uuid.UUID(str(value))
            except ValueError:
                raise wrong from None
        case FieldType.DATE:
            if not isinstance(value, str):
                raise wrong
            return _parse_when(fs, value)


def _storable_text(fs: FieldSpec, value: str) -> str:
    # Neither store can hold these: Postgres refuses NUL, UTF-8 cannot encode a lone surrogate.
    if "\x00" in value:
        raise ValueError(f"{fs.name!r}: text cannot contain a NUL character (\\u0000)")
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError(f"{fs.name!r}: text contains a lone UTF-16 surrogate; send valid Unicode")
    return value


def _parse_when(fs: FieldSpec, value: str) -> datetime | date:
    """ISO date or date-time; a value without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{fs.name!r} takes an ISO date like 2026-03-01 or 2026-03-01T09:00:00Z, not {value!r}"
        ) from None
    if not fs.timestamp:
        return parsed.date()
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if len(value) == 10:  # a bare date means its midnight UTC
        parsed = datetime.combine(parsed.date(), time(), tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{fs.name!r}: {value!r} is outside the years 1 to 9999 in UTC") from None


class CrmQueryResult(BaseModel):
    """A table. Dates are ISO strings, ids strings. `truncated`: more rows matched than
    `limit`; narrow the filters or aggregate."""

    columns: list[str]
    rows: list[list[Cell]]
    row_count: int
    truncated: bool = False


def to_cell(value: Any) -> Cell:
    """A database value as JSON-safe table cell."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):  # Postgres sum/avg of numeric
        return float(value)
    return str(value)  # UUID
