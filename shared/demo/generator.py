"""The deterministic demo generator: tenants and their rows, streamed in batches.

Nothing here touches a database: `iter_tenant_batches` yields plain dicts keyed by column
name, a bounded number of accounts (with all their child rows) at a time, so a million
accounts never sit in memory together. `shared.demo.seed` writes them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from shared.demo.accounts import make_account
from shared.demo.history import make_history
from shared.demo.plan import (
    DemoParams,
    Profile,
    Stream,
    TenantPlan,
    between,
    iter_account_plans,
    pick,
    stream,
)
from shared.demo.vocabulary import CITIES, INDUSTRIES

__all__ = ["TABLE_ORDER", "Batch", "iter_tenant_batches", "tenant_row"]

Row = dict[str, Any]
Batch = dict[str, list[Row]]

# Insert order: parents before children (activities point at contacts).
TABLE_ORDER = (
    "accounts",
    "contacts",
    "deals",
    "activities",
    "campaigns",
    "reviews",
    "transactions",
)


def tenant_row(params: DemoParams, tenant: TenantPlan) -> Row:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "settings": {"demo": params.settings_record(tenant.index)},
        "created_at": params.as_of - timedelta(days=1000),
    }


def _empty_batch() -> Batch:
    return {table: [] for table in TABLE_ORDER}


def _campaign(
    rng: Stream,
    tenant_id: uuid.UUID,
    *,
    name: str,
    kind: str,
    channel: str,
    created_at: datetime,
    status: str,
    message: str,
    audience: dict[str, Any] | None = None,
    account_id: uuid.UUID | None = None,
    created_by: str = "manual",
) -> Row:
    return {
        "id": rng.next_id(),
        "tenant_id": tenant_id,
        "name": name,
        "kind": kind,
        "channel": channel,
        "status": status,
        "account_id": account_id,
        "message": message,
        "audience": audience,
        "scheduled_at": created_at + timedelta(days=2),
        "created_by": created_by,
        "created_at": created_at,
    }


def _tenant_campaigns(rng: Stream, tenant_id: uuid.UUID, as_of: datetime) -> list[Row]:
    """A few agency-wide campaigns: prospecting by industry and city, and a win-back."""
    rows: list[Row] = []
    for n in range(5):
        industry = pick(rng, INDUSTRIES[:5])
        city = pick(rng, CITIES[:6])
        channel = pick(rng, ("email", "sms"))
        label = industry.categories[0].lower()
        rows.append(
            _campaign(
                rng,
                tenant_id,
                name=f"{city.name} {label} outreach #{n + 1}",
                kind="acquisition",
                channel=channel,
                created_at=as_of - timedelta(days=between(rng, 5, 200)),
                status=pick(rng, ("draft", "scheduled", "sent", "sent")),
                message=f"Get more {city.name} customers from Google: a free review audit "
                f"for {label}s.",
                audience={"industry": industry.key, "city": city.name, "stage": "prospect"},
            )
        )
    rows.append(
        _campaign(
            rng,
            tenant_id,
            name="Win-back: lapsed customers",
            kind="retention",
            channel="email",
            created_at=as_of - timedelta(days=between(rng, 10, 90)),
            status="sent",
            message="We miss working with you: here is a month of review management on us.",
            audience={"stage": "churned"},
        )
    )
    return rows


def _retention_campaign(rng: Stream, tenant_id: uuid.UUID, account: Row, as_of: datetime) -> Row:
    return _campaign(
        rng,
        tenant_id,
        name=f"Retention offer: {account['name']}",
        kind="retention",
        channel=pick(rng, ("email", "sms")),
        created_at=as_of - timedelta(days=between(rng, 1, 10)),
        status=pick(rng, ("draft", "scheduled")),
        message="A free strategy session and 20% off next quarter's retainer.",
        account_id=account["id"],
        created_by="automation",
    )


def iter_tenant_batches(
    params: DemoParams, tenant: TenantPlan, batch_accounts: int = 2_000
) -> Iterator[Batch]:
    """Rows of `tenant` (not the tenant row itself), `batch_accounts` accounts per batch.

    Deterministic: the same params and tenant give the same batches, whatever the batch size.
    """
    if batch_accounts < 1:
        raise ValueError("batch_accounts must be at least 1")
    rng = stream(params, tenant.index, "detail")
    as_of = params.as_of
    batch = _empty_batch()
    batch["campaigns"].extend(_tenant_campaigns(rng, tenant.id, as_of))
    in_batch = 0
    for plan in iter_account_plans(params, tenant):
        account, business = make_account(rng, plan, tenant.id, as_of)
        batch["accounts"].append(account)
        for table, rows in make_history(rng, business, tenant.id, as_of).items():
            batch[table].extend(rows)
        if plan.profile is Profile.AT_RISK and rng.random() < 0.5:
            batch["campaigns"].append(_retention_campaign(rng, tenant.id, account, as_of))
        in_batch += 1
        if in_batch == batch_accounts:
            yield batch
            batch = _empty_batch()
            in_batch = 0
    if any(batch.values()):
        yield batch
