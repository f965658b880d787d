"""What the fitted BG/NBD and Gamma-Gamma models predict for a customer.

P(alive) and conditional expected purchases follow Fader, Hardie & Lee (2005), eqs. 13 and
10; expected spend per purchase is the Gamma-Gamma conditional mean (Fader & Hardie 2013,
eq. 5). CLV is the expected spend per period (a month by default) over the horizon,
discounted at the end of each period.

The CLV interval reflects uncertainty in the fitted parameters only: parameters are drawn
from the asymptotic normal distribution of the log-parameter MLE (the inverse numerical
Hessian stored with each fit; the Krinsky-Robb method) and the CLV is recomputed per draw.
It does not include the randomness of one customer's future purchases.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt
from pydantic import Field

from shared.analytics._scientific import FloatArray, hyp2f1
from shared.analytics.ltv import LOG_PARAM_LIMIT, BgNbdFit, GammaGammaFit, LtvModels
from shared.analytics.models import AnalysisResult
from shared.analytics.purchase_summary import CustomerSummary, TransactionSummary
from shared.errors import ValidationFailedError

__all__ = [
    "LifetimeValuePrediction",
    "conditional_expected_purchases",
    "customer_lifetime_value",
    "expected_average_spend",
    "predict_customer_lifetime_value",
    "probability_alive",
]

ArrayLike = npt.ArrayLike
WEEKS_PER_YEAR = 52.1775


def _bg_params(params: BgNbdFit | FloatArray) -> tuple[FloatArray, ...]:
    if isinstance(params, BgNbdFit):
        values = np.array([params.r, params.alpha, params.a, params.b])
    else:
        values = np.exp(params)
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


def probability_alive(
    params: BgNbdFit,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """P(the customer has not dropped out) at the end of calibration (FHL 2005, eq. 13)."""
    r, alpha, a, b = _bg_params(params)
    x, tx, t = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    with np.errstate(all="ignore"):
        odds = (a / (b + np.maximum(x, 1.0) - 1.0)) * ((alpha + t) / (alpha + tx)) ** (r + x)
    return np.where(x > 0, 1.0 / (1.0 + odds), 1.0)


def conditional_expected_purchases(
    params: BgNbdFit | FloatArray,
    horizon: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Expected purchases in the next `horizon` time units (FHL 2005, eq. 10)."""
    r, alpha, a, b = _bg_params(params)
    x, tx, t = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    if horizon <= 0:
        return np.zeros(np.broadcast(x, tx, t).shape)
    with np.errstate(all="ignore"):
        z = horizon / (alpha + t + horizon)
        head = (a + b + x - 1.0) / (a - 1.0)
        tail = 1.0 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1.0, z
        )
        odds = (a / (b + np.maximum(x, 1.0) - 1.0)) * ((alpha + t) / (alpha + tx)) ** (r + x)
        denominator = 1.0 + np.where(x > 0, odds, 0.0)
    return head * tail / denominator


