"""RandomWalk: exact forecasts, levels vs differences, predictive quantiles."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skyield.baselines import RandomWalk
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


def test_difference_forecast_is_zero_change():
    windows = make_windows(_panel(), window=4, horizons=2, differences=True)
    model = RandomWalk(differences=True).fit(windows.X, windows.y)
    np.testing.assert_array_equal(model.predict(windows.X), np.zeros(windows.y.shape))
    # Levels back: last level + zero change is the level random walk.
    levels = make_windows(_panel(), window=5, horizons=2)
    level_forecast = RandomWalk().fit(levels.X, levels.y).predict(levels.X)
    np.testing.assert_allclose(model.predict(windows.X) + windows.last_level[:, None, :],
                               level_forecast)


def test_target_layouts_and_subsets():
    X = np.arange(24.0).reshape(4, 3, 2)  # windows of 3 dates, 2 series
    y1 = np.zeros(4)
    model = RandomWalk(targets=1).fit(X, y1)
    np.testing.assert_array_equal(model.predict(X), X[:, -1, 1])
    model = RandomWalk().fit(X, np.zeros((4, 2)))
    np.testing.assert_array_equal(model.predict(X), X[:, -1, :])
    # 2-D X without window is one series of n_features lags.
    model = RandomWalk().fit(X[:, :, 0], y1)
    np.testing.assert_array_equal(model.predict(X[:, :, 0]), X[:, -1, 0])
    model = RandomWalk(window=3).fit(X.reshape(4, 6), np.zeros((4, 2)))
    np.testing.assert_array_equal(model.predict(X.reshape(4, 6)), X[:, -1, :])


def test_gaussian_quantiles_use_the_mean_squared_change():
    X = np.zeros((4, 2, 1))
    y = np.array([1.0, -1.0, 3.0, -3.0])  # changes from 0: mean square 5
    model = RandomWalk().fit(X, y)
    np.testing.assert_allclose(model.scale_, [[np.sqrt(5.0)]])
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


def test_get_test_params():
    for params in RandomWalk.get_test_params():
        RandomWalk(**params).fit(np.zeros((5, 3)), np.zeros(5))
