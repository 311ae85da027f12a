import numpy as np
import pandas as pd
import pytest

from skyield.scenarios import ScenarioCube


def _cube():
    # values[p, h, j] = 100 p + 10 h + j: every cell tells where it came from.
    p, h, j = np.meshgrid(np.arange(5), np.arange(2), np.arange(3), indexing="ij")
    dates = pd.date_range("2024-01-31", periods=2, freq="ME", name="date")
    return ScenarioCube(100.0 * p + 10 * h + j, dates=dates, maturities=[1.0, 5.0, 10.0])


def test_shape_and_labels():
    cube = _cube()
    assert cube.shape == (5, 2, 3)
    assert (cube.n_paths, cube.n_horizons, cube.n_maturities) == (5, 2, 3)
    assert cube.dates.name == "date"
    assert cube.maturities.tolist() == [1.0, 5.0, 10.0]
    assert cube.maturities.name == "maturity"


def test_default_labels_are_horizon_numbers():
    cube = ScenarioCube(np.zeros((2, 3, 4)))
    assert cube.dates.tolist() == [1, 2, 3]
    assert cube.dates.name == "horizon"
    assert cube.maturities.tolist() == [1, 2, 3, 4]


def test_to_frame_is_tidy_and_ordered():
    cube = _cube()
    frame = cube.to_frame()
    assert frame.columns.tolist() == ["path", "date", "maturity", "value"]
    assert len(frame) == 5 * 2 * 3
    row = frame.iloc[3 * 6 + 1 * 3 + 2]  # path 3, second date, third maturity
    assert row["path"] == 3
    assert row["date"] == pd.Timestamp("2024-02-29")
    assert row["maturity"] == 10.0
    assert row["value"] == 300 + 10 + 2


def test_quantile_mean_and_std():
    cube = _cube()
    median = cube.quantile(0.5)
    assert median.shape == (2, 3)
    assert median.index.equals(cube.dates)
    # Paths contribute 0, 100, ..., 400: median 200, mean 200.
    assert median.loc[pd.Timestamp("2024-02-29"), 5.0] == 200 + 10 + 1
    assert np.allclose(cube.mean().to_numpy(), 200 + np.array([[0, 1, 2], [10, 11, 12]]))
    assert np.allclose(cube.std().to_numpy(), np.std([0, 100, 200, 300, 400], ddof=1))
    stacked = cube.quantile([0.0, 1.0])
    assert stacked.index.names == ["quantile", "date"]
    assert stacked.loc[(1.0, pd.Timestamp("2024-01-31")), 1.0] == 400


def test_values_are_frozen_copies():
    source = np.zeros((2, 2, 2))
    cube = ScenarioCube(source)
    source[0, 0, 0] = 7.0
    assert cube.values[0, 0, 0] == 0.0
    with pytest.raises(ValueError):
        cube.values[0, 0, 0] = 1.0
    with pytest.raises(AttributeError):
        cube.values = np.ones((2, 2, 2))
    array = np.asarray(cube)
    assert array.shape == (2, 2, 2)
    assert np.asarray(cube, dtype=np.float32).dtype == np.float32


def test_bad_input_errors():
    with pytest.raises(ValueError, match="n_paths, n_horizons, n_maturities"):
        ScenarioCube(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="maturities has 2 labels"):
        ScenarioCube(np.zeros((2, 3, 4)), maturities=[1, 2])
    with pytest.raises(ValueError, match="dates has 1 labels"):
        ScenarioCube(np.zeros((2, 3, 4)), dates=["a"])
    with pytest.raises(ValueError, match="levels in"):
        ScenarioCube(np.zeros((2, 3, 4))).quantile(1.5)
