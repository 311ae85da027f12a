"""Warm-started refits of the network estimators (``warm_start=True``).

For every model: a refit with ``warm_start=False`` after a warm fit equals a cold fit with
the same seed, bit for bit; a warm refit starts from the previous solution (with a
vanishing learning rate, or no optimiser step, it keeps the previous forecasts, which a
cold fit does not); two warm refits with one seed are identical; and nothing but the
weights carries over (the scalers are fitted on the new training data only).
"""

import copy
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from skyield.datasets import make_nelson_siegel_curves
from skyield.models import (
    FactorTransformer,
    LSTMAttentionRegressor,
    LSTMRegressor,
    NeuralStateSpaceModel,
    TransferredCurveRegressor,
    YieldCurveAttentionRegressor,
)
from skyield.preprocessing import make_windows

MATURITIES = [0.25, 1.0, 2.0, 3.0, 5.0, 7.0]


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=90, maturities=MATURITIES, random_state=0).curves


def _source(curves):
    windows = make_windows(curves.iloc[:50], window=4, horizons=1)
    source = YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=1, random_state=0,
                                          maturities=MATURITIES)
    return FrozenEstimator(source.fit(windows.X, windows.y[:, 0]))


def _window_models(curves):
    tiny = dict(units=4, epochs=2, batch_size=16, random_state=0)
    return {
        "LSTMRegressor": LSTMRegressor(**tiny),
        "LSTMAttentionRegressor": LSTMAttentionRegressor(distribution="gaussian",
                                                         early_stopping=True, patience=1,
                                                         **tiny),
        "YieldCurveAttentionRegressor": YieldCurveAttentionRegressor(embedding_size=2,
                                                                     **tiny),
        "TransferredCurveRegressor": TransferredCurveRegressor(
            _source(curves), maturities=MATURITIES[:4], fine_tune=True, epochs=2,
            batch_size=16, random_state=0),
    }


WINDOW_MODELS = ["LSTMRegressor", "LSTMAttentionRegressor", "YieldCurveAttentionRegressor",
                 "TransferredCurveRegressor"]


def _windows(curves, name, stop):
    columns = 4 if name == "TransferredCurveRegressor" else len(MATURITIES)
    cut = make_windows(curves.iloc[:stop, :columns], window=4, horizons=2)
    return cut.X, cut.y


@pytest.mark.parametrize("name", WINDOW_MODELS)
def test_window_models_warm_start(curves, name):
    model = _window_models(curves)[name]
    X, y = _windows(curves, name, 70)
    X_new, y_new = _windows(curves, name, 90)
    cold = copy.deepcopy(model).fit(X_new, y_new)

    # warm_start=False after a warm fit is a cold fit, bit for bit
    refitted = copy.deepcopy(model).fit(X, y).set_params(warm_start=True).fit(X_new, y_new)
    refitted.set_params(warm_start=False).fit(X_new, y_new)
    np.testing.assert_array_equal(refitted.predict(X_new), cold.predict(X_new))

    # a warm refit starts from the previous weights: without a step size it keeps them,
    # while a cold fit without a step size stays at its random initial weights
    previous = copy.deepcopy(model).fit(X_new, y_new)
    still = copy.deepcopy(previous).set_params(warm_start=True, lr=1e-12, epochs=1)
    still.fit(X_new, y_new)
    np.testing.assert_allclose(still.predict(X_new), previous.predict(X_new), atol=1e-6)
    untrained = copy.deepcopy(model).set_params(lr=1e-12, epochs=1).fit(X_new, y_new)
    assert np.abs(untrained.predict(X_new) - previous.predict(X_new)).max() > 1e-3

    # one seed, one warm refit
    first = copy.deepcopy(previous).set_params(warm_start=True).fit(X, y)
    second = copy.deepcopy(previous).set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    assert np.abs(first.predict(X) - previous.predict(X)).max() > 0   # it trained


def test_only_the_weights_carry_over(curves):
    # The previous fit saw a planted shift of +100 in its last dates; the warm refit on
    # clean windows standardises with the clean windows alone, as a cold fit does.
    X, y = _windows(curves, "LSTMRegressor", 90)
    planted = X.copy(), y.copy()
    planted[0][-10:] += 100.0
    planted[1][-10:] += 100.0
    tiny = dict(units=4, epochs=2, batch_size=16, early_stopping=True, patience=1,
                random_state=0)
    previous = LSTMRegressor(**tiny).fit(*planted)
    warm = copy.deepcopy(previous).set_params(warm_start=True).fit(X[:60], y[:60])
    cold = LSTMRegressor(**tiny).fit(X[:60], y[:60])
    for name in ("input_mean_", "input_scale_", "target_mean_", "target_scale_"):
        np.testing.assert_array_equal(getattr(warm, name), getattr(cold, name))
    assert warm.residuals_.shape == cold.residuals_.shape
    assert warm.n_epochs_ == len(warm.net_.history) <= 2


def test_a_changed_network_is_refused(curves):
    X, y = _windows(curves, "LSTMRegressor", 70)
    model = LSTMRegressor(units=4, epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"warm_start=True\) cannot start from the previous"):
        model.set_params(warm_start=True, units=5).fit(X, y)
    with pytest.raises(ValueError, match="cannot start from the previous fit"):
        model.set_params(units=4).fit(X[:, :, :3], y[:, :, :3])


