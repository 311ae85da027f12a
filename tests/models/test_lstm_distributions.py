"""What LSTMRegressor and LSTMAttentionRegressor share through their common base.

The predictive distributions (``distribution`` "empirical", "quantile", "gaussian"), the
``horizons`` / ``targets`` layout, Adam's coupled ``weight_decay`` and the scalers of early
stopping, learned from the training part only.
"""

import numpy as np
import pytest
import torch
from scipy.stats import norm
from skorch import NeuralNet

from skyield.models import LSTMAttentionRegressor, LSTMRegressor
from skyield.models._base import ChronologicalTailSplit, quantiles_from_knots
from skyield.preprocessing import make_windows

MODELS = [LSTMRegressor, LSTMAttentionRegressor]
DISTRIBUTIONS = ["empirical", "quantile", "gaussian"]
TINY = dict(units=4, epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def windows():
    rng = np.random.RandomState(0)
    panel = 3.0 + 0.1 * rng.normal(size=(70, 3)).cumsum(axis=0)
    return make_windows(panel, window=8, horizons=2)  # y: (n, 2, 3)


# ---------------------------------------------------------------- distributions
@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_quantile_and_interval_shapes(windows, model_class, distribution):
    X, y = windows.X, windows.y
    n = X.shape[0]
    model = model_class(distribution=distribution, **TINY).fit(X, y)
    assert model.predict(X).shape == (n, 2, 3)
    assert model.predict_quantiles(X).shape == (n, 2, 3, 3)          # default levels
    assert model.predict_quantiles(X, [0.1, 0.5, 0.9, 0.95]).shape == (n, 2, 3, 4)
    bounds = model.predict_interval(X)
    assert bounds.shape == (n, 2, 3, 2)
    assert np.all(bounds[..., 0] <= bounds[..., 1])
    np.testing.assert_allclose(bounds, model.predict_quantiles(X, [0.025, 0.975]))
    if hasattr(model, "get_attention"):   # passed through the distribution heads
        attention = model.get_attention(X)
        assert attention.shape == (n, 2, 8)
        np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-5)
    # The layouts of y are kept: one target at one horizon, one target at two horizons.
    single = model_class(distribution=distribution, **TINY).fit(X, y[:, 0, 0])
    assert single.predict_quantiles(X).shape == (n, 3)
    assert single.predict_interval(X, 0.8).shape == (n, 2)
    stepped = model_class(distribution=distribution, horizons=2, **TINY).fit(X, y[:, :, 0])
    assert stepped.predict_quantiles(X).shape == (n, 2, 3)
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(X, [0.9, 0.1])
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(X, 95)


@pytest.mark.parametrize("model_class", MODELS)
def test_empirical_quantiles_are_the_forecast_plus_residual_quantiles(windows, model_class):
    X, y = windows.X, windows.y
    model = model_class(**TINY).fit(X, y)
    assert model.distribution == "empirical"
    # Without early stopping the errors are those of the training windows.
    np.testing.assert_allclose(model.residuals_, y - model.predict(X), atol=1e-12)
    levels = [0.05, 0.5, 0.95]
    expected = model.predict(X)[..., None] + np.moveaxis(
        np.quantile(model.residuals_, levels, axis=0), 0, -1)[None]
    np.testing.assert_allclose(model.predict_quantiles(X, levels), expected, atol=1e-12)


@pytest.mark.parametrize("model_class", MODELS)
def test_empirical_errors_come_from_the_validation_tail(windows, model_class):
    X, y = windows.X, windows.y
    model = model_class(early_stopping=True, validation_fraction=0.25, patience=2,
                        **TINY).fit(X, y)
    n_valid = int(np.ceil(0.25 * X.shape[0]))
    assert model.residuals_.shape == (n_valid, 2, 3)
    np.testing.assert_allclose(model.residuals_, y[-n_valid:] - model.predict(X[-n_valid:]),
                               atol=1e-12)


@pytest.mark.parametrize("model_class", MODELS)
def test_quantile_heads_centre_is_the_median(windows, model_class):
    X, y = windows.X, windows.y
    model = model_class(distribution="quantile", quantiles=(0.05, 0.25, 0.75, 0.95),
                        **TINY).fit(X, y)
    q = model.predict_quantiles(X, [0.05, 0.25, 0.5, 0.75, 0.95])
    np.testing.assert_allclose(q[..., 2], model.predict(X), atol=1e-12)
    # A level between two heads is interpolated linearly in the level.
    between = model.predict_quantiles(X, [0.05, 0.1, 0.25])
    np.testing.assert_allclose(between[..., 1], 0.75 * q[..., 0] + 0.25 * q[..., 1], atol=1e-10)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("levels", [[0.01, 0.5], [0.5, 0.99], [0.001, 0.999]])
