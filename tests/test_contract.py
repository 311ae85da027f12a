"""The estimator contract, across every model: tuned and cross-validated by scikit-learn
itself with time-series splits, window models on windows and sequence models on a panel.

Every public model (a window regressor or a sequence model) runs through ``GridSearchCV``
with ``TimeSeriesSplit(gap=...)`` over a small grid and through ``cross_validate`` with a
skyield interval scorer; a few grids show that the chosen parameters follow the data.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import QuantileRegressor, Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate

from skyield.base import BaseSequenceModel, BaseWindowRegressor, estimator_kind
from skyield.baselines import (
    DynamicNelsonSiegel,
    GaussianLinearStateSpace,
    KalmanFactorModel,
    RandomWalk,
    WeightedRollingRegression,
    nelson_siegel_loadings,
)
from skyield.calibration import ConformalIntervalRegressor, MultiQuantileRegressor
from skyield.compose import InChanges, PerFamily
from skyield.ensemble import SeedEnsemble
from skyield.metrics import make_interval_scorer, make_point_scorer
from skyield.model_selection import ExpandingWindowSplit
from skyield.models import (
    FactorTransformer,
    LSTMAttentionRegressor,
    LSTMRegressor,
    NeuralStateSpaceModel,
    TransferredCurveRegressor,
    YieldCurveAttentionRegressor,
)
from skyield.preprocessing import make_windows
from skyield.utils.discovery import all_estimators

MATURITIES = np.array([0.5, 1, 2, 3, 5, 7, 10])


def _curves(n_dates=90, seed=0, loadings=None):
    """Month-end curves of persistent factors (percent) at MATURITIES."""
    rng = np.random.default_rng(seed)
    if loadings is None:
        loadings = nelson_siegel_loadings(MATURITIES, 0.6)
    k = loadings.shape[1]
    factors = np.zeros((n_dates, k))
    factors[0] = [4.0, -1.0, 0.5, 0.0][:k]
    for t in range(1, n_dates):
        factors[t] = factors[0] + 0.9 * (factors[t - 1] - factors[0]) + \
            rng.normal(scale=0.2, size=k)
    values = factors @ loadings.T + rng.normal(scale=0.02, size=(n_dates, len(MATURITIES)))
    index = pd.date_range("2001-01-31", periods=n_dates, freq="ME", name="date")
    return pd.DataFrame(values, index=index, columns=MATURITIES)


def _tiny_yc(**params):
    return YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=2, random_state=0,
                                        **params)


def _source():
    windows = make_windows(_curves(seed=7), window=3, horizons=1)
    return FrozenEstimator(_tiny_yc(maturities=MATURITIES).fit(windows.X, windows.y[:, 0]))


# model name -> (estimator, parameter grid): every public window regressor and sequence
# model, each with tiny settings.
MODELS = {
    "RandomWalk": (RandomWalk(), {"distribution": ["gaussian", "empirical"]}),
    "WeightedRollingRegression": (WeightedRollingRegression(targets=None),
                                  {"half_life": [None, 3.0]}),
    "InChanges": (InChanges(Ridge()), {"estimator__alpha": [0.1, 10.0]}),
    "LSTMRegressor": (LSTMRegressor(units=4, epochs=2, random_state=0),
                      {"units": [2, 4]}),
    "LSTMAttentionRegressor": (LSTMAttentionRegressor(units=4, epochs=2, random_state=0),
                               {"distribution": ["empirical", "gaussian"]}),
    "YieldCurveAttentionRegressor": (_tiny_yc(), {"units": [2, 4]}),
    "TransferredCurveRegressor": (
        TransferredCurveRegressor(_source(), maturities=MATURITIES, epochs=2,
                                  random_state=0),
        {"fine_tune": [False, True]}),
    "SeedEnsemble": (SeedEnsemble(_tiny_yc(), n_estimators=2, batched=True, random_state=0),
                     {"n_estimators": [1, 2]}),
    "ConformalIntervalRegressor": (
        ConformalIntervalRegressor(RandomWalk(), method="cqr", calibration_size=0.4),
        {"coverage": [0.5, 0.8]}),
    "MultiQuantileRegressor": (
        MultiQuantileRegressor(QuantileRegressor(alpha=0.0), quantiles=(0.05, 0.5, 0.95)),
        {"estimator__alpha": [0.0, 0.5]}),
    "DynamicNelsonSiegel": (DynamicNelsonSiegel(), {"dynamics": ["ar", "var"]}),
    "KalmanFactorModel": (KalmanFactorModel(n_factors=1, maxiter=20),
                          {"n_factors": [1, 2]}),
    "GaussianLinearStateSpace": (GaussianLinearStateSpace(n_factors=2, maxiter=5, em_iter=2),
                                 {"n_factors": [2, 3]}),
    "NeuralStateSpaceModel": (
        NeuralStateSpaceModel(n_factors=2, hidden_layers=(4,), start_decay=(1.0, 0.3),
                              maxiter=3, pretrain_maxiter=3, random_state=0),
        {"n_factors": [2, 3]}),
    "FactorTransformer": (
        FactorTransformer(window=3, differences=True, d_model=8, n_heads=2, d_k=4, d_ff=8,
                          epochs=2, batch_size=16, cycle_epochs=2, warmup_epochs=1,
                          prior="mean", validation_fraction=0.25, random_state=0),
        {"prior_weight": [0.0, 0.6]}),
    "PerFamily": (PerFamily(DynamicNelsonSiegel()), {"estimator__factors": ["ns", "nss"]}),
}
# Scalers and the Nelson-Siegel curve fit are transformers of data, not forecasters.
TRANSFORMERS = {"NelsonSiegelCurve", "SeriesMinMaxScaler", "SeriesStandardScaler"}


def test_every_public_model_is_in_the_contract_test():
    names = {name for name, _ in all_estimators()}
    assert names - TRANSFORMERS == set(MODELS)
    for name, (estimator, _) in MODELS.items():
        assert isinstance(estimator, (BaseWindowRegressor, BaseSequenceModel)), name


def _data(name, estimator):
    """(X, y, groups) for the model: windows of 3 dates for a window regressor, the panel
    itself for a sequence model (a (family, date) panel for PerFamily)."""
    curves = _curves()
    if name == "PerFamily":
        panel = pd.concat({"A": curves, "B": _curves(seed=3)}, names=["family", "date"])
        return panel, None, panel.index.get_level_values("date")
    if estimator_kind(estimator) == "sequence":
        return curves, None, None
    windows = make_windows(curves, window=3, horizons=1)
    return windows.X, windows.y[:, 0, :], None


def _cv(name):
    if name == "PerFamily":  # families stacked: split by date
        return ExpandingWindowSplit(3, test_size=12, gap=2)
    return TimeSeriesSplit(3, test_size=12, gap=2)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", list(MODELS))
def test_grid_search_and_cross_validate_with_time_series_splits(name):
    estimator, grid = MODELS[name]
    X, y, groups = _data(name, estimator)
    if name == "MultiQuantileRegressor":
        X, y = X.reshape(len(X), -1), y[:, 0]
    search = GridSearchCV(clone(estimator), grid, cv=_cv(name), error_score="raise")
    search.fit(X, y, groups=groups)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and len(scores) == len(next(iter(grid.values())))
    assert search.best_params_ in search.cv_results_["params"]
    # the best model is refitted on everything and forecasts
    if y is None:
        assert np.all(np.isfinite(search.best_estimator_.forecast(2, coverage=0.9)))
    else:
        assert np.all(np.isfinite(search.predict(X[-3:])))
    scoring = {"interval": make_interval_scorer(coverage=0.9),
               "point": make_point_scorer("mean_squared_error")}
    result = cross_validate(clone(estimator), X, y, groups=groups, cv=_cv(name),
                            scoring=scoring, error_score="raise")
    for key in ("test_interval", "test_point"):
        assert np.all(np.isfinite(result[key])) and np.all(result[key] < 0)  # minus losses


# ---- the chosen parameters follow the data ---------------------------------------------


def _chosen(estimator, grid, X, y=None, cv=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(estimator, grid, cv=cv or TimeSeriesSplit(4, test_size=15),
                              error_score="raise").fit(X, y)
    return search.best_params_


def test_dynamic_nelson_siegel_picks_the_decay_the_curves_have():
    rng = np.random.default_rng(0)
    maturities = np.array([0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30])

    def curves(decay, n_dates=120):
        mean = np.array([4.0, -1.0, 1.0])
        factors = np.zeros((n_dates, 3))
        factors[0] = mean
        for t in range(1, n_dates):
            factors[t] = mean + 0.9 * (factors[t - 1] - mean) + rng.normal(scale=0.1, size=3)
        values = factors @ nelson_siegel_loadings(maturities, decay).T
        values += rng.normal(scale=0.02, size=values.shape)
        return pd.DataFrame(values, columns=maturities,
                            index=pd.date_range("2001-01-31", periods=n_dates, freq="ME"))

    grid = {"decay": [0.2, 1.5]}
    for decay in grid["decay"]:
        assert _chosen(DynamicNelsonSiegel(), grid, curves(decay)) == {"decay": decay}


def test_a_regressor_of_changes_is_shrunk_only_when_the_changes_are_unpredictable():
    rng = np.random.default_rng(0)

    def windows(persistence, n_dates=1000):
        changes = np.zeros(n_dates)
        for t in range(1, n_dates):
            changes[t] = persistence * changes[t - 1] + rng.normal()
        cut = make_windows(np.cumsum(changes)[:, None], window=4, horizons=1)
        return cut.X, cut.y[:, 0, 0]

    grid = {"estimator__alpha": [1e-3, 1e5]}
    cv = TimeSeriesSplit(3, test_size=200)
    # a random walk: its changes are noise and the best forecast of a change is zero
    assert _chosen(InChanges(Ridge()), grid, *windows(0.0), cv=cv) == \
        {"estimator__alpha": 1e5}
    # persistent changes: the last changes forecast the next one
    assert _chosen(InChanges(Ridge()), grid, *windows(0.8), cv=cv) == \
        {"estimator__alpha": 1e-3}
