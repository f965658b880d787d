"""The CRM tools' output models built in bulk are the models built one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from servers.mcp.crm_models import ProspectRow
from shared.crm.models import AccountSummary, LifecycleStage


def _summaries() -> list[AccountSummary]:
    return [
        AccountSummary(
            id=uuid.uuid4(),
            name="Café «Zürich» 🦷",
            industry="dentist",
            city="Austin",
            region="TX",
            country="US",
            website="https://example.test",
            phone="+1 512",
            gmb_rating=4.25,
            gmb_review_count=120,
            lifecycle_stage=LifecycleStage.LEAD,
            lead_score=77.5,
            owner="sam",
            updated_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC),
        ),
        # Everything optional missing; an empty website is no website.
        AccountSummary(id=uuid.uuid4(), name="x", lifecycle_stage=LifecycleStage.PROSPECT),
        AccountSummary(
            id=uuid.uuid4(), name="y", website="", lifecycle_stage=LifecycleStage.CHURNED
        ),
    ]


def test_rows_from_summaries_are_the_rows_from_each_summary() -> None:
    summaries = _summaries()
    one_by_one = [ProspectRow.from_summary(summary) for summary in summaries]

    in_bulk = ProspectRow.from_summaries(summaries)

    assert in_bulk == one_by_one
    assert [row.model_fields_set for row in in_bulk] == [r.model_fields_set for r in one_by_one]
    assert [row.model_dump_json() for row in in_bulk] == [r.model_dump_json() for r in one_by_one]
    assert [row.has_website for row in in_bulk] == [True, False, False]
    assert ProspectRow.from_summaries([]) == []
