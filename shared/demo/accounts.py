"""One demo account row: a local business with its Google Business Profile, as Apify finds it."""

from __future__ import annotations

import base64
import random
import string
import uuid
from bisect import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from shared.demo.plan import AccountPlan, Profile, between, pick
from shared.demo.vocabulary import (
    CITIES,
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    NAME_WORDS,
    SALES_REPS,
    STREET_KINDS,
    STREETS,
    City,
    Industry,
)

__all__ = ["Business", "make_account"]

Row = dict[str, Any]

_INDUSTRY_WEIGHTS = list(accumulate(i.weight for i in INDUSTRIES))
_CITY_WEIGHTS = list(accumulate(c.weight for c in CITIES))

# Primary category alone, or with one secondary; shared lists (rows never mutate them).
_CATEGORY_SETS = {
    i.key: [[i.categories[0]]] * (len(i.categories) - 1)
    + [[i.categories[0], extra] for extra in i.categories[1:]]
    for i in INDUSTRIES
}

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _week(weekday: str, saturday: str | None, sunday: str | None) -> dict[str, str | None]:
    return {**dict.fromkeys(_DAYS[:5], weekday), "saturday": saturday, "sunday": sunday}


# Opening hours as Google shows them ("HH:MM-HH:MM", null when closed), shared across rows.
_HOURS: dict[str, tuple[dict[str, str | None], ...]] = {
    "weekday": (_week("08:00-17:00", None, None), _week("07:30-16:30", "08:00-12:00", None)),
    "extended": (
        _week("07:00-19:00", "08:00-16:00", None),
        _week("00:00-24:00", "00:00-24:00", "00:00-24:00"),
    ),
    "office": (_week("09:00-18:00", None, None), _week("08:30-17:30", None, None)),
}

# How long ago (days) an account of each profile entered the CRM.
_AGE_DAYS = {
    Profile.PROSPECT: (1, 540),
    Profile.LEAD: (20, 400),
    Profile.QUALIFIED: (15, 300),
}
_CUSTOMER_AGE_DAYS = (200, 900)

_LEAD_SCORE = {
    Profile.LEAD: (30.0, 70.0),
    Profile.QUALIFIED: (60.0, 96.0),
}
_CUSTOMER_LEAD_SCORE = (55.0, 95.0)


@dataclass(frozen=True)
class Business:
    """What the history generator needs to know about the account it is filling in."""

    id: uuid.UUID
    name: str
    domain: str
    industry: Industry
    city: City
    profile: Profile
    rating: float
    created_at: datetime
    owner: str | None


_NOT_IN_DOMAIN = str.maketrans("", "", string.punctuation + " ")


def _slug(name: str) -> str:
    return name.lower().translate(_NOT_IN_DOMAIN)[:40]


def _business_name(rng: random.Random, industry: Industry, city: City) -> str:
    pattern = pick(rng, industry.name_patterns)
    return pattern.format(
        last=pick(rng, LAST_NAMES),
        last2=pick(rng, LAST_NAMES),
        city=city.name,
        word=pick(rng, NAME_WORDS),
    )


def phone_number(rng: random.Random, city: City) -> str:
    # 555-01xx numbers are reserved for fiction, so no real business is dialled by accident.
    return f"({city.area_code}) 555-01{int(rng.random() * 100):02d}"


def _place_id(rng: random.Random) -> str:
    return "ChIJ" + base64.urlsafe_b64encode(rng.getrandbits(144).to_bytes(18, "big")).decode()


def _rating(rng: random.Random, profile: Profile) -> float:
    mean = 3.9 if profile.is_churn_drifter else 4.3
    return round(min(5.0, max(1.0, rng.gauss(mean, 0.55))), 1)


