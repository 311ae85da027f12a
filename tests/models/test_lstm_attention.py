import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skyield.models import LSTMAttentionRegressor
from skyield.models._base import ChronologicalTailSplit
from skyield.preprocessing import make_windows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
TINY = dict(units=4, epochs=2, batch_size=16, random_state=0)


def random_walk_panel(n_dates=60, n_series=3, seed=0):
    rng = np.random.RandomState(seed)
    return 3.0 + 0.1 * rng.normal(size=(n_dates, n_series)).cumsum(axis=0)


@pytest.fixture(scope="module")
def windows():
    return make_windows(random_walk_panel(), window=8, horizons=3, targets=[1])


def test_shapes_and_layouts(windows):
    X, y = windows.X, windows.y  # (n, 8, 3), (n, 3, 1)
    n = X.shape[0]
    model = LSTMAttentionRegressor(**TINY).fit(X, y)
    assert model.predict(X).shape == (n, 3, 1)
    assert model.get_attention(X).shape == (n, 3, 8)
    assert list(model.horizons_) == [1, 2, 3] and model.target_mean_.shape[1:] == (3, 1)
    assert model.window_ == 8
    assert model.fit(X, y[:, 0, 0]).predict(X).shape == (n,)
    assert model.fit(X, y[:, 0, :]).predict(X).shape == (n, 1)
    assert model.get_attention(X).shape == (n, 1, 8)
    # The seed's layout: one target at several horizons as columns.
    stepped = LSTMAttentionRegressor(horizons=3, **TINY).fit(X, y[:, :, 0])
    assert list(stepped.horizons_) == [1, 2, 3] and stepped.target_mean_.shape[1:] == (3, 1)
    assert stepped.predict(X).shape == (n, 3)
    assert stepped.get_attention(X).shape == (n, 3, 8)
    several = make_windows(random_walk_panel(), window=8, horizons=2)
    model = LSTMAttentionRegressor(**TINY).fit(several.X, several.y)
    assert model.predict(several.X).shape == (several.n_samples, 2, 3)
    assert model.predict(several.X).dtype == np.float64


def test_attention_rows_are_softmax_weights(windows):
    model = LSTMAttentionRegressor(attn_dense_nodes=3, shared_attention=False, **TINY)
    alpha = model.fit(windows.X, windows.y).get_attention(windows.X)
    assert np.all(alpha >= 0)
    np.testing.assert_allclose(alpha.sum(axis=-1), 1.0, rtol=1e-5)


def test_flattened_2d_windows(windows):
    X2 = windows.X.reshape(windows.n_samples, -1)
    flat = LSTMAttentionRegressor(window=8, **TINY).fit(X2, windows.y)
    cube = LSTMAttentionRegressor(**TINY).fit(windows.X, windows.y)
    np.testing.assert_array_equal(flat.predict(X2), cube.predict(windows.X))


def test_reproducible_with_random_state(windows):
    X, y = windows.X, windows.y
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first = LSTMAttentionRegressor(attn_dense_nodes=2, **TINY).fit(X, y)
    second = LSTMAttentionRegressor(attn_dense_nodes=2, **TINY).fit(X, y)
    assert torch.equal(torch.get_rng_state(), before), "the caller's generator was used"
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    np.testing.assert_array_equal(first.get_attention(X), second.get_attention(X))
    other = LSTMAttentionRegressor(attn_dense_nodes=2, **{**TINY, "random_state": 1}).fit(X, y)
    assert not np.array_equal(first.predict(X), other.predict(X))


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_recurrent_dropout_modes_reproducible(windows, mode):
    X, y = windows.X, windows.y
    params = {**TINY, "recurrent_dropout": 0.3, "recurrent_dropout_mode": mode}
    first = LSTMAttentionRegressor(**params).fit(X, y)
    second = LSTMAttentionRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    without = LSTMAttentionRegressor(**{**params, "recurrent_dropout": 0.0}).fit(X, y)
    assert not np.array_equal(first.predict(X), without.predict(X))


