"""Speed and accuracy of the analytics engine (issue 4).

1. CDNOW: time to fit BG/NBD + Gamma-Gamma on the 39-week calibration summary (2,357
   customers), and to build that summary from the raw purchase log. Target: fit < 1 s.
2. Health: 100k synthetic accounts scored by the vectorised scorer, with the prior weights
   and with a fitted logistic model. Target: 100k < 10 s on 2 cores.
3. Leads: 100k synthetic leads scored by the vectorised lead scorer, and the one-at-a-time
   `qualify_lead` path (pydantic in and out) for comparison.
4. Demo churn: the demo generator's accounts scored from their rows (no database); ROC AUC of
   the churn probability against the generator's ground truth (`churn_drifter`) among the
   accounts still active (stage customer or at_risk).

    uv run python bench/analytics.py --accounts 100000 --demo-accounts 4000
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.analytics.health import fit_churn_model, score_health, score_health_batch
from shared.analytics.health_features import (
    HealthColumns,
    HealthFeatures,
    health_features_from_history,
)
from shared.analytics.lead_scoring import LeadColumns, qualify_lead, score_leads_batch
from shared.analytics.lead_weights import LeadWeights
from shared.analytics.ltv import fit_bg_nbd, fit_gamma_gamma
from shared.analytics.models import AccountActivity, BusinessProfile, Review, Transaction
from shared.analytics.purchase_summary import summarize_transactions

CDNOW = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "cdnow"


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def line(label: str, seconds: float, rows: int | None = None) -> None:
    rate = f"{rows / seconds:>12,.0f} rows/s" if rows else ""
    print(f"  {label:<52} {seconds * 1000:>9.1f} ms {rate}")


def bench_cdnow(repeat: int) -> None:
    print("CDNOW (2,357 customers, 39-week calibration)")
    with (CDNOW / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    x = np.array([float(r["x"]) for r in rows])
    tx = np.array([float(r["t_x"]) for r in rows])
    t = np.array([float(r["T"]) for r in rows])
    zbar = np.array([float(r["zbar"]) for r in rows])
    fit_gamma_gamma(x, zbar)  # warm up: scipy import
    bg_time, bg = best_of(repeat, lambda: fit_bg_nbd(x, tx, t))
    gg_time, gg = best_of(repeat, lambda: fit_gamma_gamma(x, zbar))
    line("fit BG/NBD", bg_time, len(rows))
    line("fit Gamma-Gamma (946 repeat buyers)", gg_time, 946)
    line("fit both (target < 1 s)", bg_time + gg_time, len(rows))
    print(f"    BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f} "
          f"(published 0.2426 4.4136 0.7931 2.4259)")  # fmt: skip
    print(f"    Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} v={gg.v:.4f} (published 6.25 3.74 15.44)")
    transactions = []
    for raw in (CDNOW / "CDNOW_sample.txt").read_text().splitlines():
        _, customer, day, _cds, dollars = raw.split()
        when = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), tzinfo=UTC)
        transactions.append(
            Transaction(customer_id=customer, occurred_at=when, amount=float(dollars))
        )
    end = datetime(1997, 9, 30, tzinfo=UTC)
    summary_time, _ = best_of(repeat, lambda: summarize_transactions(transactions, end))
    line(f"summary from raw log ({len(transactions):,} purchases)", summary_time, len(transactions))


def synthetic_health(n: int, rng: np.random.Generator) -> tuple[HealthColumns, np.ndarray]:
    days = rng.exponential(30, n)
    complaints = rng.poisson(0.5, n).astype(np.float64)
    previous = rng.gamma(2.0, 300, n)
    recent = previous * rng.uniform(0.2, 1.4, n)
    logit = -3.0 + days / 30 + 0.7 * complaints + 1.5 * (recent < 0.5 * previous)
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    sentiment = np.where(rng.random(n) < 0.3, rng.uniform(-1, 1, n), np.nan)
    interval = rng.uniform(14, 45, n)
    columns = HealthColumns(
        customer_ids=tuple(f"c{i}" for i in range(n)),
        days_since_last_activity=days,
        activities_last_90_days=rng.poisson(5, n).astype(np.float64),
        spend_last_90_days=recent,
        spend_previous_90_days=previous,
        complaints_last_90_days=complaints,
        mean_review_sentiment=sentiment,
        days_since_last_payment=days + rng.uniform(0, 10, n),
        typical_days_between_payments=interval,
    )
    return columns, churned


def bench_health(n: int, repeat: int) -> None:
    print(f"Health and churn ({n:,} synthetic accounts)")
    rng = np.random.default_rng(1)
    columns, churned = synthetic_health(n, rng)
    prior_time, scores = best_of(repeat, lambda: score_health_batch(columns))
    line("score_health_batch, prior weights (target < 10 s)", prior_time, n)
    sample = 2_000
    train = [
        HealthFeatures(
            customer_id=columns.customer_ids[i],
            days_since_last_activity=float(columns.days_since_last_activity[i]),
            activities_last_90_days=int(columns.activities_last_90_days[i]),
            spend_last_90_days=float(columns.spend_last_90_days[i]),
            spend_previous_90_days=float(columns.spend_previous_90_days[i]),
            complaints_last_90_days=int(columns.complaints_last_90_days[i]),
        )
        for i in range(sample)
    ]
    sklearn_modules = ("sklearn.linear_model", "sklearn.model_selection")
    import_time, _ = best_of(1, lambda: [importlib.import_module(m) for m in sklearn_modules])
    line("import scikit-learn (once per process)", import_time)
    fit_time, model = best_of(1, lambda: fit_churn_model(train, list(churned[:sample])))
    line(f"fit_churn_model on {sample:,} labelled (5-fold CV)", fit_time, sample)
    print(f"    cross-validated AUC {model.cv_auc:.3f}")
    model_time, fitted = best_of(repeat, lambda: score_health_batch(columns, model))
    line("score_health_batch, fitted logistic model", model_time, n)
    print(f"    AUC on all {n:,}: prior {auc(scores.churn_probability, churned):.3f}, "
          f"fitted {auc(fitted.churn_probability, churned):.3f}")  # fmt: skip
    single = train[:1_000]
    single_time, _ = best_of(1, lambda: [score_health(f) for f in single])
    line("score_health one at a time (pydantic result)", single_time, len(single))


def bench_leads(n: int, repeat: int) -> None:
    print(f"Lead scores ({n:,} synthetic leads)")
    rng = np.random.default_rng(2)
    columns = LeadColumns(
        rating=np.where(rng.random(n) < 0.9, rng.uniform(1, 5, n), np.nan),
        review_count=rng.gamma(1.0, 80, n).round(),
        reviews_last_90_days=np.where(rng.random(n) < 0.5, rng.poisson(6, n), np.nan),
        has_website=rng.random(n) < 0.7,
        has_hours=rng.random(n) < 0.8,
        photos_count=rng.poisson(15, n).astype(np.float64),
        mean_sentiment=np.where(rng.random(n) < 0.5, rng.uniform(-1, 1, n), np.nan),
        industry_fit=rng.integers(0, 2, n).astype(np.float64),
        location_fit=np.full(n, np.nan),
    )
    batch_time, _ = best_of(repeat, lambda: score_leads_batch(columns, LeadWeights()))
    line("score_leads_batch", batch_time, n)
    as_of = datetime(2026, 6, 30, tzinfo=UTC)
    businesses = [
        BusinessProfile(
            name=f"b{i}",
            rating=float(np.nan_to_num(columns.rating[i], nan=3.0)),
            review_count=int(columns.review_count[i]),
            website="https://example.com" if columns.has_website[i] else None,
            photos_count=int(columns.photos_count[i]),
        )
        for i in range(2_000)
    ]
    single_time, _ = best_of(1, lambda: [qualify_lead(b, as_of=as_of) for b in businesses])
    line("qualify_lead one at a time (no review texts)", single_time, len(businesses))


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) identity, ties averaged."""
    from scipy.stats import rankdata  # pyright: ignore[reportMissingTypeStubs]

    ranks = np.asarray(rankdata(scores), dtype=np.float64)
    positives = labels.astype(bool)
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bench_demo_churn(accounts: int) -> None:
    from shared.demo.generator import iter_tenant_batches
    from shared.demo.plan import DemoParams, churn_ground_truth, plan_tenants

    params = DemoParams(
        seed=42, accounts=accounts, tenants=1, as_of=datetime(2026, 6, 30, tzinfo=UTC)
    )
    print(f"Demo churn ({accounts:,} generated accounts, seed {params.seed})")
    start = time.perf_counter()
    truth = {
        label.account_id: label.churn_drifter
        for label in churn_ground_truth(params)
        if label.lifecycle_stage in {"customer", "at_risk"}
    }
    history: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for tenant in plan_tenants(params):
        for batch in iter_tenant_batches(params, tenant):
            for row in batch["transactions"]:
                if row["account_id"] in truth:
                    history[row["account_id"]]["transactions"].append(
                        Transaction(customer_id=str(row["account_id"]),
                                    occurred_at=row["occurred_at"], amount=row["amount"])
                    )  # fmt: skip
            for row in batch["activities"]:
                if row["account_id"] in truth and row["done_at"] is not None:
                    history[row["account_id"]]["activities"].append(
                        AccountActivity(kind=row["kind"], occurred_at=row["done_at"])
                    )
            for row in batch["reviews"]:
                if row["account_id"] in truth:
                    history[row["account_id"]]["reviews"].append(
                        Review(rating=row["rating"], text=row["text"] or "",
                               reviewed_at=row["reviewed_at"])
                    )  # fmt: skip
    generated = time.perf_counter() - start
    ids = list(truth)
    start = time.perf_counter()
    features = [
        health_features_from_history(
            str(account),
            transactions=history[account]["transactions"],
            activities=history[account]["activities"],
            reviews=history[account]["reviews"],
            as_of=params.as_of,
        )
        for account in ids
    ]
    built = time.perf_counter() - start
    start = time.perf_counter()
    scores = score_health_batch(HealthColumns.from_features(features))
    scored = time.perf_counter() - start
    labels = np.array([truth[a] for a in ids])
    line("generate rows (demo generator, in memory)", generated)
    line("features from history (incl. VADER on reviews)", built, len(ids))
    line("score_health_batch", scored, len(ids))
    ranking_auc = auc(scores.churn_probability, labels)
    print(f"    active customers {len(ids):,}, drifters {int(labels.sum()):,}; "
          f"churn ranking AUC (prior weights) {ranking_auc:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--accounts", type=int, default=100_000, help="synthetic accounts and leads"
    )
    parser.add_argument("--demo-accounts", type=int, default=4_000, help="0 skips the demo AUC")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    args = parser.parse_args()
    bench_cdnow(args.repeat)
    bench_health(args.accounts, args.repeat)
    bench_leads(args.accounts, args.repeat)
    if args.demo_accounts:
        bench_demo_churn(args.demo_accounts)


if __name__ == "__main__":
    main()
