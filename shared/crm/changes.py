"""The CRM writes a change sink is told about: frozen records that may become lifecycle events.

Each satisfies `shared.crm.repository.CrmChange` (`kind`, `account_id`, `data`). `data` is
JSON-safe (ids and times as strings) so a sink can put it straight into an event payload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.crm.models import Activity, Campaign, HealthScore, LeadQualification

__all__ = [
    "ActivityLogged",
    "CampaignCreated",
    "HealthScoreRecorded",
    "LeadQualificationRecorded",
    "LifecycleStageChanged",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class LifecycleStageChanged:
    """Only emitted when the stage really changed."""

    @property
    def kind(self) -> str:
        return "lifecycle_stage"

    account_id: uuid.UUID
    previous_stage: str
    new_stage: str

    @property
    def data(self) -> dict[str, Any]:
        return {"previous_stage": self.previous_stage, "new_stage": self.new_stage}


@dataclass(frozen=True)
class ActivityLogged:
    @property
    def kind(self) -> str:
        return "activity"

    account_id: uuid.UUID
    activity_id: uuid.UUID
    activity_kind: str
    subject: str
    created_by: str
    contact_id: uuid.UUID | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None

    @classmethod
    def of(cls, record: Activity) -> ActivityLogged:
        return cls(
            account_id=record.account_id,
            activity_id=record.id,
            activity_kind=record.kind.value,
            subject=record.subject,
            created_by=record.created_by.value,
            contact_id=record.contact_id,
            due_at=record.due_at,
            done_at=record.done_at,
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "activity_id": str(self.activity_id),
            "activity_kind": self.activity_kind,
            "subject": self.subject,
            "created_by": self.created_by,
            "contact_id": str(self.contact_id) if self.contact_id else None,
            "due_at": _iso(self.due_at),
            "done_at": _iso(self.done_at),
        }


@dataclass(frozen=True)
class CampaignCreated:
    @property
    def kind(self) -> str:
        return "campaign"

    campaign_id: uuid.UUID
    name: str
    campaign_kind: str
    channel: str
    created_by: str
    account_id: uuid.UUID | None = None
    scheduled_at: datetime | None = None

    @classmethod
    def of(cls, record: Campaign) -> CampaignCreated:
        return cls(
            campaign_id=record.id,
            name=record.name,
            campaign_kind=record.kind.value,
            channel=record.channel.value,
            created_by=record.created_by.value,
            account_id=record.account_id,
            scheduled_at=record.scheduled_at,
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "campaign_id": str(self.campaign_id),
            "name": self.name,
            "campaign_kind": self.campaign_kind,
            "channel": self.channel,
            "created_by": self.created_by,
            "scheduled_at": _iso(self.scheduled_at),
        }


@dataclass(frozen=True)
class LeadQualificationRecorded:
    @property
    def kind(self) -> str:
        return "lead_qualification"

    account_id: uuid.UUID
    qualification_id: uuid.UUID
    score: float
    grade: str
    model_version: str
    previous_lead_score: float | None = None
    recommended_action: str | None = None

    @classmethod
    def of(
        cls, record: LeadQualification, previous_lead_score: float | None
    ) -> LeadQualificationRecorded:
        return cls(
            account_id=record.account_id,
            qualification_id=record.id,
            score=record.score,
            grade=record.grade,
            model_version=record.model_version,
            previous_lead_score=previous_lead_score,
            recommended_action=record.recommended_action,
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "qualification_id": str(self.qualification_id),
            "score": self.score,
            "grade": self.grade,
            "model_version": self.model_version,
            "previous_lead_score": self.previous_lead_score,
            "recommended_action": self.recommended_action,
        }


@dataclass(frozen=True)
class HealthScoreRecorded:
    @property
    def kind(self) -> str:
        return "health_score"

    account_id: uuid.UUID
    health_id: uuid.UUID
    score: float
    churn_probability: float
    method: str | None = None
    drivers: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    @classmethod
    def of(cls, record: HealthScore) -> HealthScoreRecorded:
        return cls(
            account_id=record.account_id,
            health_id=record.id,
            score=record.score,
            churn_probability=record.churn_probability,
            method=record.method,
            drivers=record.drivers,
        )

    @property
    def data(self) -> dict[str, Any]:
        return {
            "health_id": str(self.health_id),
            "score": self.score,
            "churn_probability": self.churn_probability,
            "method": self.method,
            "drivers": self.drivers,
        }
