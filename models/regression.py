"""Regression risk models in the scikit-learn estimator contract.

- :class:`NextWeekCasesModel`: next-7-day cases per commune, a statsmodels negative binomial
  GLM with ``exposure=population`` (dispersion estimated by maximum likelihood first);
  coefficients with intervals; predictions with intervals from ``get_prediction``.
- :class:`NextWeekCountModel`: next-7-day cases per commune as a non-negative sum of recent
  counts (own, previous week, neighbours', F1 contacts, positive tests) plus a term in
  population; ranks communes by expected count (see ``docs/risk-models.md`` for why an
  additive model ranks the largest outbreaks better than the multiplicative GLM).
- :class:`UpturnClassifier`: probability that a commune's transmission level is higher
  next week than this week (scikit-learn logistic regression on the GLM features).

``__init__`` stores hyperparameters only; ``fit`` returns ``self``; learned state ends in ``_``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationWarning,
)

from models.errors import ModelInputError
from models.features import COUNT_FEATURES, FEATURES
from models.rules import Band, load_rule_set

TRANSMISSION_RULES = ("4800", "community_incidence_7d_per_100k")


@functools.lru_cache(maxsize=1)
def _transmission_bands() -> tuple[Band, ...]:
    """Decision 4800 criterion 1 bands, read once from the rule set data (models/rules/data)."""
    rule_set, criterion = TRANSMISSION_RULES
    return load_rule_set(rule_set).criteria[criterion].bands


def transmission_level(cases_7d: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Level of weekly cases per 100,000 on the 4800 criterion-1 bands (0 if no population).

    The bands and their inclusive/exclusive bounds come from the rule set file, the same data
    the rule engine scores with (the 20-50-150 middle cut-offs are flagged unverified there).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = np.where(population > 0, cases_7d / population * 1e5, np.nan)
    level = np.zeros(incidence.shape, dtype=int)
    for band in _transmission_bands():
        lower = incidence >= band.lower if band.lower_inclusive else incidence > band.lower
        upper = incidence <= band.upper if band.upper_inclusive else incidence < band.upper
        level = np.where(lower & upper, int(band.value), level)
    return level


def _design(X: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    missing = [f for f in features if f not in X.columns]
    if missing:
        raise ModelInputError(
            f"X lacks the feature columns {missing}; build X with models.features.commune_features"
        )
    return sm.add_constant(X[list(features)].astype(float), has_constant="add")


class NextWeekCasesModel(RegressorMixin, BaseEstimator):
    """Negative binomial GLM of next-week cases with population exposure.

    Parameters
    ----------
    features : sequence of str
        Feature columns of ``X`` (default :data:`models.features.FEATURES`); columns that are
        constant in the training data are dropped at fit (``features_in_`` lists the kept ones).
    alpha : float, optional
        NB dispersion (variance = mu + alpha mu^2); estimated by maximum likelihood when None.
    """

    def __init__(self, features: Sequence[str] = FEATURES, alpha: float | None = None) -> None:
        self.features = features
        self.alpha = alpha

    def fit(
        self,
        X: pd.DataFrame,
        y: Sequence[float] | np.ndarray | pd.Series,
        exposure: Sequence[float] | np.ndarray | None = None,
    ):
        """Fit on features ``X``, next-week counts ``y`` and ``exposure`` (default X.population).

        Rows with no population are left out (their rate is undefined).
        """
        y_arr = np.asarray(y, dtype=float)
        if len(y_arr) != len(X):
            raise ModelInputError(f"X has {len(X)} rows but y has {len(y_arr)}; align them")
        if np.any(y_arr < 0) or not np.all(np.isfinite(y_arr)):
            raise ModelInputError("y has negative or missing counts; counts must be >= 0")
        expo = np.asarray(X["population"] if exposure is None else exposure, dtype=float)
        keep = expo > 0
        design = _design(X, self.features)[keep]
        varying = [c for c in design.columns if c == "const" or design[c].std() > 0]
        design = design[varying]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            warnings.simplefilter("always", PerfectSeparationWarning)
            warnings.simplefilter("always", RuntimeWarning)
            warnings.simplefilter("always", HessianInversionWarning)
            if self.alpha is None:
                nb = sm.NegativeBinomial(y_arr[keep], design, exposure=expo[keep]).fit(
                    disp=0, maxiter=200
                )
                alpha = float(np.clip(nb.params.iloc[-1], 1e-6, 1e3))
            else:
                alpha = float(self.alpha)
            family = sm.families.NegativeBinomial(alpha=alpha)
            result = sm.GLM(y_arr[keep], design, family=family, exposure=expo[keep]).fit()
        self.fit_warnings_ = [str(w.message) for w in caught]
        self.alpha_ = alpha
        self.result_ = result
        self.features_in_ = [c for c in varying if c != "const"]
        self.coef_ = result.params
        return self

    def coefficients(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficients (log rate ratios) with ``1 - alpha`` intervals and p-values."""
        check_is_fitted(self)
        ci = self.result_.conf_int(alpha=alpha)
        return pd.DataFrame(
            {
                "coef": self.result_.params,
                "lower": ci.iloc[:, 0],
                "upper": ci.iloc[:, 1],
                "p_value": self.result_.pvalues,
            }
        )

    def predict_frame(self, X: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
        """Predict next-week cases with ``1 - alpha`` intervals (``summary_frame`` columns)."""
        check_is_fitted(self)
        expo = np.asarray(X["population"], dtype=float)
        design = _design(X, self.features_in_)
        safe = np.where(expo > 0, expo, 1.0)
        frame = self.result_.get_prediction(design, exposure=safe).summary_frame(alpha=alpha)
        frame.index = X.index
        frame.loc[expo <= 0, :] = 0.0
        return frame[["mean", "mean_ci_lower", "mean_ci_upper"]]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict the expected next-week cases."""
        return self.predict_frame(X)["mean"].to_numpy()


def _nnls(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef, _ = nnls(design, y)
    return np.asarray(coef, dtype=float)


class NextWeekCountModel(RegressorMixin, BaseEstimator):
    """Next-week cases as a non-negative sum of recent counts (additive count model).

    ``E[y_i] = Σ_k β_k x_ik`` with every ``β_k >= 0``, fitted by non-negative least squares
    on the pooled training rows. The terms add up: a commune's own outbreak continues, and
    neighbours, traced contacts (F1), positive tests and a population-proportional baseline add
    to it, rather than multiply it as in the log-link GLM. The expected count is monotone in
    every count, so the largest outbreaks stay on top unless other evidence outweighs them.

    Parameters
    ----------
    features : sequence of str
        Count columns of ``X`` (default :data:`models.features.COUNT_FEATURES`); columns that
        are all zero in the training data are dropped at fit.
    n_boot : int
        Bootstrap resamples for the coefficient intervals (0: no intervals). Rows are
        resampled by date when ``X`` has a ``date`` index level (neighbouring days overlap).
    random_state : int or None
        Seed of the bootstrap.
    """

    def __init__(
        self,
        features: Sequence[str] = COUNT_FEATURES,
        n_boot: int = 200,
        random_state: int | None = 0,
    ) -> None:
        self.features = features
        self.n_boot = n_boot
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Sequence[float] | np.ndarray | pd.Series):
        """Fit on count features ``X`` and next-week counts ``y``; returns ``self``.

        Parameters
        ----------
        X : pandas.DataFrame
            Rows of :func:`models.features.commune_features` (or ``training_frame``).
        y : array-like
            Next-week cases of each row (counts >= 0).

        Returns
        -------
        NextWeekCountModel
            The fitted model.
        """
        y_arr = np.asarray(y, dtype=float)
        if len(y_arr) != len(X):
            raise ModelInputError(f"X has {len(X)} rows but y has {len(y_arr)}; align them")
        if np.any(y_arr < 0) or not np.all(np.isfinite(y_arr)):
            raise ModelInputError("y has negative or missing counts; counts must be >= 0")
        design = _design(X, self.features).drop(columns="const")
        if not np.all(np.isfinite(design.to_numpy())) or (design.to_numpy() < 0).any():
            bad = design.columns[((design < 0) | ~np.isfinite(design)).any()].tolist()
            raise ModelInputError(
                f"count features {bad} have negative or missing values; counts must be >= 0"
            )
        used = [c for c in design.columns if design[c].to_numpy().any()]
        if not used:
            raise ModelInputError(
                f"every count feature of {list(self.features)} is zero in the training rows; "
                "train on dates with cases"
            )
        matrix = design[used].to_numpy(dtype=float)
        self.features_in_ = used
        self.coef_ = pd.Series(_nnls(matrix, y_arr), index=used, name="coef")
        self.boot_coefs_ = self._bootstrap(X, matrix, y_arr)
        return self

    def _bootstrap(self, X: pd.DataFrame, matrix: np.ndarray, y: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        if isinstance(X.index, pd.MultiIndex) and "date" in X.index.names:
            groups = pd.factorize(X.index.get_level_values("date"))[0]
        else:
            groups = np.arange(len(X))
        members = [np.flatnonzero(groups == g) for g in range(groups.max() + 1)]
        draws = []
        for _ in range(self.n_boot):
            picked = rng.integers(0, len(members), size=len(members))
            rows = np.concatenate([members[g] for g in picked])
            draws.append(_nnls(matrix[rows], y[rows]))
        return np.asarray(draws).reshape(self.n_boot, matrix.shape[1])

    def coefficients(self, alpha: float = 0.05) -> pd.DataFrame:
        """Coefficients (expected next-week cases per unit of each count) with bootstrap intervals.

        Parameters
        ----------
        alpha : float
            The intervals cover ``1 - alpha`` (percentile bootstrap; NaN when ``n_boot`` is 0).

        Returns
        -------
        pandas.DataFrame
            Index: the kept features; columns ``coef``, ``lower``, ``upper``.
        """
        check_is_fitted(self)
        if len(self.boot_coefs_) == 0:
            lower = upper = np.full(len(self.coef_), np.nan)
        else:
            lower, upper = np.quantile(self.boot_coefs_, [alpha / 2, 1 - alpha / 2], axis=0)
        return pd.DataFrame(
            {"coef": self.coef_, "lower": lower, "upper": upper}, index=self.coef_.index
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predict the expected next-week cases (zero where ``population`` is 0).

        Parameters
        ----------
        X : pandas.DataFrame
            Rows with the fitted count columns (and ``population``, when present).

        Returns
        -------
        numpy.ndarray
            Expected cases over the next 7 days, one per row.
        """
        check_is_fitted(self)
        design = _design(X, self.features_in_).drop(columns="const")
        predicted = design.to_numpy(dtype=float) @ self.coef_.to_numpy()
        if "population" in X.columns:
            predicted = np.where(X["population"].to_numpy(dtype=float) > 0, predicted, 0.0)
        return np.asarray(predicted, dtype=float)


class UpturnClassifier(ClassifierMixin, BaseEstimator):
    """Probability that a commune's transmission level rises next week.

    Parameters
    ----------
    features : sequence of str
        Feature columns of ``X``.
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    class_weight : {"balanced"} or None
        Upturns are rare; "balanced" weighs them up.
    """

    def __init__(
        self,
        features: Sequence[str] = FEATURES,
        C: float = 1.0,
        class_weight: str | None = "balanced",
    ) -> None:
        self.features = features
        self.C = C
        self.class_weight = class_weight

    def fit(self, X: pd.DataFrame, y: Sequence[int] | np.ndarray):
        """Fit on features and 0/1 labels (1 = level higher next week)."""
        labels = np.asarray(y, dtype=int)
        if len(labels) != len(X):
            raise ModelInputError(f"X has {len(X)} rows but y has {len(labels)}; align them")
        self.classes_ = np.unique(labels)
        self.constant_ = None
        if len(self.classes_) < 2:
            # one class only (e.g. no upturn in the training period): predict its rate
            self.constant_ = float(labels.mean()) if len(labels) else 0.0
            return self
        self.model_: Pipeline = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=1000),
        ).fit(_design(X, self.features).drop(columns="const"), labels)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(no rise), P(rise)."""
        check_is_fitted(self, "classes_")
        if self.constant_ is not None:
            p = np.full(len(X), self.constant_)
            return np.column_stack([1 - p, p])
        proba: np.ndarray = self.model_.predict_proba(
            _design(X, self.features).drop(columns="const")
        )
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where a rise is more likely than not."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
