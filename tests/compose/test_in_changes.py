"""InChanges: any regressor on windows, fitted on the changes, forecasting levels."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skyield.compose import InChanges
from skyield.preprocessing import make_windows


@pytest.fixture
def windows():
    rng = np.random.default_rng(0)
    panel = 5.0 + rng.normal(size=(120, 3)).cumsum(axis=0)
    return make_windows(panel, window=6, horizons=[1, 3])


def test_the_regressor_sees_the_changes_and_the_forecast_is_in_levels(windows):
    model = InChanges(Ridge(alpha=0.5)).fit(windows.X, windows.y)
    changes = np.diff(windows.X, axis=1).reshape(len(windows.X), -1)
    targets = (windows.y - windows.X[:, -1:, :]).reshape(len(windows.X), -1)
    reference = Ridge(alpha=0.5).fit(changes, targets)
    expected = reference.predict(changes).reshape(windows.y.shape) + windows.X[:, -1:, :]
    np.testing.assert_allclose(model.predict(windows.X), expected, rtol=1e-10)
    assert model.residuals_.shape == windows.y.shape


@pytest.mark.parametrize("distribution", ["gaussian", "empirical"])
def test_intervals_come_from_the_training_errors_around_the_level_forecast(windows,
                                                                          distribution):
    model = InChanges(Ridge(), distribution=distribution).fit(windows.X, windows.y)
    point = model.predict(windows.X)
    quantiles = model.predict_quantiles(windows.X, [0.1, 0.5, 0.9])
    errors = model.residuals_
    if distribution == "empirical":
        offsets = np.moveaxis(np.quantile(errors, [0.1, 0.5, 0.9], axis=0), 0, -1)
    else:
        rms = np.sqrt(np.mean(errors ** 2, axis=0))
        offsets = rms[..., None] * np.array([-1.2815515655446004, 0.0, 1.2815515655446004])
    np.testing.assert_allclose(quantiles, point[..., None] + offsets[None], rtol=1e-9)
    interval = model.predict_interval(windows.X, coverage=0.8)
    np.testing.assert_allclose(interval, quantiles[..., [0, 2]], rtol=1e-9)
    # about 80% of the training targets lie inside (errors measured on them)
    inside = (windows.y >= interval[..., 0]) & (windows.y <= interval[..., 1])
    assert 0.7 < inside.mean() < 0.9


def test_a_pipeline_and_one_target(windows):
    model = InChanges(make_pipeline(StandardScaler(), Ridge()), targets=1, horizons=[1, 3])
    model.fit(windows.X, windows.y[:, :, 1])
    assert model.predict(windows.X[:4]).shape == (4, 2)
    assert model.predict_interval(windows.X[:4]).shape == (4, 2, 2)


def test_a_random_walk_of_changes_forecasts_the_last_level():
    panel = np.tile(np.arange(50.0)[:, None], (1, 2)) * [1.0, -2.0]   # constant changes
    windows = make_windows(panel, window=4, horizons=1)
    model = InChanges(Ridge(alpha=1e-8)).fit(windows.X, windows.y[:, 0])
    np.testing.assert_allclose(model.predict(windows.X), windows.y[:, 0], atol=1e-6)
