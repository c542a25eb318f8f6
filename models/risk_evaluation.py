"""Rolling-origin evaluation of the regression risk models against the naive ranking.

For each origin day ``d`` the models are fitted on feature/target pairs whose target window
ends before ``d`` (so no target overlaps the future), then rank the communes on ``d``.
The ranking model is :class:`~models.regression.NextWeekCountModel` (expected count, additive);
the negative binomial GLM (:class:`~models.regression.NextWeekCasesModel`) is scored alongside
(``*_glm`` columns). Scores, for the models and for the naive ranking by last week's cases,
in the same run:

- AUC of "the commune has at least one case in the next 7 days";
- the share of next week's cases that fall in the top-``k`` ranked communes;
- AUC of "the commune's transmission level is higher next week" (upturn warning; the naive
  score is last week's growth ratio).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr
from sklearn.metrics import roc_auc_score

from models.errors import ModelInputError
from models.features import commune_features, next_cases, training_frame
from models.regression import (
    NextWeekCasesModel,
    NextWeekCountModel,
    UpturnClassifier,
    transmission_level,
)


def top_k_share(scores: np.ndarray, outcome: np.ndarray, k: int) -> float:
    """Share of ``outcome`` total in the ``k`` highest ``scores`` (stable order breaks ties)."""
    total = float(outcome.sum())
    if total <= 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")[:k]
    return float(outcome[order].sum()) / total


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores))


def upturn_labels(cube: xr.Dataset, date: pd.Timestamp) -> np.ndarray:
    """1 where next week's transmission level (4800 bands) exceeds last week's."""
    population = cube["population"].values.astype(float)
    now = commune_features(cube, date, sp.csr_matrix((cube.sizes["commune"],) * 2))["cases_7d"]
    nxt = next_cases(cube, date).to_numpy()
    before = transmission_level(now.to_numpy(), population)
    after = transmission_level(nxt, population)
    return ((after > before) & (before > 0)).astype(int)


def evaluate_rankings(
    cube: xr.Dataset,
    adjacency: sp.csr_matrix,
    origins: Sequence[str | pd.Timestamp],
    *,
    flows: sp.csr_matrix | None = None,
    top_k: int = 10,
    min_history_days: int = 14,
) -> pd.DataFrame:
    """Score the models and the naive ranking at each origin.

    Parameters
    ----------
    cube : xarray.Dataset
        The cube (``cases`` and ``population`` at least).
    adjacency : scipy.sparse matrix
        Contiguity weights over the cube's communes.
    origins : sequence of date-like
        Days on which communes are ranked; each needs 7 days of cube after it.
    flows : scipy.sparse matrix, optional
        Commune-to-commune exposure flows for the inflow feature.
    top_k : int
        Size of the ranked list for the case-share score.
    min_history_days : int
        First training day is the cube's first day plus this (features need two weeks).

    Returns
    -------
    pandas.DataFrame
        One row per origin: ``cases_next``, ``auc_model``, ``auc_naive``, ``top_k_model``,
        ``top_k_naive`` (model: the additive count model), ``auc_glm``, ``top_k_glm`` (the
        negative binomial GLM), ``upturn_auc_model``, ``upturn_auc_naive``, ``train_rows``.
    """
    first = pd.Timestamp(cube["date"].values[0]) + pd.Timedelta(days=min_history_days)
    rows = []
    for origin in origins:
        day = pd.Timestamp(origin)
        train_dates = pd.date_range(first, day - pd.Timedelta(days=7), freq="D")
        if len(train_dates) < 7:
            raise ModelInputError(
                f"origin {day.date()} leaves {len(train_dates)} training days (need 7); "
                f"use origins from {(first + pd.Timedelta(days=13)).date()} on"
            )
        train = training_frame(cube, train_dates, adjacency, flows=flows)
        model = NextWeekCountModel(n_boot=0).fit(train, train["y"])
        glm = NextWeekCasesModel().fit(train, train["y"])
        upturn_train = np.concatenate([upturn_labels(cube, d) for d in train_dates])
        classifier = UpturnClassifier().fit(train, upturn_train)

        features = commune_features(cube, day, adjacency, flows=flows)
        outcome = next_cases(cube, day).to_numpy()
        predicted = model.predict(features)
        predicted_glm = glm.predict(features)
        naive = features["cases_7d"].to_numpy()
        upturn = upturn_labels(cube, day)
        growth = (features["cases_7d"] + 1) / (np.expm1(features["log_cases_prev_7d"]) + 1)
        rows.append(
            {
                "origin": day,
                "cases_next": float(outcome.sum()),
                "communes_with_cases_next": int((outcome > 0).sum()),
                "auc_model": _auc((outcome > 0).astype(int), predicted),
                "auc_naive": _auc((outcome > 0).astype(int), naive),
                "top_k_model": top_k_share(predicted, outcome, top_k),
                "top_k_naive": top_k_share(naive, outcome, top_k),
                "auc_glm": _auc((outcome > 0).astype(int), predicted_glm),
                "top_k_glm": top_k_share(predicted_glm, outcome, top_k),
                "upturns": int(upturn.sum()),
                "upturn_auc_model": _auc(upturn, classifier.predict_proba(features)[:, 1]),
                "upturn_auc_naive": _auc(upturn, growth.to_numpy()),
                "train_rows": len(train),
            }
        )
    return pd.DataFrame(rows).set_index("origin")


def summarise(scores: pd.DataFrame) -> pd.Series:
    """Means over origins (NaN origins skipped) and the model's win counts."""
    out = scores[
        [
            "auc_model",
            "auc_naive",
            "top_k_model",
            "top_k_naive",
            "auc_glm",
            "top_k_glm",
            "upturn_auc_model",
            "upturn_auc_naive",
        ]
    ].mean()
    out["origins"] = len(scores)
    out["auc_wins"] = int((scores["auc_model"] > scores["auc_naive"]).sum())
    out["top_k_wins"] = int((scores["top_k_model"] > scores["top_k_naive"]).sum())
    return out
