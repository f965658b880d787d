"""BG/NBD and Gamma-Gamma checked against the parameters published on the CDNOW data.

What the data give (fixture copy of the lifetimes 0.11.3 files):
- BG/NBD on the published summary: r=0.2426, alpha=4.4135, a=0.7929, b=2.4258,
  log-likelihood -9582.43 (FHL 2005: 0.2426, 4.4136, 0.7931, 2.4259; -9582.4).
- Gamma-Gamma on the 946 customers with x > 0, zbar as monetary value: p=6.2488, q=3.7446,
  v=15.4477 (Fader & Hardie 2013: 6.25, 3.74, 15.44; lifetimes: 6.2502, 3.7441, 15.4472).
- From the raw log (same-day purchases grouped, calibration 1997-01-01..1997-09-30, weeks):
  the same x, t_x and T as the published summary, and monetary values within half a cent
  (the file rounds zbar); Gamma-Gamma then gives p=6.2496, q=3.7442, v=15.4435.
"""

from __future__ import annotations

import csv
import math
import warnings
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from shared.analytics.clv import (
    conditional_expected_purchases,
    expected_average_spend,
    predict_customer_lifetime_value,
    probability_alive,
)
from shared.analytics.ltv import (
    LOG_PARAM_LIMIT,
    BgNbdFit,
    fit_bg_nbd,
    fit_gamma_gamma,
    fit_ltv_models,
    nearest_covariance,
)
from shared.analytics.models import Transaction
from shared.analytics.purchase_summary import (
    CustomerSummary,
    TransactionSummary,
    summarize_transactions,
)
from shared.errors import ValidationFailedError

CDNOW = Path(__file__).parents[3] / "fixtures" / "cdnow"
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", table in section 5.
PUBLISHED_BG_NBD = {"r": 0.2426, "alpha": 4.4136, "a": 0.7931, "b": 2.4259}
# Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value", section 3.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


@cache
def published_summary() -> TransactionSummary:
    with (CDNOW / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = [
            CustomerSummary(
                customer_id=row["ID"],
                frequency=int(row["x"]),
                recency=float(row["t_x"]),
                T=float(row["T"]),
                monetary_value=float(row["zbar"]),
            )
            for row in csv.DictReader(handle)
        ]
    return TransactionSummary.from_rows(rows)


@cache
def raw_transactions() -> tuple[Transaction, ...]:
    transactions: list[Transaction] = []
    with (CDNOW / "CDNOW_sample.txt").open() as handle:
        for line in handle:
            _, customer, day, _cds, dollars = line.split()
            when = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), tzinfo=UTC)
            transactions.append(
                Transaction(customer_id=str(int(customer)), occurred_at=when, amount=float(dollars))
            )
    return tuple(transactions)


@cache
def published_bg_nbd_fit() -> BgNbdFit:
    s = published_summary()
    return fit_bg_nbd(s.frequency, s.recency, s.T)


def summary_from_raw_log() -> TransactionSummary:
    # 39-week calibration period: 1997-01-01 .. 1997-09-30, weeks as the unit.
    return summarize_transactions(raw_transactions(), datetime(1997, 9, 30, tzinfo=UTC))


def assert_within_one_percent(fitted: dict[str, float], published: dict[str, float]) -> None:
    for name, expected in published.items():
        assert fitted[name] == pytest.approx(expected, rel=0.01), name


def test_bg_nbd_fit_on_cdnow_summary_matches_fader_hardie_lee_2005() -> None:
    fit = published_bg_nbd_fit()
    assert fit.converged
    assert_within_one_percent(fit.model_dump(), PUBLISHED_BG_NBD)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.5)  # FHL 2005 report -9582.4


def test_gamma_gamma_fit_on_cdnow_repeat_buyers_matches_fader_hardie_2013() -> None:
    s = published_summary()
    fit = fit_gamma_gamma(s.frequency, s.monetary_value)
    assert fit.n_customers == 946  # customers with at least one repeat purchase
    assert_within_one_percent(fit.model_dump(), PUBLISHED_GAMMA_GAMMA)


def test_summary_built_from_the_raw_log_equals_the_published_summary() -> None:
    published = published_summary()
    built = summary_from_raw_log()
    assert len(built) == len(published) == 2357
    order = [built.customer_ids.index(cid) for cid in published.customer_ids]
    assert np.array_equal(built.frequency[order], published.frequency)
    # The published file rounds to 2 decimals.
    assert np.allclose(built.recency[order], published.recency, atol=0.006)
    assert np.allclose(built.T[order], published.T, atol=0.006)
    assert np.allclose(built.monetary_value[order], published.monetary_value, atol=0.006)


def test_fit_on_summary_from_raw_log_matches_the_published_parameters() -> None:
    models = fit_ltv_models(summary_from_raw_log())
    assert_within_one_percent(models.bg_nbd.model_dump(), PUBLISHED_BG_NBD)
    assert_within_one_percent(models.gamma_gamma.model_dump(), PUBLISHED_GAMMA_GAMMA)


def test_expected_purchases_over_the_holdout_are_close_to_the_published_total() -> None:
    s = published_summary()
    fit = published_bg_nbd_fit()
    # FHL 2005 fig. 4: conditional expectations over the 39-week holdout; CDNOW actual 1,788
    # repeat purchases; the model expects about 1,650 in aggregate.
    total = float(conditional_expected_purchases(fit, 39.0, s.frequency, s.recency, s.T).sum())
    assert 1500 < total < 1800


