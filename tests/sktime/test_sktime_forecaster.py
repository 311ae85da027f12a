"""Behaviour of SkyieldForecaster: windows, strategies, families, sequence models, update."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, Ridge
from sktime.utils.estimator_checks import check_estimator

from skyield.base import BaseWindowRegressor
from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.datasets import make_nelson_siegel_curves
from skyield.model_selection import ExpandingWindowSplit, backtest
from skyield.preprocessing import make_windows
from skyield.sktime import SkyieldForecaster

MATURITIES = [0.25, 1, 2, 5, 10]


def _curves(n_dates=48, n_families=1, seed=0):
    return make_nelson_siegel_curves(n_dates=n_dates, maturities=MATURITIES,
                                     n_families=n_families, random_state=seed).curves


def _walk(n_dates=40, n_series=2, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n_dates, n_series)).cumsum(axis=0),
                        columns=[f"s{j}" for j in range(n_series)],
                        index=pd.period_range("2001-01", periods=n_dates, freq="M"))


class LastValueSequence(BaseEstimator):
    """Sequence model: the last value seen, with Gaussian intervals of growing width."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def fit(self, Y, y=None):
        self.last_ = np.asarray(Y, dtype=float)[-1].copy()
        self.n_seen_ = len(Y)
        return self

    def update(self, Y_new):
        self.last_ = np.asarray(Y_new, dtype=float)[-1].copy()
        self.n_seen_ += len(Y_new)
        return self

    def forecast(self, steps=1, quantiles=None, coverage=None):
        if coverage is not None:
            quantiles = [(1 - coverage) / 2, (1 + coverage) / 2]
        if quantiles is None:
            return pd.DataFrame(np.repeat(self.last_[None], steps, axis=0))
        spread = self.scale * np.sqrt(np.arange(1, steps + 1))[:, None, None]
        return self.last_[None, :, None] + spread * norm.ppf(quantiles)


class DriftWalk(BaseWindowRegressor):
    """Last value plus the mean training change of each horizon and series."""

    def __init__(self, *, window=None, horizons=None, targets=None, maturities=None):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.maturities = maturities

    _parameter_constraints = {**BaseWindowRegressor._parameter_constraints,
                              "maturities": [None, "array-like"]}
    _forecasts_inputs = True

    def _fit(self, X, y):
        self.drift_ = (y - X[:, -1:, self.targets_]).mean(axis=0)

    def _predict(self, X):
        return X[:, -1:, self.targets_] + self.drift_[None]


