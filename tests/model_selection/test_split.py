import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate

from skyield.model_selection import (
    ExpandingWindowSplit,
    SktimeSplit,
    SlidingWindowSplit,
    gap_for_horizons,
)
from skyield.preprocessing import make_family_windows, make_windows


def _check_time_order(splits, gap=None):
    for train, test in splits:
        assert train.size and test.size
        assert train.max() < test.min()
        assert np.all(np.diff(train) == 1) and np.all(np.diff(test) == 1)
        if gap is not None:
            assert test.min() - train.max() - 1 == gap


@settings(max_examples=60, deadline=None)
@given(n=st.integers(8, 60), n_splits=st.integers(1, 5), test_size=st.integers(1, 6),
       gap=st.integers(0, 4), max_train_size=st.one_of(st.none(), st.integers(1, 10)))
def test_expanding_matches_sklearn_time_series_split(n, n_splits, test_size, gap,
                                                       max_train_size):
    # sklearn's TimeSeriesSplit is the reference: same arguments, same indices.
    if n - n_splits * test_size - gap < 1:
        with pytest.raises(ValueError, match="too few"):
            list(ExpandingWindowSplit(n_splits, test_size=test_size, gap=gap)
                 .split(np.zeros((n, 1))))
        return
    ours = list(ExpandingWindowSplit(n_splits, test_size=test_size, gap=gap,
                                     max_train_size=max_train_size).split(np.zeros((n, 1))))
    if n_splits > 1:
        reference = list(TimeSeriesSplit(n_splits, test_size=test_size, gap=gap,
                                         max_train_size=max_train_size).split(np.zeros((n, 1))))
        assert len(ours) == len(reference)
        for (a, b), (c, d) in zip(ours, reference):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    assert len(ours) == n_splits
    _check_time_order(ours, gap)
    assert all(len(test) == test_size for _, test in ours)
    assert ours[-1][1][-1] == n - 1
    if max_train_size is not None:
        assert all(len(train) <= max_train_size for train, _ in ours)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(8, 60), n_splits=st.integers(1, 5), train_size=st.integers(1, 12),
       gap=st.integers(0, 4), test_size=st.one_of(st.none(), st.integers(1, 6)))
def test_sliding_window_properties(n, n_splits, train_size, gap, test_size):
    cv = SlidingWindowSplit(n_splits, train_size=train_size, test_size=test_size, gap=gap)
    size = test_size if test_size is not None else (n - train_size - gap) // n_splits
    if size < 1 or n - n_splits * size - gap - train_size < 0:
        with pytest.raises(ValueError, match="too few"):
            list(cv.split(np.zeros((n, 1))))
        return
    splits = list(cv.split(np.zeros((n, 1))))
    assert len(splits) == n_splits == cv.get_n_splits()
    _check_time_order(splits, gap)
    assert all(len(train) == train_size for train, _ in splits)
    assert all(len(test) == size for _, test in splits)
    assert splits[-1][1][-1] == n - 1
    # Consecutive test sets, training windows moving forward by the test size.
    for (train_a, test_a), (train_b, test_b) in zip(splits, splits[1:]):
        assert test_b[0] == test_a[-1] + 1
        assert train_b[0] - train_a[0] == size


def test_sliding_default_test_size_starts_at_the_first_date():
    splits = list(SlidingWindowSplit(3, train_size=4, gap=2).split(np.zeros((21, 1))))
    assert splits[0][0][0] == 0
    assert [len(test) for _, test in splits] == [5, 5, 5]


def test_split_is_deterministic_and_ignores_values():
    rng = np.random.default_rng(0)
    cv = ExpandingWindowSplit(3, test_size=2, gap=1)
    first = list(cv.split(rng.normal(size=(12, 2))))
    second = list(cv.split(rng.normal(size=(12, 2))))
    for (a, b), (c, d) in zip(first, second):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


@pytest.mark.parametrize("cv", [
    ExpandingWindowSplit(3, test_size=2, gap=1),
    SlidingWindowSplit(3, train_size=3, test_size=2, gap=1),
])
def test_groups_split_every_family_at_the_same_date(cv):
    # Three families stacked family-major (not in date order): 10 dates each.
    dates = pd.date_range("2001-01-31", periods=10, freq="ME")
    groups = np.concatenate([dates, dates[3:], dates])
    n_rows = len(groups)
    by_date = list(cv.split(np.zeros((10, 1))))
    for (train, test), (train_dates, test_dates) in zip(
            cv.split(np.zeros((n_rows, 1)), groups=groups), by_date):
        assert set(groups[train]) == set(dates[train_dates])
        assert set(groups[test]) == set(dates[test_dates])
        np.testing.assert_array_equal(train, np.flatnonzero(np.isin(groups, dates[train_dates])))
        assert groups[train].max() < groups[test].min()
        # every row of a date falls on one side
        assert not set(groups[train]) & set(groups[test])