def test_levels_outside_the_heads_range_raise(windows, model_class, levels):
    X, y = windows.X, windows.y
    model = model_class(distribution="quantile", quantiles=(0.05, 0.5, 0.95), **TINY)
    model.fit(X, y)
    with pytest.raises(ValueError, match="outside the range the model was trained on"):
        model.predict_quantiles(X, levels)
    with pytest.raises(ValueError, match="outside the range"):
        model.predict_interval(X, 0.99)
    assert model.predict_interval(X, 0.9).shape == y.shape + (2,)   # [0.05, 0.95]: inside
    # The point network and the Gaussian heads have no such range.
    for distribution in ("empirical", "gaussian"):
        other = model_class(distribution=distribution, **TINY).fit(X, y)
        assert np.isfinite(other.predict_quantiles(X, levels)).all()


@pytest.mark.parametrize("model_class", MODELS)
def test_gaussian_heads_are_symmetric_normal_quantiles(windows, model_class):
    X, y = windows.X, windows.y
    model = model_class(distribution="gaussian", **TINY).fit(X, y)
    mean = model.predict(X)
    q = model.predict_quantiles(X, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(q[..., 1], mean, atol=1e-12)
    np.testing.assert_allclose(q[..., 2] - mean, mean - q[..., 0], atol=1e-10)
    std = (q[..., 2] - mean) / norm.ppf(0.9)
    assert np.all(std > 0)
    bounds = model.predict_interval(X, 0.95)
    np.testing.assert_allclose(bounds[..., 1], mean + norm.ppf(0.975) * std, rtol=1e-10)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
@pytest.mark.parametrize("differences", [False, True])
def test_quantiles_never_cross_even_on_huge_windows(windows, model_class, distribution,
                                                    differences):
    X, y = windows.X, windows.y
    model = model_class(distribution=distribution, differences=differences, **TINY)
    model.fit(X, y)
    levels = np.linspace(0.025, 0.975, 61)   # many levels between the heads' knots
    for scale in (1.0, -1.0, 1e6, 1e12, 1e30, -1e30):
        for shift in (0.0, 1e15):
            q = model.predict_quantiles(X * scale + shift, levels)
            assert np.isfinite(q).all(), (scale, shift)
            assert np.all(np.diff(q, axis=-1) >= 0), (scale, shift)


def test_interpolation_between_tied_knots_does_not_cross():
    knots = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
    rng = np.random.default_rng(0)
    centre = rng.uniform(-5000.0, 5000.0, size=50)
    table = np.stack([centre - 3.0, centre, centre, centre, centre + 2.0], axis=-1)
    q = quantiles_from_knots(knots, table, np.linspace(0.025, 0.975, 97))
    assert np.all(np.diff(q, axis=-1) >= 0)


@pytest.mark.parametrize("model_class", MODELS)
def test_windows_beyond_the_networks_float32_range_are_refused(windows, model_class):
    model = model_class(**TINY).fit(windows.X, windows.y)
    with pytest.raises(ValueError, match="X window 0 lies beyond the float32 range"):
        model.predict(windows.X[:3] * 1e40)


@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_distributions_are_reproducible_with_random_state(windows, model_class,
                                                          distribution):
    X, y = windows.X, windows.y
    torch.manual_seed(7)
    before = torch.get_rng_state()
    first = model_class(distribution=distribution, **TINY).fit(X, y)
    second = model_class(distribution=distribution, **TINY).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(first.predict_quantiles(X), second.predict_quantiles(X))
    np.testing.assert_array_equal(first.predict_interval(X), second.predict_interval(X))
    other = model_class(distribution=distribution, **{**TINY, "random_state": 1}).fit(X, y)
    assert not np.array_equal(first.predict_quantiles(X), other.predict_quantiles(X))


# ---------------------------------------------------------------- horizons and targets
@pytest.mark.parametrize("model_class", MODELS)
def test_two_dimensional_y_with_horizons_is_one_target_at_several_horizons(model_class):
    rng = np.random.RandomState(1)
    panel = 3.0 + 0.1 * rng.normal(size=(70, 3)).cumsum(axis=0)
    w = make_windows(panel, window=8, horizons=[1, 3, 6], targets=[1])   # y: (n, 3, 1)
    X, y2 = w.X, w.y[:, :, 0]
    n = X.shape[0]
    stepped = model_class(horizons=[1, 3, 6], **TINY).fit(X, y2)
    assert list(stepped.horizons_) == [1, 3, 6]
    assert stepped.target_mean_.shape == (1, 3, 1)
    assert stepped.predict(X).shape == (n, 3)
    # The same model as one fitted on the 3-D layout (n, horizons, 1).
    cube = model_class(horizons=[1, 3, 6], **TINY).fit(X, w.y)
    np.testing.assert_allclose(stepped.predict(X), cube.predict(X)[:, :, 0], atol=1e-12)
    # Without horizons the same 2-D y is three targets at one horizon.
    columns = model_class(**TINY).fit(X, y2)
    assert list(columns.horizons_) == [1] and columns.target_mean_.shape == (1, 1, 3)
    with pytest.raises(ValueError, match=r"horizons=4 lists 4 step\(s\) ahead"):
        model_class(horizons=4, **TINY).fit(X, w.y)
    # With differences, targets says which input series the horizons forecast.
    changes = model_class(horizons=[1, 3, 6], targets=1, differences=True, **TINY)
    changes.fit(X, y2)
    assert list(changes.targets_) == [1]
    np.testing.assert_allclose(changes.predict(X + 4.0), changes.predict(X) + 4.0,
                               atol=1e-4)


# ---------------------------------------------------------------- weight decay
class _KerasL2Net(NeuralNet):
    """skorch net whose training loss adds Keras' ``l2(lam)``: ``lam * sum(w ** 2)``."""

    lam = 0.0

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            loss = loss + self.lam * sum((p ** 2).sum() for p in self.module_.parameters())
        return loss


@pytest.mark.parametrize("model_class", MODELS)
def test_weight_decay_is_twice_the_keras_l2_lambda(windows, model_class, monkeypatch):
    # The previous `regularization=lam` (Keras' l2(lam), applied as Adam's coupled decay
    # 2 * lam) is `weight_decay=2 * lam`: the same gradients, so the same fit.
    X, y = windows.X, windows.y
    lam = 0.05
    settings = dict(units=4, epochs=4, batch_size=16, lr=0.01, recurrent_dropout=0.0,
                    random_state=0)
    decayed = model_class(weight_decay=2 * lam, **settings).fit(X, y)
    assert decayed.net_.optimizer_.param_groups[0]["weight_decay"] == 2 * lam
    half = model_class(weight_decay=lam, **settings).fit(X, y)
    monkeypatch.setattr(_KerasL2Net, "lam", lam)
    monkeypatch.setattr("skyield.models._base.NeuralNet", _KerasL2Net)
    penalised = model_class(weight_decay=0.0, **settings).fit(X, y)
    assert isinstance(penalised.net_, _KerasL2Net)
    np.testing.assert_allclose(decayed.predict(X), penalised.predict(X), rtol=0, atol=1e-6)
    assert np.abs(half.predict(X) - penalised.predict(X)).max() > 1e-2
    assert model_class().get_params()["weight_decay"] == 2e-5   # the seed's l2(1e-5)


# ---------------------------------------------------------------- early stopping
@pytest.mark.parametrize("model_class", MODELS)
@pytest.mark.parametrize("differences", [False, True])
@pytest.mark.parametrize("gap", [0, 3])
def test_scalers_ignore_the_validation_tail(windows, model_class, differences, gap):
    X, y = windows.X, windows.y
    n = X.shape[0]
    settings = dict(early_stopping=True, validation_fraction=0.25, validation_gap=gap,
                    patience=2, differences=differences, **TINY)
    model = model_class(**settings).fit(X, y)
    n_train = ChronologicalTailSplit(0.25, gap).train_size(n)
    assert n_train == n - int(np.ceil(0.25 * n)) - gap
    inputs = np.diff(X, axis=1) if differences else X
    targets = y - X[:, -1, :][:, None, :] if differences else y
    np.testing.assert_allclose(model.input_mean_,
                               inputs[:n_train].mean(axis=(0, 1), keepdims=True))
    np.testing.assert_allclose(model.input_scale_,
                               inputs[:n_train].std(axis=(0, 1), keepdims=True))
    np.testing.assert_allclose(model.target_mean_, targets[:n_train].mean(axis=0,
                                                                          keepdims=True))
    np.testing.assert_allclose(model.target_scale_, targets[:n_train].std(axis=0,
                                                                         keepdims=True))
    # Plant a different future in the rows after the training part: nothing moves.
    X_planted, y_planted = X.copy(), y.copy()
    X_planted[n_train:] = 10.0 * X_planted[n_train:] + 5.0
    y_planted[n_train:] = -3.0 * y_planted[n_train:] + 7.0
    planted = model_class(**settings).fit(X_planted, y_planted)
    for name in ("input_mean_", "input_scale_", "target_mean_", "target_scale_"):
        np.testing.assert_array_equal(getattr(planted, name), getattr(model, name), name)
    # Planting inside the training part does move them (the test can see a change).
    X_moved = X.copy()
    X_moved[:n_train] += 1.0
    moved = model_class(**settings).fit(X_moved, y)
    if not differences:
        assert not np.allclose(moved.input_mean_, model.input_mean_)
    without = model_class(**{**settings, "early_stopping": False}).fit(X_planted, y_planted)
    assert not np.allclose(without.input_mean_, model.input_mean_)
