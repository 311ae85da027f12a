import numpy as np
import pandas as pd
import pytest

from skyield.preprocessing import make_family_windows, make_windows


@pytest.fixture
def panel():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2000-01-31", periods=40, freq="ME")
    return pd.DataFrame(rng.normal(size=(40, 3)).cumsum(axis=0),
                        index=dates, columns=["3M", "2Y", "10Y"])


def test_targets_are_the_raw_values_at_origin_plus_h(panel):
    windows = make_windows(panel, window=5, horizons=[1, 3, 6])
    assert windows.X.shape == (40 - 4 - 6, 5, 3)
    assert windows.y.shape == (30, 3, 3)
    for i in (0, 7, 29):
        origin = panel.index.get_loc(windows.origins[i])
        np.testing.assert_array_equal(windows.X[i], panel.to_numpy()[origin - 4: origin + 1])
        for j, h in enumerate((1, 3, 6)):
            np.testing.assert_array_equal(windows.y[i, j], panel.to_numpy()[origin + h])
            assert windows.target_dates[i, j] == panel.index[origin + h]


def test_origins_are_the_last_date_of_each_window(panel):
    windows = make_windows(panel, window=5, horizons=2)
    assert windows.origins[0] == panel.index[4]
    assert windows.origins[-1] == panel.index[-3]
    np.testing.assert_array_equal(windows.X[:, -1, :], panel.loc[windows.origins].to_numpy())
    assert windows.horizons == (1, 2)


def test_maturities_are_parsed_from_columns(panel):
    assert np.allclose(make_windows(panel, 3).maturities, [0.25, 2.0, 10.0])


def test_differences_inputs_and_targets_reintegrate_to_levels(panel):
    levels = make_windows(panel, window=4, horizons=[1, 2])
    changes = make_windows(panel, window=4, horizons=[1, 2], differences=True)
    # Differences need one more level, so the first origin is one date later.
    assert changes.origins[0] == levels.origins[1]
    np.testing.assert_allclose(changes.y + changes.last_level[:, None, :], levels.y[1:])
    np.testing.assert_allclose(changes.X[0], np.diff(panel.to_numpy()[:5], axis=0))


def test_target_subset(panel):
    windows = make_windows(panel, window=3, horizons=1, targets="10Y")
    assert windows.y.shape == (37, 1, 1)
    assert windows.targets == ["10Y"]
    np.testing.assert_array_equal(windows.y[:, 0, 0], panel["10Y"].to_numpy()[3:])
    with pytest.raises(ValueError, match="target '5Y' is not a column"):
        make_windows(panel, window=3, targets="5Y")


def test_no_horizons_returns_every_window(panel):
    windows = make_windows(panel, window=10, horizons=None)
    assert windows.y is None and windows.X.shape[0] == 31
    assert windows.origins[-1] == panel.index[-1]


def test_arrays_get_positions_as_origins():
    windows = make_windows(np.arange(10.0), window=3, horizons=[1, 2])
    np.testing.assert_array_equal(windows.origins, np.arange(2, 8))
    np.testing.assert_array_equal(windows.y[:, :, 0], np.arange(2, 8)[:, None] + [1, 2])


def test_too_short_panel_names_what_is_needed(panel):
    with pytest.raises(ValueError, match="40 dates, but window=30 and horizon 12 need at least 42"):
        make_windows(panel, window=30, horizons=12)


@pytest.mark.parametrize("horizons", [0, [2, 1], [1, 1], []])
def test_bad_horizons(panel, horizons):
    with pytest.raises(ValueError, match="horizons must be"):
        make_windows(panel, window=3, horizons=horizons)


@pytest.mark.parametrize("window", [0, 2.5, True])
def test_bad_window(panel, window):
    with pytest.raises(ValueError, match="window must be a positive integer"):
        make_windows(panel, window=window)


def test_missing_values_raise_by_default(panel):
    panel.iloc[12, 1] = np.nan
    with pytest.raises(ValueError, match="date 2001-01-31, column '2Y'"):
        make_windows(panel, window=3)
    windows = make_windows(panel, window=3, missing="allow")
    assert np.isnan(windows.X).any()


def test_family_windows_are_stacked_in_time_order(panel):
    stacked = pd.concat({"USD": panel, "EUR": panel.iloc[10:] + 1.0}, names=["family", "date"])
    windows = make_family_windows(stacked, window=4, horizons=2)
    assert windows.X.shape[0] == (40 - 3 - 2) + (30 - 3 - 2)
    assert list(windows.origins) == sorted(windows.origins)
    first_eur = int(np.flatnonzero(windows.families == "EUR")[0])
    assert windows.origins[first_eur] == panel.index[13]
    # Within a date, families keep their order of first appearance.
    same_date = windows.origins == windows.origins[first_eur]
    assert list(windows.families[same_date]) == ["USD", "EUR"]
    eur = windows.families == "EUR"
    np.testing.assert_array_equal(windows.X[eur][0], panel.to_numpy()[10:14] + 1.0)


def test_family_windows_name_the_family_with_a_problem(panel):
    bad = panel.iloc[10:].copy()
    bad.iloc[5, 0] = np.nan
    stacked = pd.concat({"USD": panel, "EUR": bad}, names=["family", "date"])
    with pytest.raises(ValueError, match="family 'EUR'.*column '3M'"):
        make_family_windows(stacked, window=4)
