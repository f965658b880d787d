"""an index that answers search_prospects' capped total count from the index alone (Postgres)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 23:00:00

`search_prospects` counts its matches up to 1,001 beside each page. The usual search filters
industry, city, lifecycle stage and a lowest rating ("dentists in Austin, prospects or
leads, 4 stars and up"). On Postgres the city matches `lower(city)`, and neither existing
index served that count well: migration 0001's `(tenant_id, industry, lower(city),
lead_score, ...)` cannot be read index-only (an expression index only is, when the columns
the expression reads are in it too), so the planner counted through the plain
`(tenant_id, industry, city, ...)` index, reading every dentist rated 4+ of every city to
find Austin's (1,914 entries for 1,001 at 100k accounts, ~1 ms of server work).

This index puts every equality of that search before the rating range, and carries `city`
so `lower(city)` can be checked from the index: the count reads only the entries it
counts, index-only (0.4 ms there). It carries `id` too, for the prospect_research prompt's
search, which adds `not_contacted_since_days` (an anti-join on activities by account id):
without it that count fetched every matching account row from the table (4 ms there, 0.3
with it). With no stage filter it still narrows to industry and city and checks the rating
inside the index. Searches by stage alone, by sort column or by free text have their own
indexes (0001, 0003).

SQLite compares city case-insensitively (NOCASE), so its plain index already serves this
count; like 0001's lower(city) index, this one is Postgres only and stays out of
`shared.db.schema.metadata` (expression indexes cannot be reflected on SQLite, where the
migration test compares the two). Index-only scans need the visibility map: run
`VACUUM ANALYZE accounts` after a bulk load (autovacuum does it in time).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEARCH_COUNT_INDEX = "ix_accounts_tenant_industry_lower_city_stage_rating"


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    if _is_postgres():
        op.create_index(
            SEARCH_COUNT_INDEX,
            "accounts",
            ["tenant_id", "industry", sa.text("lower(city)"), "lifecycle_stage", "gmb_rating"],
            postgresql_include=["city", "id"],
        )


def downgrade() -> None:
    if _is_postgres():
        op.drop_index(SEARCH_COUNT_INDEX, table_name="accounts")
