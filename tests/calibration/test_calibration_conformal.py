import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor

from skyield.calibration import ConformalIntervalRegressor, MultiQuantileRegressor


class WindowLeastSquares(RegressorMixin, BaseEstimator):
    """Least squares on flattened windows (a point forecaster); records what it saw."""

    def fit(self, X, y, families=None, weights=None):
        X2 = np.asarray(X, dtype=float).reshape(len(X), -1)
        y = np.asarray(y, dtype=float)
        design = np.column_stack([np.ones(len(X2)), X2])
        targets = y.reshape(len(y), -1)
        self.coef_ = np.linalg.lstsq(design, targets, rcond=None)[0]
        residuals = targets - design @ self.coef_
        self.scale_ = residuals.std(axis=0, ddof=design.shape[1])
        self.y_shape_ = y.shape[1:]
        self.fit_X_, self.fit_families_, self.fit_weights_ = X, families, weights
        return self

    def _mean(self, X):
        X2 = np.asarray(X, dtype=float).reshape(len(X), -1)
        return np.column_stack([np.ones(len(X2)), X2]) @ self.coef_

    def predict(self, X, families=None):
        return self._mean(X).reshape((len(X),) + self.y_shape_)


class GaussianWindowRegressor(WindowLeastSquares):
    """Least squares with Gaussian quantiles scaled by ``width``.

    ``width < 1`` makes the intervals deliberately too narrow (raw 95% intervals
    under-cover), ``width > 1`` too wide.
    """

    def __init__(self, width=0.6):
        self.width = width

    def predict_quantiles(self, X, quantiles, families=None):
        self.predict_families_ = families
        z = norm.ppf(np.asarray(quantiles, dtype=float))
        values = self._mean(X)[..., None] + self.width * self.scale_[:, None] * z
        return values.reshape((len(X),) + self.y_shape_ + (len(z),))

    def predict_interval(self, X, coverage=0.9, families=None):
        return self.predict_quantiles(X, [(1 - coverage) / 2, (1 + coverage) / 2], families)


class CrossingQuantiles(GaussianWindowRegressor):
    """Returns its quantiles in reverse order: every pair crosses."""

    def predict_quantiles(self, X, quantiles, families=None):
        return super().predict_quantiles(X, quantiles, families)[..., ::-1]


def ar1_panel(n_dates, *, phi=(0.8, 0.5, 0.3), seed=0):
    """AR(1) series with correlated Gaussian innovations (correlation 0.5)."""
    rng = np.random.default_rng(seed)
    phi = np.asarray(phi)
    n_series = phi.size
    chol = np.linalg.cholesky(0.5 * np.eye(n_series) + 0.5)
    noise = rng.standard_normal((n_dates, n_series)) @ chol.T
    values = np.zeros((n_dates, n_series))
    for t in range(1, n_dates):
        values[t] = 0.1 + phi * values[t - 1] + noise[t]
    return values


def windows(panel, window, horizon=None):
    """``X[i] = panel[i:i + window]``; ``y[i]`` the next value, or the next ``horizon``."""
    n = panel.shape[0] - window - (horizon or 1) + 1
    X = np.stack([panel[i:i + window] for i in range(n)])
    if horizon is None:
        return X, panel[window:window + n]
    return X, np.stack([panel[i + window:i + window + horizon] for i in range(n)])


def hits(y, intervals):
    return (y >= intervals[..., 0]) & (y <= intervals[..., 1])


# 2000 training + 1500 calibration rows, then 4000 held-out rows of 3 series: the
# coverage of one output has a standard deviation of about 0.0066 (calibration and test
# sampling), the pooled one about 0.004.
N_FIT, N_CAL, N_TEST, WINDOW = 3500, 1500, 4000, 4


@pytest.fixture(scope="module")
def panel_windows():
    X, y = windows(ar1_panel(N_FIT + N_TEST + WINDOW, seed=11), WINDOW)
    return X[:N_FIT], y[:N_FIT], X[N_FIT:], y[N_FIT:]


@pytest.mark.parametrize("method, inner", [("cqr", GaussianWindowRegressor(width=0.6)),
                                           ("split", WindowLeastSquares())])