def test_multiindex_without_groups_is_rejected():
    index = pd.MultiIndex.from_product([["US", "EU"], pd.date_range("2000", periods=8,
                                                                      freq="MS")])
    X = pd.DataFrame(np.zeros((16, 1)), index=index)
    with pytest.raises(ValueError, match="groups"):
        list(ExpandingWindowSplit(2).split(X))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_splits": 0}, "n_splits"),
    ({"gap": -1}, "gap"),
    ({"test_size": 0}, "test_size"),
    ({"max_train_size": 0}, "max_train_size"),
    ({"n_splits": 2.5}, "n_splits"),
])
def test_invalid_parameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        list(ExpandingWindowSplit(**kwargs).split(np.zeros((20, 1))))


def test_groups_errors():
    with pytest.raises(ValueError, match="one date per row"):
        list(ExpandingWindowSplit(2).split(np.zeros((6, 1)), groups=[1, 2, 3]))
    groups = pd.to_datetime(["2000-01-01", None, "2000-02-01", "2000-03-01"])
    with pytest.raises(ValueError, match="missing value at row 1"):
        list(ExpandingWindowSplit(1, test_size=1).split(np.zeros((4, 1)), groups=groups))


def test_repr_lists_parameters():
    assert repr(SlidingWindowSplit(2, train_size=5, gap=1)) == \
        "SlidingWindowSplit(gap=1, horizons=None, n_splits=2, test_size=None,\n" \
        "          train_size=5)"


@pytest.mark.parametrize("make_cv", [
    lambda **kw: ExpandingWindowSplit(3, test_size=12, **kw),
    lambda **kw: SlidingWindowSplit(3, train_size=20, test_size=12, **kw),
])
def test_horizons_purge_training_rows_whose_targets_follow_a_test_origin(make_cv):
    # Rows are windows whose value encodes their date; a target lies h dates after it.
    panel = np.arange(100.0)[:, None]
    windows = make_windows(panel, window=3, horizons=12)
    leaky = list(make_cv().split(windows.X))
    purged = list(make_cv(horizons=12).split(windows.X, windows.y))
    assert len(leaky) == len(purged)
    for (train, test), (purged_train, purged_test) in zip(leaky, purged):
        np.testing.assert_array_equal(test, purged_test)
        # without purging, 11 training rows have targets after the first test origin
        assert (windows.target_dates[train].max(axis=1) > windows.origins[test].min()).sum() \
            == 11
        assert windows.target_dates[purged_train].max() <= windows.origins[test].min()
        # exactly those rows are dropped
        np.testing.assert_array_equal(purged_train, train[:-11] if purged_train[0] == train[0]
                                      else purged_train)
    # the horizons are purged even with a smaller gap, and an explicit larger gap wins
    train, test = next(iter(make_cv(gap=15, horizons=12).split(windows.X)))
    assert test[0] - train[-1] - 1 == 15


def test_a_multi_horizon_y_without_horizons_is_an_error():
    windows = make_windows(np.arange(60.0)[:, None], window=3, horizons=[1, 6])
    with pytest.raises(ValueError, match="y holds 2 horizons .* pass horizons="):
        list(ExpandingWindowSplit(2, test_size=6).split(windows.X, windows.y))
    # one horizon, or y not given: nothing to purge is known, no error
    list(ExpandingWindowSplit(2, test_size=6).split(windows.X, windows.y[:, :1]))
    list(ExpandingWindowSplit(2, test_size=6).split(windows.X))


def test_a_planted_future_reaches_the_fit_only_without_purging():
    """The value of each date is its position: a model that remembers its last training
    target knows how far the training data reach. Without purging it has seen the value
    five dates after the first test origin; with purging, nothing after that origin."""
    windows = make_windows(np.arange(200.0)[:, None], window=2, horizons=6)
    y = windows.y[:, -1, :]

    class LastTarget(RegressorMixin, BaseEstimator):
        def fit(self, X, y):
            self.last_target_ = float(np.asarray(y)[-1, 0])
            return self

        def predict(self, X):
            return np.full(len(X), self.last_target_)

    def reach(cv):
        train, test = next(iter(cv.split(windows.X)))
        seen = LastTarget().fit(windows.X[train], y[train]).last_target_
        return seen - windows.origins[test[0]]

    assert reach(ExpandingWindowSplit(1, test_size=20)) == 5  # the future leaks in
    assert reach(ExpandingWindowSplit(1, test_size=20, horizons=6)) == 0


# ---- sktime adapter -------------------------------------------------------------------


def _sktime_splitters():
    from sktime.split import ExpandingWindowSplitter, SingleWindowSplitter, SlidingWindowSplitter

    return [
        ExpandingWindowSplitter(fh=[1, 2, 3], initial_window=10, step_length=4),
        SlidingWindowSplitter(fh=[1, 4], window_length=6, step_length=5),
        SingleWindowSplitter(fh=[1, 2], window_length=12),
    ]