def test_differences_round_trip():
    panel = random_walk_panel(n_dates=80)
    levels = make_windows(panel, window=9, horizons=2, targets=[2])
    changes = make_windows(panel, window=9, horizons=2, targets=[2], differences=True)
    # The same origins: level windows of 9 dates hold the 8 changes of the change windows.
    assert changes.X.shape[1] == 8 and changes.n_samples == levels.n_samples
    np.testing.assert_allclose(np.diff(levels.X, axis=1), changes.X, atol=1e-12)
    np.testing.assert_allclose(changes.y + changes.last_level[:, None, :], levels.y)
    model = LSTMAttentionRegressor(differences=True, targets=2, **TINY).fit(levels.X, levels.y)
    assert model.get_attention(levels.X).shape == (levels.n_samples, 2, 8)
    prediction = model.predict(levels.X)
    # Levels are restored: the forecast change is added to the window's last level.
    change = model.predict(levels.X) - levels.X[:, -1, 2][:, None, None]
    assert np.abs(change).max() < 5 * np.abs(changes.y).max()
    # Only changes enter the network, so shifting every level shifts the forecast.
    np.testing.assert_allclose(model.predict(levels.X + 1.5), prediction + 1.5, atol=1e-4)
    # Targets are changes since the origin: a model of changes fitted on change targets.
    target_changes = levels.y - levels.X[:, -1, 2][:, None, None]
    np.testing.assert_allclose(target_changes, changes.y, atol=1e-12)


def test_differences_need_the_target_position(windows):
    with pytest.raises(ValueError, match=r"targets=\[\.\.\.\] must say which series"):
        LSTMAttentionRegressor(differences=True, **TINY).fit(windows.X, windows.y)
    with pytest.raises(ValueError, match="targets entry 5 is out of range"):
        LSTMAttentionRegressor(differences=True, targets=5, **TINY).fit(windows.X, windows.y)
    with pytest.raises(ValueError, match="2 series but y has 1"):
        LSTMAttentionRegressor(differences=True, targets=[0, 1], **TINY).fit(
            windows.X, windows.y)
    with pytest.raises(ValueError, match="integer position"):
        LSTMAttentionRegressor(differences=True, targets="10Y", **TINY).fit(
            windows.X, windows.y)
    # Every series a target, in order: no target needed.
    every = make_windows(random_walk_panel(), window=8, horizons=1)
    LSTMAttentionRegressor(differences=True, **TINY).fit(every.X, every.y)


@pytest.mark.parametrize("params, message", [
    ({"units": 0}, r"units must be an integer in \[1, inf\)"),
    ({"attn_dense_nodes": -1}, "attn_dense_nodes"),
    ({"shared_attention": "yes"}, "shared_attention must be True or False"),
    ({"recurrent_dropout": 1.0}, "recurrent_dropout"),
    ({"recurrent_dropout_mode": "keras"}, "recurrent_dropout_mode must be one of"),
    ({"lr": 0}, "lr must be"),
    ({"loss": "mse"}, "loss must be one of"),
    ({"early_stopping": True, "validation_fraction": 0.0}, "validation_fraction"),
    ({"device": "tpu"}, "device"),
    ({"weight_decay": -1e-5}, "weight_decay must be"),
    ({"distribution": "student"}, "distribution must be one of"),
    ({"quantiles": (0.9, 0.1)}, "quantiles must be strictly increasing"),
    ({"horizons": 2}, r"horizons=2 lists 2 step\(s\) ahead but y holds 3"),
    ({"horizons": [1, 1, 2]}, "horizons must be"),
])
def test_bad_parameters_are_named(windows, params, message):
    with pytest.raises(ValueError, match=message):
        LSTMAttentionRegressor(**{**TINY, **params}).fit(windows.X, windows.y)


def test_bad_predict_input_is_named(windows):
    model = LSTMAttentionRegressor(**TINY).fit(windows.X, windows.y)
    with pytest.raises(ValueError, match="X windows have length 7 but LSTMAttentionRegressor "
                                         "was fitted on windows of length 8"):
        model.predict(windows.X[:, 1:])
    with pytest.raises(ValueError, match="X has 2 series but .* fitted with 3"):
        model.predict(windows.X[:, :, :2])
    with pytest.raises(ValueError, match="NaN|infinity"):
        bad = windows.X.copy()
        bad[0, 0, 0] = np.nan
        model.predict(bad)


def test_attention_finds_the_informative_lag():
    # Series 0 is noise; the target is its value at lag 6. Series 1 is a clock (the
    # position in the window) so that attention can address positions by content.
    window, lag = 12, 6
    rng = np.random.RandomState(0)
    noise = rng.normal(size=(300, window))
    clock = np.broadcast_to(np.linspace(0.0, 1.0, window), noise.shape)
    X = np.stack([noise, clock], axis=-1)
    y = X[:, window - 1 - lag, 0]
    model = LSTMAttentionRegressor(units=8, attn_dense_nodes=8, epochs=30, lr=0.01,
                                   weight_decay=0.0, recurrent_dropout=0.0,
                                   random_state=0).fit(X, y)
    alpha = model.get_attention(X)[:, 0].mean(axis=0)
    column = window - 1 - lag
    assert alpha[column] > 3.0 / window
    # Positions before the lag cannot know its value.
    assert alpha[:column].sum() < alpha[column]