def test_family_embeddings_follow_their_labels(curves):
    X, y = _windows(curves, "YieldCurveAttentionRegressor", 90)
    families = np.where(np.arange(len(X)) % 2, "EUR", "USD")
    model = YieldCurveAttentionRegressor(units=4, embedding_size=2, epochs=1, random_state=0)
    model.fit(X, y, families=families)
    old = model.net_.module_.embedding.weight.detach().clone()
    # a new family first in order of appearance: the known ones keep their rows
    relabelled = np.where(np.arange(len(X)) % 3 == 0, "GBP", families)
    model.set_params(warm_start=True, lr=1e-12).fit(X, y, families=relabelled)
    new = model.net_.module_.embedding.weight.detach()
    assert list(model.families_) == ["GBP", "EUR", "USD"]
    assert list(np.unique(families, return_index=True)[0]) == ["EUR", "USD"]
    # first fit: USD (row 0), EUR (row 1); refit: GBP, EUR, USD
    np.testing.assert_allclose(new[1:].numpy(), old[[1, 0]].numpy(), atol=1e-6)


def _nnss(**params):
    settings = dict(n_factors=2, hidden_layers=(4,), maxiter=8, pretrain_maxiter=5,
                    start_decay=(1.0, 0.3), random_state=0)
    return NeuralStateSpaceModel(**{**settings, **params})


def test_nnss_warm_start(curves):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold = _nnss().fit(curves.iloc[:80])
        previous = _nnss().fit(curves.iloc[:60])
        warm = copy.deepcopy(previous).set_params(warm_start=True).fit(curves.iloc[:80])
        assert warm.start_["warm"] and not cold.start_["warm"]
        np.testing.assert_array_equal(warm.start_["transition"], previous.transition_)
        # the optimiser starts at the previous estimates: its first evaluation is the
        # previous fit's estimates scored on the new panel
        assert warm.history_[0] < cold.history_[0]
        again = copy.deepcopy(previous).set_params(warm_start=True).fit(curves.iloc[:80])
        np.testing.assert_array_equal(again.transition_, warm.transition_)
        warm.set_params(warm_start=False).fit(curves.iloc[:80])
        np.testing.assert_array_equal(warm.transition_, cold.transition_)
        np.testing.assert_array_equal(warm.forecast(3).values, cold.forecast(3).values)
        with pytest.raises(ValueError, match="which has maturities"):
            copy.deepcopy(previous).set_params(warm_start=True).fit(curves.iloc[:80, :5])


@pytest.mark.parametrize("batched", [True, False])
def test_factor_transformer_warm_start(curves, batched):
    # Both ways of training the runs (stacked, or one skorch loop per run) warm-start.
    tiny = dict(window=3, d_model=8, n_heads=2, d_k=4, d_ff=8, epochs=2, batch_size=16,
                cycle_epochs=2, warmup_epochs=1, prior="mean", validation_fraction=0.25,
                n_runs=2, random_state=0, batched=batched)
    cold = FactorTransformer(**tiny).fit(curves.iloc[:80])
    previous = FactorTransformer(**tiny).fit(curves.iloc[:60])
    warm = copy.deepcopy(previous).set_params(warm_start=True).fit(curves.iloc[:80])
    warm.set_params(warm_start=False).fit(curves.iloc[:80])
    np.testing.assert_array_equal(warm.forecast(3).values, cold.forecast(3).values)
    still = copy.deepcopy(cold).set_params(warm_start=True, lr=1e-12, epochs=1)
    still.fit(curves.iloc[:80])
    np.testing.assert_allclose(still.transform(curves.iloc[:80]).values,
                               cold.transform(curves.iloc[:80]).values, atol=1e-5)
    # the standardisation is the new training span's
    np.testing.assert_array_equal(still.mean_, cold.mean_)
    with pytest.raises(ValueError, match="not n_runs=1"):
        copy.deepcopy(previous).set_params(warm_start=True, n_runs=1).fit(curves.iloc[:80])


@pytest.mark.parametrize("batched", [False, True])
def test_early_stopping_keeps_the_start_when_no_epoch_beats_it(curves, batched):
    # A step size far too large makes every epoch worse on the validation tail than the
    # previous weights: the warm refit ends with them.
    from skyield.ensemble import SeedEnsemble

    X, y = _windows(curves, "YieldCurveAttentionRegressor", 90)
    tiny = dict(units=4, embedding_size=2, epochs=2, batch_size=16, early_stopping=True,
                patience=2, validation_fraction=0.2)
    model = SeedEnsemble(YieldCurveAttentionRegressor(**tiny), n_estimators=2,
                         batched=batched, random_state=0).fit(X, y)
    before = model.predict(X)
    model.set_params(warm_start=True, estimator__lr=50.0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), before)
    lstm = LSTMRegressor(units=4, epochs=2, early_stopping=True, patience=2,
                         validation_fraction=0.2, random_state=0).fit(X, y)
    before = lstm.predict(X)
    lstm.set_params(warm_start=True, lr=50.0).fit(X, y)
    np.testing.assert_array_equal(lstm.predict(X), before)