class ConstantQuantiles(RegressorMixin, BaseEstimator):
    """Last value; quantile ``q`` is ``last + q`` and the interval ``last -/+ coverage``."""

    def fit(self, X, y):
        self.n_steps_ = np.shape(y)[1] if np.ndim(y) == 3 else 1
        return self

    def predict(self, X):
        return np.repeat(np.asarray(X)[:, -1:, :], self.n_steps_, axis=1)

    def predict_quantiles(self, X, quantiles):
        return self.predict(X)[..., None] + np.asarray(quantiles)

    def predict_interval(self, X, coverage):
        point = self.predict(X)
        return np.stack([point - coverage, point + coverage], axis=-1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


# -- window regressors, direct -------------------------------------------------------------


def test_direct_random_walk_forecasts_the_last_value_at_the_steps_of_fh():
    y = _walk()
    forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(y, fh=[1, 3])
    prediction = forecaster.predict()
    assert list(prediction.index) == list(pd.period_range("2004-05", periods=3, freq="M")[[0, 2]])
    assert list(prediction.columns) == ["s0", "s1"]
    np.testing.assert_array_equal(prediction.to_numpy(), y.to_numpy()[[-1, -1]])
    assert forecaster.horizons_.tolist() == [1, 3]


def test_direct_fit_uses_the_windows_and_targets_of_make_windows():
    y = _curves()
    forecaster = SkyieldForecaster(DriftWalk(), window=4).fit(y, fh=[1, 2, 6])
    windows = make_windows(y, 4, [1, 2, 6])
    reference = DriftWalk(horizons=[1, 2, 6]).fit(windows.X, windows.y)
    expected = reference.predict(y.to_numpy()[None, -4:])[0]
    np.testing.assert_allclose(forecaster.predict().to_numpy(), expected, rtol=1e-12)
    # The inner clone got the steps of fh and the maturities of the column labels.
    assert forecaster.estimator_.horizons == [1, 2, 6]
    np.testing.assert_allclose(forecaster.estimator_.maturities, MATURITIES)
    assert forecaster.estimator.horizons is None


def test_quantiles_and_intervals_come_from_the_inner_model_in_sktime_layout():
    y = _walk()
    forecaster = SkyieldForecaster(ConstantQuantiles(), window=2).fit(y, fh=[1, 2])
    last = y.to_numpy()[-1]
    quantiles = forecaster.predict_quantiles(alpha=[0.9, 0.1])
    assert list(quantiles.columns) == [("s0", 0.9), ("s0", 0.1), ("s1", 0.9), ("s1", 0.1)]
    np.testing.assert_allclose(quantiles[("s1", 0.1)], last[1] + 0.1)
    np.testing.assert_allclose(quantiles[("s0", 0.9)], last[0] + 0.9)
    interval = forecaster.predict_interval(coverage=[0.5, 0.8])
    assert list(interval.columns)[:4] == [("s0", 0.5, "lower"), ("s0", 0.5, "upper"),
                                          ("s0", 0.8, "lower"), ("s0", 0.8, "upper")]
    np.testing.assert_allclose(interval[("s1", 0.8, "lower")], last[1] - 0.8)
    np.testing.assert_allclose(interval[("s0", 0.5, "upper")], last[0] + 0.5)


def test_random_walk_intervals_match_its_own_predict_interval():
    y = _walk(seed=3)
    forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(y, fh=[1, 2])
    interval = forecaster.predict_interval(coverage=0.9)
    expected = forecaster.estimator_.predict_interval(y.to_numpy()[None, -3:], 0.9)[0]
    np.testing.assert_allclose(interval[("s0", 0.9, "lower")], expected[:, 0, 0])
    np.testing.assert_allclose(interval[("s1", 0.9, "upper")], expected[:, 1, 1])
    assert np.all(expected[..., 0] < expected[..., 1])


def test_a_model_of_changes_forecasts_levels_through_the_adapter():
    from skyield.baselines import WeightedRollingRegression

    y = _walk(seed=1)
    model = WeightedRollingRegression(targets=0, differences=True)
    forecaster = SkyieldForecaster(model, window=8).fit(y[["s0"]], fh=[1, 2])
    windows = make_windows(y[["s0"]], 8, [1, 2])
    reference = WeightedRollingRegression(targets=0, differences=True, horizons=[1, 2]).fit(
        windows.X, windows.y)
    expected = reference.predict(y[["s0"]].to_numpy()[None, -8:])[0, :, 0]
    np.testing.assert_allclose(forecaster.predict().to_numpy()[:, 0], expected)
    interval = forecaster.predict_interval(coverage=0.5)
    lower = interval.xs("lower", axis=1, level=2).to_numpy()[:, 0]
    upper = interval.xs("upper", axis=1, level=2).to_numpy()[:, 0]
    assert np.all(lower < expected) and np.all(upper > expected)


def test_scikit_learn_regressor_gets_flattened_windows():
    y = _walk(seed=2)
    forecaster = SkyieldForecaster(Ridge(alpha=0.5), window=3).fit(y, fh=[1, 2])
    windows = make_windows(y, 3, [1, 2])
    reference = Ridge(alpha=0.5).fit(windows.X.reshape(len(windows.X), -1),
                                     windows.y.reshape(len(windows.y), -1))
    expected = reference.predict(y.to_numpy()[-3:].reshape(1, -1)).reshape(2, 2)
    np.testing.assert_allclose(forecaster.predict().to_numpy(), expected)
    assert not forecaster.get_tag("capability:pred_int")


# -- recursive -----------------------------------------------------------------------------


def test_recursive_feeds_the_model_its_own_forecasts():
    y = _walk(seed=4)
    forecaster = SkyieldForecaster(LinearRegression(), window=2, strategy="recursive")
    forecaster.fit(y)
    assert not forecaster.get_tag("requires-fh-in-fit")
    windows = make_windows(y, 2, 1)
    model = LinearRegression().fit(windows.X.reshape(len(windows.X), -1), windows.y[:, 0])
    path = list(y.to_numpy()[-2:])
    for _ in range(3):
        path.append(model.predict(np.concatenate(path[-2:])[None])[0])
    np.testing.assert_allclose(forecaster.predict(fh=[1, 2, 3]).to_numpy(), path[2:])
    np.testing.assert_allclose(forecaster.predict(fh=[3]).to_numpy(), path[4:])


def test_recursive_strategy_gives_no_intervals():
    forecaster = SkyieldForecaster(RandomWalk(), window=2, strategy="recursive")
    assert not forecaster.get_tag("capability:pred_int")
    forecaster.fit(_walk(), fh=[1, 2])
    with pytest.raises(NotImplementedError, match="quantile|interval"):
        forecaster.predict_interval()


# -- families ------------------------------------------------------------------------------


def test_families_reach_the_inner_model_and_are_forecast_separately():
    from skyield.models import YieldCurveAttentionRegressor

    panel = _curves(n_dates=40, n_families=2)
    tiny = YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=2, random_state=0)
    forecaster = SkyieldForecaster(tiny, window=3)
    prediction = forecaster.fit(panel, fh=[1, 2]).predict()
    assert forecaster.families_ == ["family_1", "family_2"]
    assert list(forecaster.estimator_.families_) == ["family_1", "family_2"]
    assert prediction.index.names == ["family", "date"]
    # each family is forecast from its own last window, with its own family code
    X = np.stack([panel.xs(f, level=0).to_numpy()[-3:] for f in forecaster.families_])
    expected = forecaster.estimator_.predict(
        X, families=np.asarray(forecaster.families_, dtype=object))
    for rank, family in enumerate(forecaster.families_):
        np.testing.assert_allclose(prediction.xs(family, level=0).to_numpy(),
                                   expected[rank], rtol=1e-10)


