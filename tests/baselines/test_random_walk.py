"""RandomWalk: exact forecasts, levels vs differences, predictive quantiles."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skyield.base import estimator_kind
from skyield.baselines import RandomWalk
from skyield.model_selection import ExpandingWindowSplit
from skyield.preprocessing import make_windows


def _panel(n=40, m=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n, m)), axis=0)


def test_level_forecast_is_last_value_at_every_horizon():
    windows = make_windows(_panel(), window=4, horizons=[1, 3])
    model = RandomWalk().fit(windows.X, windows.y)
    prediction = model.predict(windows.X)
    assert prediction.shape == windows.y.shape
    for h in range(2):
        np.testing.assert_array_equal(prediction[:, h, :], windows.X[:, -1, :])


def test_level_forecast_is_zero_change_and_residuals_are_the_changes():
    # A random walk in changes is the same forecast: zero change since the origin. The
    # windows in changes of make_windows(differences=True) have the same origins, their
    # targets are the training forecast errors of the level random walk.
    levels = make_windows(_panel(), window=4, horizons=2)
    changes = make_windows(_panel(), window=4, horizons=2, differences=True)
    model = RandomWalk().fit(levels.X, levels.y)
    np.testing.assert_array_equal(model.predict(levels.X) - levels.last_level[:, None, :],
                                  np.zeros(levels.y.shape))
    np.testing.assert_array_equal(changes.origins, levels.origins)
    np.testing.assert_allclose(model.residuals_, changes.y)
    np.testing.assert_allclose(changes.y + changes.last_level[:, None, :], levels.y)
    # Inputs in changes: the window - 1 first differences inside each level window.
    assert changes.X.shape == (levels.X.shape[0], 3, levels.X.shape[2])
    np.testing.assert_allclose(changes.X, np.diff(levels.X, axis=1))


def test_has_no_differences_parameter():
    assert "differences" not in RandomWalk().get_params()
    with pytest.raises(TypeError):
        RandomWalk(differences=True)


def test_residuals_are_the_training_h_step_changes_per_horizon():
    X = np.arange(24.0).reshape(4, 3, 2)
    y = np.stack([X[:, -1, :] + 1.0, X[:, -1, :] - 2.0], axis=1)  # (4, 2 horizons, 2)
    model = RandomWalk(horizons=[1, 5]).fit(X, y)
    assert model.residuals_.shape == (4, 2, 2)
    np.testing.assert_allclose(model.residuals_[:, 0], 1.0)
    np.testing.assert_allclose(model.residuals_[:, 1], -2.0)
    np.testing.assert_array_equal(model.horizons_, [1, 5])
    for gone in ("scale_", "train_changes_"):
        assert not hasattr(model, gone)


def test_target_layouts_and_subsets():
    X = np.arange(24.0).reshape(4, 3, 2)  # windows of 3 dates, 2 series
    y1 = np.zeros(4)
    model = RandomWalk(targets=1).fit(X, y1)
    np.testing.assert_array_equal(model.predict(X), X[:, -1, 1])
    model = RandomWalk().fit(X, np.zeros((4, 2)))
    np.testing.assert_array_equal(model.predict(X), X[:, -1, :])
    # window="row": each 2-D row is the window of one series (its n_features dates).
    model = RandomWalk(window="row").fit(X[:, :, 0], y1)
    np.testing.assert_array_equal(model.predict(X[:, :, 0]), X[:, -1, 0])
    assert model.window_ == 3 and model.n_series_in_ == 1
    model = RandomWalk(window=3).fit(X.reshape(4, 6), np.zeros((4, 2)))
    np.testing.assert_array_equal(model.predict(X.reshape(4, 6)), X[:, -1, :])


def test_two_dimensional_X_without_window_is_an_error():
    X = np.arange(24.0).reshape(4, 6)
    with pytest.raises(ValueError, match="needs window="):
        RandomWalk().fit(X, np.zeros(4))
    with pytest.raises(ValueError, match="not a multiple of window=4"):
        RandomWalk(window=4).fit(X, np.zeros(4))
    with pytest.raises(ValueError, match="reads 2-D rows"):
        RandomWalk(window="row").fit(X.reshape(4, 3, 2), np.zeros((4, 2)))
    # Predicting with 2-D rows needs rows of the width seen in fit.
    model = RandomWalk(window=3).fit(X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"X has 3 features, but RandomWalk is expecting 6 "
                                         r"features as input: it was fitted on windows of 3 "
                                         r"dates x 2 series"):
        model.predict(X[:, :3])


def test_gaussian_quantiles_use_the_mean_squared_change():
    X = np.zeros((4, 2, 1))
    y = np.array([1.0, -1.0, 3.0, -3.0])  # changes from 0: mean square 5
    model = RandomWalk().fit(X, y)
    np.testing.assert_allclose(model.residuals_[:, 0, 0], y)
    np.testing.assert_allclose(np.sqrt(np.mean(model.residuals_ ** 2, axis=0)),
                               [[np.sqrt(5.0)]])
    quantiles = model.predict_quantiles(X[:1] + 2.0, [0.1, 0.5, 0.9])
    expected = 2.0 + np.sqrt(5.0) * norm.ppf([0.1, 0.5, 0.9])
    np.testing.assert_allclose(quantiles, [expected])
    interval = model.predict_interval(X[:1], coverage=0.9)
    np.testing.assert_allclose(interval, [[-1.6448536 * np.sqrt(5), 1.6448536 * np.sqrt(5)]],
                               rtol=1e-6)


def test_empirical_quantiles_of_training_changes():
    X = np.zeros((5, 2, 1))
    y = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    model = RandomWalk(distribution="empirical").fit(X, y)
    # Linear interpolation: level 0.25 of five sorted changes is the second one.
    np.testing.assert_allclose(model.predict_quantiles(X[:1] + 10, [0.25, 0.5, 1 - 0.125]),
                               [[9.0, 10.0, 11.5]])


def test_quantile_axis_follows_the_target_layout():
    windows = make_windows(_panel(), window=4, horizons=[1, 2])
    model = RandomWalk().fit(windows.X, windows.y)
    assert model.predict_quantiles(windows.X, [0.1, 0.9]).shape == windows.y.shape + (2,)
    assert model.predict_interval(windows.X).shape == windows.y.shape + (2,)
    # Defaults: levels (0.025, 0.5, 0.975) and coverage 0.95.
    default = model.predict_quantiles(windows.X)
    np.testing.assert_array_equal(default,
                                  model.predict_quantiles(windows.X, [0.025, 0.5, 0.975]))
    np.testing.assert_allclose(model.predict_interval(windows.X), default[..., [0, 2]])
    np.testing.assert_allclose(default[..., 1], model.predict(windows.X))
    # Intervals widen with the horizon for a random walk (variance grows with h).
    width = np.diff(model.predict_interval(windows.X[:1]), axis=-1)[0, :, :, 0]
    assert np.all(width[1] > width[0])


@pytest.mark.parametrize("kwargs, fit_y, message", [
    ({}, np.zeros((4, 3)), "y has 3 target column"),
    ({"targets": 5}, np.zeros(4), "targets entry 5 is out of range"),
    ({"targets": [0, 1]}, np.zeros(4), "names 2 series but y has 1"),
    ({"distribution": "t"}, np.zeros(4), "distribution must be one of"),
])
def test_bad_settings_raise(kwargs, fit_y, message):
    with pytest.raises(ValueError, match=message):
        RandomWalk(**kwargs).fit(np.zeros((4, 3, 2)), fit_y)


def test_bad_quantiles_and_series_count():
    model = RandomWalk().fit(np.zeros((4, 3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(np.zeros((1, 3, 2)), [0.9, 0.1])
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        model.predict_interval(np.zeros((1, 3, 2)), coverage=95)
    with pytest.raises(ValueError, match="3 series but RandomWalk was fitted with 2"):
        model.predict(np.zeros((1, 3, 3)))


def test_pipeline_and_grid_search():
    windows = make_windows(_panel(80, 2), window=6, horizons=1)
    X, y = windows.X.reshape(len(windows.X), -1), windows.y[:, 0, :]
    pipe = Pipeline([("identity", FunctionTransformer()), ("rw", RandomWalk(window=6))])
    search = GridSearchCV(pipe, {"rw__distribution": ["gaussian", "empirical"]},
                          cv=TimeSeriesSplit(n_splits=3)).fit(X, y)
    np.testing.assert_array_equal(search.predict(X), windows.X[:, -1, :])
    scores = cross_val_score(RandomWalk(window=6), X, y, cv=TimeSeriesSplit(n_splits=3))
    assert np.all(np.isfinite(scores))


def test_score_on_three_dimensional_targets():
    windows = make_windows(_panel(), window=4, horizons=[1, 2])
    exact = np.repeat(windows.X[:, -1:, :], 2, axis=1)
    model = RandomWalk().fit(windows.X, exact)
    assert model.score(windows.X, exact) == 1.0
    search = GridSearchCV(RandomWalk(), {"distribution": ["gaussian"]},
                          cv=TimeSeriesSplit(n_splits=2)).fit(windows.X, windows.y)
    assert np.isfinite(search.best_score_)


def test_multi_horizon_search_purges_the_windows_whose_targets_reach_the_test_span():
    windows = make_windows(_panel(60), window=4, horizons=[1, 3])
    X, y = windows.X, windows.y
    # Windows whose targets lie 3 dates ahead: without horizons= the split would leak.
    with pytest.raises(ValueError, match="y holds 2 horizons.*pass horizons="):
        list(ExpandingWindowSplit(n_splits=2, test_size=10).split(X, y))
    cv = ExpandingWindowSplit(n_splits=2, test_size=10, horizons=[1, 3])
    splits = list(cv.split(X, y))
    for train, test in splits:
        # The last training target (origin + 3) is at or before the first test origin.
        assert test[0] - train[-1] == 3
    search = GridSearchCV(RandomWalk(horizons=[1, 3]), {"distribution": ["gaussian"]},
                          cv=cv).fit(X, y)
    manual = [RandomWalk(horizons=[1, 3]).fit(X[train], y[train]).score(X[test], y[test])
              for train, test in splits]
    assert search.best_score_ == pytest.approx(np.mean(manual))


def test_is_a_window_regressor():
    assert estimator_kind(RandomWalk()) == "window"
    assert RandomWalk().__sklearn_tags__().input_tags.three_d_array


def test_get_test_params():
    for params in RandomWalk.get_test_params():
        RandomWalk(**params).fit(np.zeros((5, 3)), np.zeros(5))
