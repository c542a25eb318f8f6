from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from sklearn.base import clone

from models.errors import ModelInputError
from models.features import (
    COUNT_FEATURES,
    FEATURES,
    commune_features,
    next_cases,
    rook_adjacency,
    training_frame,
)
from models.regression import (
    NextWeekCasesModel,
    NextWeekCountModel,
    UpturnClassifier,
    transmission_level,
)
from models.risk_evaluation import evaluate_rankings, summarise, top_k_share


@pytest.fixture
def grid() -> gpd.GeoDataFrame:
    """3 x 3 communes of 0.01 degree near Bắc Ninh, codes 00000..00008 row by row."""
    cells = [
        box(106 + 0.01 * c, 21 + 0.01 * r, 106 + 0.01 * (c + 1), 21 + 0.01 * (r + 1))
        for r in range(3)
        for c in range(3)
    ]
    return gpd.GeoDataFrame(
        {"commune_name": [f"c{i}" for i in range(9)], "population": [10_000] * 8 + [0]},
        geometry=cells,
        index=pd.Index([f"{i:05d}" for i in range(9)], name="commune_code"),
        crs=4326,
    )


def _cube(cases: np.ndarray, population: np.ndarray) -> xr.Dataset:
    dates = pd.date_range("2021-05-01", periods=cases.shape[0])
    return xr.Dataset(
        {"cases": (("date", "commune"), cases.astype(float))},
        coords={
            "date": dates,
            "commune": [f"{i:05d}" for i in range(cases.shape[1])],
            "population": ("commune", population.astype(float)),
        },
    )


@pytest.fixture
def cube(grid) -> xr.Dataset:
    rng = np.random.default_rng(3)
    cases = rng.poisson(lam=np.linspace(0.005, 0.3, 9), size=(42, 9))
    return _cube(cases, grid["population"].to_numpy())


def test_rook_adjacency_counts_shared_borders_not_corners(grid) -> None:
    weights = rook_adjacency(grid)
    neighbours = (weights > 0).sum(axis=1).A1
    assert neighbours.tolist() == [2, 3, 2, 3, 4, 3, 2, 3, 2]
    np.testing.assert_allclose(weights.sum(axis=1).A1, 1.0)


def test_rook_adjacency_needs_a_crs(grid) -> None:
    with pytest.raises(ModelInputError, match="no CRS"):
        rook_adjacency(grid.set_crs(None, allow_override=True))


def test_features_use_only_days_before_the_date(grid, cube) -> None:
    weights = rook_adjacency(grid)
    day = pd.Timestamp("2021-05-20")
    before = commune_features(cube, day, weights)
    changed = cube.copy(deep=True)
    changed["cases"].loc[{"date": slice(day, None)}] = 999.0
    after = commune_features(changed, day, weights)
    pd.testing.assert_frame_equal(before, after)
    expected = cube["cases"].sel(date=slice("2021-05-13", "2021-05-19")).sum("date").values
    np.testing.assert_allclose(before["cases_7d"], expected)


def test_count_features_are_the_counts_behind_the_log_features(grid, cube) -> None:
    weights = rook_adjacency(grid)
    frame = commune_features(cube.assign(f1=cube["cases"] * 3), "2021-05-20", weights)
    np.testing.assert_allclose(frame["cases_prev_7d"], np.expm1(frame["log_cases_prev_7d"]))
    np.testing.assert_allclose(frame["neighbour_cases_7d"], weights @ frame["cases_7d"])
    np.testing.assert_allclose(frame["f1_7d"], 3 * frame["cases_7d"])
    np.testing.assert_allclose(frame["population_10k"], frame["population"] / 1e4)
    assert (frame["positives_7d"] == 0).all()  # no test data in this cube: zeros
    assert set(COUNT_FEATURES) <= set(frame.columns)


def test_features_reject_adjacency_of_another_set(cube) -> None:
    with pytest.raises(ModelInputError, match="build it from the same boundary set"):
        commune_features(cube, "2021-05-20", sp.eye(4, format="csr"))


def test_training_frame_refuses_targets_past_the_cube(grid, cube) -> None:
    with pytest.raises(ModelInputError, match="but the cube ends"):
        training_frame(cube, ["2021-06-08"], rook_adjacency(grid))