def test_family_with_an_earlier_end_is_forecast_from_its_own_last_date():
    panel = _curves(n_dates=30, n_families=2)
    last_two = panel.xs("family_2", level=0).index[-2:]
    short = panel.drop(index=[("family_2", date) for date in last_two])
    forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(short, fh=[1])
    prediction = forecaster.predict()
    ends = {f: short.xs(f, level=0).index[-1] for f in ("family_1", "family_2")}
    assert ends["family_2"] < ends["family_1"]
    for family, end in ends.items():
        (date,) = prediction.xs(family, level=0).index
        assert date == end + pd.offsets.MonthEnd(1)
        np.testing.assert_array_equal(prediction.xs(family, level=0).to_numpy()[0],
                                      short.xs(family, level=0).to_numpy()[-1])


def test_update_with_an_unknown_family_is_an_error():
    panel = _curves(n_dates=30, n_families=2)
    forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(panel, fh=[1])
    new = _curves(n_dates=31, n_families=2).iloc[[-1]].rename(index={"family_2": "family_9"})
    new.index = pd.MultiIndex.from_tuples([("family_9", panel.index.levels[1][-1]
                                            + pd.offsets.MonthEnd(1))],
                                          names=panel.index.names)
    with pytest.raises(ValueError, match="family_9.*not seen in fit"):
        forecaster.update(new, update_params=False)


# -- sequence models -----------------------------------------------------------------------


def test_sequence_model_forecasts_through_its_own_forecast_methods():
    y = _curves()
    train, new = y.iloc[:40], y.iloc[40:44]
    forecaster = SkyieldForecaster(DynamicNelsonSiegel(dynamics="var"))
    assert not forecaster.get_tag("requires-fh-in-fit")
    forecaster.fit(train)
    reference = DynamicNelsonSiegel(dynamics="var").fit(train)
    fh = [1, 3]
    np.testing.assert_allclose(forecaster.predict(fh).to_numpy(),
                               reference.forecast(3).to_numpy()[[0, 2]], rtol=1e-12)
    interval = forecaster.predict_interval(fh, coverage=0.8)
    expected = reference.forecast(3, coverage=0.8)[[0, 2]]
    np.testing.assert_allclose(interval[(1.0, 0.8, "upper")], expected[:, 1, 1], rtol=1e-12)
    # update without re-estimation moves the state only.
    forecaster.update(new, update_params=False)
    reference.update(new)
    np.testing.assert_allclose(forecaster.predict(fh).to_numpy(),
                               reference.forecast(3).to_numpy()[[0, 2]], rtol=1e-12)
    assert forecaster.estimators_[None].transition_ is not None
    np.testing.assert_array_equal(forecaster.estimators_[None].transition_,
                                  DynamicNelsonSiegel(dynamics="var").fit(train).transition_)
    # update_params=True re-estimates on every date seen.
    forecaster.update(y.iloc[44:], update_params=True)
    refit = DynamicNelsonSiegel(dynamics="var").fit(y)
    np.testing.assert_allclose(forecaster.predict(fh).to_numpy(),
                               refit.forecast(3).to_numpy()[[0, 2]], rtol=1e-12)