def make_account(
    rng: random.Random, plan: AccountPlan, tenant_id: uuid.UUID, as_of: datetime
) -> tuple[Row, Business]:
    """The `accounts` row for `plan`, and the facts its history is generated from."""
    industry = INDUSTRIES[bisect(_INDUSTRY_WEIGHTS, rng.random() * _INDUSTRY_WEIGHTS[-1])]
    city = CITIES[bisect(_CITY_WEIGHTS, rng.random() * _CITY_WEIGHTS[-1])]
    name = _business_name(rng, industry, city)
    domain = f"{_slug(name)}.com"
    profile = plan.profile
    low, high = _AGE_DAYS.get(profile, _CUSTOMER_AGE_DAYS)
    created_at = as_of - timedelta(days=between(rng, low, high), seconds=int(rng.random() * 86_400))
    has_profile = profile is Profile.PROSPECT or rng.random() < 0.97
    rating = _rating(rng, profile)
    review_count = int(rng.lognormvariate(3.3, 1.0)) + 1
    has_website = rng.random() < (0.62 if profile is Profile.PROSPECT else 0.9)
    if profile in _LEAD_SCORE:
        score_range: tuple[float, float] | None = _LEAD_SCORE[profile]
    elif profile.is_customer:
        score_range = _CUSTOMER_LEAD_SCORE
    else:
        score_range = (5.0, 60.0) if rng.random() < 0.25 else None
    owner = None if profile is Profile.PROSPECT else pick(rng, SALES_REPS)
    street = f"{between(rng, 100, 9899)} {pick(rng, STREETS)} {pick(rng, STREET_KINDS)}"
    postal_code = f"{city.zip_prefix}{int(rng.random() * 100):02d}"
    categories = pick(rng, _CATEGORY_SETS[industry.key])
    row: Row = {
        "id": plan.id,
        "tenant_id": tenant_id,
        "name": name,
        "industry": industry.key,
        "city": city.name,
        "region": city.region,
        "country": "US",
        "address": f"{street}, {city.name}, {city.region} {postal_code}",
        "phone": phone_number(rng, city),
        "email": f"info@{domain}" if has_website and profile is not Profile.PROSPECT else None,
        "website": f"https://www.{domain}" if has_website else None,
        "google_place_id": _place_id(rng) if has_profile else None,
        "gmb_rating": rating if has_profile else None,
        "gmb_review_count": review_count if has_profile else None,
        "gmb_hours": pick(rng, _HOURS[industry.hours]) if rng.random() < 0.85 else None,
        "gmb_photos_count": int(rng.lognormvariate(2.4, 1.0)) if has_profile else None,
        "gmb_categories": categories if has_profile else None,
        "lifecycle_stage": profile.lifecycle_stage,
        "lead_score": round(rng.uniform(*score_range), 1) if score_range else None,
        "owner": owner,
        "notes": _note(rng, profile),
        "source": "apify" if profile is Profile.PROSPECT else pick(rng, _SOURCES),
        "created_at": created_at,
        "updated_at": created_at + (as_of - created_at) * rng.random(),
    }
    business = Business(
        id=plan.id,
        name=name,
        domain=domain,
        industry=industry,
        city=city,
        profile=profile,
        rating=rating,
        created_at=created_at,
        owner=owner,
    )
    return row, business


_SOURCES = ("apify", "apify", "referral", "website", "manual", "import")

_NOTES: dict[Profile, tuple[str, ...]] = {
    Profile.LEAD: ("Asked about pricing on the website form.", "Met at a chamber mixer."),
    Profile.QUALIFIED: ("Budget confirmed; decision maker is the owner.", "Wants a proposal."),
    Profile.HEALTHY: ("Happy with results; open to an upsell.", "Renewed without discussion."),
    Profile.DRIFTING: ("Owner has been slow to reply lately.", "Paused one campaign."),
    Profile.AT_RISK: ("Complained about lead quality.", "Asked how to cancel the retainer."),
    Profile.CHURNED: ("Cancelled the retainer.", "Moved to another agency."),
}


def _note(rng: random.Random, profile: Profile) -> str | None:
    options = _NOTES.get(profile)
    if options is None or rng.random() < 0.4:
        return None
    return pick(rng, options)


def contact_person(rng: random.Random, business: Business) -> tuple[str, str, str, str]:
    """(first name, last name, email, phone) of someone at `business`."""
    first = pick(rng, FIRST_NAMES)
    last = pick(rng, LAST_NAMES)
    email = f"{first}.{last}@{business.domain}".lower()
    return first, last, email, phone_number(rng, business.city)