def test_probability_alive_falls_when_a_frequent_buyer_goes_quiet() -> None:
    fit = published_bg_nbd_fit()
    recent, lapsed, one_timer = probability_alive(
        fit, np.array([5.0, 5.0, 0.0]), np.array([38.0, 10.0, 0.0]), np.array([39.0] * 3)
    )
    assert recent > 0.8
    assert lapsed < 0.1
    assert one_timer == 1.0  # BG/NBD: nobody drops out before a repeat purchase


def test_expected_spend_shrinks_a_customers_mean_toward_the_population_mean() -> None:
    s = published_summary()
    gg = fit_gamma_gamma(s.frequency, s.monetary_value)
    population = gg.p * gg.v / (gg.q - 1)
    one_purchase, many = expected_average_spend(gg, np.array([1.0, 20.0]), np.array([100.0] * 2))
    assert population < one_purchase < many < 100.0


def test_customer_lifetime_value_has_an_interval_around_the_point_estimate() -> None:
    s = summary_from_raw_log()
    models = fit_ltv_models(s)
    loyal = predict_customer_lifetime_value(models, s.row("1"), horizon_weeks=52)
    assert loyal.clv_low <= loyal.clv <= loyal.clv_high
    assert loyal.clv_high > loyal.clv_low
    assert loyal.clv == pytest.approx(loyal.expected_purchases * loyal.expected_average_spend, 0.1)
    assert "maximum likelihood" in loyal.method and "parameter draws" in loyal.method
    assert loyal.confidence == "high"
    with pytest.raises(ValidationFailedError, match="interval must be between 0 and 1"):
        predict_customer_lifetime_value(models, s.row("1"), interval=90)


def test_summary_groups_same_day_purchases_and_leaves_out_later_ones() -> None:
    def tx(day: int, amount: float) -> Transaction:
        return Transaction(
            customer_id="c", occurred_at=datetime(2025, 1, day, 12, tzinfo=UTC), amount=amount
        )

    summary = summarize_transactions(
        [tx(1, 10), tx(8, 5), tx(8, 15), tx(15, 30), tx(30, 99)],
        datetime(2025, 1, 22, tzinfo=UTC),
    )
    row = summary.row("c")
    assert (row.frequency, row.recency, row.T) == (2, 2.0, 3.0)
    assert row.monetary_value == 25.0  # (5+15 on day 8, 30 on day 15) / 2; the first excluded


def test_fits_reject_inconsistent_input_with_a_clear_message() -> None:
    with pytest.raises(ValidationFailedError, match="recency cannot exceed T"):
        fit_bg_nbd([1] * 30, [5.0] * 30, [4.0] * 30)
    with pytest.raises(ValidationFailedError, match="at least 20 customers"):
        fit_bg_nbd([1, 0], [1.0, 0.0], [2.0, 2.0])
    with pytest.raises(ValidationFailedError, match="monetary_value must be > 0"):
        fit_gamma_gamma([1] * 20, [0.0] * 20)
    with pytest.raises(ValidationFailedError, match="time zone"):
        summarize_transactions([], datetime(2025, 1, 1))


def test_homogeneous_buyers_give_a_bounded_fit_and_finite_predictions() -> None:
    """Very regular buyers push BG/NBD towards its Poisson limit (r, alpha -> infinity);
    the bounded fit keeps every prediction finite instead of overflowing to NaN."""
    rng = np.random.default_rng(7)
    frequency = rng.integers(0, 8, size=30).astype(float)
    recency = np.where(frequency > 0, rng.uniform(10, 40, size=30), 0.0)
    T = np.full(30, 43.0)
    fit = fit_bg_nbd(frequency, recency, T)
    expected = conditional_expected_purchases(fit, 52.0, frequency, recency, T)
    assert np.all(np.isfinite(expected))
    assert max(fit.r, fit.alpha) <= math.exp(LOG_PARAM_LIMIT) * 1.001


def test_an_indefinite_covariance_is_replaced_by_the_nearest_semidefinite_one() -> None:
    indefinite = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
    fixed = nearest_covariance(indefinite)
    assert np.linalg.eigvalsh(fixed).min() >= -1e-12
    assert np.allclose(fixed, [[1.5, 1.5], [1.5, 1.5]])
    already = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert np.array_equal(nearest_covariance(already), already)


def test_a_poorly_identified_fit_still_gives_a_finite_interval_without_warnings() -> None:
    s = summary_from_raw_log()
    models = fit_ltv_models(s)
    # A covariance as an optimiser leaves it on thin data: indefinite, one huge direction.
    wild = [
        [400.0, 0.0, 0.0, 0.0],
        [0.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
    bg = models.bg_nbd.model_copy(update={"covariance_log_params": wild})
    shaky = models.model_copy(update={"bg_nbd": bg})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prediction = predict_customer_lifetime_value(shaky, s.row("1"), horizon_weeks=52)
    assert math.isfinite(prediction.clv_low) and math.isfinite(prediction.clv_high)
    assert prediction.clv_low <= prediction.clv <= prediction.clv_high