def expected_average_spend(
    params: GammaGammaFit | FloatArray, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """E[spend per purchase | x, mean repeat spend] (Fader & Hardie 2013, eq. 5); q must be > 1."""
    if isinstance(params, GammaGammaFit):
        p, q, v = params.p, params.q, params.v
    else:
        p, q, v = (float(val) for val in np.exp(params))
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    if q <= 1:
        raise ValidationFailedError(
            f"Gamma-Gamma q={q:.3f} <= 1: mean spend is undefined; more repeat data is needed"
        )
    return p * (v + x * m) / (p * x + q - 1.0)


def _clv(
    bg: BgNbdFit | FloatArray,
    gg: GammaGammaFit | FloatArray,
    summary: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    horizon: float,
    period: float,
    discount_per_period: float,
) -> FloatArray:
    x, tx, t, m = summary
    spend = expected_average_spend(gg, x, m)
    periods = max(1, math.ceil(horizon / period - 1e-9))
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for i in range(1, periods + 1):
        cumulative = conditional_expected_purchases(bg, min(i * period, horizon), x, tx, t)
        total += (cumulative - previous) / (1.0 + discount_per_period) ** i
        previous = cumulative
    return total * spend


def customer_lifetime_value(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    summary: TransactionSummary,
    *,
    horizon: float = 52.0,
    period: float = WEEKS_PER_YEAR / 12,
    annual_discount_rate: float = 0.10,
    interval: float = 0.90,
    draws: int = 200,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(point, low, high) discounted CLV per customer over `horizon` weeks.

    Purchases are counted per `period` (a month by default) and discounted at the end of it.
    The interval comes from parameter draws (see the module docstring). Raises
    ValidationFailedError for a non-positive horizon or period, a negative discount rate or
    an interval outside (0, 1).
    """
    if horizon <= 0 or period <= 0:
        raise ValidationFailedError("horizon and period must be positive (in weeks)")
    if annual_discount_rate < 0:
        raise ValidationFailedError("annual_discount_rate must be >= 0, e.g. 0.10 for 10%")
    if not 0 < interval < 1:
        raise ValidationFailedError("interval must be between 0 and 1, e.g. 0.9")
    arrays = (summary.frequency, summary.recency, summary.T, summary.monetary_value)
    discount = (1.0 + annual_discount_rate) ** (period / WEEKS_PER_YEAR) - 1.0
    point = _clv(bg, gg, arrays, horizon, period, discount)
    bg_draws = bg.draw_log_params(draws, seed)
    gg_draws = gg.draw_log_params(draws, seed + 1)
    with np.errstate(all="ignore"):  # a usable draw can still be extreme for one customer
        simulated = np.array(
            [
                _clv(bg_draws[i], gg_draws[i], arrays, horizon, period, discount)
                for i in range(draws)
                if _usable(bg_draws[i], gg_draws[i])
            ]
        )
    if simulated.size == 0:
        return point, point.copy(), point.copy()  # no usable draw: no interval to report
    tail = (1.0 - interval) / 2.0 * 100.0
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # A customer whose every draw is NaN has no interval: numpy warns, we fall back below.
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanpercentile(simulated, tail, axis=0)
        high = np.nanpercentile(simulated, 100.0 - tail, axis=0)
    low = np.where(np.isnan(low), point, low)
    high = np.where(np.isnan(high), point, high)
    return point, np.minimum(low, point), np.maximum(high, point)


def _usable(bg_draw: FloatArray, gg_draw: FloatArray) -> bool:
    """A draw worth simulating: every parameter inside the fit's own bounds (a poorly
    identified fit has a huge variance in some direction, and its far draws overflow), and
    q > 1 (q <= 1 has no finite mean spend)."""
    if np.abs(bg_draw).max() > LOG_PARAM_LIMIT or np.abs(gg_draw).max() > LOG_PARAM_LIMIT:
        return False
    return bool(np.exp(gg_draw[1]) > 1.0)


class LifetimeValuePrediction(AnalysisResult):
    customer_id: str
    horizon_weeks: float
    expected_purchases: float
    probability_alive: float
    expected_average_spend: float
    clv: float = Field(description="discounted expected spend over the horizon")
    clv_low: float
    clv_high: float
    interval: float = Field(description="coverage of [clv_low, clv_high], e.g. 0.9")
    annual_discount_rate: float


def predict_customer_lifetime_value(
    models: LtvModels,
    customer: CustomerSummary,
    *,
    horizon_weeks: float = 52.0,
    annual_discount_rate: float = 0.10,
    interval: float = 0.90,
) -> LifetimeValuePrediction:
    """Expected purchases, P(alive), spend and CLV with an interval for one customer."""
    single = TransactionSummary.from_rows([customer])
    bg, gg = models.bg_nbd, models.gamma_gamma
    x, tx, t, m = single.frequency, single.recency, single.T, single.monetary_value
    purchases = float(conditional_expected_purchases(bg, horizon_weeks, x, tx, t)[0])
    alive = float(probability_alive(bg, x, tx, t)[0])
    spend = float(expected_average_spend(gg, x, m)[0])
    point, low, high = customer_lifetime_value(
        bg,
        gg,
        single,
        horizon=horizon_weeks,
        annual_discount_rate=annual_discount_rate,
        interval=interval,
    )
    fitted_on = bg.n_customers
    confidence = "high" if fitted_on >= 500 else "medium" if fitted_on >= 100 else "low"
    if customer.frequency == 0 and confidence == "high":
        confidence = "medium"  # a one-time buyer's spend is the population average
    return LifetimeValuePrediction(
        customer_id=customer.customer_id,
        horizon_weeks=horizon_weeks,
        expected_purchases=purchases,
        probability_alive=alive,
        expected_average_spend=spend,
        clv=float(point[0]),
        clv_low=float(low[0]),
        clv_high=float(high[0]),
        interval=interval,
        annual_discount_rate=annual_discount_rate,
        method=(
            f"BG/NBD (r={bg.r:.3f}, alpha={bg.alpha:.3f}, a={bg.a:.3f}, b={bg.b:.3f}) and "
            f"Gamma-Gamma (p={gg.p:.3f}, q={gg.q:.3f}, v={gg.v:.3f}) fitted by maximum "
            f"likelihood on {fitted_on} customers; {interval:.0%} interval from parameter draws"
        ),
        inputs_used=["frequency", "recency", "T", "monetary_value"],
        confidence=confidence,
        explanation=(
            f"{customer.customer_id} bought {customer.frequency} more time(s) after the first "
            f"purchase; P(still active) {alive:.0%}. Expected {purchases:.2f} purchases of about "
            f"{spend:.2f} each in the next {horizon_weeks:g} weeks: CLV {float(point[0]):.2f} "
            f"({float(low[0]):.2f} to {float(high[0]):.2f})."
        ),
    )
