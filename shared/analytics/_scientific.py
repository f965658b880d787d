"""Typed doors into scipy, scikit-learn and vaderSentiment, which ship no type information.

Every untyped call of the analytics engine goes through here, so the rest of the package
type-checks strictly. Modules are imported lazily (scikit-learn alone takes ~1 s to import)
and typed as Any; each function below converts what it returns to numpy or builtin types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any, cast

import numpy as np
import numpy.typing as npt

__all__ = [
    "FloatArray",
    "LogisticFit",
    "MinimizeOutcome",
    "betaln",
    "fit_logistic",
    "gammaln",
    "hyp2f1",
    "minimize",
    "polarity_scores",
]

FloatArray = npt.NDArray[np.float64]


def _module(name: str) -> Any:
    return import_module(name)


def gammaln(x: FloatArray | float) -> FloatArray:
    special = _module("scipy.special")
    return np.asarray(special.gammaln(x), dtype=np.float64)


def betaln(a: FloatArray | float, b: FloatArray | float) -> FloatArray:
    special = _module("scipy.special")
    return np.asarray(special.betaln(a, b), dtype=np.float64)


def hyp2f1(
    a: FloatArray | float, b: FloatArray | float, c: FloatArray | float, z: FloatArray | float
) -> FloatArray:
    special = _module("scipy.special")
    return np.asarray(special.hyp2f1(a, b, c, z), dtype=np.float64)


@dataclass(frozen=True)
class MinimizeOutcome:
    x: FloatArray
    fun: float
    success: bool
    message: str
    evaluations: int


def minimize(
    objective: Callable[[FloatArray], float],
    x0: FloatArray,
    *,
    method: str,
    options: dict[str, Any] | None = None,
) -> MinimizeOutcome:
    optimize = _module("scipy.optimize")
    result = optimize.minimize(objective, x0, method=method, options=options or {})
    return MinimizeOutcome(
        x=np.asarray(result.x, dtype=np.float64),
        fun=float(result.fun),
        success=bool(result.success),
        message=str(result.message),
        evaluations=int(result.nfev),
    )


@dataclass(frozen=True)
class LogisticFit:
    coefficients: FloatArray
    intercept: float
    cv_auc: float
    folds: int


def fit_logistic(x: FloatArray, y: npt.NDArray[np.int_], *, folds: int) -> LogisticFit:
    """L2-regularised logistic regression; AUC from stratified k-fold cross-validation."""
    linear_model = _module("sklearn.linear_model")
    model_selection = _module("sklearn.model_selection")
    splitter = model_selection.StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    model = linear_model.LogisticRegression(C=1.0, max_iter=1000)
    scores = model_selection.cross_val_score(model, x, y, cv=splitter, scoring="roc_auc")
    model.fit(x, y)
    return LogisticFit(
        coefficients=np.asarray(model.coef_[0], dtype=np.float64),
        intercept=float(model.intercept_[0]),
        cv_auc=float(np.mean(np.asarray(scores, dtype=np.float64))),
        folds=folds,
    )


@cache
def _sentiment_analyzer() -> Any:
    # Building the analyzer parses the VADER lexicon (~7,500 entries): do it once per process.
    return _module("vaderSentiment.vaderSentiment").SentimentIntensityAnalyzer()


def polarity_scores(text: str) -> dict[str, float]:
    """VADER scores of one text: keys neg, neu, pos (shares) and compound (-1..1)."""
    scores = cast("dict[str, float]", _sentiment_analyzer().polarity_scores(text))
    return {key: float(value) for key, value in scores.items()}
