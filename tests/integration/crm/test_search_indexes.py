"""Postgres can count the usual search's matches from migration 0005's index alone."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.crm import sql_reads
from shared.crm.models import ProspectSearch
from shared.db.database import Database

COUNT_INDEX = "ix_accounts_tenant_industry_lower_city_stage_rating"
# Indexes that could serve the same count less well; dropped inside the test's transaction so
# the plan shows whether 0005's index can serve it index-only, whatever the planner prefers
# on a few rows.
OTHER_CANDIDATES = (
    "ix_accounts_tenant_id_industry_city",
    "ix_accounts_tenant_id_industry_lower_city",
)


def _count_sql(search: ProspectSearch) -> str:
    statements = sql_reads.search_statements(search, None, sqlite=False)
    values = sql_reads.search_values(search, uuid.uuid4(), None, sqlite=False)
    bound = statements.count.params(**values, cap=1001)
    compiled = bound.compile(
        dialect=postgresql.dialect(),
        compile_kwargs={"literal_binds": True, "render_postcompile": True},
    )
    return str(compiled)


async def test_the_usual_search_is_counted_index_only(postgres_db: Database) -> None:
    searches = [
        {"industry": ["dentist"], "city": "Austin", "rating_min": 4.0,
         "lifecycle_stage": ["prospect", "lead"]},
        {"industry": ["dentist", "hvac"], "city": "austin", "rating_min": 4.5},
        {"industry": ["dentist"], "city": "Austin", "lifecycle_stage": ["lead"]},
        # the prospect_research prompt's search: the anti-join on activities needs the id
        {"industry": ["dentist"], "city": "Austin", "rating_min": 4,
         "lifecycle_stage": ["prospect", "lead"], "not_contacted_since_days": 30},
    ]  # fmt: skip
    async with postgres_db.engine.connect() as conn, conn.begin() as transaction:
        for name in OTHER_CANDIDATES:
            await conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
        await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        await conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        for filters in searches:
            sql = _count_sql(ProspectSearch.model_validate(filters))
            plan = "\n".join(row[0] for row in await conn.execute(sa.text(f"EXPLAIN {sql}")))
            assert f"Index Only Scan using {COUNT_INDEX}" in plan, (filters, plan)
        await transaction.rollback()