def test_next_cases_sums_the_coming_week(cube) -> None:
    got = next_cases(cube, "2021-05-10")
    expected = cube["cases"].sel(date=slice("2021-05-10", "2021-05-16")).sum("date").values
    np.testing.assert_allclose(got.to_numpy(), expected)


def test_nb_model_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(11)
    n = 3000
    x = rng.normal(size=n)
    population = rng.integers(2_000, 30_000, size=n).astype(float)
    mean = population * np.exp(-8.0 + 0.7 * x)
    alpha = 0.5
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mean))
    X = pd.DataFrame({"x": x, "population": population})
    model = NextWeekCasesModel(features=["x"]).fit(X, y)
    coefs = model.coefficients()
    assert coefs.loc["x", "lower"] < 0.7 < coefs.loc["x", "upper"]
    assert coefs.loc["const", "lower"] < -8.0 < coefs.loc["const", "upper"]
    assert model.alpha_ == pytest.approx(alpha, rel=0.25)


def test_nb_model_predictions_have_ordered_intervals(grid, cube) -> None:
    train = training_frame(cube, pd.date_range("2021-05-15", "2021-05-30"), rook_adjacency(grid))
    model = NextWeekCasesModel().fit(train, train["y"])
    frame = model.predict_frame(commune_features(cube, "2021-06-05", rook_adjacency(grid)))
    assert (frame["mean_ci_lower"] <= frame["mean"]).all()
    assert (frame["mean"] <= frame["mean_ci_upper"]).all()
    assert frame.loc["00008", "mean"] == 0  # no population, no rate
    # features constant in training (no check-ins, tests, vaccination here) are dropped
    assert "positivity_7d" not in model.features_in_


def test_nb_model_follows_the_estimator_contract() -> None:
    model = NextWeekCasesModel(alpha=0.3)
    assert clone(model).get_params() == {"alpha": 0.3, "features": FEATURES}
    with pytest.raises(ModelInputError, match="align them"):
        model.fit(pd.DataFrame({"population": [1.0, 2.0]}), [1.0])


def test_nb_model_names_missing_feature_columns() -> None:
    X = pd.DataFrame({"population": [1000.0, 2000.0, 3000.0]})
    with pytest.raises(ModelInputError, match="lacks the feature columns"):
        NextWeekCasesModel().fit(X, [0, 1, 2])


def test_nb_model_rejects_negative_counts() -> None:
    X = pd.DataFrame({"x": [0.0, 1.0], "population": [1000.0, 2000.0]})
    with pytest.raises(ModelInputError, match="must be >= 0"):
        NextWeekCasesModel(features=["x"]).fit(X, [1, -1])


@pytest.mark.parametrize(
    ("cases", "population", "level"),
    [
        (0, 100_000, 1),
        (19, 100_000, 1),
        (20, 100_000, 2),
        (49, 100_000, 2),
        (50, 100_000, 3),
        (150, 100_000, 4),
        (1, 0, 0),
    ],
)
def test_transmission_level_band_edges(cases, population, level) -> None:
    got = transmission_level(np.array([cases], float), np.array([population], float))
    assert got.tolist() == [level]


def _count_rows(rng: np.random.Generator, n_dates: int = 30, n: int = 60) -> pd.DataFrame:
    index = pd.MultiIndex.from_product(
        [pd.date_range("2021-05-01", periods=n_dates), [f"{i:05d}" for i in range(n)]],
        names=["date", "commune"],
    )
    rows = len(index)
    return pd.DataFrame(
        {
            "cases_7d": rng.poisson(rng.gamma(0.5, 8.0, size=rows)).astype(float),
            "f1_7d": rng.poisson(20.0, size=rows).astype(float),
            "population_10k": rng.uniform(0.5, 3.0, size=rows),
            "population": 10_000.0,
        },
        index=index,
    )


def test_count_model_recovers_known_non_negative_coefficients() -> None:
    rng = np.random.default_rng(7)
    X = _count_rows(rng)
    mean = 0.8 * X["cases_7d"] + 0.05 * X["f1_7d"] + 0.3 * X["population_10k"]
    y = rng.poisson(mean)
    features = ["cases_7d", "f1_7d", "population_10k"]
    model = NextWeekCountModel(features=features, n_boot=100).fit(X, y)
    coefs = model.coefficients()
    for name, true in zip(features, (0.8, 0.05, 0.3), strict=True):
        lower, coef, upper = coefs.loc[name, ["lower", "coef", "upper"]]
        assert lower <= coef <= upper
        # within one interval width (about 4 standard errors) of the truth
        assert abs(coef - true) <= upper - lower, name
    assert (coefs["coef"] >= 0).all()


