"""WeightedRollingRegression: per-window WLS equal to statsmodels, half-life weights."""

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skyield.baselines import WeightedRollingRegression
from skyield.baselines._rolling_regression import half_life_weights
from skyield.preprocessing import make_windows


def _windows(n=60, m=3, window=15, horizons=1, differences=False, target=2, seed=0):
    rng = np.random.default_rng(seed)
    panel = np.cumsum(rng.normal(size=(n, m)), axis=0)
    return make_windows(panel, window=window, horizons=horizons, targets=target,
                        differences=differences)


def _statsmodels_forecast(window, target, horizon, half_life, intercept=True,
                          differences=False):
    n_pairs = len(window) - horizon
    regressors = window[:n_pairs]
    if differences:
        response = np.array([window[s + 1:s + 1 + horizon, target].sum() for s in range(n_pairs)])
    else:
        response = window[horizon:, target]
    age = np.arange(n_pairs)[::-1]
    weights = np.ones(n_pairs) if half_life is None else 0.5 ** (age / half_life)
    design = sm.add_constant(regressors, has_constant="add") if intercept else regressors
    fitted = sm.WLS(response, design, weights=weights).fit()
    origin = np.r_[1.0, window[-1]] if intercept else window[-1]
    return float(origin @ fitted.params)


def test_half_life_weights():
    np.testing.assert_allclose(half_life_weights(5, 2.0),
                               [0.25, 0.5**1.5, 0.5, 0.5**0.5, 1.0])
    np.testing.assert_array_equal(half_life_weights(3, None), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("half_life", [None, 4.0])
@pytest.mark.parametrize("horizons", [[1], [1, 3]])
def test_equals_statsmodels_wls_on_each_window(half_life, horizons):
    w = _windows(horizons=horizons)
    model = WeightedRollingRegression(half_life=half_life, target=2, horizons=horizons)
    model.fit(w.X, w.y)
    prediction = model.predict(w.X)
    assert prediction.shape == w.y.shape
    for i in (0, 17, len(w.X) - 1):
        for j, h in enumerate(horizons):
            expected = _statsmodels_forecast(w.X[i], 2, h, half_life)
            assert prediction[i, j, 0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_differences_and_no_intercept_equal_statsmodels():
    w = _windows(horizons=[2], differences=True, target=0)
    model = WeightedRollingRegression(half_life=3.0, target=0, differences=True, horizons=[2],
                                      fit_intercept=False).fit(w.X, w.y)
    prediction = model.predict(w.X)
    for i in (0, 10):
        expected = _statsmodels_forecast(w.X[i], 0, 2, 3.0, intercept=False, differences=True)
        assert prediction[i, 0, 0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_recovers_an_exact_linear_relation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 2))
    series = np.empty((41, 3))
    series[:40, :2] = x
    series[1:, 2] = 0.5 + x @ [1.0, -2.0]
    series[0, 2] = 0.0
    series[40, :2] = rng.normal(size=2)
    X = series[None, :40]
    model = WeightedRollingRegression(half_life=5.0).fit(X, [0.0])
    # Pairs (x_s, target_{s+1}) obey the relation exactly, so the forecast is exact.
    assert model.predict(X)[0] == pytest.approx(0.5 + series[39, :2] @ [1.0, -2.0])


@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_underdetermined_windows_use_the_minimum_norm_solution():
    w = _windows(window=3, m=3)  # 2 pairs, 4 coefficients
    prediction = WeightedRollingRegression(target=2).fit(w.X, w.y).predict(w.X)
    assert prediction[0, 0, 0] == pytest.approx(_statsmodels_forecast(w.X[0], 2, 1, None))


@pytest.mark.parametrize("kwargs, y, message", [
    ({"half_life": 0}, np.zeros(5), "half_life must be a positive number"),
    ({"target": 4}, np.zeros(5), "targets entry 4 is out of range"),
    ({"target": 1.5}, np.zeros(5), "target must be an integer"),
    ({}, np.zeros((5, 2)), "forecasts one series"),
    ({"horizons": [4]}, np.zeros(5), "no \\(regressor, target\\) pair for horizon 4"),
])
def test_bad_settings_raise(kwargs, y, message):
    with pytest.raises(ValueError, match=message):
        WeightedRollingRegression(**kwargs).fit(np.zeros((5, 4, 3)), y)


def test_pipeline_and_grid_search():
    w = _windows(n=120, window=20)
    X, y = w.X.reshape(len(w.X), -1), w.y[:, 0, 0]
    pipe = Pipeline([("identity", FunctionTransformer()),
                     ("wrr", WeightedRollingRegression(window=20))])
    search = GridSearchCV(pipe, {"wrr__half_life": [2.0, 10.0, None]},
                          cv=TimeSeriesSplit(n_splits=3), scoring="neg_mean_squared_error")
    search.fit(X, y)
    direct = WeightedRollingRegression(window=20, half_life=search.best_params_["wrr__half_life"])
    np.testing.assert_allclose(search.predict(X), direct.fit(X, y).predict(X))


def test_get_test_params():
    for params in WeightedRollingRegression.get_test_params():
        WeightedRollingRegression(**params).fit(np.zeros((5, 4)), np.zeros(5))