def test_sequence_model_gets_one_clone_per_family():
    panel = _curves(n_dates=36, n_families=2)
    forecaster = SkyieldForecaster(LastValueSequence()).fit(panel)
    assert set(forecaster.estimators_) == {"family_1", "family_2"}
    prediction = forecaster.predict(fh=[1, 2])
    for family in ("family_1", "family_2"):
        np.testing.assert_array_equal(prediction.xs(family, level=0).to_numpy(),
                                      panel.xs(family, level=0).to_numpy()[[-1, -1]])
    quantiles = forecaster.predict_quantiles(fh=[2], alpha=[0.5, 0.975])
    spread = (quantiles[(10.0, 0.975)] - quantiles[(10.0, 0.5)]).to_numpy()
    np.testing.assert_allclose(spread, np.sqrt(2) * norm.ppf(0.975))


# -- update and errors ---------------------------------------------------------------------


def test_update_without_params_forecasts_from_the_new_last_window():
    y = _curves()
    forecaster = SkyieldForecaster(DriftWalk(), window=3)
    forecaster.fit(y.iloc[:40], fh=[1, 2])
    model = forecaster.estimator_
    forecaster.update(y.iloc[40:], update_params=False)
    assert forecaster.estimator_ is model
    expected = model.predict(y.to_numpy()[None, -3:])[0]
    np.testing.assert_allclose(forecaster.predict().to_numpy(), expected)
    assert forecaster.predict().index[0] == y.index[-1] + pd.offsets.MonthEnd(1)


def test_update_with_params_refits_on_every_date_seen():
    y = _curves()
    forecaster = SkyieldForecaster(DriftWalk(), window=3)
    forecaster.fit(y.iloc[:40], fh=[1, 2]).update(y.iloc[40:])
    expected = SkyieldForecaster(DriftWalk(), window=3).fit(y, fh=[1, 2]).predict()
    np.testing.assert_allclose(forecaster.predict().to_numpy(), expected.to_numpy())


def test_update_skips_rows_equal_to_the_stored_ones():
    # sktime's update_predict and evaluate pass the whole expanding window at each step.
    y = _curves()
    forecaster = SkyieldForecaster(LastValueSequence()).fit(y.iloc[:40])
    forecaster.update(y.iloc[:44], update_params=False)
    assert forecaster.estimators_[None].n_seen_ == 44  # the 4 new dates only
    pd.testing.assert_frame_equal(forecaster._panel.frames[None], y.iloc[:44],
                                  check_freq=False)
    forecaster.update(y.iloc[30:44], update_params=False)  # nothing new
    assert forecaster.estimators_[None].n_seen_ == 44


@pytest.mark.parametrize("rows, message", [
    # a stored date with other values: never overwritten
    (lambda y: y.iloc[37:42] + np.where(np.arange(5) == 1, 0.5, 0)[:, None] * [0, 0, 0, 0, 1],
     r"update has a row dated 2003-03-31, on or before the last stored date 2003-04-30, "
     r"that holds .* in column 10.0 where .* is stored"),
    # a date before the first stored one: never slotted in
    (lambda y: y.iloc[:3].set_axis(y.index[:3] - pd.offsets.MonthEnd(12)),
     r"row dated 1999-01-31, on or before the last stored date 2003-04-30, that is not a "
     r"stored date"),
])
def test_update_refuses_rows_that_would_change_the_stored_ones(rows, message):
    y = _curves()
    forecaster = SkyieldForecaster(LastValueSequence()).fit(y.iloc[:40])
    with pytest.raises(ValueError, match=message):
        forecaster.update(rows(y), update_params=False)
    pd.testing.assert_frame_equal(forecaster._panel.frames[None], y.iloc[:40])
    assert forecaster.estimators_[None].n_seen_ == 40
    # sktime's own state did not move either: the cutoff is the fitted one.
    assert forecaster.cutoff[0] == y.index[39]