def test_count_model_keeps_coefficients_non_negative_and_drops_zero_columns() -> None:
    rng = np.random.default_rng(8)
    X = _count_rows(rng, n_dates=5).assign(positives_7d=0.0)
    y = np.maximum(0.0, 2 * X["cases_7d"] - 5 * X["population_10k"])  # a negative effect
    model = NextWeekCountModel(
        features=["cases_7d", "population_10k", "positives_7d"], n_boot=0
    ).fit(X, y)
    assert model.features_in_ == ["cases_7d", "population_10k"]
    assert model.coef_["population_10k"] == 0.0
    assert model.coefficients()["lower"].isna().all()  # no bootstrap asked


def test_count_model_predicts_zero_without_population(grid, cube) -> None:
    weights = rook_adjacency(grid)
    train = training_frame(cube, pd.date_range("2021-05-15", "2021-05-30"), weights)
    model = NextWeekCountModel(n_boot=10).fit(train, train["y"])
    predicted = model.predict(commune_features(cube, "2021-06-05", weights))
    assert predicted[-1] == 0.0  # commune 00008 has no population
    assert (predicted >= 0).all()
    assert "f1_7d" not in model.features_in_  # no contact data in this cube


@settings(max_examples=30, deadline=None)
@given(
    base=st.lists(st.integers(0, 50), min_size=3, max_size=3),
    extra=st.integers(1, 20),
    which=st.sampled_from(["cases_7d", "f1_7d"]),
)
def test_count_model_prediction_never_falls_when_a_count_rises(base, extra, which) -> None:
    rng = np.random.default_rng(9)
    X = _count_rows(rng, n_dates=4, n=30)
    y = rng.poisson(0.7 * X["cases_7d"] + 0.02 * X["f1_7d"] + 0.2)
    model = NextWeekCountModel(features=["cases_7d", "f1_7d", "population_10k"], n_boot=0).fit(X, y)
    row = pd.DataFrame(
        {"cases_7d": [base[0]], "f1_7d": [base[1]], "population_10k": [base[2] / 10]},
        dtype=float,
    )
    more = row.copy()
    more[which] += extra
    assert model.predict(more)[0] >= model.predict(row)[0]


def test_count_model_follows_the_estimator_contract() -> None:
    model = NextWeekCountModel(n_boot=5, random_state=1)
    assert clone(model).get_params() == {
        "features": COUNT_FEATURES,
        "n_boot": 5,
        "random_state": 1,
    }
    X = _count_rows(np.random.default_rng(2), n_dates=3, n=10)
    y = X["cases_7d"].to_numpy()
    fitted = NextWeekCountModel(features=["cases_7d"], n_boot=20, random_state=3)
    first = fitted.fit(X, y).coefficients()
    assert fitted.fit(X, y) is fitted
    pd.testing.assert_frame_equal(first, fitted.coefficients())  # same seed, same intervals


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (pd.DataFrame({"cases_7d": [1.0, 2.0]}), [1.0], "X has 2 rows but y has 1; align them"),
        (pd.DataFrame({"cases_7d": [1.0, 2.0]}), [1.0, -1.0], "counts must be >= 0"),
        (
            pd.DataFrame({"cases_7d": [1.0, -2.0]}),
            [1.0, 1.0],
            r"count features \['cases_7d'\] have negative or missing values",
        ),
        (pd.DataFrame({"cases_7d": [0.0, 0.0]}), [1.0, 1.0], "train on dates with cases"),
        (pd.DataFrame({"other": [1.0, 2.0]}), [1.0, 1.0], "lacks the feature columns"),
    ],
)
def test_count_model_rejects_bad_input(X, y, match) -> None:
    with pytest.raises(ModelInputError, match=match):
        NextWeekCountModel(features=["cases_7d"]).fit(X, y)


def test_upturn_classifier_with_one_class_predicts_its_rate() -> None:
    X = pd.DataFrame({f: [0.0, 1.0, 2.0] for f in FEATURES})
    proba = UpturnClassifier().fit(X, [0, 0, 0]).predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 0.0)


