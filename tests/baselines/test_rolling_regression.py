"""WeightedRollingRegression: per-window WLS equal to statsmodels, half-life weights."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import norm
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
    model = WeightedRollingRegression(half_life=half_life, targets=2, horizons=horizons)
    model.fit(w.X, w.y)
    prediction = model.predict(w.X)
    assert prediction.shape == w.y.shape
    for i in (0, 17, len(w.X) - 1):
        for j, h in enumerate(horizons):
            expected = _statsmodels_forecast(w.X[i], 2, h, half_life)
            assert prediction[i, j, 0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_differences_and_no_intercept_equal_statsmodels():
    # differences=True: levels in, levels out; inside each window of 15 levels the model
    # regresses on the 14 first differences and adds the forecast change to the last level.
    w = _windows(horizons=[2], target=0)
    model = WeightedRollingRegression(half_life=3.0, targets=0, differences=True, horizons=[2],
                                      fit_intercept=False).fit(w.X, w.y)
    prediction = model.predict(w.X)
    for i in (0, 10):
        changes = np.diff(w.X[i], axis=0)
        expected = w.X[i, -1, 0] + _statsmodels_forecast(changes, 0, 2, 3.0, intercept=False,
                                                          differences=True)
        assert prediction[i, 0, 0] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_differences_see_the_windows_of_make_windows_in_changes():
    # make_windows(differences=True) cuts the same origins with the window - 1 first
    # differences as inputs and the change since the origin as targets: the model's
    # forecast in levels minus the last level is the regression on those changes.
    levels = _windows(horizons=[1, 3], target=1)
    changes = _windows(horizons=[1, 3], target=1, differences=True)
    np.testing.assert_allclose(changes.X, np.diff(levels.X, axis=1))
    model = WeightedRollingRegression(half_life=4.0, targets=1, horizons=[1, 3],
                                      differences=True).fit(levels.X, levels.y)
    forecast_change = model.predict(levels.X) - changes.last_level[:, None, :]
    for i in (0, len(levels.X) - 1):
        for j, h in enumerate((1, 3)):
            expected = _statsmodels_forecast(changes.X[i], 1, h, 4.0, differences=True)
            assert forecast_change[i, j, 0] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # The residuals are those of the changes (and of the levels: the same errors).
    np.testing.assert_allclose(model.residuals_, changes.y - (forecast_change), atol=1e-10)
    np.testing.assert_allclose(model.residuals_, levels.y - model.predict(levels.X),
                               atol=1e-10)


def test_differences_need_windows_longer_than_the_horizon_in_changes():
    # 4 levels are 3 changes: horizon 3 leaves no pair in changes (it does in levels).
    X = np.cumsum(np.ones((5, 4, 2)), axis=1)
    WeightedRollingRegression(horizons=[3]).fit(X, np.zeros(5))
    with pytest.raises(ValueError, match="windows of 3 changes leave no"):
        WeightedRollingRegression(horizons=[3], differences=True).fit(X, np.zeros(5))
    with pytest.raises(ValueError, match="at least 2 dates"):
        WeightedRollingRegression(differences=True).fit(X[:, :1], np.zeros(5))


def test_several_targets_are_one_regression_each():
    w = _windows(target=None, horizons=[1, 2])  # y holds every series
    both = WeightedRollingRegression(targets=[2, 0], half_life=4.0, horizons=[1, 2])
    both.fit(w.X, w.y[:, :, [2, 0]])
    prediction = both.predict(w.X)
    assert prediction.shape == (len(w.X), 2, 2) and both.residuals_.shape == prediction.shape
    for column, target in enumerate((2, 0)):
        alone = WeightedRollingRegression(targets=target, half_life=4.0, horizons=[1, 2])
        alone.fit(w.X, w.y[:, :, [target]])
        np.testing.assert_allclose(prediction[:, :, column], alone.predict(w.X)[:, :, 0])
    every = WeightedRollingRegression(targets=None, horizons=[1, 2]).fit(w.X, w.y)
    np.testing.assert_array_equal(every.targets_, [0, 1, 2])
    for i in (0, 30):
        assert every.predict(w.X)[i, 1, 1] == pytest.approx(
            _statsmodels_forecast(w.X[i], 1, 2, None), rel=1e-9, abs=1e-9)


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
    prediction = WeightedRollingRegression(targets=2).fit(w.X, w.y).predict(w.X)
    assert prediction[0, 0, 0] == pytest.approx(_statsmodels_forecast(w.X[0], 2, 1, None))


@pytest.mark.parametrize("kwargs, y, message", [
    ({"half_life": 0}, np.zeros(5), "half_life must be None or a number in \\(0, inf\\), got 0"),
    ({"targets": 4}, np.zeros(5), "targets entry 4 is out of range"),
    ({"targets": 1.5}, np.zeros(5), "targets must be"),
    ({}, np.zeros((5, 2)), "targets names 1 series but y has 2"),
    ({"targets": [0, 1]}, np.zeros((5, 3)), "targets names 2 series but y has 3"),
    ({"horizons": [4]}, np.zeros(5), "no \\(regressor, target\\) pair for horizon 4"),
])
def test_bad_settings_raise(kwargs, y, message):
    with pytest.raises(ValueError, match=message):
        WeightedRollingRegression(**kwargs).fit(np.zeros((5, 4, 3)), y)


@pytest.mark.parametrize("differences", [False, True])
def test_gaussian_quantiles_use_the_root_mean_square_training_error(differences):
    w = _windows(horizons=[1, 3])
    model = WeightedRollingRegression(targets=2, horizons=[1, 3], half_life=6.0,
                                      differences=differences).fit(w.X, w.y)
    prediction = model.predict(w.X)
    np.testing.assert_allclose(model.residuals_, w.y - prediction, atol=1e-10)
    levels = [0.1, 0.5, 0.9]
    quantiles = model.predict_quantiles(w.X[:4], levels)
    assert quantiles.shape == (4, 2, 1, 3)
    scale = np.sqrt(np.mean((w.y - prediction) ** 2, axis=0))  # per (horizon, target)
    expected = prediction[:4, :, :, None] + scale[None, :, :, None] * norm.ppf(levels)
    np.testing.assert_allclose(quantiles, expected, rtol=1e-9, atol=1e-10)
    # The median is the point forecast (the Gaussian is centred on it), in levels.
    np.testing.assert_allclose(quantiles[..., 1], prediction[:4], atol=1e-10)
    np.testing.assert_allclose(model.predict_interval(w.X[:4], coverage=0.8),
                               quantiles[..., [0, 2]], rtol=1e-9, atol=1e-10)
    # Errors grow with the horizon on a random walk panel: so does the interval.
    width = np.diff(model.predict_interval(w.X[:1]), axis=-1)[0, :, 0, 0]
    assert width[1] > width[0]


def test_empirical_quantiles_of_the_training_errors():
    w = _windows(horizons=1)
    y = w.y[:, 0, 0]  # 1-D targets: quantiles (n, Q), intervals (n, 2)
    model = WeightedRollingRegression(targets=2, distribution="empirical").fit(w.X, y)
    errors = y - model.predict(w.X)
    levels = [0.05, 0.25, 0.75, 0.95]
    quantiles = model.predict_quantiles(w.X, levels)
    assert quantiles.shape == (len(y), 4)
    np.testing.assert_allclose(quantiles,
                               model.predict(w.X)[:, None] + np.quantile(errors, levels),
                               atol=1e-10)
    interval = model.predict_interval(w.X)  # default coverage 0.95
    np.testing.assert_allclose(interval, model.predict(w.X)[:, None]
                               + np.quantile(errors, [0.025, 0.975]), atol=1e-10)
    # Nominal 90% empirical intervals cover 90% of the training targets (up to ties).
    inside = (y >= quantiles[:, 0]) & (y <= quantiles[:, 3])
    assert inside.mean() == pytest.approx(0.9, abs=2 / len(y))
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(w.X, [0.9, 0.1])
    with pytest.raises(ValueError, match="distribution must be one of"):
        WeightedRollingRegression(distribution="t").fit(w.X, y)


def test_row_windows_are_one_series_each():
    rng = np.random.default_rng(3)
    rows = np.cumsum(rng.normal(size=(30, 12)), axis=1)  # 30 windows of one series
    y = rows[:, -1] + rng.normal(size=30)
    model = WeightedRollingRegression(window="row", half_life=3.0, targets=0).fit(rows, y)
    assert model.window_ == 12 and model.n_series_in_ == 1
    three_d = WeightedRollingRegression(half_life=3.0, targets=0).fit(rows[:, :, None], y)
    np.testing.assert_allclose(model.predict(rows), three_d.predict(rows[:, :, None]))
    expected = _statsmodels_forecast(rows[5][:, None], 0, 1, 3.0)
    assert model.predict(rows[5:6])[0] == pytest.approx(expected, rel=1e-9, abs=1e-9)
    with pytest.raises(ValueError, match="needs window="):
        WeightedRollingRegression(targets=0).fit(rows, y)


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