def test_update_of_a_family_panel_names_the_family_whose_rows_differ():
    panel = _curves(n_dates=30, n_families=2)
    forecaster = SkyieldForecaster(RandomWalk(), window=3).fit(panel, fh=[1])
    changed = panel.copy()
    changed.loc[("family_2", panel.index.levels[1][-1]), 5.0] += 0.25
    with pytest.raises(ValueError, match=r"family 'family_2': update has a row dated "
                                         r"2002-06-30, on or before the last stored date "
                                         r"2002-06-30, that holds"):
        forecaster.update(changed, update_params=False)
    forecaster.update(panel, update_params=False)  # the same rows: nothing to append


@pytest.mark.parametrize("kind", ["window", "sequence"])
def test_sktime_update_matches_the_backtest_without_refit(kind):
    y = _curves(n_dates=40)
    model = DriftWalk() if kind == "window" else DynamicNelsonSiegel(dynamics="var")
    window = 3 if kind == "window" else None
    results = backtest(model, y, ExpandingWindowSplit(1, test_size=10), window=window,
                       horizons=[1, 2], refit=False)
    forecaster = SkyieldForecaster(model, window=window).fit(y.iloc[:30], fh=[1, 2])
    for origin in range(30, 38):
        forecaster.update(y.iloc[origin:origin + 1], update_params=False)
        prediction = forecaster.predict()
        rows = results[results["origin"] == y.index[origin]]
        expected = rows.pivot(index="target_date", columns="series", values="forecast")
        np.testing.assert_allclose(prediction.to_numpy(), expected.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("params, message", [
    ({"estimator": RandomWalk()}, "window regressors need window="),
    ({"estimator": RandomWalk(), "window": 0}, "window must be a positive integer"),
    ({"estimator": RandomWalk(), "window": 2, "strategy": "backwards"}, "strategy must be"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        SkyieldForecaster(**params).fit(_curves(), fh=[1])


def test_too_short_a_panel_names_the_family_and_window():
    panel = _curves(n_dates=6, n_families=2)
    with pytest.raises(ValueError, match="family 'family_1'.*window=5"):
        SkyieldForecaster(RandomWalk(), window=5).fit(panel, fh=[2])


def test_neither_regressor_nor_sequence_model_is_refused():
    with pytest.raises(TypeError, match="neither a window regressor"):
        SkyieldForecaster(object(), window=2).fit(_walk(), fh=[1])


class IntervalsOnly(ConstantQuantiles):
    """Intervals but no quantiles."""

    predict_quantiles = None


class QuantilesOnly(ConstantQuantiles):
    """Quantiles but no intervals."""

    predict_interval = None


def test_quantiles_from_intervals_and_intervals_from_quantiles():
    y = _walk()
    last = y.to_numpy()[-1]
    from_intervals = SkyieldForecaster(IntervalsOnly(), window=2).fit(y, fh=[1])
    quantiles = from_intervals.predict_quantiles(alpha=[0.1, 0.75])
    # alpha=0.1 is the lower end of the 80% interval, 0.75 the upper end of the 50% one.
    np.testing.assert_allclose(quantiles.to_numpy()[0], [last[0] - 0.8, last[0] + 0.5,
                                                         last[1] - 0.8, last[1] + 0.5])
    with pytest.raises(ValueError, match="median"):
        from_intervals.predict_quantiles(alpha=[0.5])
    from_quantiles = SkyieldForecaster(QuantilesOnly(), window=2).fit(y, fh=[1])
    interval = from_quantiles.predict_interval(coverage=[0.8, 0.5])
    np.testing.assert_allclose(interval.to_numpy()[0, :4],
                               last[0] + np.array([0.1, 0.9, 0.25, 0.75]))


# Raised inside sktime's own code (its update_predict under pandas 3, its predict_proba
# without the optional skpro), not by the adapter.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Sorting by default when concatenating")
@pytest.mark.filterwarnings("ignore:Forecasters' predict_proba requires skpro")
def test_sktime_checks_on_a_sequence_model():
    forecaster = SkyieldForecaster(LastValueSequence())
    assert forecaster.get_tag("capability:pred_int")
    assert not forecaster.get_tag("requires-fh-in-fit")
    results = check_estimator(forecaster, verbose=False)
    failures = {name: repr(outcome)[:300] for name, outcome in results.items()
                if outcome != "PASSED"}
    assert len(results) > 300
    assert failures == {}
