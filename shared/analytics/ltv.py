"""Customer lifetime value models: BG/NBD for purchase counts, Gamma-Gamma for spend.

Both are fitted by maximum likelihood (scipy Nelder-Mead on log-parameters, so every
parameter stays positive). The BG/NBD log-likelihood is the closed form of Fader, Hardie &
Lee (2005), eq. 6, written with gammaln/betaln (no hypergeometric function); the Gamma-Gamma
one is Fader & Hardie (2013), eq. 3. Time is in the unit of the summary (weeks with
`purchase_summary.summarize_transactions`). Each fit also carries the asymptotic covariance
of its log-parameters (inverse numerical Hessian), which `clv` uses for its interval.
What the fitted models predict (P(alive), expected purchases and spend, CLV) is in `clv`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import FloatArray, betaln, gammaln, minimize
from shared.analytics.purchase_summary import TransactionSummary
from shared.errors import ValidationFailedError

__all__ = [
    "BgNbdFit",
    "GammaGammaFit",
    "LtvModels",
    "fit_bg_nbd",
    "fit_gamma_gamma",
    "fit_ltv_models",
    "nearest_covariance",
]

ArrayLike = npt.ArrayLike
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10


class _Fit(BaseModel):
    model_config = ConfigDict(frozen=True)

    log_likelihood: float = Field(description="maximised log-likelihood, summed over customers")
    n_customers: int
    converged: bool
    covariance_log_params: list[list[float]] = Field(
        description="asymptotic covariance of the log-parameters (inverse Hessian)"
    )

    def _log_params(self) -> FloatArray:
        raise NotImplementedError

    def draw_log_params(self, draws: int, seed: int) -> FloatArray:
        """Parameter draws (log scale) from the asymptotic normal of the MLE."""
        rng = np.random.default_rng(seed)
        cov = nearest_covariance(np.asarray(self.covariance_log_params, dtype=np.float64))
        return rng.multivariate_normal(self._log_params(), cov, size=draws, method="eigh")


def nearest_covariance(matrix: FloatArray) -> FloatArray:
    """The nearest symmetric positive-semidefinite matrix (Frobenius norm): negative
    eigenvalues clipped to zero. The optimiser's inverse-Hessian estimate can be slightly
    indefinite when a parameter is poorly identified (few repeat buyers, a young history);
    sampling from it as it is would make numpy warn and take absolute eigenvalues, which
    invents variance in the wrong directions."""
    symmetric = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(symmetric)
    if values.min() >= 0:
        return symmetric
    clipped: FloatArray = (vectors * np.clip(values, 0.0, None)) @ vectors.T
    return (clipped + clipped.T) / 2


class BgNbdFit(_Fit):
    r: float
    alpha: float
    a: float
    b: float

    def _log_params(self) -> FloatArray:
        return np.log(np.array([self.r, self.alpha, self.a, self.b]))


class GammaGammaFit(_Fit):
    p: float
    q: float
    v: float

    def _log_params(self) -> FloatArray:
        return np.log(np.array([self.p, self.q, self.v]))


def _as_array(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValidationFailedError(f"{name} must hold finite, non-negative numbers")
    return array


def _bg_nbd_log_likelihood(
    log_params: FloatArray, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    r, alpha, a, b = np.exp(log_params)
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = betaln(a, b + x) - betaln(a, b)
    ln_a3 = -(r + x) * np.log(alpha + t)
    # max(x, 1) keeps the log defined where x == 0; those rows are masked to -inf anyway.
    ln_a4 = np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) - (r + x) * np.log(alpha + tx)
    ln_a4 = np.where(x > 0, ln_a4, -np.inf)
    return ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)


def _gamma_gamma_log_likelihood(log_params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
    p, q, v = np.exp(log_params)
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def _numerical_hessian(
    func: Callable[[FloatArray], float], theta: FloatArray, step: float = 1e-4
) -> FloatArray:
    n = theta.size
    hessian = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e_i = np.zeros(n)
            e_j = np.zeros(n)
            e_i[i] = step
            e_j[j] = step
            value = (
                func(theta + e_i + e_j)
                - func(theta + e_i - e_j)
                - func(theta - e_i + e_j)
                + func(theta - e_i - e_j)
            ) / (4.0 * step * step)
            hessian[i, j] = hessian[j, i] = value
    return hessian


LOG_PARAM_LIMIT = 9.0


def _fit(
    objective: Callable[[FloatArray], float], start: FloatArray, n_customers: int
) -> tuple[FloatArray, float, bool, list[list[float]]]:
    """Minimise the summed negative log-likelihood; covariance from its numerical Hessian."""

    def scaled(theta: FloatArray) -> float:
        # Box-constrained MLE: on small or very regular data a parameter can run off to
        # infinity (a Poisson limit), where the model's closed forms overflow to NaN. A wall
        # at e^+-LOG_PARAM_LIMIT (about 8,100) keeps predictions finite; CDNOW's fit is far inside.
        if np.any(np.abs(theta) > LOG_PARAM_LIMIT):
            return 1e300
        with np.errstate(all="ignore"):
            value = float(objective(theta)) / n_customers
        return value if math.isfinite(value) else 1e300

    outcome = minimize(
        scaled,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000},
    )
    with np.errstate(all="ignore"):
        hessian = _numerical_hessian(objective, outcome.x)
    try:
        covariance = np.linalg.inv(hessian)
        if not np.all(np.isfinite(covariance)) or np.any(np.diag(covariance) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        covariance = np.zeros_like(hessian)  # flat likelihood: no interval rather than a wrong one
    return outcome.x, -outcome.fun * n_customers, outcome.success, covariance.tolist()


def fit_bg_nbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BgNbdFit:
    """Fit BG/NBD by maximum likelihood.

    frequency: repeat purchases (x); recency: time of the last purchase since the first (t_x);
    T: time since the first purchase to the end of calibration; all in the same unit.
    Raises ValidationFailedError when the data are inconsistent or too few.
    """
    x = _as_array(frequency, "frequency")
    tx = _as_array(recency, "recency")
    t = _as_array(T, "T")
    if not (x.size == tx.size == t.size):
        raise ValidationFailedError("frequency, recency and T must have the same length")
    if np.any(tx > t + 1e-9):
        raise ValidationFailedError("recency cannot exceed T for any customer")
    if np.any((x == 0) & (tx > 0)):
        raise ValidationFailedError("recency must be 0 for customers with frequency 0")
    _require_enough(x.size, int(np.sum(x > 0)))
    # Identical rows share one likelihood term; weighting by their count makes the fit cheap.
    rows, counts = np.unique(np.column_stack([x, tx, t]), axis=0, return_counts=True)
    ux, utx, ut = rows[:, 0], rows[:, 1], rows[:, 2]
    weights = counts.astype(np.float64)

    def negative_ll(theta: FloatArray) -> float:
        return -float(np.sum(weights * _bg_nbd_log_likelihood(theta, ux, utx, ut)))

    theta, ll, converged, cov = _fit(negative_ll, np.zeros(4), x.size)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=ll,
        n_customers=int(x.size),
        converged=converged,
        covariance_log_params=cov,
    )


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaFit:
    """Fit Gamma-Gamma on customers with at least one repeat purchase.

    monetary_value is each customer's mean repeat-purchase value; customers with frequency 0
    are ignored (they carry no spend information). Raises ValidationFailedError when a repeat
    customer has a non-positive value or when too few repeat customers remain.
    """
    x = _as_array(frequency, "frequency")
    m = _as_array(monetary_value, "monetary_value")
    if x.size != m.size:
        raise ValidationFailedError("frequency and monetary_value must have the same length")
    repeat = x > 0
    if np.any(m[repeat] <= 0):
        raise ValidationFailedError(
            "monetary_value must be > 0 for every customer with frequency > 0"
        )
    x, m = x[repeat], m[repeat]
    if x.size < MIN_REPEAT_CUSTOMERS:
        raise ValidationFailedError(
            f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} repeat customers; got {x.size}"
        )

    def negative_ll(theta: FloatArray) -> float:
        return -float(np.sum(_gamma_gamma_log_likelihood(theta, x, m)))

    theta, ll, converged, cov = _fit(negative_ll, np.zeros(3), x.size)
    p, q, v = (float(val) for val in np.exp(theta))
    return GammaGammaFit(
        p=p,
        q=q,
        v=v,
        log_likelihood=ll,
        n_customers=int(x.size),
        converged=converged,
        covariance_log_params=cov,
    )


def _require_enough(n_customers: int, n_repeat: int) -> None:
    if n_customers < MIN_CUSTOMERS or n_repeat < MIN_REPEAT_CUSTOMERS:
        raise ValidationFailedError(
            f"BG/NBD needs at least {MIN_CUSTOMERS} customers of whom {MIN_REPEAT_CUSTOMERS} "
            f"bought again; got {n_customers} customers, {n_repeat} repeat"
        )


class LtvModels(BaseModel):
    model_config = ConfigDict(frozen=True)

    bg_nbd: BgNbdFit
    gamma_gamma: GammaGammaFit


def fit_ltv_models(summary: TransactionSummary) -> LtvModels:
    """Fit both models on one tenant's summary (see `summarize_transactions`)."""
    return LtvModels(
        bg_nbd=fit_bg_nbd(summary.frequency, summary.recency, summary.T),
        gamma_gamma=fit_gamma_gamma(summary.frequency, summary.monetary_value),
    )
