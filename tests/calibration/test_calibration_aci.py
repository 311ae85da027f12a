import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.dummy import DummyRegressor

from skyield.calibration import ConformalIntervalRegressor


class LeastSquares(RegressorMixin, BaseEstimator):
    """Multi-output least squares on flattened inputs; targets of any layout."""

    def fit(self, X, y):
        X2 = np.asarray(X, dtype=float).reshape(len(X), -1)
        y = np.asarray(y, dtype=float)
        self.coef_ = np.linalg.lstsq(np.column_stack([np.ones(len(X2)), X2]),
                                     y.reshape(len(y), -1), rcond=None)[0]
        self.y_shape_ = y.shape[1:]
        return self

    def predict(self, X):
        X2 = np.asarray(X, dtype=float).reshape(len(X), -1)
        mean = np.column_stack([np.ones(len(X2)), X2]) @ self.coef_
        return mean.reshape((len(X),) + self.y_shape_)


def ar1(n_dates, scale, *, phi=0.5, seed=0):
    rng = np.random.default_rng(seed)
    values = np.zeros(n_dates)
    noise = rng.standard_normal(n_dates) * scale
    for t in range(1, n_dates):
        values[t] = phi * values[t - 1] + noise[t]
    return values


def lagged(series, lags, horizon=None):
    """Rows of ``lags`` past values; targets the next value (or the next ``horizon``)."""
    n = series.size - lags - (horizon or 1) + 1
    X = np.stack([series[i:i + lags] for i in range(n)])
    if horizon is None:
        return X, series[lags:lags + n]
    return X, np.stack([series[i + lags:i + lags + horizon] for i in range(n)])


def test_update_rule_by_hand():
    # The inner model always predicts 0, so scores are |y|. Calibration scores 1, 2, 3, 4;
    # coverage 0.8 (alpha = 0.2), gamma = 0.1.
    X = np.zeros((10, 1))
    y = np.array([0.0] * 6 + [1.0, 2.0, 3.0, 4.0])
    model = ConformalIntervalRegressor(DummyRegressor(strategy="constant", constant=0.0),
                                       method="aci", coverage=0.8, gamma=0.1,
                                       calibration_size=4).fit(X, y)
    # alpha_1 = 0.2: rank ceil(5 * 0.8) = 4 of 4 scores -> Q = 4
    np.testing.assert_allclose(model.predict_interval(X[:1]), [[-4.0, 4.0]])
    new_y = np.array([5.0, 0.5, 2.5])
    # t=1: [-4, 4] misses 5          -> alpha = 0.2 + 0.1 (0.2 - 1) = 0.12, scores + {5}
    # t=2: rank ceil(6 * 0.88) = 6 > 5 scores -> whole line; 0.5 covered -> alpha = 0.14
    # t=3: rank ceil(7 * 0.86) = 7 > 6 scores -> whole line; 2.5 covered -> alpha = 0.16
    intervals = model.predict_interval_online(np.zeros((3, 1)), new_y)
    np.testing.assert_array_equal(intervals, [[-4.0, 4.0], [-np.inf, np.inf],
                                              [-np.inf, np.inf]])
    assert model.miscoverage_ == pytest.approx(0.2)  # predict_interval_online keeps the state
    model.update(np.zeros((3, 1)), new_y)
    assert model.miscoverage_ == pytest.approx(0.16, abs=1e-15)
    assert model.n_updates_ == 3
    np.testing.assert_array_equal(model.conformity_scores_, [1, 2, 3, 4, 5, 0.5, 2.5])
    # level 0.84: rank ceil(8 * 0.84) = 7 of the 7 sorted scores -> Q = 5
    np.testing.assert_allclose(model.predict_interval(X[:1]), [[-5.0, 5.0]])


