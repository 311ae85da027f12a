"""YieldCurveAttentionRegressor and TransferredCurveRegressor (their scikit-learn checks run
in tests/test_common.py from get_test_params, with the exclusion listed there)."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from skyield.datasets import make_nelson_siegel_curves
from skyield.metrics import make_interval_scorer, make_quantile_scorer, mpiw, picp
from skyield.model_selection import ExpandingWindowSplit
from skyield.models._base import ChronologicalTailSplit
from skyield.models._yc_transfer import TransferredCurveRegressor, interpolation_matrix
from skyield.models._yield_curve_attention import YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
TINY = dict(units=4, embedding_size=2, epochs=2, batch_size=16, random_state=0)
EXTRACTORS = ("attention", "conv", "lstm", "transformer")


def family_windows(n_dates=60, maturities=(1, 3, 5, 10), families=("EUR", "USD", "GBP"),
                   seed=0, window=4, **kwargs):
    data = make_nelson_siegel_curves(n_dates=n_dates, maturities=list(maturities),
                                     n_families=list(families), random_state=seed, **kwargs)
    windows = make_family_windows(data.curves, window=window, horizons=1)
    y = windows.y.reshape(windows.n_samples, -1)
    return windows.X, y, windows.families, np.asarray(windows.origins)


@pytest.fixture(scope="module")
def panel():
    return family_windows()


# ---------------------------------------------------------------- shapes and layouts
@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_shapes_for_every_extractor(panel, extractor):
    X, y, families, _ = panel
    n = X.shape[0]
    model = YieldCurveAttentionRegressor(extractor=extractor, **TINY)
    model.fit(X, y, families=families)
    assert model.predict(X, families=families).shape == (n, 4)
    # Default levels (0.025, 0.5, 0.975); the trained ones on request.
    assert model.predict_quantiles(X, families=families).shape == (n, 4, 3)
    assert model.predict_quantiles(X, [0.025, 0.975], families=families).shape == (n, 4, 2)
    assert model.predict_interval(X, 0.95, families=families).shape == (n, 4, 2)
    assert model.get_features(X, families=families).shape == (n, 2 + 4 * 4)
    assert list(model.families_) == ["EUR", "USD", "GBP"]
    if extractor in ("attention", "transformer"):
        attention = model.get_attention(X, families=families)
        assert attention.shape == (n, 4, 4)
        np.testing.assert_allclose(attention.sum(-1), 1.0, rtol=1e-10)
    else:
        assert not hasattr(model, "get_attention")
    assert not hasattr(model, "predict_std")


def test_target_layouts(panel):
    X, y, families, _ = panel
    n = X.shape[0]
    model = YieldCurveAttentionRegressor(**TINY)
    assert model.fit(X, y[:, 0], families=families).predict(X, families=families).shape == (n,)
    assert model.predict_quantiles(X, families=families).shape == (n, 3)
    model.fit(X, y[:, None, :], families=families)
    assert model.n_outputs_ == 4
    assert model.predict(X, families=families).shape == (n, 1, 4)
    assert model.predict_interval(X, families=families).shape == (n, 1, 4, 2)
    flat = YieldCurveAttentionRegressor(window=4, **TINY).fit(
        X.reshape(n, -1), y, families=families)
    np.testing.assert_array_equal(
        flat.predict(X.reshape(n, -1), families=families),
        YieldCurveAttentionRegressor(**TINY).fit(X, y, families=families).predict(
            X, families=families))


def test_without_families_is_one_implicit_family(panel):
    X, y, _, _ = panel
    model = YieldCurveAttentionRegressor(**TINY).fit(X, y)
    assert model.families_ is None
    assert model.net_.module_.embedding.num_embeddings == 1
    assert model.predict(X).shape == y.shape
    with pytest.raises(ValueError, match="fitted without families"):
        model.predict(X, families=np.zeros(len(X)))


def test_family_errors_name_the_problem(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(**TINY).fit(X, y, families=families)
    unseen = families.copy()
    unseen[7] = "JPY"
    with pytest.raises(ValueError, match=r"family 'JPY' \(window 7\) was not seen in fit; "
                                         r"fitted families: \['EUR', 'USD', 'GBP'\]"):
        model.predict(X, families=unseen)
    with pytest.raises(ValueError, match="fitted with families"):
        model.predict_interval(X)
    with pytest.raises(ValueError, match="one label per window"):
        model.predict(X, families=families[:-1])
    missing = families.copy()
    missing[3] = None
    with pytest.raises(ValueError, match="missing label at window 3"):
        YieldCurveAttentionRegressor(**TINY).fit(X, y, families=missing)


@pytest.mark.parametrize("params, message", [
    ({"extractor": "gru"}, "extractor must be one of"),
    ({"gamma": 3}, "gamma must be one of 1, 2, got 3"),
    ({"quantiles": (0.9, 0.1)}, "strictly increasing"),
    ({"quantiles": (0.0, 0.5)}, r"quantiles must be strictly increasing levels in \(0, 1\)"),
    ({"distribution": "t"}, "distribution must be one of"),
    ({"feature_range": (1.0, 0.0)}, "feature_range"),
    ({"dropout": 1.0}, "dropout must be a number"),
    ({"units": 0}, "units must be an integer"),
    ({"weight_decay": -1e-3}, "weight_decay must be a number"),
    ({"maturities": [1, 2]}, "maturities has 2 entries"),
    ({"horizons": 3}, r"horizons=3 lists 3 step\(s\) ahead but y holds 1"),
    ({"targets": 7}, "targets entry 7 is out of range"),
    ({"targets": [0, 1]}, "targets names 2 series but y has 4"),
])
def test_bad_parameters(panel, params, message):
    X, y, _, _ = panel
    with pytest.raises(ValueError, match=message):
        YieldCurveAttentionRegressor(**{**TINY, **params}).fit(X, y)


def test_window_length_must_match(panel):
    X, y, _, _ = panel
    model = YieldCurveAttentionRegressor(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="X windows have length 3 but "
                                         "YieldCurveAttentionRegressor was fitted on windows "
                                         "of length 4"):
        model.predict(X[:, 1:])


# ---------------------------------------------------------------- quantiles
def test_quantile_interpolation_and_range(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(quantiles=(0.05, 0.25, 0.75, 0.95), **TINY)
    model.fit(X, y, families=families)
    levels = [0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95]
    q = model.predict_quantiles(X, levels, families=families)
    assert np.all(np.diff(q, axis=-1) >= 0)
    # gamma=1: the centre is the median, the 0.5 knot.
    np.testing.assert_allclose(q[..., 4], model.predict(X, families=families))
    trained = model.predict_quantiles(X, [0.05, 0.25, 0.75, 0.95], families=families)
    np.testing.assert_allclose(q[..., [0, 2, 6, 8]], trained)
    np.testing.assert_allclose(q[..., 1], 0.75 * q[..., 0] + 0.25 * q[..., 2])  # linear in level
    np.testing.assert_allclose(model.predict_interval(X, 0.9, families=families),
                               q[..., [0, 8]])
    with pytest.raises(ValueError, match="outside the range the model was trained on"):
        model.predict_quantiles(X, [0.01], families=families)
    # The default levels (0.025, 0.5, 0.975) lie outside these heads' range too.
    with pytest.raises(ValueError, match="quantile level 0.025 is outside the range"):
        model.predict_quantiles(X, families=families)
    with pytest.raises(ValueError, match="strictly increasing"):
        model.predict_quantiles(X, [0.75, 0.25], families=families)
    with pytest.raises(ValueError, match="coverage must be"):
        model.predict_interval(X, 95, families=families)


def test_mean_centre_with_median_level(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(gamma=2, quantiles=(0.1, 0.5, 0.9), **TINY)
    model.fit(X, y, families=families)
    q = model.predict_quantiles(X, [0.1, 0.5, 0.9], families=families)
    centre = model.predict(X, families=families)
    assert np.all(q[..., 0] <= np.minimum(centre, q[..., 1]))
    assert np.all(q[..., 2] >= np.maximum(centre, q[..., 1]))


def test_gaussian_heads(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(distribution="gaussian", **TINY)
    model.fit(X, y, families=families)
    mean = model.predict(X, families=families)
    std = model.predict_std(X, families=families)
    assert std.shape == mean.shape and np.all(std > 0)
    bounds = model.predict_interval(X, 0.9, families=families)
    np.testing.assert_allclose(bounds[..., 1] - mean, mean - bounds[..., 0])
    np.testing.assert_allclose(bounds[..., 1], mean + 1.6448536269514722 * std)
    assert model.predict_quantiles(X, [0.001, 0.5, 0.999], families=families).shape == \
        y.shape + (3,)


def test_predicted_intervals_cover_95_percent_of_held_out_noise():
    # Noise-dominated simulated curves: the one-step predictive spread is mostly the
    # known i.i.d. measurement noise, so the coverage of held-out dates is stable.
    X, y, families, dates = family_windows(
        n_dates=300, noise_std=0.3, factor_cov=np.diag([0.1, 0.1, 0.2]) ** 2)
    unique = np.unique(dates)
    train = dates <= unique[int(0.75 * len(unique))]
    model = YieldCurveAttentionRegressor(units=8, dropout=0.0, epochs=40, lr=0.01,
                                         random_state=0)
    model.fit(X[train], y[train], families=families[train])
    bounds = model.predict_interval(X[~train], 0.95, families=families[~train])
    coverage = picp(y[~train], bounds[..., 0], bounds[..., 1])
    assert 0.90 <= coverage <= 0.99, coverage
    assert mpiw(bounds[..., 0], bounds[..., 1]) < 4 * 1.96 * 0.3


# ---------------------------------------------------------------- randomness and scaling
def test_reproducible_and_leaves_the_global_generator_alone(panel):
    X, y, families, _ = panel
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = YieldCurveAttentionRegressor(extractor="transformer", **TINY).fit(
        X, y, families=families)
    second = YieldCurveAttentionRegressor(extractor="transformer", **TINY).fit(
        X, y, families=families)
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(first.predict_quantiles(X, families=families),
                                  second.predict_quantiles(X, families=families))
    np.testing.assert_array_equal(first.get_attention(X, families=families),
                                  second.get_attention(X, families=families))
    other = YieldCurveAttentionRegressor(**{**TINY, "random_state": 1}).fit(
        X, y, families=families)
    assert not np.array_equal(other.predict(X, families=families),
                              first.predict(X, families=families))


def test_scaler_is_fitted_on_the_training_data_only(panel):
    X, y, families, dates = panel
    train = dates < np.unique(dates)[40]
    model = YieldCurveAttentionRegressor(**TINY).fit(X[train], y[train],
                                                     families=families[train])
    low = min(X[train].min(), y[train].min())
    high = max(X[train].max(), y[train].max())
    np.testing.assert_allclose(model.scaler_.data_min_, low)
    np.testing.assert_allclose(model.scaler_.data_max_, high)
    # Test windows far outside the training range change nothing fitted and do not
    # move the forecasts of other windows.
    shocked = X.copy()
    shocked[~train] += 50.0
    before = model.predict(X[train], families=families[train])
    model.predict(shocked, families=families)
    np.testing.assert_allclose(model.scaler_.data_max_, high)
    np.testing.assert_array_equal(
        model.predict(shocked, families=families)[train], before)
    # The sigmoid centre stays within the training range mapped through feature_range.
    assert model.predict(shocked, families=families).max() <= high + 1e-9


@pytest.mark.parametrize("gap", [0, 5])
def test_scaler_ignores_the_early_stopping_validation_tail(panel, gap):
    X, y, families, _ = panel
    settings = dict(**TINY, early_stopping=True, validation_fraction=0.25,
                    validation_gap=gap, patience=1)
    model = YieldCurveAttentionRegressor(**settings).fit(X, y, families=families)
    n_train = ChronologicalTailSplit(0.25, gap).train_size(len(X))
    assert n_train == len(X) - int(np.ceil(0.25 * len(X))) - gap
    np.testing.assert_allclose(model.scaler_.data_min_,
                               min(X[:n_train].min(), y[:n_train].min()))
    np.testing.assert_allclose(model.scaler_.data_max_,
                               max(X[:n_train].max(), y[:n_train].max()))
    # A different future planted in the rows after the training part moves nothing.
    X_planted, y_planted = X.copy(), y.copy()
    X_planted[n_train:] = 3.0 * X_planted[n_train:] + 50.0
    y_planted[n_train:] = -3.0 * y_planted[n_train:] - 50.0
    planted = YieldCurveAttentionRegressor(**settings).fit(X_planted, y_planted,
                                                           families=families)
    for name in ("data_min_", "data_max_", "scale_", "offset_"):
        np.testing.assert_array_equal(getattr(planted.scaler_, name),
                                      getattr(model.scaler_, name), name)
    # Without early stopping every row trains, so the planted rows do move it.
    without = YieldCurveAttentionRegressor(**TINY).fit(X_planted, y_planted,
                                                       families=families)
    assert without.scaler_.data_max_ > model.scaler_.data_max_ + 10


def test_transfer_scaler_ignores_the_early_stopping_validation_tail(source, target_panel):
    Xt, yt, ft, _ = target_panel
    settings = dict(epochs=3, lr=0.05, early_stopping=True, validation_fraction=0.3,
                    patience=1, random_state=0)
    model = TransferredCurveRegressor(FrozenEstimator(source), **settings).fit(
        Xt, yt, families=ft)
    n_train = ChronologicalTailSplit(0.3).train_size(len(Xt))
    np.testing.assert_allclose(model.scaler_.data_max_,
                               max(Xt[:n_train].max(), yt[:n_train].max()))
    X_planted, y_planted = Xt.copy(), yt.copy()
    X_planted[n_train:] += 40.0
    y_planted[n_train:] -= 40.0
    planted = TransferredCurveRegressor(FrozenEstimator(source), **settings).fit(
        X_planted, y_planted, families=ft)
    np.testing.assert_array_equal(planted.scaler_.data_min_, model.scaler_.data_min_)
    np.testing.assert_array_equal(planted.scaler_.data_max_, model.scaler_.data_max_)


def test_horizons_and_targets_layout():
    data = make_nelson_siegel_curves(n_dates=60, maturities=[1, 3, 5, 10],
                                     n_families=["EUR", "USD"], random_state=0)
    windows = make_family_windows(data.curves, window=4, horizons=[1, 3], targets=[10])
    X, y, families = windows.X, windows.y, windows.families     # y: (n, 2, 1)
    n = len(X)
    model = YieldCurveAttentionRegressor(horizons=[1, 3], targets=3, **TINY)
    model.fit(X, y[:, :, 0], families=families)
    assert list(model.horizons_) == [1, 3] and list(model.targets_) == [3]
    assert model.predict(X, families=families).shape == (n, 2)
    assert model.predict_interval(X, families=families).shape == (n, 2, 2)
    cube = YieldCurveAttentionRegressor(horizons=[1, 3], **TINY).fit(X, y, families=families)
    np.testing.assert_allclose(model.predict(X, families=families),
                               cube.predict(X, families=families)[:, :, 0], atol=1e-12)
    # Without horizons, a 2-D y is one horizon of several targets.
    columns = YieldCurveAttentionRegressor(**TINY).fit(X, y[:, :, 0], families=families)
    assert list(columns.horizons_) == [1]


def test_feature_range_leaves_room_beyond_the_training_range(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(feature_range=(0.25, 0.75), **TINY)
    model.fit(X, y, families=families)
    span = model.scaler_.data_max_ - model.scaler_.data_min_
    np.testing.assert_allclose(model.scaler_.scale_, span / 0.5)


def test_early_stopping_on_the_chronological_tail(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(**{**TINY, "epochs": 30}, early_stopping=True,
                                         patience=1, validation_fraction=0.2, lr=0.05)
    model.fit(X, y, families=families)
    assert 1 <= model.n_epochs_ <= 30
    split = model.net_.train_split
    assert split.fraction == 0.2


@pytest.mark.parametrize("make", ["network", "transfer"])
def test_weight_decay_shrinks_the_weights(panel, target_panel, source, make):
    def fitted(weight_decay):
        if make == "network":
            X, y, families, _ = panel
            model = YieldCurveAttentionRegressor(**{**TINY, "epochs": 20},
                                                 weight_decay=weight_decay)
        else:
            X, y, families, _ = target_panel
            model = TransferredCurveRegressor(source, epochs=20, random_state=0,
                                              weight_decay=weight_decay)
        return model.fit(X, y, families=families)

    def squared_norm(model):  # of the weights that train
        return sum(float((p.detach() ** 2).sum()) for p in model.net_.module_.parameters()
                   if p.requires_grad)

    assert YieldCurveAttentionRegressor().weight_decay == 0.0  # the seed's: no decay
    assert TransferredCurveRegressor(source).weight_decay == 0.0
    plain, decayed = fitted(0.0), fitted(1.0)
    assert plain.net_.optimizer_.param_groups[0]["weight_decay"] == 0.0
    assert decayed.net_.optimizer_.param_groups[0]["weight_decay"] == 1.0
    assert squared_norm(decayed) < 0.9 * squared_norm(plain)


def test_residual_forecasts_the_change_from_the_last_curve(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(residual=True, output_activation="linear", **TINY)
    model.fit(X, y, families=families)
    assert model.architecture_["residual"] is True
    assert model.net_.module_.residual
    with torch.no_grad():
        model.net_.module_.heads.linear.weight.zero_()
        model.net_.module_.heads.linear.bias.zero_()
    # With the heads silenced the estimator is the random walk, in the data's units.
    np.testing.assert_allclose(model.predict(X, families=families), X[:, -1], atol=1e-12)
    bounds = model.predict_interval(X, 0.95, families=families)
    assert np.all(bounds[..., 0] < X[:, -1]) and np.all(bounds[..., 1] > X[:, -1])
    # Several horizons: the last curve is passed to each of them.
    y3 = np.stack([y, y], axis=1)
    multi = YieldCurveAttentionRegressor(residual=True, **TINY).fit(X, y3, families=families)
    with torch.no_grad():
        multi.net_.module_.heads.linear.weight.zero_()
        multi.net_.module_.heads.linear.bias.zero_()
    np.testing.assert_allclose(multi.predict(X, families=families),
                               np.stack([X[:, -1], X[:, -1]], axis=1), atol=1e-12)


def test_residual_linear_model_pickles(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(residual=True, output_activation="linear", **TINY)
    model.fit(X, y, families=families)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X, families=families),
                                  model.predict(X, families=families))


def test_residual_is_reproducible_and_differs_from_the_level_model(panel):
    X, y, families, _ = panel
    fits = [YieldCurveAttentionRegressor(residual=residual, **TINY).fit(X, y, families=families)
            for residual in (True, True, False)]
    first, again, level = (m.predict(X, families=families) for m in fits)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, level)


def test_residual_targets_must_be_the_input_series(panel):
    X, y, families, _ = panel
    with pytest.raises(ValueError, match=r"y must hold the 4 input series, in order, at "
                                         r"each horizon; got 2 target column\(s\)$"):
        YieldCurveAttentionRegressor(residual=True, **TINY).fit(X, y[:, :2],
                                                                families=families)
    with pytest.raises(ValueError, match=r"got 2 target column\(s\) \(targets=\[1, 0\]\)"):
        YieldCurveAttentionRegressor(residual=True, targets=[1, 0], **TINY).fit(
            X, y[:, [1, 0]], families=families)
    with pytest.raises(ValueError, match="residual must be True or False"):
        YieldCurveAttentionRegressor(residual=1, **TINY).fit(X, y, families=families)


def test_pickle_round_trip(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(**TINY).fit(X, y, families=families)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_interval(X, families=families),
                                  model.predict_interval(X, families=families))


# ---------------------------------------------------------------- model selection
@pytest.mark.parametrize("scoring", [
    make_quantile_scorer("pinball", quantiles=(0.025, 0.5, 0.975)),
    make_interval_scorer(coverage=0.95),
])
def test_grid_search_routes_families(panel, scoring):
    X, y, families, dates = panel
    with sklearn.config_context(enable_metadata_routing=True):
        model = YieldCurveAttentionRegressor(epochs=2, embedding_size=2, random_state=0)
        model.set_fit_request(families=True)
        search = GridSearchCV(
            model,
            {"extractor": ["attention", "conv"], "units": [2, 4], "gamma": [1, 2]},
            cv=ExpandingWindowSplit(n_splits=2, test_size=8),
            scoring=scoring.set_score_request(families=True),
        )
        search.fit(X, y, families=families, groups=dates)
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert list(search.best_estimator_.families_) == ["EUR", "USD", "GBP"]


# ---------------------------------------------------------------- transfer learning
@pytest.fixture(scope="module")
def source(panel):
    X, y, families, _ = panel
    return YieldCurveAttentionRegressor(maturities=[1, 3, 5, 10], **TINY).fit(
        X, y, families=families)


@pytest.fixture(scope="module")
def target_panel():
    return family_windows(n_dates=40, maturities=(2, 5, 20), families=("AAA", "BBB"),
                          seed=3)


def extractor_state(model):
    return {k: v.clone() for k, v in model.net_.module_.extractor.state_dict().items()}


def test_transfer_of_a_residual_source_skips_the_new_grid(panel, target_panel):
    X, y, families, _ = panel
    source = YieldCurveAttentionRegressor(residual=True, **TINY).fit(X, y, families=families)
    Xt, yt, ft, _ = target_panel
    model = TransferredCurveRegressor(FrozenEstimator(source), epochs=2,
                                      random_state=0).fit(Xt, yt, families=ft)
    assert model.architecture_["residual"] and model.net_.module_.residual
    with torch.no_grad():
        model.net_.module_.heads.linear.weight.zero_()
        model.net_.module_.heads.linear.bias.zero_()
    np.testing.assert_allclose(model.predict(Xt, families=ft), Xt[:, -1], atol=1e-12)


@pytest.mark.parametrize("extractor", EXTRACTORS)
def test_transfer_freezes_the_extractor(panel, target_panel, extractor):
    X, y, families, _ = panel
    source = YieldCurveAttentionRegressor(extractor=extractor, **TINY).fit(
        X, y, families=families)
    Xt, yt, ft, _ = target_panel
    model = TransferredCurveRegressor(FrozenEstimator(source), epochs=3, lr=0.05,
                                      random_state=0).fit(Xt, yt, families=ft)
    for name, value in extractor_state(source).items():
        assert torch.equal(model.net_.module_.extractor.state_dict()[name], value), name
    assert model.frozen_parameters_ and all(
        not p.requires_grad for p in model.net_.module_.extractor.parameters())
    assert model.net_.module_.adapter.in_features == 3
    assert model.net_.module_.adapter.out_features == 4
    assert list(model.families_) == ["AAA", "BBB"]
    assert model.predict_interval(Xt, families=ft).shape == (len(Xt), 3, 2)
    # new layers did train
    assert model.n_epochs_ == 3


def test_fine_tuning_moves_the_extractor(source, target_panel):
    Xt, yt, ft, _ = target_panel
    model = TransferredCurveRegressor(FrozenEstimator(source), fine_tune=True, epochs=3,
                                      lr=0.05, random_state=0).fit(Xt, yt, families=ft)
    assert model.frozen_parameters_ == []
    moved = [not torch.equal(model.net_.module_.extractor.state_dict()[k], v)
             for k, v in extractor_state(source).items()]
    assert any(moved)


def test_transfer_leaves_the_source_untouched(source, target_panel):
    Xt, yt, ft, _ = target_panel
    before = {k: v.clone() for k, v in source.net_.module_.state_dict().items()}
    TransferredCurveRegressor(source, fine_tune=True, epochs=2, random_state=0).fit(
        Xt, yt, families=ft)
    for name, value in source.net_.module_.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_transfer_adapter_starts_from_interpolation(source, target_panel):
    Xt, yt, ft, _ = target_panel
    model = TransferredCurveRegressor(FrozenEstimator(source), maturities=[2, 5, 20],
                                      epochs=1, lr=1e-12, random_state=0)
    model.fit(Xt, yt, families=ft)
    assert model.adapter_init_ == "interpolate"
    weights = interpolation_matrix(np.array([1.0, 3.0, 5.0, 10.0]), np.array([2.0, 5.0, 20.0]))
    np.testing.assert_allclose(weights, [[1, 0, 0], [2 / 3, 1 / 3, 0], [0, 1, 0],
                                         [0, 2 / 3, 1 / 3]])
    np.testing.assert_allclose(model.net_.module_.adapter.weight.detach().numpy(), weights,
                               atol=1e-6)
    random = TransferredCurveRegressor(FrozenEstimator(source), epochs=1, random_state=0)
    assert random.fit(Xt, yt, families=ft).adapter_init_ == "random"
    with pytest.raises(ValueError, match="needs both maturity grids"):
        TransferredCurveRegressor(FrozenEstimator(source), adapter_init="interpolate",
                                  epochs=1).fit(Xt, yt, families=ft)


def test_transfer_accepts_another_window_length(source):
    Xt, yt, ft, _ = family_windows(n_dates=40, maturities=(2, 5), families=("A", "B"),
                                    window=6)
    model = TransferredCurveRegressor(FrozenEstimator(source), epochs=1, random_state=0)
    assert model.fit(Xt, yt, families=ft).get_attention(Xt, families=ft).shape == \
        (len(Xt), 6, 6)


def test_transfer_source_errors(target_panel):
    Xt, yt, ft, _ = target_panel
    with pytest.raises(ValueError, match="source is not fitted"):
        TransferredCurveRegressor(YieldCurveAttentionRegressor(), epochs=1).fit(Xt, yt)
    with pytest.raises(TypeError, match="source must be a fitted YieldCurveAttention"):
        TransferredCurveRegressor(Ridge(), epochs=1).fit(Xt, yt)
    with pytest.raises(ValueError, match=r"source must be an object with predict\(\)"):
        TransferredCurveRegressor(object(), epochs=1).fit(Xt, yt)


def test_transfer_clone_keeps_a_frozen_source(source, target_panel):
    Xt, yt, ft, _ = target_panel
    model = TransferredCurveRegressor(FrozenEstimator(source), epochs=2, random_state=0)
    cloned = clone(model)
    assert cloned.source.estimator is source
    np.testing.assert_array_equal(
        cloned.fit(Xt, yt, families=ft).predict(Xt, families=ft),
        model.fit(Xt, yt, families=ft).predict(Xt, families=ft))


# ---------------------------------------------------------------- GPU (opt-in)
@cuda
def test_cuda_fit_matches_shapes_and_loads_on_cpu(panel):
    X, y, families, _ = panel
    model = YieldCurveAttentionRegressor(device="cuda", **TINY).fit(X, y, families=families)
    bounds = model.predict_interval(X, families=families)
    assert bounds.shape == y.shape + (2,)
    assert np.all(bounds[..., 0] <= bounds[..., 1])
