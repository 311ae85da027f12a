import pickle

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skyield.models import LSTMRegressor
from skyield.nn import LSTMCell
from skyield.preprocessing import make_windows

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
TINY = dict(units=4, epochs=2, batch_size=16, random_state=0)


@pytest.fixture(scope="module")
def windows():
    rng = np.random.RandomState(0)
    panel = 3.0 + 0.1 * rng.normal(size=(60, 3)).cumsum(axis=0)
    return make_windows(panel, window=8, horizons=4, targets=[2])


def test_shapes_and_layouts(windows):
    X, y = windows.X, windows.y
    n = X.shape[0]
    model = LSTMRegressor(num_layers=2, **TINY).fit(X, y)
    assert model.predict(X).shape == (n, 4, 1)
    assert model.fit(X, y[:, 0, 0]).predict(X).shape == (n,)
    stepped = LSTMRegressor(horizons=4, **TINY).fit(X, y[:, :, 0])
    assert stepped.predict(X).shape == (n, 4)
    assert list(stepped.horizons_) == [1, 2, 3, 4] and stepped.target_mean_.shape == (1, 4, 1)
    assert not hasattr(model, "get_attention")


def test_stacked_layers_parameter_count(windows):
    model = LSTMRegressor(units=5, num_layers=2, epochs=1, random_state=0)
    model.fit(windows.X, windows.y)
    units, n_series, n_outputs = 5, 3, 4
    expected = (4 * units * (n_series + units) + 8 * units) \
        + (4 * units * (units + units) + 8 * units) + (units * n_outputs + n_outputs)
    assert sum(p.numel() for p in model.net_.module_.parameters()) == expected


def test_network_follows_the_cell_equations(windows):
    # The fitted network's LSTM is the project's cell run over the window.
    model = LSTMRegressor(units=3, epochs=1, random_state=0, standardize=False)
    model.fit(windows.X, windows.y)
    module = model.net_.module_.eval()
    cell = LSTMCell(3, 3)
    weight_ih, weight_hh, bias_ih, bias_hh = module.encoder.layer_weights(0)
    cell.load_state_dict({"weight_ih": weight_ih, "weight_hh": weight_hh,
                          "bias_ih": bias_ih, "bias_hh": bias_hh})
    x = torch.as_tensor(windows.X[:5], dtype=torch.float32)
    state = None
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
    expected = module.output(state[0]).view(5, 4, 1)
    torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-6)


def test_reproducible_with_random_state(windows):
    first = LSTMRegressor(**TINY).fit(windows.X, windows.y).predict(windows.X)
    second = LSTMRegressor(**TINY).fit(windows.X, windows.y).predict(windows.X)
    np.testing.assert_array_equal(first, second)


def test_differences_restore_levels(windows):
    model = LSTMRegressor(differences=True, targets=2, **TINY).fit(windows.X, windows.y)
    np.testing.assert_allclose(model.predict(windows.X + 2.0),
                               model.predict(windows.X) + 2.0, atol=1e-4)


def test_bad_num_layers(windows):
    with pytest.raises(ValueError, match=r"num_layers must be an integer in \[1, inf\), got 0"):
        LSTMRegressor(num_layers=0).fit(windows.X, windows.y)


def test_pickle_and_grid_search(windows):
    model = LSTMRegressor(**TINY).fit(windows.X, windows.y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(windows.X), model.predict(windows.X))
    X2 = windows.X.reshape(windows.n_samples, -1)
    pipe = make_pipeline(StandardScaler(), LSTMRegressor(window=8, **TINY))
    search = GridSearchCV(pipe, {"lstmregressor__num_layers": [1, 2]},
                          cv=TimeSeriesSplit(n_splits=2), scoring="neg_mean_squared_error")
    search.fit(X2, windows.y[:, 0, 0])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_two_dimensional_x_needs_window(windows):
    X2 = windows.X.reshape(windows.n_samples, -1)        # rows: 8 dates x 3 series
    y = windows.y[:, 0, 0]
    with pytest.raises(ValueError, match="needs window="):
        LSTMRegressor(**TINY).fit(X2, y)
    flat = LSTMRegressor(window=8, **TINY).fit(X2, y)
    assert flat.window_ == 8 and flat.n_series_in_ == 3
    np.testing.assert_array_equal(flat.predict(X2),
                                  LSTMRegressor(**TINY).fit(windows.X, y).predict(windows.X))
    # window="row": each row is the window of one series.
    row = LSTMRegressor(window="row", **TINY).fit(X2, y)
    assert row.window_ == 24 and row.n_series_in_ == 1


@pytest.mark.gpu
@cuda
def test_cuda_fit(windows):
    model = LSTMRegressor(device="cuda", **TINY).fit(windows.X, windows.y)
    assert next(model.net_.module_.parameters()).is_cuda
    assert np.isfinite(model.predict(windows.X)).all()
