"""SkyieldForecaster inside sktime's evaluate and ForecastingGridSearchCV."""

import copy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.performance_metrics.forecasting import MeanSquaredError
from sktime.split import ExpandingWindowSplitter

from skyield.baselines import DynamicNelsonSiegel, RandomWalk
from skyield.datasets import make_nelson_siegel_curves
from skyield.sktime import SkyieldForecaster

sys.path.insert(0, str(Path(__file__).parent))
from _forecasters import SEQUENCE_MODELS, WINDOW_MODELS, forecaster  # noqa: E402

MATURITIES = [0.25, 1, 2, 5, 10]


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=52, maturities=MATURITIES,
                                     random_state=1).curves


def _dns(**params):
    return SkyieldForecaster(DynamicNelsonSiegel(**params))


def test_evaluate_refits_on_every_training_window(curves):
    cv = ExpandingWindowSplitter(fh=[1, 3], initial_window=40, step_length=4)
    results = evaluate(_dns(dynamics="var"), cv, curves, return_data=True,
                       scoring=MeanSquaredError())
    assert len(results) == 3
    for _, fold in results.iterrows():
        expected = _dns(dynamics="var").fit(fold["y_train"], fh=[1, 3]).predict()
        pd.testing.assert_frame_equal(fold["y_pred"], expected)
        assert list(fold["y_pred"].index) == list(fold["y_test"].index)
        error = ((fold["y_pred"] - fold["y_test"]) ** 2).to_numpy().mean()
        assert fold["test_MeanSquaredError"] == pytest.approx(error)


def test_evaluate_without_parameter_updates_keeps_the_first_fit(curves):
    cv = ExpandingWindowSplitter(fh=[1], initial_window=40, step_length=3)
    results = evaluate(_dns(method="kalman"), cv, curves, strategy="no-update_params",
                       return_data=True)
    first = DynamicNelsonSiegel(method="kalman").fit(curves.iloc[:40])
    for _, fold in results.iterrows():
        n_train = len(fold["y_train"])
        # the first fit's parameters, its state filtered on to the fold's last date
        model = copy.deepcopy(first)
        if n_train > 40:
            model.update(curves.iloc[40:n_train])
        np.testing.assert_allclose(fold["y_pred"].to_numpy(), model.forecast(1).to_numpy(),
                                   rtol=1e-12)


def test_evaluate_on_a_family_panel(curves):
    panel = make_nelson_siegel_curves(n_dates=44, maturities=MATURITIES, n_families=2,
                                      random_state=2).curves
    cv = ExpandingWindowSplitter(fh=[1, 2], initial_window=40, step_length=2)
    results = evaluate(SkyieldForecaster(RandomWalk(), window=2), cv, panel,
                       return_data=True)
    assert len(results) == 2
    prediction = results["y_pred"].iloc[-1]
    assert prediction.index.names == ["family", "date"]
    train = results["y_train"].iloc[-1]
    for family in ("family_1", "family_2"):
        np.testing.assert_array_equal(prediction.xs(family, level=0).to_numpy(),
                                      train.xs(family, level=0).to_numpy()[[-1, -1]])


# sktime's tuner itself announces a change of its data-keeping default.
@pytest.mark.filterwarnings("ignore:The default of config:FutureWarning")
def test_grid_search_picks_the_lowest_error(curves):
    cv = ExpandingWindowSplitter(fh=[1, 2], initial_window=40, step_length=4)
    grid = {"estimator__decay": ["diebold-li", 1.5], "estimator__dynamics": ["ar", "var"]}
    search = ForecastingGridSearchCV(_dns(), cv=cv, param_grid=grid,
                                     scoring=MeanSquaredError(), backend=None)
    search.fit(curves, fh=[1, 2])
    scores = {}
    for decay in grid["estimator__decay"]:
        for dynamics in grid["estimator__dynamics"]:
            folds = evaluate(_dns(decay=decay, dynamics=dynamics), cv, curves,
                             scoring=MeanSquaredError())
            scores[(decay, dynamics)] = folds["test_MeanSquaredError"].mean()
    assert len(set(scores.values())) == 4
    best = min(scores, key=scores.get)
    chosen = (search.best_params_["estimator__decay"], search.best_params_["estimator__dynamics"])
    assert chosen == best
    assert search.best_forecaster_.estimators_[None].dynamics == best[1]
    assert search.predict().shape == (2, len(MATURITIES))


@pytest.mark.filterwarnings("ignore:Sorting by default when concatenating")
@pytest.mark.parametrize("name", ["DynamicNelsonSiegel", *WINDOW_MODELS, *SEQUENCE_MODELS])
def test_evaluate_gives_finite_numbers_for_every_model(curves, name):
    model = _dns() if name == "DynamicNelsonSiegel" else forecaster(name)
    cv = ExpandingWindowSplitter(fh=[1, 2], initial_window=40, step_length=5)
    results = evaluate(model, cv, curves, scoring=MeanSquaredError(), return_data=True)
    assert len(results) == 3
    assert np.all(np.isfinite(results["test_MeanSquaredError"]))
    for prediction in results["y_pred"]:
        assert prediction.shape == (2, len(MATURITIES))
        assert np.all(np.isfinite(prediction.to_numpy()))
