"""The per-customer (frequency, recency, T, monetary value) summary that BG/NBD and
Gamma-Gamma are fitted on, built from a raw transaction list.

Conventions are those of Fader, Hardie & Lee (2005) and of the CDNOW summary: purchases on
the same calendar day are one purchase (their amounts add up); frequency counts repeat
purchase days; recency is the time from the first to the last purchase day; T the time from
the first purchase day to the calibration end date; monetary value is the mean of the repeat
purchases (the first purchase is left out, as in the papers; 0 for one-time buyers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import FloatArray
from shared.analytics.models import Transaction
from shared.errors import ValidationFailedError

__all__ = ["CustomerSummary", "TransactionSummary", "summarize_transactions"]


class CustomerSummary(BaseModel):
    """One customer's purchase history, in the time unit of the summary (weeks by default)."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    frequency: int = Field(ge=0, description="repeat purchases (days with a purchase, minus 1)")
    recency: float = Field(ge=0.0, description="first to last purchase")
    T: float = Field(ge=0.0, description="first purchase to the end of calibration")
    monetary_value: float = Field(ge=0.0, description="mean value of the repeat purchases")


@dataclass(frozen=True)
class TransactionSummary:
    """Column arrays for the fits, one entry per customer in `customer_ids` order."""

    customer_ids: tuple[str, ...]
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray

    def __len__(self) -> int:
        return len(self.customer_ids)

    def row(self, customer_id: str) -> CustomerSummary:
        try:
            i = self.customer_ids.index(customer_id)
        except ValueError:
            raise ValidationFailedError(
                f"customer {customer_id!r} has no purchase before the calibration end"
            ) from None
        return CustomerSummary(
            customer_id=customer_id,
            frequency=int(self.frequency[i]),
            recency=float(self.recency[i]),
            T=float(self.T[i]),
            monetary_value=float(self.monetary_value[i]),
        )

    @classmethod
    def from_rows(cls, rows: Sequence[CustomerSummary]) -> TransactionSummary:
        for row in rows:
            if row.recency > row.T + 1e-9:
                raise ValidationFailedError(
                    f"customer {row.customer_id!r}: recency {row.recency} exceeds T {row.T}"
                )
        return cls(
            customer_ids=tuple(r.customer_id for r in rows),
            frequency=np.array([r.frequency for r in rows], dtype=np.float64),
            recency=np.array([r.recency for r in rows], dtype=np.float64),
            T=np.array([r.T for r in rows], dtype=np.float64),
            monetary_value=np.array([r.monetary_value for r in rows], dtype=np.float64),
        )


def summarize_transactions(
    transactions: Iterable[Transaction],
    calibration_end: datetime,
    *,
    time_unit_days: float = 7.0,
) -> TransactionSummary:
    """Summarise purchases up to and including the calendar day of `calibration_end`.

    Calendar days are taken in the time zone of `calibration_end` (the business's local day).
    Customers whose first purchase falls after it are left out. Raises ValidationFailedError
    for a naive `calibration_end` or a non-positive time unit.
    """
    if calibration_end.tzinfo is None or calibration_end.utcoffset() is None:
        raise ValidationFailedError(
            "calibration_end has no time zone; pass e.g. 1997-09-30T00:00:00+00:00"
        )
    if time_unit_days <= 0:
        raise ValidationFailedError("time_unit_days must be positive (7 for weeks)")
    zone = calibration_end.tzinfo
    end_day = calibration_end.date()
    by_customer: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for tx in transactions:
        day = tx.occurred_at.astimezone(zone).date()
        if day <= end_day:
            by_customer[tx.customer_id][day] += tx.amount

    rows: list[CustomerSummary] = []
    for customer_id, days in by_customer.items():
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        repeat_amounts = [days[d] for d in ordered[1:]]
        rows.append(
            CustomerSummary(
                customer_id=customer_id,
                frequency=len(ordered) - 1,
                recency=(last - first).days / time_unit_days,
                T=(end_day - first).days / time_unit_days,
                monetary_value=(sum(repeat_amounts) / len(repeat_amounts))
                if repeat_amounts
                else 0.0,
            )
        )
    return TransactionSummary.from_rows(rows)