def test_upturn_classifier_learns_a_separable_rule() -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({f: rng.normal(size=400) for f in FEATURES})
    y = (X["log_neighbour_cases_7d"] > 0.5).astype(int)
    model = UpturnClassifier().fit(X, y)
    assert (model.predict(X) == y).mean() > 0.95


def test_top_k_share_hand_case() -> None:
    scores = np.array([5.0, 1.0, 3.0, 0.0])
    outcome = np.array([2.0, 4.0, 4.0, 0.0])
    assert top_k_share(scores, outcome, 2) == pytest.approx(0.6)
    assert np.isnan(top_k_share(scores, np.zeros(4), 2))


def test_evaluation_reports_model_and_naive_per_origin(grid, cube) -> None:
    scores = evaluate_rankings(cube, rook_adjacency(grid), ["2021-05-28", "2021-06-04"], top_k=3)
    assert len(scores) == 2
    for column in ("auc_model", "auc_naive", "top_k_model", "top_k_naive", "auc_glm", "top_k_glm"):
        assert scores[column].between(0, 1).all()
    summary = summarise(scores)
    assert summary["origins"] == 2


def test_evaluation_refuses_origins_without_training_history(grid, cube) -> None:
    with pytest.raises(ModelInputError, match="training days"):
        evaluate_rankings(cube, rook_adjacency(grid), ["2021-05-16"])


@pytest.mark.slow
def test_model_beats_naive_ranking_on_real_bac_ninh_communes() -> None:
    """Issue goal, on the real Apr-Jul 2021 commune series (see docs/risk-models.md)."""
    from boundaries.sets import load_boundary_set
    from geo.cube import build_cube
    from geo.epi import commune_cases_to_codes, read_bacninh_commune_series

    communes = load_boundary_set("bac-ninh-2021")
    matched, _ = commune_cases_to_codes(read_bacninh_commune_series(), communes)
    rows = matched.loc[matched.index.repeat(matched["cases"])]
    cube = build_cube(
        {"cases": rows.rename(columns={"date": "report_date"})},
        communes,
        start="2021-04-27",
        end="2021-07-13",
    )
    origins = pd.date_range("2021-05-24", "2021-07-05", freq="7D")
    summary = summarise(evaluate_rankings(cube, rook_adjacency(communes), origins))
    assert summary["auc_model"] > summary["auc_naive"]
    assert summary["top_k_model"] > summary["top_k_naive"]


@pytest.fixture(scope="module")
def synthetic_cube(tmp_path_factory) -> tuple[xr.Dataset, gpd.GeoDataFrame]:
    """A demo-like workspace: 60 days of synthetic feeds (scale 0.05, seed 4), all ingested."""
    from boundaries.sets import load_boundary_set
    from geo._cli_synth import synth
    from geo.build import build_workspace_cube
    from geo.ingest import ingest_file
    from geo.workspace import open_workspace
    from webmap.pipeline import DEMO_FEED_ORDER  # the demo's order: venues before check-ins

    ws = open_workspace(tmp_path_factory.mktemp("risk-ws"))
    feeds = ws.root / "feeds"
    synth.main(
        ["--days", "60", "--scale", "0.05", "--seed", "4", "--out", str(feeds), "--no-geojson"],
        standalone_mode=False,
    )
    for feed in DEMO_FEED_ORDER:
        if (feeds / f"{feed}.csv").exists():
            ingest_file(ws, feed, feeds / f"{feed}.csv")
    return build_workspace_cube(ws), load_boundary_set(ws.config.boundary_set)


@pytest.mark.slow
def test_model_beats_naive_ranking_on_synthetic_truth(synthetic_cube) -> None:
    """Issue goal on synthetic truth, seed 4: a held-out seed.

    The count model and its features were chosen on seeds 0-3 (docs/risk-models.md); this
    seed was only scored afterwards. Origins as in ``safemap evaluate-risk --data workspace``.
    """
    cube, communes = synthetic_cube
    first = pd.Timestamp(cube["date"].values[0]) + pd.Timedelta(days=27)
    last = pd.Timestamp(cube["date"].values[-1]) - pd.Timedelta(days=6)
    scores = evaluate_rankings(
        cube, rook_adjacency(communes), pd.date_range(first, last, freq="7D")
    )
    summary = summarise(scores)
    assert summary["origins"] == 4
    assert summary["auc_model"] > summary["auc_naive"]
    assert summary["top_k_model"] > summary["top_k_naive"]