def test_chronological_tail_split():
    split = ChronologicalTailSplit(fraction=0.2, gap=3)
    train, valid = split(list(range(50)))
    assert list(train.indices) == list(range(37)) and list(valid.indices) == list(range(40, 50))
    with pytest.raises(ValueError, match="no training rows"):
        ChronologicalTailSplit(0.5, 5)(list(range(10)))


def test_early_stopping_restores_the_best_epoch(windows):
    X, y = windows.X, windows.y
    model = LSTMAttentionRegressor(units=4, epochs=25, lr=0.05, batch_size=8,
                                   early_stopping=True, validation_fraction=0.25,
                                   patience=3, random_state=0).fit(X, y)
    history = model.net_.history
    assert "valid_loss" in history[-1]
    assert model.n_epochs_ == len(history) <= 25
    n_valid = int(np.ceil(0.25 * X.shape[0]))
    scaled_targets = (y - model.target_mean_) / model.target_scale_
    scaled_pred = (model.predict(X) - model.target_mean_) / model.target_scale_
    tail_loss = np.mean((scaled_pred[-n_valid:] - scaled_targets[-n_valid:]) ** 2)
    assert tail_loss == pytest.approx(min(history[:, "valid_loss"]), rel=1e-4)
    # The validation rows are the last ones, never the first (skorch's default).
    assert not isinstance(model.net_.train_split, type(None))
    assert isinstance(model.net_.train_split, ChronologicalTailSplit)


def test_pickle_round_trip(windows):
    model = LSTMAttentionRegressor(attn_dense_nodes=2, **TINY).fit(windows.X, windows.y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(windows.X), model.predict(windows.X))
    np.testing.assert_array_equal(loaded.get_attention(windows.X),
                                  model.get_attention(windows.X))


def test_net_marked_cuda_loads_on_cpu(windows):
    model = LSTMAttentionRegressor(**TINY).fit(windows.X, windows.y)
    expected = model.predict(windows.X)
    model.net_.device = "cuda"  # as if trained on a GPU
    blob = pickle.dumps(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(blob)
    if not torch.cuda.is_available():
        assert str(loaded.net_.device) == "cpu"
        np.testing.assert_array_equal(loaded.predict(windows.X), expected)


def test_pipeline_and_grid_search(windows):
    X2 = windows.X.reshape(windows.n_samples, -1)
    y = windows.y[:, 0, 0]
    pipe = make_pipeline(StandardScaler(), LSTMAttentionRegressor(window=8, **TINY))
    search = GridSearchCV(pipe, {"lstmattentionregressor__attn_dense_nodes": [0, 2]},
                          cv=TimeSeriesSplit(n_splits=2), scoring="neg_mean_squared_error")
    search.fit(X2, y)
    assert search.best_estimator_.predict(X2).shape == y.shape
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_clone_keeps_parameters():
    model = LSTMAttentionRegressor(units=7, shared_attention=False, device="auto")
    assert clone(model).get_params() == model.get_params()


def test_get_test_params_are_tiny():
    for params in LSTMAttentionRegressor.get_test_params():
        assert params["units"] <= 4 and params["epochs"] <= 2


@pytest.mark.gpu
@cuda
def test_cuda_fit_predict_and_cpu_load(windows, monkeypatch):
    model = LSTMAttentionRegressor(device="cuda", attn_dense_nodes=2, **TINY)
    model.fit(windows.X, windows.y)
    assert next(model.net_.module_.parameters()).is_cuda
    prediction = model.predict(windows.X)
    cpu = LSTMAttentionRegressor(device="cpu", attn_dense_nodes=2, **TINY).fit(
        windows.X, windows.y)
    assert prediction.shape == cpu.predict(windows.X).shape
    np.testing.assert_allclose(model.get_attention(windows.X).sum(-1), 1.0, rtol=1e-5)
    blob = pickle.dumps(model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    assert not next(loaded.net_.module_.parameters()).is_cuda
    np.testing.assert_allclose(loaded.predict(windows.X), prediction, rtol=1e-4, atol=1e-5)
