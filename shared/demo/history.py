"""An account's history: its people, deals, activities, reviews and purchases.

Churn drifters tell the same story in every table: from a drift date some months back they
buy less often and less, the agency hears from them less, and their own reviews turn sour.
Healthy customers buy about monthly up to `as_of` and were in touch recently.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from shared.demo.accounts import Business, contact_person
from shared.demo.plan import Profile, Stream, between, pick
from shared.demo.vocabulary import (
    NEGATIVE_REVIEWS,
    NEUTRAL_REVIEWS,
    OWNER_RESPONSES,
    POSITIVE_REVIEWS,
    SERVICES_SOLD,
)

__all__ = ["History", "make_history"]

Row = dict[str, Any]
History = dict[str, list[Row]]

_DAY = timedelta(days=1)
_MONTH = timedelta(days=30)
TRANSACTION_MONTHS = 12  # purchase history kept per customer (what LTV models read)

_REVIEWS = {
    Profile.PROSPECT: (0, 1),
    Profile.LEAD: (1, 3),
    Profile.QUALIFIED: (1, 3),
}
_CUSTOMER_REVIEWS = (2, 4)
_CONTACTS = {Profile.LEAD: (1, 1), Profile.QUALIFIED: (1, 2)}
_CUSTOMER_CONTACTS = (1, 3)


def _at(as_of: datetime, days_ago: float) -> datetime:
    return as_of - timedelta(seconds=int(days_ago * 86_400))


def _drift_start(rng: Stream, business: Business, as_of: datetime) -> datetime | None:
    """When a drifter began to slip (None for everyone else)."""
    if not business.profile.is_churn_drifter:
        return None
    days = {Profile.DRIFTING: (45, 120), Profile.AT_RISK: (60, 150), Profile.CHURNED: (120, 240)}
    return _at(as_of, rng.uniform(*days[business.profile]))


def make_history(rng: Stream, business: Business, tenant_id: UUID, as_of: datetime) -> History:
    """Child rows of one account, keyed by table name; prospects get reviews only."""
    drift = _drift_start(rng, business, as_of)
    history: History = {"reviews": _reviews(rng, business, tenant_id, as_of, drift)}
    if business.profile is Profile.PROSPECT:
        return history
    contacts = _contacts(rng, business, tenant_id)
    history["contacts"] = contacts
    history["deals"] = _deals(rng, business, tenant_id, as_of)
    history["activities"] = _activities(rng, business, tenant_id, as_of, drift, contacts)
    if business.profile.is_customer:
        history["transactions"] = _transactions(rng, business, tenant_id, as_of, drift)
    return history


def _row(rng: Stream, tenant_id: UUID, account_id: UUID, created_at: datetime) -> Row:
    return {
        "id": rng.next_id(),
        "tenant_id": tenant_id,
        "account_id": account_id,
        "created_at": created_at,
    }


def _review_text(rng: Stream, rating: int, business: Business) -> str:
    templates = (
        POSITIVE_REVIEWS if rating >= 4 else NEUTRAL_REVIEWS if rating == 3 else NEGATIVE_REVIEWS
    )
    kind = business.industry.categories[0].lower()
    service = pick(rng, business.industry.services)
    return pick(rng, templates).format(service=service, kind=kind, city=business.city.name)


def _reviews(
    rng: Stream,
    business: Business,
    tenant_id: UUID,
    as_of: datetime,
    drift: datetime | None,
) -> list[Row]:
    low, high = _REVIEWS.get(business.profile, _CUSTOMER_REVIEWS)
    rows: list[Row] = []
    for _ in range(between(rng, low, high)):
        reviewed_at = _at(as_of, rng.uniform(0, 720))
        mean = business.rating
        if drift is not None and reviewed_at >= drift:
            mean -= 2.2  # the drifter's own customers are unhappier lately
        rating = min(5, max(1, round(rng.gauss(mean, 0.9))))
        row = _row(rng, tenant_id, business.id, reviewed_at + _DAY)
        row["rating"] = rating
        row["text"] = _review_text(rng, rating, business)
        row["author"] = f"{pick(rng, _AUTHORS)} {pick(rng, 'ABCDEFGHJKLMNPRSTW')}."
        row["reviewed_at"] = reviewed_at
        row["source"] = "google"
        responded = rng.random() < 0.3
        reply = OWNER_RESPONSES[0 if rating >= 4 else 2 if rating == 3 else 1]
        row["owner_response"] = reply if responded else None
        rows.append(row)
    return rows


_AUTHORS = ("Sam", "Alex", "Jordan", "Taylor", "Chris", "Pat", "Morgan", "Jamie", "Casey")


def _contacts(rng: Stream, business: Business, tenant_id: UUID) -> list[Row]:
    low, high = _CONTACTS.get(business.profile, _CUSTOMER_CONTACTS)
    rows: list[Row] = []
    for n in range(between(rng, low, high)):
        first, last, email, phone = contact_person(rng, business)
        row = _row(rng, tenant_id, business.id, business.created_at + _DAY * n)
        row.update(
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            title=pick(rng, business.industry.contact_titles),
            is_primary=n == 0,
        )
        rows.append(row)
    return rows


def _amount(rng: Stream, business: Business, months: float) -> float:
    low, high = business.industry.monthly_fee
    return round(rng.uniform(low, high) * months / 50) * 50.0


def _deal(
    rng: Stream, business: Business, tenant_id: UUID, created_at: datetime, stage: str
) -> Row:
    title, _ = pick(rng, SERVICES_SOLD)
    row = _row(rng, tenant_id, business.id, created_at)
    row.update(
        title=f"{title} for {business.name}",
        stage=stage,
        amount=_amount(rng, business, rng.uniform(6, 12)),
        currency="USD",
        expected_close_date=(created_at + _DAY * between(rng, 14, 60)).date(),
        closed_at=None,
        updated_at=created_at,
    )
    return row


def _close(row: Row, closed_at: datetime) -> Row:
    row["closed_at"] = closed_at
    row["updated_at"] = closed_at
    return row


def _deals(rng: Stream, business: Business, tenant_id: UUID, as_of: datetime) -> list[Row]:
    profile = business.profile
    opened = business.created_at + _DAY * between(rng, 3, 20)
    if profile is Profile.LEAD:
        return [_deal(rng, business, tenant_id, opened, "new")] if rng.random() < 0.4 else []
    if profile is Profile.QUALIFIED:
        stage = rng.choices(("new", "proposal", "negotiation"), (2, 3, 2))[0]
        rows = [_deal(rng, business, tenant_id, opened, stage)]
        if rng.random() < 0.2:
            lost = _deal(rng, business, tenant_id, business.created_at, "lost")
            rows.append(_close(lost, opened))
        return rows
    won = _close(_deal(rng, business, tenant_id, opened, "won"), opened + _DAY * 21)
    rows = [won]
    if rng.random() < 0.3:
        upsell_opened = _at(as_of, rng.uniform(10, 120))
        if profile is Profile.HEALTHY:
            stage = pick(rng, ("proposal", "negotiation", "won"))
        else:
            stage = "lost"
        upsell = _deal(rng, business, tenant_id, upsell_opened, stage)
        rows.append(upsell if stage not in ("won", "lost") else _close(upsell, _at(as_of, 5)))
    return rows


# (kind, subject) of what an account manager does with an account.
_TOUCHES = (
    ("call", "Monthly check-in call"),
    ("email", "Sent monthly performance report"),
    ("meeting", "Quarterly business review"),
    ("email", "Shared new review-response templates"),
    ("task", "Update GBP photos and hours"),
    ("sms", "Confirmed appointment time"),
)
_SALES_TOUCHES = (
    ("call", "Intro call"),
    ("email", "Sent pricing overview"),
    ("meeting", "Discovery meeting"),
    ("email", "Sent proposal"),
)


def _activity(
    rng: Stream,
    business: Business,
    tenant_id: UUID,
    contacts: list[Row],
    touch: tuple[str, str],
    created_at: datetime,
    *,
    done: bool = True,
    due_at: datetime | None = None,
    created_by: str = "manual",
) -> Row:
    kind, subject = touch
    row = _row(rng, tenant_id, business.id, created_at)
    row.update(
        contact_id=contacts[0]["id"] if contacts else None,
        kind=kind,
        subject=subject,
        body=None,
        due_at=due_at if due_at is not None else created_at,
        done_at=created_at if done else None,
        created_by=created_by,
    )
    return row


def _activities(
    rng: Stream,
    business: Business,
    tenant_id: UUID,
    as_of: datetime,
    drift: datetime | None,
    contacts: list[Row],
) -> list[Row]:
    profile = business.profile
    touch = partial(_activity, rng, business, tenant_id, contacts)
    if profile in (Profile.LEAD, Profile.QUALIFIED):
        count = between(rng, 1, 2) if profile is Profile.LEAD else between(rng, 2, 3)
        rows = [
            touch(_SALES_TOUCHES[n], business.created_at + _DAY * (2 + 5 * n)) for n in range(count)
        ]
        follow_up = as_of + _DAY * between(rng, 1, 14)
        by = pick(rng, ("manual", "automation"))
        rows.append(
            touch(("follow_up_call", "Follow-up call"), as_of - _DAY, done=False,
                  due_at=follow_up, created_by=by)
        )  # fmt: skip
        return rows
    # Customers: touches about every few weeks, thinning out after a drifter's drift date.
    rows: list[Row] = []
    last_touch = drift if drift is not None else as_of
    for _ in range(between(rng, 3, 6)):
        days_ago = rng.expovariate(1 / 25) + (as_of - last_touch).days
        when = _at(as_of, min(days_ago, 400))
        by = "automation" if rng.random() < 0.3 else "manual"
        rows.append(touch(pick(rng, _TOUCHES), when, created_by=by))
    if profile is Profile.AT_RISK:
        rows.append(
            touch(("task", "Purchases dropping: plan a retention offer"), _at(as_of, 3),
                  done=False, due_at=as_of + _DAY * 2, created_by="automation")
        )  # fmt: skip
    elif profile is Profile.CHURNED:
        rows.append(touch(("note", "Customer cancelled the retainer"), _at(as_of, 20)))
    elif profile is Profile.HEALTHY and rng.random() < 0.5:
        rows.append(
            touch(("follow_up_call", "Renewal follow-up call"), _at(as_of, 1), done=False,
                  due_at=as_of + _DAY * between(rng, 3, 30))
        )  # fmt: skip
    return rows


def _purchase_rate(month_start: datetime, drift: datetime | None, profile: Profile) -> float:
    """Relative purchase rate in a month: 1 while healthy, decaying after the drift date."""
    if drift is None or month_start < drift:
        return 1.0
    months = (month_start - drift) / _MONTH
    if profile is Profile.CHURNED:
        return math.exp(-1.2 * months) if months < 2.5 else 0.0
    return math.exp(-(0.7 if profile is Profile.AT_RISK else 0.4) * months)


def _transactions(
    rng: Stream,
    business: Business,
    tenant_id: UUID,
    as_of: datetime,
    drift: datetime | None,
) -> list[Row]:
    customer_since = business.created_at + _DAY * 30
    start = max(customer_since, as_of - _MONTH * TRANSACTION_MONTHS)
    base_rate = rng.uniform(0.6, 1.4)  # purchases a month at full health
    service, description = pick(rng, SERVICES_SOLD)
    rows: list[Row] = []
    month_start = start
    while month_start < as_of:
        expected = base_rate * _purchase_rate(month_start, drift, business.profile)
        count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
        shrink = 1.0 if drift is None or month_start < drift else rng.uniform(0.5, 0.9)
        for _ in range(count):
            occurred_at = month_start + timedelta(seconds=int(rng.random() * 30 * 86_400))
            if occurred_at >= as_of:
                continue
            row = _row(rng, tenant_id, business.id, occurred_at)
            row["amount"] = _amount(rng, business, shrink) or 50.0
            row["occurred_at"] = occurred_at
            row["description"] = description if rng.random() < 0.85 else f"{service} add-on"
            rows.append(row)
        month_start += _MONTH
    return rows
