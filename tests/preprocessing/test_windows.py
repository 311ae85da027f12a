import numpy as np
import pandas as pd
import pytest

from skyield.baselines import WeightedRollingRegression
from skyield.preprocessing import PanelWindows, make_family_windows, make_windows


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
    # The window - 1 differences inside each window of levels: the same origins.
    assert changes.origins.equals(levels.origins)
    np.testing.assert_array_equal(changes.target_dates, levels.target_dates)
    assert changes.X.shape == (levels.X.shape[0], 3, 3)
    np.testing.assert_allclose(changes.X, np.diff(levels.X, axis=1))
    np.testing.assert_allclose(changes.X[0], np.diff(panel.to_numpy()[:4], axis=0))
    np.testing.assert_allclose(changes.last_level, levels.X[:, -1, :])
    np.testing.assert_allclose(changes.y + changes.last_level[:, None, :], levels.y)
    with pytest.raises(ValueError, match="differences=True needs windows of at least 2 dates"):
        make_windows(panel, window=1, differences=True)


def test_differences_are_what_a_model_with_differences_sees(panel):
    # A model with differences=True takes the windows in levels and works on the changes
    # that make_windows(differences=True) returns; its forecast adds the last level back.
    levels = make_windows(panel, window=12, horizons=[1, 2], targets="10Y")
    changes = make_windows(panel, window=12, horizons=[1, 2], targets="10Y", differences=True)

    class Spy(WeightedRollingRegression):
        def _fit(self, X, y):
            self.seen_ = (X, y)
            super()._fit(X, y)

    spy = Spy(targets=2, differences=True).fit(levels.X, levels.y)
    np.testing.assert_allclose(spy.seen_[0], changes.X)
    np.testing.assert_allclose(spy.seen_[1], changes.y)
    forecast_change = spy.predict(levels.X) - changes.last_level[:, None, :]
    np.testing.assert_allclose(spy.residuals_, changes.y - forecast_change, atol=1e-10)


def test_family_windows_in_differences(panel):
    stacked = pd.concat({"USD": panel, "EUR": panel.iloc[10:] + 1.0}, names=["family", "date"])
    levels = make_family_windows(stacked, window=4, horizons=2)
    changes = make_family_windows(stacked, window=4, horizons=2, differences=True)
    np.testing.assert_array_equal(changes.families, levels.families)
    assert changes.origins.equals(levels.origins)
    np.testing.assert_allclose(changes.X, np.diff(levels.X, axis=1))
    np.testing.assert_allclose(changes.y + changes.last_level[:, None, :], levels.y)


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


def test_panel_windows_cut_once_and_hand_out_training_spans(panel):
    cut = PanelWindows(panel, 5, [1, 3])
    every = cut.training()
    reference = make_windows(panel, window=5, horizons=[1, 3])
    np.testing.assert_array_equal(every.X, reference.X)
    np.testing.assert_array_equal(every.y, reference.y)
    assert every.origins.equals(reference.origins)
    # A training span of the first 20 dates: only windows whose inputs and targets lie
    # on it (the last origin is 3 dates before its end).
    span = cut.training(np.arange(20))
    assert span.origins[0] == panel.index[4] and span.origins[-1] == panel.index[16]
    assert span.target_dates.max() == panel.index[19]
    # A span with a hole: no window crosses it.
    holed = cut.training(np.r_[np.arange(15), np.arange(16, 40)])
    first_rows = panel.index.get_indexer(holed.origins) - 4
    last_rows = panel.index.get_indexer(holed.origins) + 3
    assert not np.any((first_rows <= 15) & (last_rows >= 15))
    assert cut.training(np.arange(6)) is None


def test_panel_windows_at_origins_and_last(panel):
    cut = PanelWindows(panel, 5)
    X, families = cut.at_origins([np.array([4, 10])])
    assert families is None
    np.testing.assert_array_equal(X[1], panel.to_numpy()[6:11])
    last, _ = cut.last()
    np.testing.assert_array_equal(last[0], panel.to_numpy()[-5:])
    with pytest.raises(ValueError, match="origin 2000-03-31 has 3 dates of history but a "
                                         "window needs 5"):
        cut.at_origins([np.array([2])])
    with pytest.raises(ValueError, match="5 dates seen, but a forecast needs the last 6"):
        PanelWindows(panel.iloc[:5], 6).last()


def test_panel_windows_of_families(panel):
    stacked = pd.concat({"USD": panel, "EUR": panel.iloc[10:] + 1.0}, names=["family", "date"])
    cut = PanelWindows(stacked, 3, 1)
    assert cut.multi and cut.labels == ["USD", "EUR"] and len(cut.dates) == 40
    last, families = cut.last()
    assert list(families) == ["USD", "EUR"]
    np.testing.assert_array_equal(last[1], panel.to_numpy()[-3:] + 1.0)
    with pytest.raises(ValueError, match="use data.swaplevel\\(\\).sort_index\\(\\)"):
        PanelWindows(stacked.swaplevel().sort_index(), 3)
    with pytest.raises(ValueError, match="MultiIndex: use make_family_windows"):
        make_windows(stacked, window=3)
