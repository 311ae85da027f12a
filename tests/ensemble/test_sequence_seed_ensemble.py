"""SequenceSeedEnsemble (its scikit-learn checks run in tests/test_common.py), and a
predictive distribution from a seed ensemble for every deep model of the benchmark."""

import copy
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning

from skyield.base import estimator_kind
from skyield.compose import PerFamily
from skyield.datasets import make_nelson_siegel_curves
from skyield.ensemble import SeedEnsemble, SequenceSeedEnsemble
from skyield.ensemble._batched import supports_batched_fit
from skyield.model_selection import backtest
from skyield.models import FactorTransformer, NeuralStateSpaceModel

MATURITIES = [0.25, 1.0, 2.0, 5.0, 10.0]


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=80, maturities=MATURITIES, random_state=0).curves


def _nnss(**params):
    return NeuralStateSpaceModel(**{**dict(n_factors=2, hidden_layers=(4,), maxiter=4,
                                           pretrain_maxiter=4, start_decay=(1.0, 0.3)),
                                    **params})


def _fit(model, Y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(Y)


def test_mixture_of_the_members(curves):
    ensemble = _fit(SequenceSeedEnsemble(_nnss(), n_estimators=3, random_state=0),
                    curves.iloc[:60])
    assert ensemble.combine_ == "mixture" and len(set(ensemble.seeds_)) == 3
    moments = [m._forecast_moments(4) for m in ensemble.estimators_]
    means = np.stack([mean for mean, _ in moments])
    stds = np.stack([std for _, std in moments])
    np.testing.assert_allclose(ensemble.forecast(4).to_numpy(), means.mean(axis=0))
    std = np.sqrt((stds ** 2 + means ** 2).mean(axis=0) - means.mean(axis=0) ** 2)
    bounds = ensemble.forecast(4, coverage=0.9)
    np.testing.assert_allclose(bounds[..., 1] - bounds[..., 0], 2 * norm.ppf(0.95) * std)
    # the spread between members widens the interval beyond the average member's
    assert np.all(std >= stds.mean(axis=0) - 1e-12)
    # same seed, same ensemble
    again = _fit(SequenceSeedEnsemble(_nnss(), n_estimators=3, random_state=0),
                 curves.iloc[:60])
    np.testing.assert_array_equal(again.forecast(4, coverage=0.9), bounds)


def test_update_moves_every_member(curves):
    ensemble = _fit(SequenceSeedEnsemble(_nnss(), n_estimators=2, random_state=0),
                    curves.iloc[:60])
    alone = copy.deepcopy(ensemble.estimators_[0])
    ensemble.update(curves.iloc[60:65])
    alone.update(curves.iloc[60:65])
    np.testing.assert_array_equal(ensemble.estimators_[0].forecast(2).to_numpy(),
                                  alone.forecast(2).to_numpy())
    assert ensemble.last_date_ == curves.index[64]
    assert all(m.last_date_ == curves.index[64] for m in ensemble.estimators_)
    assert ensemble.predict(curves.iloc[65:], horizon=2).shape == (15, 5)


def test_average_and_warm_start(curves):
    tiny = dict(window=3, d_model=8, n_heads=2, d_k=4, d_ff=8, epochs=2, batch_size=16,
                cycle_epochs=2, warmup_epochs=1, prior="mean", validation_fraction=0.25)
    ensemble = SequenceSeedEnsemble(FactorTransformer(**tiny), n_estimators=2,
                                    combine="average", random_state=0).fit(curves)
    levels = [0.1, 0.5, 0.9]
    np.testing.assert_allclose(
        ensemble.forecast(3, quantiles=levels),
        np.mean([m.forecast(3, quantiles=levels) for m in ensemble.estimators_], axis=0))
    before = ensemble.forecast(3).to_numpy()
    ensemble.set_params(warm_start=True, estimator__lr=1e-12, estimator__epochs=1)
    ensemble.fit(curves)
    np.testing.assert_allclose(ensemble.forecast(3).to_numpy(), before, atol=1e-5)
    assert all(m.warm_start for m in ensemble.estimators_)
    with pytest.raises(TypeError, match="SequenceSeedEnsemble needs skyield sequence models"):
        SequenceSeedEnsemble(PerFamily(_nnss())).fit(curves)


def _deep_benchmark_models():
    """The benchmark's deep models (skyield.models), shrunk to tiny settings."""
    from skyield.cli._models import MODELS

    tiny = {"epochs": 1, "units": 4, "maxiter": 3, "pretrain_maxiter": 3,
            "hidden_layers": (4,), "d_model": 8, "d_ff": 8, "cycle_epochs": 2,
            "warmup_epochs": 1}
    for name, entry in MODELS.items():
        model = entry.build(0, "cpu", np.asarray(MATURITIES))
        if type(model).__module__.startswith("skyield.models"):
            params = model.get_params(deep=False)
            settings = {k: v for k, v in tiny.items() if k in params}
            if estimator_kind(model) == "sequence" and "window" in params:
                settings["window"] = 3   # lags of the factor Transformer
            yield name, model.set_params(**settings)


@pytest.mark.slow
def test_every_deep_benchmark_model_has_a_seed_ensemble_distribution(curves):
    models = dict(_deep_benchmark_models())
    assert {"lstm-attention", "nnss", "factor-transformer"} <= set(models)
    for name, model in models.items():
        if estimator_kind(model) == "window":
            ensemble = SeedEnsemble(model, n_estimators=2, random_state=0,
                                    batched=supports_batched_fit(model))
        else:
            ensemble = SequenceSeedEnsemble(model, n_estimators=2, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results = backtest(ensemble, curves, window=6, horizons=[1, 3], test_start=0.85,
                               quantiles=[0.05, 0.5, 0.95], coverage=0.9)
        values = results[["q0.05", "q0.5", "q0.95", "lower", "upper"]].to_numpy()
        assert np.all(np.isfinite(values)), name
        assert np.all(np.diff(values[:, :3], axis=1) >= 0), name
        assert np.all(results["upper"] > results["lower"]), name
