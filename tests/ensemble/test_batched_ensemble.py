"""Batched ensemble training against separately fitted members.

What is compared: with ``dropout=0`` (and an extractor without inner dropout) a batched
member starts from the same weights, sees the same batches in the same order and takes
the same Adam steps as the separate fit with its seed, so their predictions agree up to
float32 rounding of the batched matrix products (checked at 1e-5). With dropout the
masks are drawn differently, so only reproducibility and diversity are checked.
"""

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge

from skyield.datasets import make_nelson_siegel_curves
from skyield.ensemble import SeedEnsemble
from skyield.ensemble._batched import fit_batched, supports_batched_fit
from skyield.models._yc_transfer import TransferredCurveRegressor
from skyield.models._yield_curve_attention import YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def windows(n_dates=60, maturities=(1, 3, 5, 10), families=("EUR", "USD", "GBP"), seed=0):
    data = make_nelson_siegel_curves(n_dates=n_dates, maturities=list(maturities),
                                     n_families=list(families), random_state=seed)
    w = make_family_windows(data.curves, window=4, horizons=1)
    return w.X, w.y.reshape(w.n_samples, -1), w.families


@pytest.fixture(scope="module")
def panel():
    return windows()


def separate_and_batched(base, X, y, families, seeds=(11, 22, 33)):
    separate = [base.__class__(**{**base.get_params(), "random_state": s}).fit(
        X, y, families=families) for s in seeds]
    batched = fit_batched([base.__class__(**{**base.get_params(), "random_state": s})
                           for s in seeds], X, y, families=families, random_state=0)
    return separate, batched


@pytest.mark.parametrize("extractor", ["attention", "conv", "lstm"])
def test_batched_members_equal_separate_fits_without_dropout(panel, extractor):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(extractor=extractor, units=4, embedding_size=2,
                                        dropout=0.0, epochs=4, batch_size=16, lr=0.01)
    separate, batched = separate_and_batched(base, X, y, families)
    for one, other in zip(separate, batched):
        np.testing.assert_allclose(other.predict_quantiles(X, families=families),
                                   one.predict_quantiles(X, families=families), atol=1e-5)
        assert other.n_epochs_ == one.n_epochs_ == 4
    assert not np.allclose(batched[0].predict(X, families=families),
                           batched[1].predict(X, families=families))


def test_batched_members_with_weight_decay_equal_separate_fits(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(units=4, embedding_size=2, dropout=0.0, epochs=4,
                                        batch_size=16, lr=0.01, weight_decay=0.05)
    separate, batched = separate_and_batched(base, X, y, families)
    for one, other in zip(separate, batched):
        np.testing.assert_allclose(other.predict_quantiles(X, families=families),
                                   one.predict_quantiles(X, families=families), atol=1e-5)
    # the decay is applied: without it the members differ
    plain = base.set_params(weight_decay=0.0)
    undecayed, _ = separate_and_batched(plain, X, y, families)
    assert not np.allclose(undecayed[0].predict(X, families=families),
                           separate[0].predict(X, families=families), atol=1e-4)


def test_batched_early_stopping_per_member(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(units=4, embedding_size=2, dropout=0.0, epochs=40,
                                        batch_size=16, lr=0.05, early_stopping=True,
                                        patience=2, validation_fraction=0.25)
    separate, batched = separate_and_batched(base, X, y, families)
    epochs = [m.n_epochs_ for m in separate]
    assert min(epochs) < 40, "early stopping never triggered; make the test harder"
    assert [m.n_epochs_ for m in batched] == epochs
    for one, other in zip(separate, batched):
        np.testing.assert_allclose(other.predict(X, families=families),
                                   one.predict(X, families=families), atol=1e-5)


def test_batched_with_dropout_is_reproducible_and_diverse(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(extractor="transformer", units=4, epochs=3,
                                        batch_size=16)
    first = SeedEnsemble(base, n_estimators=3, batched=True, random_state=0).fit(
        X, y, families=families)
    second = SeedEnsemble(base, n_estimators=3, batched=True, random_state=0).fit(
        X, y, families=families)
    np.testing.assert_array_equal(first.predict_interval(X, families=families),
                                  second.predict_interval(X, families=families))
    predictions = [m.predict(X, families=families) for m in first.estimators_]
    assert not np.allclose(predictions[0], predictions[1])
    bounds = first.predict_interval(X, families=families)
    assert np.all(bounds[..., 0] <= bounds[..., 1])


def test_batched_gaussian_deep_ensemble(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(distribution="gaussian", units=4, epochs=2,
                                        batch_size=16, dropout=0.0)
    separate, batched = separate_and_batched(base, X, y, families)
    for one, other in zip(separate, batched):
        np.testing.assert_allclose(other.predict_std(X, families=families),
                                   one.predict_std(X, families=families), atol=1e-5)


def test_batched_transfer_keeps_the_extractor_frozen(panel):
    X, y, families = panel
    source = YieldCurveAttentionRegressor(units=4, epochs=2, random_state=0).fit(
        X, y, families=families)
    Xt, yt, ft = windows(n_dates=40, maturities=(2, 5, 20), families=("AAA", "BBB"), seed=2)
    base = TransferredCurveRegressor(FrozenEstimator(source), epochs=2, lr=0.05)
    ensemble = SeedEnsemble(base, n_estimators=3, batched=True, random_state=0).fit(
        Xt, yt, families=ft)
    reference = source.net_.module_.extractor.state_dict()
    for member in ensemble.estimators_:
        for name, value in member.net_.module_.extractor.state_dict().items():
            assert torch.equal(value, reference[name]), name
    heads = [m.net_.module_.heads.linear.weight for m in ensemble.estimators_]
    assert not torch.equal(heads[0], heads[1])


def test_unsupported_estimators_and_mismatched_members(panel):
    X, y, _ = panel
    assert not supports_batched_fit(Ridge())
    with pytest.raises(TypeError, match="batched=True needs an estimator"):
        SeedEnsemble(Ridge(random_state=0), n_estimators=2, batched=True).fit(
            X.reshape(len(X), -1), y)
    members = [YieldCurveAttentionRegressor(units=4, random_state=0),
               YieldCurveAttentionRegressor(units=5, random_state=1)]
    with pytest.raises(ValueError, match="differ only in random_state"):
        fit_batched(members, X, y)


@cuda
def test_batched_on_cuda(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(units=4, epochs=2, device="cuda")
    ensemble = SeedEnsemble(base, n_estimators=3, batched=True, random_state=0).fit(
        X, y, families=families)
    assert ensemble.predict_interval(X, families=families).shape == y.shape + (2,)