@pytest.mark.parametrize("position", range(3))
def test_sktime_adapter_gives_sktime_indices(position):
    splitter = _sktime_splitters()[position]
    dates = pd.date_range("2000-01-31", periods=30, freq="ME")
    X = pd.DataFrame(np.zeros((30, 2)), index=dates)
    expected = list(splitter.split(dates))
    cv = SktimeSplit(splitter)
    got = list(cv.split(X))
    assert len(got) == len(expected) == cv.get_n_splits(X)
    for (a, b), (c, d) in zip(got, expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    # arrays are split by position, like a RangeIndex
    for (a, b), (c, d) in zip(cv.split(np.zeros((30, 2))), expected):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_sktime_adapter_splits_unique_dates_of_groups():
    from sktime.split import ExpandingWindowSplitter

    splitter = ExpandingWindowSplitter(fh=[1, 2], initial_window=6, step_length=3)
    dates = pd.date_range("2000-01-31", periods=15, freq="ME")
    groups = np.concatenate([dates, dates])
    expected = list(splitter.split(dates))
    for (train, test), (train_dates, test_dates) in zip(
            SktimeSplit(splitter).split(np.zeros((30, 1)), groups=groups), expected):
        np.testing.assert_array_equal(train, np.flatnonzero(np.isin(groups, dates[train_dates])))
        np.testing.assert_array_equal(test, np.flatnonzero(np.isin(groups, dates[test_dates])))


def test_sktime_adapter_rejects_in_sample_tests_and_other_objects():
    from sktime.split import ExpandingWindowSplitter

    with pytest.raises(ValueError, match="not after its training set"):
        list(SktimeSplit(ExpandingWindowSplitter(fh=[-1, 1], initial_window=5))
             .split(np.zeros((12, 1))))
    with pytest.raises(TypeError, match="sktime splitter"):
        list(SktimeSplit(TimeSeriesSplit(2)).split(np.zeros((12, 1))))
    with pytest.raises(ValueError, match="needs X"):
        SktimeSplit(ExpandingWindowSplitter()).get_n_splits()


# ---- in scikit-learn's model selection --------------------------------------------------


class FlatRidge(RegressorMixin, BaseEstimator):
    """Ridge on windows flattened to one row each (a tiny window regressor)."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        self.ridge_ = Ridge(alpha=self.alpha).fit(np.asarray(X).reshape(len(X), -1), y)
        return self

    def predict(self, X):
        return self.ridge_.predict(np.asarray(X).reshape(len(X), -1))


@pytest.fixture
def windows():
    rng = np.random.default_rng(0)
    panel = rng.normal(size=(60, 3)).cumsum(axis=0)
    return make_windows(panel, window=4, horizons=[2])


def test_grid_search_with_gap_and_lagged_windows(windows):
    X = windows.X.reshape(windows.n_samples, -1)
    y = windows.y[:, 0, :]
    cv = ExpandingWindowSplit(4, test_size=6, gap=gap_for_horizons(2))
    search = GridSearchCV(Ridge(), {"alpha": [0.1, 10.0]}, cv=cv,
                          scoring="neg_mean_squared_error").fit(X, y)
    assert search.n_splits_ == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # The scores are those of Ridge fitted on each training set only.
    alpha = search.best_params_["alpha"]
    manual = [
        -np.mean((Ridge(alpha=alpha).fit(X[train], y[train]).predict(X[test]) - y[test]) ** 2)
        for train, test in cv.split(X)
    ]
    assert np.isclose(search.best_score_, np.mean(manual))
    scores = cross_validate(FlatRidge(), windows.X, y, cv=cv)
    assert len(scores["test_score"]) == 4


def test_grid_search_routes_groups_to_split_by_date():
    rng = np.random.default_rng(1)
    index = pd.MultiIndex.from_product([["US", "EU"], pd.date_range("2000-01-31", periods=40,
                                                                      freq="ME")])
    panel = pd.DataFrame(rng.normal(size=(80, 2)).cumsum(axis=0), index=index,
                         columns=["2Y", "10Y"])
    windows = make_family_windows(panel, window=3, horizons=1)
    X = windows.X.reshape(windows.n_samples, -1)
    y = windows.y[:, 0, :]
    groups = np.asarray(windows.origins)
    cv = ExpandingWindowSplit(3, test_size=5)
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y, groups=groups)
    assert search.n_splits_ == 3
    for train, test in cv.split(X, groups=groups):
        assert len(test) == 10  # 5 dates x 2 families
        assert groups[train].max() < groups[test].min()
    with config_context(enable_metadata_routing=True):
        routed = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y, groups=groups)
    assert routed.best_score_ == search.best_score_


def test_sktime_adapter_in_cross_validate(windows):
    from sktime.split import SlidingWindowSplitter

    y = windows.y[:, 0, :]
    cv = SktimeSplit(SlidingWindowSplitter(fh=[1, 2, 3], window_length=20, step_length=10))
    scores = cross_validate(FlatRidge(), windows.X, y, cv=cv)
    assert len(scores["test_score"]) == cv.get_n_splits(windows.X)