def test_conformal_intervals_repair_under_coverage(panel_windows, method, inner):
    X_fit, y_fit, X_test, y_test = panel_windows
    model = ConformalIntervalRegressor(inner, method=method, calibration_size=N_CAL,
                                       gap=WINDOW).fit(X_fit, y_fit)
    raw = GaussianWindowRegressor(width=0.6).fit(X_fit[:model.n_train_], y_fit[:model.n_train_])
    # 0.6 * 1.96 = 1.18 standard deviations: about 76% raw coverage
    assert hits(y_test, raw.predict_interval(X_test, coverage=0.95)).mean() < 0.85
    intervals = model.predict_interval(X_test)
    assert intervals.shape == y_test.shape + (2,)
    assert np.all(intervals[..., 0] <= intervals[..., 1])
    covered = hits(y_test, intervals)
    assert abs(covered.mean() - 0.95) <= 0.02
    assert np.all(np.abs(covered.mean(axis=0) - 0.95) <= 0.03)


def test_multi_step_targets_are_calibrated_per_output():
    horizon = 2
    X, y = windows(ar1_panel(N_FIT + N_TEST + WINDOW + horizon - 1, seed=5), WINDOW, horizon)
    model = ConformalIntervalRegressor(GaussianWindowRegressor(width=0.6),
                                       calibration_size=N_CAL,
                                       gap=WINDOW + horizon - 1).fit(X[:N_FIT], y[:N_FIT])
    assert model.output_shape_ == (2, 3)
    assert model.conformity_scores_.shape == (N_CAL, 2, 3)
    assert model.correction_.shape == (2, 3) and np.all(model.correction_ > 0)
    intervals = model.predict_interval(X[N_FIT:])
    assert intervals.shape == (N_TEST, 2, 3, 2)
    covered = hits(y[N_FIT:], intervals)
    assert abs(covered.mean() - 0.95) <= 0.02
    assert np.all(np.abs(covered.mean(axis=0) - 0.95) <= 0.03)


def test_quantiles_are_sorted_and_each_central_pair_is_calibrated(panel_windows):
    X_fit, y_fit, X_test, y_test = panel_windows
    model = ConformalIntervalRegressor(GaussianWindowRegressor(width=0.6),
                                       calibration_size=N_CAL).fit(X_fit, y_fit)
    levels = [0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975]
    q = model.predict_quantiles(X_test, levels)
    assert q.shape == y_test.shape + (7,)
    assert np.all(np.diff(q, axis=-1) >= 0)
    np.testing.assert_allclose(q[..., 3], model.predict(X_test))  # the inner median
    for low, high, nominal in [(0, 6, 0.95), (1, 5, 0.8), (2, 4, 0.5)]:
        covered = (y_test >= q[..., low]) & (y_test <= q[..., high])
        assert abs(covered.mean() - nominal) <= 0.03, nominal


def test_over_covering_inner_is_narrowed_without_crossing(panel_windows):
    X_fit, y_fit, X_test, y_test = panel_windows
    model = ConformalIntervalRegressor(GaussianWindowRegressor(width=3.0),
                                       calibration_size=N_CAL).fit(X_fit, y_fit)
    assert np.all(model.correction_ < 0)  # the intervals shrink
    intervals = model.predict_interval(X_test)
    assert abs(hits(y_test, intervals).mean() - 0.95) <= 0.02
    q = model.predict_quantiles(X_test, [0.05, 0.3, 0.45, 0.5, 0.55, 0.7, 0.95])
    assert np.all(np.diff(q, axis=-1) >= 0)


def test_crossing_inner_quantiles_are_rearranged(panel_windows):
    X_fit, y_fit, X_test, _ = panel_windows
    model = ConformalIntervalRegressor(CrossingQuantiles(), method="cqr",
                                       calibration_size=500).fit(X_fit[:1500], y_fit[:1500])
    q = model.predict_quantiles(X_test[:200], [0.05, 0.2, 0.5, 0.8, 0.95])
    assert np.all(np.diff(q, axis=-1) >= 0)


