"""Health score and churn: drivers ranked, prior vs fitted model, batch equals single."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from shared.analytics.health import fit_churn_model, score_health, score_health_batch
from shared.analytics.health_features import (
    HealthColumns,
    HealthFeatures,
    health_features_from_history,
)
from shared.analytics.models import AccountActivity, Transaction
from shared.errors import ValidationFailedError
from tests.unit.shared.analytics.factories import AS_OF, review

HEALTHY = HealthFeatures(
    customer_id="healthy",
    days_since_last_activity=3,
    activities_last_90_days=12,
    spend_last_90_days=1200,
    spend_previous_90_days=1000,
    complaints_last_90_days=0,
    mean_review_sentiment=0.8,
    days_since_last_payment=10,
    typical_days_between_payments=30,
)


def test_an_engaged_customer_is_healthier_than_a_silent_one() -> None:
    silent = HEALTHY.model_copy(
        update={
            "customer_id": "silent",
            "days_since_last_activity": 120,
            "activities_last_90_days": 0,
            "spend_last_90_days": 0,
            "days_since_last_payment": 130,
        }
    )
    good, bad = score_health(HEALTHY), score_health(silent)
    assert good.health_score > 85 > 30 > bad.health_score
    assert good.churn_probability < 0.1 < 0.7 < bad.churn_probability
    assert (good.risk_level, bad.risk_level) == ("low", "high")
    assert "prior weights" in bad.method and "not fitted" in bad.method


def test_drivers_rank_the_worst_factor_first() -> None:
    complaining = HEALTHY.model_copy(update={"complaints_last_90_days": 8})
    result = score_health(complaining)
    assert result.drivers[0].factor == "support_load"
    assert result.drivers[0].evidence == "8 support tickets/complaints in 90 days"
    contributions = [d.contribution for d in result.drivers]
    assert contributions == sorted(contributions, reverse=True)
    # Health points lost add up to 100 - health.
    assert sum(contributions) == pytest.approx(100 - result.health_score, abs=0.1)


def test_missing_features_are_left_out_and_lower_confidence() -> None:
    sparse = HealthFeatures(
        customer_id="new", days_since_last_activity=5, activities_last_90_days=2
    )
    result = score_health(sparse)
    assert set(result.inputs_used) == {"recency", "frequency", "support_load"}
    assert result.confidence == "low"
    sentiment = next(d for d in result.drivers if d.factor == "sentiment")
    assert sentiment.risk is None and sentiment.contribution == 0


def test_features_from_history_count_windows_and_payment_gaps() -> None:
    def paid(days_ago: int, amount: float) -> Transaction:
        return Transaction(
            customer_id="c", occurred_at=AS_OF - timedelta(days=days_ago), amount=amount
        )

    features = health_features_from_history(
        "c",
        transactions=[paid(d, 100) for d in (200, 170, 140, 110)] + [paid(60, 50)],
        activities=[
            AccountActivity(kind="complaint", occurred_at=AS_OF - timedelta(days=5)),
            AccountActivity(kind="call", occurred_at=AS_OF - timedelta(days=2)),
            AccountActivity(kind="support_ticket", occurred_at=AS_OF - timedelta(days=100)),
        ],
        reviews=[review(1, "Terrible, they lost my files")],
        as_of=AS_OF,
    )
    assert features.days_since_last_activity == 2
    assert features.activities_last_90_days == 3  # the payment 60 days ago and 2 activities
    assert features.spend_last_90_days == 50
    assert features.spend_previous_90_days == 300  # 170, 140 and 110 days ago
    assert features.complaints_last_90_days == 1
    assert features.typical_days_between_payments == 30
    assert features.days_since_last_payment == 60
    assert features.mean_review_sentiment is not None and features.mean_review_sentiment < 0


def synthetic_labelled(n: int, seed: int) -> tuple[list[HealthFeatures], list[bool]]:
    """Churn really depends on silence and complaints; the rest is noise."""
    rng = np.random.default_rng(seed)
    rows: list[HealthFeatures] = []
    labels: list[bool] = []
    for i in range(n):
        days = float(rng.uniform(0, 150))
        complaints = int(rng.poisson(1.0))
        logit = -3.0 + days / 30.0 + 0.8 * complaints
        labels.append(bool(rng.random() < 1 / (1 + np.exp(-logit))))
        rows.append(
            HealthFeatures(
                customer_id=f"c{i}",
                days_since_last_activity=days,
                activities_last_90_days=int(rng.poisson(4)),
                complaints_last_90_days=complaints,
                spend_last_90_days=float(rng.uniform(0, 500)),
                spend_previous_90_days=float(rng.uniform(0, 500)),
            )
        )
    return rows, labels


def test_logistic_model_finds_a_real_signal_and_reports_its_auc() -> None:
    rows, labels = synthetic_labelled(400, seed=7)
    model = fit_churn_model(rows, labels)
    assert model.cv_auc > 0.8
    assert model.coefficients["recency"] > 0
    assert model.coefficients["support_load"] > 0
    silent = HEALTHY.model_copy(update={"days_since_last_activity": 150})
    result = score_health(silent, model)
    assert "logistic regression" in result.method and "cross-validated AUC" in result.method
    assert result.drivers[0].factor == "recency"
    assert result.drivers[0].unit == "log-odds"
    assert result.churn_probability > score_health(HEALTHY, model).churn_probability


def test_logistic_model_needs_enough_of_each_class() -> None:
    rows, _ = synthetic_labelled(50, seed=1)
    with pytest.raises(ValidationFailedError, match="at least 30 churned and 30 retained"):
        fit_churn_model(rows, [True] * 10 + [False] * 40)


def test_batch_scores_equal_single_scores() -> None:
    rows, labels = synthetic_labelled(120, seed=3)
    rows.append(HealthFeatures(customer_id="empty"))
    columns = HealthColumns.from_features(rows)
    for model in (None, fit_churn_model(rows[:-1], labels)):
        batch = score_health_batch(columns, model)
        singles = [score_health(r, model) for r in rows]
        assert batch.health_score == pytest.approx([s.health_score for s in singles], abs=0.06)
        assert batch.churn_probability == pytest.approx(
            [s.churn_probability for s in singles], abs=1e-4
        )
        assert batch.top_driver_names()[:20] == [s.drivers[0].factor for s in singles][:20]
