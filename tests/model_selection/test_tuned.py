"""Models tuned inside their training span (TunedWindowRegressor, TunedSequenceModel).

The tuning never reads a date after the training span: no fit or forecast of the search
sees a later row, and values planted after it change neither the chosen parameters nor
the forecasts made before them. The chosen parameters follow the data, and every refit of
a backtest is tuned again, its parameters kept for the report.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.compose import InChanges
from skyield.datasets import make_nelson_siegel_curves
from skyield.model_selection import (
    ExpandingWindowSplit,
    TunedSequenceModel,
    TunedWindowRegressor,
    backtest,
    tuned,
)

from _trend_models import CALLS, TrendShift

@pytest.fixture
def trend():
    CALLS.clear()
    dates = pd.date_range("2000-01-31", periods=60, freq="ME")
    return pd.DataFrame(np.arange(60.0)[:, None] + [0.0, 10.0], index=dates,
                        columns=["a", "b"])


def test_the_search_never_reads_a_date_after_the_training_span(trend):
    model = TunedWindowRegressor(TrendShift(), {"bias": [-1.0, 0.5, 2.0]})
    splitter = ExpandingWindowSplit(2, test_size=10)
    results, fits = backtest(model, trend, splitter, window=3, horizons=[1, 2],
                             return_estimators=True)
    # the search ran inside each training span: the largest date any of its fits or
    # forecasts used is the training span's last date
    last_training = [trend.index.get_loc(fit["train_end"]) for fit in fits]
    per_fit = len(CALLS) // len(fits)
    assert per_fit == 3 * 3 * 2 + 1 + 1    # 3 candidates x 3 folds, the refit, a forecast
    for number, end in enumerate(last_training):
        calls = [call[:2] for call in CALLS[number * per_fit:(number + 1) * per_fit]]
        search, forecast = calls[:-1], calls[-1]
        assert forecast[0] == "predict" and forecast[1] > end   # the backtest's, later
        assert max(value for kind, value in search if kind == "fit") <= end
        assert max(value for kind, value in search if kind == "predict") <= end
    assert all(fit["estimator"].best_params_ == {"bias": 0.5} for fit in fits)
    # values planted after the training spans change neither the choice nor the
    # forecasts made before them
    planted = trend.copy()
    planted.iloc[-3:] = -1e3
    dirty, dirty_fits = backtest(model, planted, splitter, window=3, horizons=[1, 2],
                                 return_estimators=True)
    before = results["origin"] < trend.index[-3]
    pd.testing.assert_series_equal(results["forecast"][before], dirty["forecast"][before])
    assert [f["estimator"].best_params_ for f in dirty_fits] == \
        [f["estimator"].best_params_ for f in fits]


def test_intervals_of_the_chosen_model(trend):
    model = TunedWindowRegressor(RandomWalk(), {"distribution": ["gaussian", "empirical"]})
    results = backtest(model, trend, ExpandingWindowSplit(2, test_size=10), window=3,
                       horizons=[1, 2], quantiles=[0.1, 0.9], coverage=0.8)
    assert np.all(results["upper"] >= results["lower"])
    assert np.all(np.isfinite(results[["q0.1", "q0.9"]].to_numpy()))


def _curves(decay, n_dates=100, seed=0):
    return make_nelson_siegel_curves(n_dates=n_dates, maturities=[0.25, 1, 2, 5, 10, 30],
                                     decay=decay, random_state=seed).curves


def test_sequence_model_tuned_on_its_span_at_several_horizons():
    # the default score: the contract's score, averaged over the horizons
    grid = {"decay": [0.2, 1.5]}
    curves = _curves(0.2)
    candidate = DynamicNelsonSiegel(decay=1.5)
    expected = []
    for train, test in ExpandingWindowSplit(3).split(curves.to_numpy()):
        fitted = candidate.fit(curves.iloc[train])
        expected.append(np.mean([fitted.score(curves.iloc[test], horizon=h) for h in (1, 3)]))
    results = TunedSequenceModel(DynamicNelsonSiegel(), grid, horizons=[1, 3]) \
        .fit(curves).search_.cv_results_
    row = results["params"].index({"decay": 1.5})
    assert results["mean_test_score"][row] == pytest.approx(np.mean(expected))
    model = TunedSequenceModel(DynamicNelsonSiegel(), grid, horizons=[1, 3]).fit(curves)
    assert model.estimators_ == [model.best_estimator_]
    best = DynamicNelsonSiegel(**model.best_params_).fit(curves)
    np.testing.assert_array_equal(model.forecast(3).to_numpy(), best.forecast(3).to_numpy())


def test_every_refit_of_a_backtest_keeps_its_choice():
    curves = _curves(0.7, 120, seed=1)
    model = tuned(DynamicNelsonSiegel(), {"decay": [0.2, 1.5]}, horizons=[1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fits = backtest(model, curves, ExpandingWindowSplit(3, test_size=15),
                           horizons=[1, 2], return_estimators=True)
    chosen = [fit["estimator"][None].best_params_ for fit in fits]
    assert all(set(params) == {"decay"} for params in chosen)
    assert isinstance(tuned(InChanges(Ridge()), {"estimator__alpha": [1.0]}),
                      TunedWindowRegressor)