def test_gradient_boosting_quantile_pairs():
    X, y = windows(ar1_panel(2500, phi=(0.7,), seed=2), 3)
    X2, y1 = X.reshape(len(X), -1), y[:, 0]
    inner = MultiQuantileRegressor(
        GradientBoostingRegressor(loss="quantile", n_estimators=40, max_depth=2,
                                  learning_rate=0.1, random_state=0),
        quantiles=(0.025, 0.5, 0.975))
    model = ConformalIntervalRegressor(inner, calibration_size=600, gap=3).fit(X2[:1400],
                                                                               y1[:1400])
    intervals = model.predict_interval(X2[1400:])
    assert np.all(intervals[..., 0] <= intervals[..., 1])
    # 1093 test points: standard deviation of the coverage about 0.01
    assert abs(hits(y1[1400:], intervals).mean() - 0.95) <= 0.035
    q = model.predict_quantiles(X2[1400:], [0.025, 0.5, 0.975])
    assert np.all(np.diff(q, axis=-1) >= 0)


def test_finite_sample_coverage_is_k_over_n_plus_one():
    # With exchangeable (here i.i.d.) data and continuous scores, split conformal covers a
    # new point with probability exactly k / (n + 1), k = ceil((n + 1) coverage):
    # n = 9 calibration points at coverage 0.8 give k = 8 and 8 / 10 = 0.8. Over 800
    # independent repetitions of 25 test points the mean coverage has a standard deviation
    # of about 0.0045 (the coverage of one repetition is Beta(8, 2)-distributed).
    rng = np.random.default_rng(7)
    covered = []
    for _ in range(800):
        X = rng.standard_normal((45, 2))
        y = X @ [1.0, -1.0] + rng.standard_normal(45)
        model = ConformalIntervalRegressor(WindowLeastSquares(), method="split", coverage=0.8,
                                           calibration_size=9).fit(X[:20], y[:20])
        covered.append(hits(y[20:], model.predict_interval(X[20:])).mean())
    assert abs(np.mean(covered) - 0.8) <= 0.015


def test_split_quantiles_from_the_definition(panel_windows):
    # split conformal by hand: Q(0.8) is the ceil(1501 * 0.8) = 1201st smallest absolute
    # calibration residual; the 0.1 / 0.9 quantiles are the prediction -/+ Q(0.8)
    X_fit, y_fit, X_test, _ = panel_windows
    model = ConformalIntervalRegressor(WindowLeastSquares(), method="split",
                                       calibration_size=N_CAL).fit(X_fit, y_fit)
    residuals = np.abs(y_fit[-N_CAL:] - model.estimator_.predict(X_fit[-N_CAL:]))
    q80 = np.sort(residuals, axis=0)[1200]
    q = model.predict_quantiles(X_test[:50], [0.1, 0.5, 0.9])
    point = model.predict(X_test[:50])
    np.testing.assert_allclose(q[..., 1], point)
    np.testing.assert_allclose(q[..., 2] - point, np.broadcast_to(q80, point.shape))
    np.testing.assert_allclose(point - q[..., 0], np.broadcast_to(q80, point.shape))


def test_rows_are_split_in_time_order_with_a_gap():
    X = np.arange(80.0).reshape(40, 2)
    y = np.arange(40.0)
    model = ConformalIntervalRegressor(GaussianWindowRegressor(), coverage=0.5,
                                       calibration_size=0.25, gap=3).fit(X, y)
    assert (model.n_train_, model.n_calibration_) == (27, 10)  # 40 = 27 + 3 + 10
    np.testing.assert_array_equal(model.estimator_.fit_X_, X[:27])
    np.testing.assert_array_equal(model.calibration_X_, X[30:])
    np.testing.assert_array_equal(model.calibration_y_, y[30:])
    model.set_params(calibration_size=7, gap=0).fit(X, y)
    assert (model.n_train_, model.n_calibration_) == (33, 7)
    model.set_params(calibration_size=0.21).fit(X, y)  # 0.21 * 40 = 8.4 -> 9 rows
    assert model.n_calibration_ == 9