def test_intervals_use_no_future_value():
    series = ar1(900, 1.0, seed=1)
    X, y = lagged(series, 3, horizon=2)
    y = y[:, :, None]  # (n, horizon=2, n_targets=1)
    model = ConformalIntervalRegressor(LeastSquares(), method="aci", gamma=0.05,
                                       calibration_size=200, gap=4).fit(X[:600], y[:600])
    X_new, y_new = X[600:], y[600:].copy()
    base = model.predict_interval_online(X_new, y_new)
    t = 150
    y_new[t] += 100.0  # a wild observation at row t
    moved = model.predict_interval_online(X_new, y_new)
    # rows up to t never see y[t]; step 1 of row t+1 may (its error is known at t+1),
    # step 2 only from row t+2 on
    np.testing.assert_array_equal(moved[:t + 1], base[:t + 1])
    np.testing.assert_array_equal(moved[t + 1, 1], base[t + 1, 1])
    assert not np.array_equal(moved[t + 1:t + 3], base[t + 1:t + 3])


def test_update_then_online_equals_one_walk():
    series = ar1(1200, 1.0, seed=2)
    X, y = lagged(series, 3)
    params = dict(method="aci", gamma=0.02, calibration_size=300, score_window=250)
    whole = ConformalIntervalRegressor(LeastSquares(), **params).fit(X[:800], y[:800])
    split = ConformalIntervalRegressor(LeastSquares(), **params).fit(X[:800], y[:800])
    walked = whole.predict_interval_online(X[800:], y[800:])
    split.update(X[800:1000], y[800:1000])
    np.testing.assert_array_equal(split.predict_interval_online(X[1000:], y[1000:]),
                                  walked[200:])
    # the first online interval is the one predict_interval gives from the same state
    np.testing.assert_array_equal(split.predict_interval(X[1000:1001]), walked[200:201])
    whole.update(X[800:], y[800:])
    split.update(X[1000:], y[1000:])
    np.testing.assert_allclose(split.miscoverage_, whole.miscoverage_, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(split.conformity_scores_, whole.conformity_scores_)


def test_long_run_coverage_under_a_variance_shift():
    # 1500 rows before the test span with noise sd 1; in the test span the sd is 1 for
    # 1000 rows, then 2.5 for 5000 rows.
    n_before, n_calm, n_shifted, lags = 1500, 1000, 5000, 3
    scale = np.r_[np.ones(n_before + n_calm + lags), np.full(n_shifted, 2.5)]
    X, y = lagged(ar1(scale.size, scale, seed=3), lags)
    X_test, y_test = X[n_before:], y[n_before:]
    static = ConformalIntervalRegressor(LeastSquares(), method="split",
                                        calibration_size=500).fit(X[:n_before], y[:n_before])
    static_hits = np.abs(y_test - static.predict(X_test)) <= static.correction_
    assert static_hits[n_calm:].mean() < 0.75  # the calibration is stale after the shift
    gamma = 0.01
    model = ConformalIntervalRegressor(LeastSquares(), method="aci", gamma=gamma,
                                       calibration_size=500).fit(X[:n_before], y[:n_before])
    intervals = model.predict_interval_online(X_test, y_test)
    covered = (y_test >= intervals[:, 0]) & (y_test <= intervals[:, 1])
    # Gibbs and Candes (2021), Prop. 4.1: |mean error - alpha| <= (max(alpha_1,
    # 1 - alpha_1) + gamma) / (gamma T) = 0.96 / (0.01 * 6000) = 0.016 on any sequence
    assert abs((1 - covered.mean()) - 0.05) <= (0.95 + gamma) / (gamma * covered.size)
    assert abs(covered.mean() - 0.95) <= 0.02
    assert abs(covered[-3000:].mean() - 0.95) <= 0.03  # after adapting to the shift


def test_online_input_checks():
    X, y = lagged(ar1(300, 1.0), 3)
    model = ConformalIntervalRegressor(LeastSquares(), method="aci",
                                       calibration_size=100).fit(X[:250], y[:250])
    with pytest.raises(ValueError, match="outputs of shape"):
        model.update(X[250:], np.c_[y[250:], y[250:]])
    with pytest.raises(ValueError, match="X has 2 features"):
        model.predict_interval_online(X[250:, :2], y[250:])
