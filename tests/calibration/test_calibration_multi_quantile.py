import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.linear_model import QuantileRegressor, Ridge

from skyield.calibration import MultiQuantileRegressor


class LevelTimesMinusOne(RegressorMixin, BaseEstimator):
    """Predicts -quantile everywhere: its quantiles decrease with the level (they cross)."""

    def __init__(self, quantile=0.5):
        self.quantile = quantile

    def fit(self, X, y):
        return self

    def predict(self, X):
        return np.full(len(X), -self.quantile)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2))
    noise = rng.standard_normal((400, 2))
    y = np.column_stack([X @ [1.0, 0.5], X @ [-0.5, 1.0]]) + noise
    return X, y


def test_linear_quantile_regression_recovers_gaussian_quantiles(data):
    # y = X b + N(0, 1): the 0.1 and 0.9 quantile lines are X b -/+ 1.2816
    X, y = data
    model = MultiQuantileRegressor(QuantileRegressor(alpha=0.0),
                                   quantiles=(0.1, 0.5, 0.9)).fit(X, y)
    assert model.quantile_param_ == "quantile"
    q = model.predict_quantiles(X, (0.1, 0.5, 0.9))
    assert q.shape == (400, 2, 3)
    width = (q[..., 2] - q[..., 0]).mean()
    assert width == pytest.approx(2 * 1.2816, abs=0.25)
    np.testing.assert_array_equal(model.predict(X), q[..., 1])
    np.testing.assert_array_equal(model.predict_interval(X, coverage=0.8), q[..., [0, 2]])
    covered = (y >= q[..., 0]) & (y <= q[..., 2])
    assert covered.mean() == pytest.approx(0.8, abs=0.04)  # in sample


def test_quantile_parameter_is_found():
    X = np.random.default_rng(1).standard_normal((60, 2))
    y = X[:, 0]
    gbr = MultiQuantileRegressor(GradientBoostingRegressor(loss="quantile", n_estimators=5),
                                 quantiles=(0.2, 0.5)).fit(X, y)
    assert gbr.quantile_param_ == "alpha"
    assert [e.alpha for e in gbr.estimators_[0]] == [0.2, 0.5]
    hgb = MultiQuantileRegressor(HistGradientBoostingRegressor(loss="quantile", max_iter=5),
                                 quantiles=(0.5, 0.7)).fit(X, y)
    assert hgb.quantile_param_ == "quantile"
    with pytest.raises(ValueError, match="loss='quantile'"):
        MultiQuantileRegressor(HistGradientBoostingRegressor(), quantiles=(0.5,)).fit(X, y)
    with pytest.raises(ValueError, match="cannot tell which parameter of Ridge"):
        MultiQuantileRegressor(Ridge(), quantiles=(0.5,)).fit(X, y)


def test_crossing_quantiles_are_sorted_and_layouts_kept():
    X = np.zeros((5, 3, 2))  # windows are flattened
    y = np.zeros((5, 2, 4))  # (n, horizon, n_targets)
    model = MultiQuantileRegressor(LevelTimesMinusOne(), quantiles=(0.1, 0.5, 0.9)).fit(X, y)
    q = model.predict_quantiles(X, (0.1, 0.5, 0.9))
    assert q.shape == (5, 2, 4, 3)
    np.testing.assert_allclose(q[0, 0, 0], [-0.9, -0.5, -0.1])  # rearranged
    assert model.predict(X).shape == (5, 2, 4)
    assert model.predict_interval(X, coverage=0.8).shape == (5, 2, 4, 2)


def test_defaults_are_the_package_quantiles_and_coverage(data):
    X, y = data
    model = MultiQuantileRegressor(QuantileRegressor(alpha=0.0)).fit(X[:200], y[:200, 0])
    assert model.quantiles == (0.025, 0.5, 0.975)
    assert [e.quantile for e in model.estimators_[0]] == [0.025, 0.5, 0.975]
    q = model.predict_quantiles(X)  # default levels (0.025, 0.5, 0.975)
    assert q.shape == (400, 3)
    np.testing.assert_array_equal(model.predict(X), q[:, 1])
    # Default coverage 0.95: the 0.025 and 0.975 quantiles.
    np.testing.assert_array_equal(model.predict_interval(X), q[:, [0, 2]])
    # A subset of the fitted levels, in increasing order.
    np.testing.assert_array_equal(model.predict_quantiles(X, (0.5, 0.975)), q[:, 1:])
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(X, (0.975, 0.5))
    with pytest.raises(TypeError):
        MultiQuantileRegressor(QuantileRegressor(), (0.1, 0.5, 0.9))  # keyword-only


def test_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="must include 0.5"):
        MultiQuantileRegressor(QuantileRegressor(alpha=0.0), quantiles=(0.1, 0.9)).fit(X, y)
    with pytest.raises(ValueError, match="strictly increasing"):
        MultiQuantileRegressor(QuantileRegressor(alpha=0.0), quantiles=(0.5, 0.1)).fit(X, y)
    model = MultiQuantileRegressor(QuantileRegressor(alpha=0.0), quantiles=(0.1, 0.5, 0.9))
    model.fit(X[:50], y[:50, 0])
    with pytest.raises(ValueError, match=r"level 0.025 was not fitted; the fitted levels are"):
        model.predict_interval(X, coverage=0.95)
    # The default levels (0.025, 0.5, 0.975) and coverage 0.95 need the fitted 0.025.
    with pytest.raises(ValueError, match=r"level 0.025 was not fitted"):
        model.predict_quantiles(X)
    with pytest.raises(ValueError, match=r"level 0.025 was not fitted"):
        model.predict_interval(X)