def test_families_and_fit_params_pass_through():
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = X.sum(axis=1)
    families = np.array(["EUR", "USD"] * 20)
    weights = np.arange(40.0)
    model = ConformalIntervalRegressor(GaussianWindowRegressor(), coverage=0.5,
                                       calibration_size=10)
    model.fit(X, y, families=families, weights=weights)
    np.testing.assert_array_equal(model.estimator_.fit_families_, families[:30])
    np.testing.assert_array_equal(model.estimator_.fit_weights_, weights[:30])
    np.testing.assert_array_equal(model.estimator_.predict_families_, families[30:])
    model.predict_interval(X[:4], families=families[:4])
    np.testing.assert_array_equal(model.estimator_.predict_families_, families[:4])
    with pytest.raises(ValueError, match="families must have one entry per row"):
        model.fit(X, y, families=families[:5])


def test_pandas_rows_are_passed_as_pandas():
    dates = pd.date_range("2000-01-31", periods=40, freq="ME")
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.standard_normal((40, 2)), index=dates, columns=["1Y", "10Y"])
    y = pd.DataFrame(rng.standard_normal((40, 2)), index=dates, columns=["1Y", "10Y"])
    model = ConformalIntervalRegressor(GaussianWindowRegressor(), coverage=0.5,
                                       calibration_size=10).fit(X, y)
    assert isinstance(model.estimator_.fit_X_, pd.DataFrame)
    assert model.estimator_.fit_X_.index.equals(dates[:30])
    assert model.predict_interval(X).shape == (40, 2, 2)


def test_errors():
    X = np.random.default_rng(0).standard_normal((50, 2))
    y = X.sum(axis=1)
    with pytest.raises(ValueError, match="needs at least 19 calibration scores, but there are 10"):
        ConformalIntervalRegressor(GaussianWindowRegressor(), calibration_size=10).fit(X, y)
    model = ConformalIntervalRegressor(GaussianWindowRegressor(), coverage=0.5,
                                       calibration_size=10).fit(X, y)
    with pytest.raises(ValueError, match="needs at least 99 calibration scores"):
        model.predict_quantiles(X, [0.005, 0.5])
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(X, [0.9, 0.1])
    with pytest.raises(ValueError, match="method must be one of"):
        ConformalIntervalRegressor(GaussianWindowRegressor(), method="jackknife").fit(X, y)
    with pytest.raises(ValueError, match="neither predict_interval nor predict_quantiles"):
        ConformalIntervalRegressor(WindowLeastSquares(), method="cqr").fit(X, y)
    with pytest.raises(ValueError, match="calibration_size must be"):
        ConformalIntervalRegressor(GaussianWindowRegressor(), calibration_size=1.5).fit(X, y)
    with pytest.raises(ValueError, match="got 50 sample"):
        ConformalIntervalRegressor(GaussianWindowRegressor(), calibration_size=30,
                                   gap=20).fit(X, y)
    y_bad = y.copy()
    y_bad[7] = np.nan
    with pytest.raises(ValueError, match="missing or infinite value in row 7"):
        model.fit(X, y_bad)
    with pytest.raises(ValueError, match="online updates adapt the level of method='aci'"):
        model.update(X[:3], y[:3])
    with pytest.raises(ValueError, match="coverage must be a number strictly between 0 and 1"):
        model.predict_interval(X, coverage=95)


def test_aci_with_the_interval_score(panel_windows):
    X_fit, y_fit, X_test, y_test = panel_windows
    model = ConformalIntervalRegressor(GaussianWindowRegressor(width=0.6), method="aci",
                                       calibration_size=N_CAL, gamma=0.01).fit(X_fit, y_fit)
    assert model.score_ == "interval"
    intervals = model.predict_interval_online(X_test, y_test)
    assert np.all(intervals[..., 0] <= intervals[..., 1])
    # Gibbs and Candes (2021), Prop. 4.1: |mean error - alpha| <= (max(alpha_1, 1 - alpha_1)
    # + gamma) / (gamma T) for every output: (0.95 + 0.01) / (0.01 * 4000) = 0.024
    errors = 1 - hits(y_test, intervals).mean(axis=0)
    assert np.all(np.abs(errors - 0.05) <= 0.024)
    with pytest.raises(ValueError, match="tracks coverage=0.95"):
        model.predict_interval(X_test, coverage=0.9)
    with pytest.raises(ValueError, match="adapts one coverage level"):
        model.predict_quantiles(X_test, [0.1, 0.9])
