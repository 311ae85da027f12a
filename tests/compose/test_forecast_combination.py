"""Forecast combinations (the scikit-learn checks run in tests/test_common.py, the contract
in tests/test_contract.py).

Known answers of every weighting scheme on a trend whose members miss by known amounts;
weights learned from out-of-sample errors only (a model that memorises its training
targets gets no weight; no inner fit sees a target of its test fold; values planted after
the training span change nothing); and the combinations in GridSearchCV, the backtest and
the sktime adapter.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from skyield.base import BaseSequenceModel
from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.compose import ForecastCombination, InChanges, SequenceForecastCombination
from skyield.datasets import make_nelson_siegel_curves
from skyield.model_selection import ExpandingWindowSplit, backtest
from skyield.preprocessing import make_windows

from _trend_models import CALLS, TrendShift



class Memoriser(RegressorMixin, BaseEstimator):
    """Perfect on the windows it was fitted on, far off on any other."""

    def fit(self, X, y):
        self.table_ = {np.asarray(x).tobytes(): t for x, t in zip(X, np.asarray(y))}
        self.mean_ = np.mean(y, axis=0)
        return self

    def predict(self, X):
        return np.stack([self.table_.get(np.asarray(x).tobytes(), self.mean_ + 10.0)
                         for x in X])


@pytest.fixture
def trend():
    CALLS.clear()
    values = np.arange(60.0)[:, None] + np.array([0.0, 100.0])
    return make_windows(values, window=3, horizons=[1, 2])


def _combination(weighting, shrinkage=0.0, biases=(1.0, -3.0)):
    members = [(f"m{k}", TrendShift(bias)) for k, bias in enumerate(biases)]
    return ForecastCombination(members, weighting=weighting, shrinkage=shrinkage)


@pytest.mark.parametrize("weighting, biases, expected", [
    ("equal", (1.0, -3.0), [0.5, 0.5]),
    ("inverse_mse", (1.0, -3.0), [0.9, 0.1]),            # 1 / 1 against 1 / 9
    ("least_squares", (1.0, -3.0), [0.75, 0.25]),        # 0.75 * 1 - 0.25 * 3 = 0
    ("least_squares", (1.0, 2.0), [1.0, 0.0]),           # non-negative: the smaller bias
    ("inverse_mse", (1.0, 2.0, 2.0), [2 / 3, 1 / 6, 1 / 6]),
])
def test_known_weights(trend, weighting, biases, expected):
    model = _combination(weighting, biases=biases).fit(trend.X, trend.y)
    np.testing.assert_allclose(model.weights_, [expected, expected], atol=1e-6)
    np.testing.assert_allclose(model.oos_mse_[0], np.square(biases))
    error = sum(w * b for w, b in zip(expected, biases))
    truth = trend.y[-5:]
    np.testing.assert_allclose(model.predict(trend.X[-5:]) - truth, error, atol=1e-6)
    # its own out-of-sample errors: the same constant
    np.testing.assert_allclose(model.residuals_, -error, atol=1e-6)


def test_shrinkage_toward_the_random_walk(trend):
    # The random walk misses the trend by -h; half of it, half of a +1 member.
    model = _combination("equal", shrinkage=0.5, biases=(1.0, 1.0)).fit(trend.X, trend.y)
    errors = model.predict(trend.X[-4:]) - trend.y[-4:]
    np.testing.assert_allclose(errors[:, 0], 0.5 * 1.0 - 0.5 * 1.0)
    np.testing.assert_allclose(errors[:, 1], 0.5 * 1.0 - 0.5 * 2.0)
    bounds = model.predict_interval(trend.X[-4:], coverage=0.9)
    assert np.all(bounds[..., 0] <= model.predict(trend.X[-4:]))


def test_no_inner_fit_sees_a_target_of_its_test_fold(trend):
    _combination("least_squares").fit(trend.X, trend.y)
    fits = [entry for entry in CALLS if entry[0] == "fit"]
    predictions = [entry for entry in CALLS if entry[0] == "predict"]
    assert len(fits) == 2 * 4 and len(predictions) == 2 * 3   # 3 folds + the final fit
    for (_, last_target, _, _), (_, _, tested) in zip(fits[::2][:3], predictions[::2]):
        assert last_target <= tested.min()
    assert fits[-1][2].max() == trend.X[-1, -1, 0]   # the final fit: every window


def test_a_memorising_member_gets_no_weight():
    rng = np.random.default_rng(0)
    panel = np.cumsum(rng.normal(size=(150, 2)), axis=0)
    w = make_windows(panel, window=4, horizons=1)
    model = ForecastCombination([("rw", RandomWalk()), ("memory", Memoriser())],
                                weighting="least_squares").fit(w.X, w.y[:, 0])
    # in sample the memoriser is perfect; out of sample it is the worse by far
    assert model.oos_mse_[0, 1] > 10 * model.oos_mse_[0, 0]
    assert model.weights_[0, 1] < 0.05


def _planted(panel, after):
    planted = panel.copy()
    planted.iloc[after:] = planted.iloc[after:] * 0.0 + 1e3
    return planted


def test_values_after_the_training_span_change_nothing():
    rng = np.random.default_rng(1)
    dates = pd.date_range("2000-01-31", periods=80, freq="ME")
    panel = pd.DataFrame(5 + np.cumsum(rng.normal(size=(80, 2)), axis=0), index=dates,
                         columns=["2Y", "10Y"])
    splitter = ExpandingWindowSplit(2, test_size=10)
    window_model = ForecastCombination([("rw", RandomWalk()), ("ridge", InChanges(Ridge()))],
                                       weighting="least_squares")
    curves = make_nelson_siegel_curves(n_dates=80, maturities=[0.5, 1, 2, 5, 10],
                                       random_state=2).curves
    sequence_model = SequenceForecastCombination(
        [("ar", DynamicNelsonSiegel()), ("var", DynamicNelsonSiegel(dynamics="var"))],
        horizons=[1, 2], weighting="least_squares")
    for model, data, window in ((window_model, panel, 4), (sequence_model, curves, None)):
        clean, fits = backtest(model, data, splitter, window=window, horizons=[1, 2],
                               return_estimators=True)
        dirty, planted_fits = backtest(model, _planted(data, -5), splitter, window=window,
                                       horizons=[1, 2], return_estimators=True)
        before = clean["origin"] < data.index[-6]
        pd.testing.assert_series_equal(clean["forecast"][before], dirty["forecast"][before])
        for fit, planted_fit in zip(fits, planted_fits):
            weights = [f["estimator"] if window else f["estimator"][None]
                       for f in (fit, planted_fit)]
            np.testing.assert_array_equal(weights[0].weights_, weights[1].weights_)


def test_grid_search_and_sktime_adapter():
    from sktime.forecasting.base import ForecastingHorizon

    from skyield.sktime import SkyieldForecaster

    rng = np.random.default_rng(2)
    dates = pd.date_range("2000-01-31", periods=70, freq="ME")
    panel = pd.DataFrame(5 + np.cumsum(rng.normal(size=(70, 2)), axis=0), index=dates,
                         columns=["2Y", "10Y"])
    w = make_windows(panel, window=4, horizons=1)
    model = ForecastCombination([("rw", RandomWalk()), ("ridge", InChanges(Ridge()))])
    search = GridSearchCV(model, {"weighting": ["equal", "least_squares"],
                                  "ridge__estimator__alpha": [0.1, 10.0]},
                          cv=ExpandingWindowSplit(2, test_size=10)).fit(w.X, w.y[:, 0])
    assert search.best_estimator_.named_estimators_["ridge"].estimator_.alpha in (0.1, 10.0)
    forecaster = SkyieldForecaster(model, window=4).fit(panel, fh=[1, 2])
    fh = ForecastingHorizon([1, 2])
    assert forecaster.predict(fh).shape == (2, 2)
    assert forecaster.predict_interval(fh, coverage=0.9).shape == (2, 4)
    curves = make_nelson_siegel_curves(n_dates=70, maturities=[0.5, 1, 2, 5, 10],
                                       random_state=3).curves
    sequence = SequenceForecastCombination([("ar", DynamicNelsonSiegel()),
                                            ("var", DynamicNelsonSiegel(dynamics="var"))],
                                           horizons=[1, 2])
    adapted = SkyieldForecaster(sequence).fit(curves)
    quantiles = adapted.predict_quantiles(fh, alpha=[0.1, 0.9])
    assert quantiles.shape == (2, 10) and np.all(np.isfinite(quantiles.to_numpy()))


def test_members_are_checked(trend):
    with pytest.raises(ValueError, match="non-empty list of \\(name, estimator\\) pairs"):
        ForecastCombination([RandomWalk()]).fit(trend.X, trend.y)
    with pytest.raises(ValueError, match="duplicate names"):
        ForecastCombination([("a", TrendShift()), ("a", TrendShift())]).fit(trend.X, trend.y)
    with pytest.raises(TypeError, match="is a sequence model"):
        ForecastCombination([("a", DynamicNelsonSiegel())]).fit(trend.X, trend.y)
    with pytest.raises(TypeError, match="is not one"):
        SequenceForecastCombination([("a", TrendShift())]).fit(np.ones((20, 2)))
    model = _combination("equal").set_params(m0=TrendShift(5.0), m1__bias=-5.0)
    assert [m.bias for _, m in model.estimators] == [5.0, -5.0]
    assert model.get_params()["m0__bias"] == 5.0


# ---- sequence models ---------------------------------------------------------------


class Drift(BaseSequenceModel):
    """On a trend ``x_t = t``: the trend forecast plus ``bias`` at every step."""

    _parameter_constraints = {"bias": [float]}

    def __init__(self, bias=0.0):
        self.bias = bias

    def fit(self, Y, y=None):
        panel = self._validate_fit_panel(Y)
        self.last_ = panel.values[-1].copy()
        return self

    def _update(self, values):
        self.last_ = values[-1].copy()

    def _forecast_moments(self, steps):
        steps_ahead = np.arange(1, steps + 1)[:, None]
        mean = self.last_[None, :] + steps_ahead + self.bias
        return mean, np.ones_like(mean)


def _trend_panel(n_dates=60):
    dates = pd.date_range("2000-01-31", periods=n_dates, freq="ME")
    return pd.DataFrame(np.arange(float(n_dates))[:, None] + [0.0, 50.0], index=dates,
                        columns=["a", "b"])


@pytest.mark.parametrize("weighting, expected", [
    ("equal", [0.5, 0.5]), ("inverse_mse", [0.9, 0.1]), ("least_squares", [0.75, 0.25])])
def test_sequence_known_weights(weighting, expected):
    panel = _trend_panel()
    model = SequenceForecastCombination([("up", Drift(1.0)), ("down", Drift(-3.0))],
                                        horizons=[1, 3], weighting=weighting)
    model.fit(panel.iloc[:50])
    np.testing.assert_allclose(model.weights_, [expected, expected], atol=1e-6)
    error = expected[0] * 1.0 - expected[1] * 3.0
    forecast = model.forecast(4)
    np.testing.assert_allclose(forecast.to_numpy() - panel.iloc[50:54].to_numpy(), error,
                               atol=1e-6)
    np.testing.assert_allclose(model.predict(panel.iloc[50:], horizon=3)[2:]
                               - panel.iloc[52:], error, atol=1e-6)
    # update moves the members and the random walk; the weights stay
    model.update(panel.iloc[50:55])
    np.testing.assert_allclose(model.forecast(1).to_numpy() - panel.iloc[55:56].to_numpy(),
                               error, atol=1e-6)
    assert all(m.last_date_ == panel.index[54] for m in model.estimators_)


def test_sequence_shrinkage_and_intervals():
    panel = _trend_panel()
    model = SequenceForecastCombination([("up", Drift(1.0))], horizons=[1, 2],
                                        shrinkage=0.25, distribution="empirical")
    model.fit(panel.iloc[:50])
    truth = panel.iloc[50:53].to_numpy()
    forecast = model.forecast(3).to_numpy() - truth
    # 0.75 * (+1) + 0.25 * (random walk: -s); step 3 uses the weights of horizon 2
    np.testing.assert_allclose(forecast[:, 0], 0.75 - 0.25 * np.array([1, 2, 3]))
    # the combination's own errors are constant per horizon: its empirical interval is
    # the forecast corrected by them (the truth, at the learned horizons)
    bounds = model.forecast(3, coverage=0.9)
    np.testing.assert_allclose(bounds[:2, :, 0], truth[:2], atol=1e-9)
    np.testing.assert_allclose(bounds[:2, :, 1], truth[:2], atol=1e-9)
    gaussian = model.set_params(distribution="gaussian").fit(panel.iloc[:50])
    np.testing.assert_allclose(np.diff(gaussian.forecast(2, coverage=0.9), axis=-1)[..., 0],
                               2 * 1.6448536 * np.abs(forecast[:2]), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.score(panel.iloc[50:], horizon=2) <= 0
