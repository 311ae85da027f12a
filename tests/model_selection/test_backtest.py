import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skyield.base import BaseWindowRegressor
from skyield.baselines import RandomWalk
from skyield.model_selection import (
    ExpandingWindowSplit,
    SktimeSplit,
    SlidingWindowSplit,
    backtest,
    summarize,
)
from skyield.preprocessing import make_family_windows, make_windows

# Every fit, update and forecast of the recording models below, in call order
# (n_jobs=1 runs the tasks in this process, in order).
LOG = []


@pytest.fixture(autouse=True)
def _clear_log():
    LOG.clear()
    yield
    LOG.clear()


class LastValue(RegressorMixin, BaseEstimator):
    """Random walk: the last value of each window, at every horizon."""

    def fit(self, X, y):
        self.y_ndim_ = np.ndim(y)
        self.n_horizons_ = np.shape(y)[1] if self.y_ndim_ == 3 else 1
        return self

    def predict(self, X):
        last = np.asarray(X)[:, -1, :]
        if self.y_ndim_ == 3:
            return np.repeat(last[:, None, :], self.n_horizons_, axis=1)
        return last


class QuantileLastValue(LastValue):
    """Last value, with quantiles ``last + (q - 0.5)`` and bounds ``last -/+ coverage``."""

    def predict_quantiles(self, X, quantiles):
        point = self.predict(X)
        return point[..., None] + (np.asarray(quantiles) - 0.5)

    def predict_interval(self, X, coverage):
        point = self.predict(X)
        return np.stack([point - coverage, point + coverage], axis=-1)


class ZeroChange(BaseWindowRegressor):
    """Forecasts no change of the changes it models (``differences=True``), with the
    quantiles ``q - 0.5`` of that change."""

    def __init__(self, *, window=None, horizons=None, targets=None, differences=True):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.differences = differences

    def _fit(self, X, y):
        self.seen_ = (np.array(X, copy=True), np.array(y, copy=True))

    def _predict(self, X):
        return np.zeros((len(X), self.horizons_.size, self.targets_.size))

    def _predict_quantiles(self, X, levels):
        return self._predict(X)[..., None] + (levels - 0.5)


class FlatRidge(RegressorMixin, BaseEstimator):
    """Ridge on windows flattened to one row each."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        self.shape_ = np.shape(y)[1:]
        self.ridge_ = Ridge(alpha=self.alpha).fit(np.asarray(X).reshape(len(X), -1),
                                                  np.reshape(y, (len(y), -1)))
        return self

    def predict(self, X):
        flat = self.ridge_.predict(np.asarray(X).reshape(len(X), -1))
        return flat.reshape((len(X),) + self.shape_)


class Recorder(RegressorMixin, BaseEstimator):
    """Records every array it is fitted on; forecasts the training mean of each target."""

    def fit(self, X, y, families=None):
        LOG.append(("fit", np.array(X, copy=True), np.array(y, copy=True), families))
        self.mean_ = np.mean(y, axis=0)
        return self

    def predict(self, X, families=None):
        LOG.append(("predict", len(X), families))
        return np.broadcast_to(self.mean_, (len(X),) + self.mean_.shape).copy()


class MeanModel(BaseEstimator):
    """Sequence model: forecasts the mean of every observation seen so far."""

    def fit(self, Y):
        LOG.append(("fit", Y.index.copy(), Y.to_numpy().copy()))
        self.sum_ = Y.to_numpy().sum(axis=0)
        self.count_ = len(Y)
        self.last_ = Y.index[-1]
        return self

    def update(self, Y):
        assert Y.index[0] > self.last_
        LOG.append(("update", Y.index.copy(), Y.to_numpy().copy()))
        self.sum_ = self.sum_ + Y.to_numpy().sum(axis=0)
        self.count_ += len(Y)
        self.last_ = Y.index[-1]
        return self

    def forecast(self, steps, quantiles=None, coverage=None):
        point = np.tile(self.sum_ / self.count_, (steps, 1))
        if quantiles is not None:
            return point[..., None] + np.asarray(quantiles)
        if coverage is not None:
            return np.stack([point - coverage, point + coverage], axis=-1)
        LOG.append(("forecast", self.last_))
        return point


@pytest.fixture
def panel():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2000-01-31", periods=40, freq="ME")
    return pd.DataFrame(rng.normal(size=(40, 3)).cumsum(axis=0), index=dates,
                        columns=["3M", "2Y", "10Y"])


@pytest.fixture
def families(panel):
    us = panel
    eu = panel.iloc[6:] * 0.5 + 1.0  # a family that starts six months later
    return pd.concat({"US": us, "EU": eu}, names=["family", "date"])


def _split_positions(splitter, n_dates):
    return list(splitter.split(np.zeros((n_dates, 1))))


# ---- alignment ----------------------------------------------------------------------


def test_random_walk_alignment_and_horizons(panel):
    splitter = ExpandingWindowSplit(3, test_size=4, gap=1)
    results = backtest(LastValue(), panel, splitter, window=3, horizons=[1, 3])
    position = {date: i for i, date in enumerate(panel.index)}
    expected_rows = 0
    for number, (train, test) in enumerate(_split_positions(splitter, len(panel))):
        part = results[results["split"] == number]
        # the last date has no target: it is no origin
        assert set(part["origin"]) == set(panel.index[test[test < len(panel) - 1]])
        for h in (1, 3):
            origins = [o for o in test if o + h < len(panel)]
            assert set(part.loc[part["horizon"] == h, "origin"]) == set(panel.index[origins])
            expected_rows += len(origins) * 3
        assert (part["train_end"] == panel.index[train[-1]]).all()
    assert len(results) == expected_rows
    for row in results.itertuples():
        o = position[row.origin]
        assert row.target_date == panel.index[o + row.horizon]
        assert row.actual == panel.loc[row.target_date, row.series]
        assert row.forecast == panel.loc[row.origin, row.series]
        assert row.error == row.forecast - row.actual
    assert list(results.columns) == ["origin", "horizon", "target_date", "series", "split",
                                     "forecast", "actual", "error", "train_end", "fit_time"]


def test_rows_are_sorted_by_split_origin_horizon_series(panel):
    results = backtest(Recorder(), panel, ExpandingWindowSplit(2, test_size=3),
                       window=2, horizons=2, targets=["10Y", "3M"])
    keys = list(zip(results["split"], results["origin"], results["horizon"]))
    assert keys == sorted(keys)
    assert results["series"].tolist()[:2] == ["10Y", "3M"]
    assert results.index.equals(pd.RangeIndex(len(results)))


def test_ridge_forecasts_equal_a_ridge_fitted_on_the_training_windows(panel):
    splitter = SlidingWindowSplit(2, train_size=20, test_size=5, gap=0)
    results = backtest(FlatRidge(alpha=0.5), panel, splitter, window=4, horizons=2,
                       targets="2Y")
    windows = make_windows(panel, window=4, horizons=2, targets="2Y")
    everything = make_windows(panel, window=4, horizons=None)
    for number, (train, test) in enumerate(_split_positions(splitter, len(panel))):
        # sliding training span: windows start on or after its first date, targets end
        # on or before its last
        start = np.asarray([panel.index.get_loc(o) - 3 for o in windows.origins])
        inside = (start >= train[0]) & \
            (windows.target_dates.max(axis=1) <= panel.index[train[-1]])
        model = Ridge(alpha=0.5).fit(windows.X[inside].reshape(inside.sum(), -1),
                                     windows.y[inside].reshape(inside.sum(), -1))
        for origin in panel.index[test]:
            x = everything.X[everything.origins.get_loc(origin)].reshape(1, -1)
            expected = model.predict(x).reshape(2)
            got = results[(results["split"] == number) & (results["origin"] == origin)]
            np.testing.assert_allclose(got.sort_values("horizon")["forecast"].to_numpy(),
                                       expected[:len(got)], rtol=1e-10)


def test_sklearn_splitters_and_pipelines_work_as_they_are(panel):
    splitter = TimeSeriesSplit(3, test_size=4)
    model = make_pipeline(FunctionTransformer(lambda X: X.reshape(len(X), -1)), Ridge())
    ours = backtest(model, panel, ExpandingWindowSplit(3, test_size=4), window=3,
                    targets="10Y")
    theirs = backtest(model, panel, splitter, window=3, targets="10Y")
    pd.testing.assert_frame_equal(ours.drop(columns="fit_time"),
                                  theirs.drop(columns="fit_time"))
    windows = make_windows(panel, window=3, horizons=1, targets="10Y")
    train = windows.target_dates[:, 0] <= panel.index[27]
    reference = Ridge().fit(windows.X[train].reshape(train.sum(), -1), windows.y[train, 0, 0])
    first = windows.origins.get_loc(panel.index[28])
    assert np.isclose(ours["forecast"].iloc[0],
                      reference.predict(windows.X[first].reshape(1, -1))[0])


def test_a_model_of_changes_is_fitted_on_changes_and_forecasts_levels(panel):
    splitter = ExpandingWindowSplit(2, test_size=5)
    results, fits = backtest(ZeroChange(), panel, splitter, window=3, horizons=[1, 2],
                             return_estimators=True)
    for row in results.itertuples():
        assert row.forecast == panel.loc[row.origin, row.series]
        assert row.actual == panel.loc[row.target_date, row.series]
    # the model saw the window's 2 first differences and the changes since its last date
    X, y = fits[0]["estimator"].seen_
    windows = make_windows(panel.loc[:fits[0]["train_end"]], window=3, horizons=[1, 2],
                           differences=True)
    np.testing.assert_allclose(X, windows.X)
    np.testing.assert_allclose(y, windows.y)


def test_quantile_and_interval_columns(panel):
    results = backtest(QuantileLastValue(), panel, ExpandingWindowSplit(2, test_size=4),
                       window=2, horizons=[1, 2], quantiles=[0.1, 0.9], coverage=0.8)
    assert {"q0.1", "q0.9", "lower", "upper"} <= set(results.columns)
    np.testing.assert_allclose(results["q0.1"], results["forecast"] - 0.4)
    np.testing.assert_allclose(results["q0.9"], results["forecast"] + 0.4)
    np.testing.assert_allclose(results["lower"], results["forecast"] - 0.8)
    np.testing.assert_allclose(results["upper"], results["forecast"] + 0.8)


def test_quantiles_of_changes_are_shifted_by_the_origin_level(panel):
    results = backtest(ZeroChange(), panel, ExpandingWindowSplit(1, test_size=5),
                       window=3, horizons=2, quantiles=[0.25], coverage=0.5)
    levels = np.asarray([panel.loc[o, s] for o, s in zip(results["origin"], results["series"])])
    np.testing.assert_allclose(results["q0.25"], levels - 0.25)
    np.testing.assert_allclose(results["lower"], levels - 0.25)
    np.testing.assert_allclose(results["upper"], levels + 0.25)


def test_return_estimators_gives_every_fit_with_its_training_span(panel):
    splitter = ExpandingWindowSplit(3, test_size=4, gap=1)
    results, fits = backtest(RandomWalk(), panel, splitter, window=3, return_estimators=True)
    ends = sorted(results["train_end"].unique())
    assert [fit["train_end"] for fit in fits] == list(ends)
    assert all(fit["train_start"] == panel.index[0] for fit in fits)
    assert all(isinstance(fit["estimator"], RandomWalk) for fit in fits)
    assert all(fit["estimator"].horizons_.tolist() == [1] for fit in fits)
    _, sequence_fits = backtest(MeanModel(), panel, splitter, return_estimators=True)
    assert len(sequence_fits) == 3
    for fit in sequence_fits:
        model = fit["estimator"][None]
        # the model as fitted, not as moved on by the updates
        assert model.last_ == fit["train_end"]


def test_requested_quantiles_need_the_method(panel):
    with pytest.raises(TypeError, match="LastValue has no predict_quantiles"):
        backtest(LastValue(), panel, ExpandingWindowSplit(2), window=2,
                 quantiles=[0.5])
    with pytest.raises(TypeError, match="NoInterval.forecast takes no coverage= argument"):
        class NoInterval(MeanModel):
            def forecast(self, steps):
                return super().forecast(steps)
        backtest(NoInterval(), panel, test_start=0.8, coverage=0.9)


def test_wrong_prediction_shape_is_named(panel):
    class Flat(LastValue):
        def predict(self, X):
            return np.zeros((len(X), 7))

    with pytest.raises(ValueError, match=r"Flat.predict returned shape \(\d+, 7\)"):
        backtest(Flat(), panel, ExpandingWindowSplit(2, test_size=3), window=2)


# ---- origins and targets --------------------------------------------------------------


def test_default_split_at_a_date_or_a_fraction(panel):
    by_date = backtest(LastValue(), panel, window=2, test_start="2002-06-15")
    assert by_date["origin"].min() == pd.Timestamp("2002-06-30")
    assert (by_date["train_end"] == pd.Timestamp("2002-05-31")).all()
    by_fraction = backtest(LastValue(), panel, window=2, test_start=0.75)
    assert by_fraction["origin"].min() == panel.index[30]
    assert by_fraction["split"].eq(0).all()


def test_target_evaluation_uses_the_same_targets_at_every_horizon(panel):
    results = backtest(LastValue(), panel, window=2, horizons=[1, 3, 6],
                       test_start=panel.index[30], evaluate_on="target")
    for h in (1, 3, 6):
        part = results[results["horizon"] == h]
        assert set(part["target_date"]) == set(panel.index[30:])
        steps = [panel.index.get_loc(t) - panel.index.get_loc(o)
                 for o, t in zip(part["origin"], part["target_date"])]
        assert set(steps) == {h}
    # the training span ends at the earliest origin, max(horizons) dates before the test
    assert (results["train_end"] == panel.index[24]).all()
    assert results["origin"].min() == panel.index[24]
    origin_based = backtest(LastValue(), panel, window=2, horizons=[1, 3, 6],
                            test_start=panel.index[30])
    assert origin_based["origin"].min() == panel.index[30]


def test_target_evaluation_needs_a_gap_of_the_longest_horizon(panel):
    with pytest.raises(ValueError, match="gap of at least max.horizons. - 1 = 2"):
        backtest(LastValue(), panel, ExpandingWindowSplit(2, test_size=5, gap=1),
                 window=2, horizons=3, evaluate_on="target")
    results = backtest(LastValue(), panel, ExpandingWindowSplit(2, test_size=5, gap=2),
                       window=2, horizons=3, evaluate_on="target")
    assert (results["origin"] >= results["train_end"]).all()


# ---- refit ------------------------------------------------------------------------------


def _fits():
    return [entry for entry in LOG if entry[0] == "fit"]


def test_refit_false_fits_once_on_the_first_training_span(panel):
    splitter = ExpandingWindowSplit(3, test_size=4)
    results = backtest(Recorder(), panel, splitter, window=2, refit=False)
    assert len(_fits()) == 1
    first_train = _split_positions(splitter, len(panel))[0][0]
    assert (results["train_end"] == panel.index[first_train[-1]]).all()
    assert results["split"].nunique() == 3
    # the single fit saw nothing after the first training span: its targets end there
    np.testing.assert_array_equal(_fits()[0][2][-1], panel.iloc[first_train[-1]].to_numpy())


def test_refit_every_k_test_dates(panel):
    splitter = ExpandingWindowSplit(2, test_size=5, gap=1)
    results = backtest(Recorder(), panel, splitter, window=2, refit=2)
    # blocks of 2, 2 and 1 test dates per split; the very last block holds only the last
    # date, which has no target, so it is not fitted
    assert len(_fits()) == 2 * 3 - 1
    for number, (train, test) in enumerate(_split_positions(splitter, len(panel))):
        part = results[results["split"] == number]
        for block in (test[0:2], test[2:4], test[4:5]):
            if block[0] == len(panel) - 1:
                continue
            ends = part.loc[part["origin"].isin(panel.index[block]), "train_end"].unique()
            # trained up to the split's gap of 1 date before the block
            assert list(ends) == [panel.index[block[0] - 2]]


def test_refit_true_fits_once_per_split(panel):
    backtest(Recorder(), panel, ExpandingWindowSplit(4, test_size=3), window=2, refit=True)
    assert len(_fits()) == 4


def test_sequence_refit_every_k_test_dates(panel):
    splitter = ExpandingWindowSplit(1, test_size=10, gap=1)
    results = backtest(MeanModel(), panel, splitter, horizons=1, refit=4)
    fits = _fits()
    assert len(fits) == 3  # blocks of 4, 4 and 2 test dates
    train, test = _split_positions(splitter, len(panel))[0]
    assert [index[-1] for _, index, _ in fits] == \
        [panel.index[train[-1]], panel.index[test[4] - 2], panel.index[test[8] - 2]]
    # refitting does not change what a mean of everything up to the origin is
    for row in results.itertuples():
        assert np.isclose(row.forecast, panel.loc[:row.origin, row.series].mean())


# ---- leakage ----------------------------------------------------------------------------


def _position_panel(n_dates=36):
    # Each value encodes its own date position (and column), so recorded arrays can be
    # traced back to the dates they came from.
    dates = pd.date_range("2001-01-31", periods=n_dates, freq="ME")
    values = np.arange(n_dates)[:, None] + 1000.0 * np.arange(2)[None, :]
    return pd.DataFrame(values, index=dates, columns=["1Y", "5Y"])


@pytest.mark.parametrize("splitter", [
    ExpandingWindowSplit(3, test_size=5, gap=0),
    SlidingWindowSplit(3, train_size=12, test_size=4, gap=2),
])
@pytest.mark.parametrize("refit", [True, 3])
def test_window_fits_see_only_training_dates(splitter, refit):
    panel = _position_panel()
    results = backtest(Recorder(), panel, splitter, window=3, horizons=[1, 4], refit=refit)
    fits = _fits()
    # one fit per (split, training end), in that order
    groups = list(results.groupby(["split", "train_end"], sort=True)["origin"])
    assert len(fits) == len(groups)
    splits = _split_positions(splitter, len(panel))
    for (_, X, y, _), ((number, end), origins) in zip(fits, groups):
        train, test = splits[number]
        end_position = panel.index.get_loc(end)
        if refit is True:
            assert end_position == train[-1]
        seen = np.concatenate([X[..., 0].ravel(), y[..., 0].ravel()])
        np.testing.assert_array_equal(X[..., 1] - X[..., 0], 1000.0)
        assert seen.max() <= end_position  # no input or target after the training end
        assert seen.min() >= train[0]  # nor before the training start
        assert y[..., 0].max() == end_position  # every training date up to the end is used
        # the split's gap lies between the training end and every origin forecast with it
        gap = test[0] - train[-1] - 1
        first_origin = min(panel.index.get_loc(o) for o in origins)
        assert first_origin - end_position - 1 >= gap


@pytest.mark.parametrize("kind", ["window", "sequence"])
def test_perturbing_test_values_leaves_every_fit_bit_identical(panel, kind):
    splitter = ExpandingWindowSplit(3, test_size=5, gap=1)
    model = Recorder() if kind == "window" else MeanModel()
    kwargs = {"window": 3, "horizons": [1, 2]} if kind == "window" else {"horizons": 2}
    backtest(model, panel, splitter, **kwargs)
    reference = _fits()
    assert len(reference) == 3
    rng = np.random.default_rng(5)
    for number, (train, _) in enumerate(_split_positions(splitter, len(panel))):
        perturbed = panel.copy()
        after = np.arange(train[-1] + 1, len(panel))
        perturbed.iloc[after] = rng.normal(size=(len(after), 3)) * 100
        LOG.clear()
        backtest(model, perturbed, splitter, **kwargs)
        fits = _fits()
        for k in range(len(fits)):
            same = all(np.array_equal(np.asarray(a), np.asarray(b))
                       for a, b in zip(reference[k][1:3], fits[k][1:3]))
            # this split's fit and every earlier one see exactly the same bits; later
            # splits train on the perturbed dates, which shows the check can fail
            assert same == (k <= number)


def test_sequence_model_is_updated_up_to_each_origin_and_never_beyond(panel):
    splitter = SlidingWindowSplit(2, train_size=15, test_size=6, gap=2)
    results = backtest(MeanModel(), panel, splitter, horizons=3, targets=["2Y"])
    splits = _split_positions(splitter, len(panel))
    forecasts = [entry[1] for entry in LOG if entry[0] == "forecast"]
    origins = results.drop_duplicates(["split", "origin"])["origin"].tolist()
    assert forecasts == origins  # each forecast made with the origin as last date seen
    fits = [entry for entry in LOG if entry[0] == "fit"]
    for (_, index, _), (train, test) in zip(fits, splits):
        assert index.equals(panel.index[train])
    updates = [entry for entry in LOG if entry[0] in ("update", "forecast")]
    for kind, *rest in updates:
        if kind == "update":
            assert rest[0].max() in set(results["origin"])
    # the mean of every value from the training start through the origin
    for row in results.itertuples():
        train = splits[row.split][0]
        span = panel.loc[panel.index[train[0]]:row.origin, row.series]
        assert np.isclose(row.forecast, span.mean(), rtol=1e-12)
        assert row.actual == panel.loc[row.target_date, row.series]


def test_sequence_quantiles_and_refit_false(panel):
    results = backtest(MeanModel(), panel, ExpandingWindowSplit(2, test_size=5), horizons=2,
                       refit=False, quantiles=[0.05, 0.5], coverage=0.5)
    assert len(_fits()) == 1
    np.testing.assert_allclose(results["q0.05"], results["forecast"] + 0.05)
    np.testing.assert_allclose(results["upper"] - results["lower"], 1.0)
    for row in results.itertuples():
        assert np.isclose(row.forecast, panel.loc[:row.origin, row.series].mean())


# ---- several families ------------------------------------------------------------------


def test_families_are_split_by_date_and_forecast_at_the_same_origins(families):
    splitter = ExpandingWindowSplit(2, test_size=5)
    results = backtest(LastValue(), families, splitter, window=3, horizons=[1, 2])
    assert list(results.columns[:6]) == ["origin", "horizon", "target_date", "series",
                                         "family", "split"]
    for family in ("US", "EU"):
        frame = families.xs(family, level=0)
        part = results[results["family"] == family]
        for row in part.itertuples():
            assert row.forecast == frame.loc[row.origin, row.series]
            assert row.actual == frame.loc[row.target_date, row.series]
    by_family = results.groupby("family")
    assert by_family["origin"].apply(set)["US"] == by_family["origin"].apply(set)["EU"]
    assert results.groupby("split")["train_end"].nunique().eq(1).all()


def test_families_are_passed_to_window_models_that_accept_them(families):
    splitter = ExpandingWindowSplit(2, test_size=5)
    backtest(Recorder(), families, splitter, window=3)
    fit = _fits()[0]
    labels = fit[3]
    assert set(labels) == {"US", "EU"} and len(labels) == len(fit[1])
    # EU enters six months later, so the first windows are all US
    assert list(labels[:6]) == ["US"] * 6
    # the same windows, in the same order, as make_family_windows cut from the training span
    train_end = families.xs("US", level=0).index[_split_positions(splitter, 40)[0][0][-1]]
    windows = make_family_windows(families, window=3, horizons=1)
    inside = windows.target_dates[:, 0] <= train_end
    np.testing.assert_array_equal(fit[1], windows.X[inside])
    np.testing.assert_array_equal(fit[2], windows.y[inside, 0, :])
    np.testing.assert_array_equal(labels, windows.families[inside])
    predictions = [entry for entry in LOG if entry[0] == "predict"]
    assert all(len(entry[2]) == entry[1] for entry in predictions)


def test_families_must_be_the_first_index_level(families):
    with pytest.raises(ValueError, match=r"\(family, date\)"):
        backtest(LastValue(), families.swaplevel().sort_index(), window=2,
                 test_start=0.5)


def test_sequence_models_get_one_clone_per_family(families):
    results = backtest(MeanModel(), families, ExpandingWindowSplit(2, test_size=5))
    assert len(_fits()) == 4
    for row in results.itertuples():
        frame = families.xs(row.family, level=0)
        assert np.isclose(row.forecast, frame.loc[:row.origin, row.series].mean())


# ---- splitters from sktime -------------------------------------------------------------


def test_sktime_splitters_are_accepted_directly(panel):
    from sktime.split import ExpandingWindowSplitter

    splitter = ExpandingWindowSplitter(fh=[1, 2, 3], initial_window=20, step_length=6)
    direct = backtest(LastValue(), panel, splitter, window=2, horizons=2)
    wrapped = backtest(LastValue(), panel, SktimeSplit(splitter), window=2, horizons=2)
    pd.testing.assert_frame_equal(direct.drop(columns="fit_time"),
                                  wrapped.drop(columns="fit_time"))
    for number, (train, test) in enumerate(splitter.split(panel.index)):
        part = direct[direct["split"] == number]
        assert set(part["origin"]) == set(panel.index[test])
        assert (part["train_end"] == panel.index[train[-1]]).all()


# ---- parallel ---------------------------------------------------------------------------


def test_parallel_results_equal_sequential(panel, families):
    splitter = ExpandingWindowSplit(3, test_size=4)
    for model, data, kwargs in [
        (FlatRidge(), families, {"window": 3, "horizons": [1, 2], "refit": 2}),
        (MeanModel(), panel, {"horizons": 2, "quantiles": [0.5]}),
    ]:
        one = backtest(model, data, splitter, n_jobs=1, **kwargs)
        two = backtest(model, data, splitter, n_jobs=2, **kwargs)
        pd.testing.assert_frame_equal(one.drop(columns="fit_time"),
                                      two.drop(columns="fit_time"))


# ---- errors -----------------------------------------------------------------------------


def test_clear_errors(panel):
    with pytest.raises(ValueError, match="need window="):
        backtest(LastValue(), panel, test_start=0.8)
    with pytest.raises(ValueError, match="pass a splitter, or test_start"):
        backtest(LastValue(), panel, window=2)
    with pytest.raises(ValueError, match="cannot be used together"):
        backtest(LastValue(), panel, ExpandingWindowSplit(2), window=2, test_start=0.5)
    with pytest.raises(ValueError, match="after the last date"):
        backtest(LastValue(), panel, window=2, test_start="2030-01-01")
    with pytest.raises(ValueError, match="refit"):
        backtest(LastValue(), panel, window=2, test_start=0.5, refit=0)
    with pytest.raises(ValueError, match="quantiles"):
        backtest(QuantileLastValue(), panel, window=2, test_start=0.5, quantiles=[0.9, 0.1])
    with pytest.raises(TypeError, match="neither a window regressor"):
        backtest(object(), panel, test_start=0.5)
    with pytest.raises(ValueError, match="target 'nope' is not a column"):
        backtest(LastValue(), panel, window=2, test_start=0.5, targets="nope")
    missing = panel.copy()
    missing.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match="2000-04-30, column '2Y'"):
        backtest(LastValue(), missing, window=2, test_start=0.5)


def test_a_splitter_that_trains_after_testing_is_rejected(panel):
    class Backwards:
        def split(self, X, y=None, groups=None):
            yield np.arange(20, 30), np.arange(5, 10)

    with pytest.raises(ValueError, match="training must precede testing"):
        backtest(LastValue(), panel, Backwards(), window=2)


def test_too_short_history_for_the_window_is_named(panel):
    with pytest.raises(ValueError, match="holds no window of 12 dates"):
        backtest(LastValue(), panel, window=12, horizons=3, test_start=panel.index[12])


# ---- summarize --------------------------------------------------------------------------


def test_summarize_by_hand():
    results = pd.DataFrame({
        "horizon": [1, 1, 2, 2], "series": ["a", "b", "a", "b"],
        "error": [1.0, -3.0, 2.0, 2.0], "actual": [0.0, 0.0, 0.0, 5.0],
        "lower": [-1.0, -1.0, 1.0, 1.0], "upper": [1.0, 1.0, 2.0, 6.0],
    })
    summary = summarize(results)
    assert summary.loc[1, "n"] == 2
    assert np.isclose(summary.loc[1, "rmse"], np.sqrt(5.0))
    assert np.isclose(summary.loc[1, "mae"], 2.0)
    assert np.isclose(summary.loc[1, "mean_error"], -1.0)
    assert summary.loc[1, "coverage"] == 1.0 and summary.loc[2, "coverage"] == 0.5
    overall = summarize(results, by=())
    assert overall.index.tolist() == ["all"] and np.isclose(overall["mae"].iloc[0], 2.0)
    assert summarize(results, by=["horizon", "series"]).shape[0] == 4
    with pytest.raises(ValueError, match="no error"):
        summarize(results.assign(error=[1.0, np.nan, 0.0, 0.0]))


class _HorizonAware(RegressorMixin, BaseEstimator):
    """Forecasts origin value + h for each horizon h it was told its targets hold."""

    def __init__(self, horizons=None):
        self.horizons = horizons

    def fit(self, X, y):
        self.steps_ = np.arange(1, np.asarray(y).shape[1] + 1) if self.horizons is None \
            else np.asarray(self.horizons)
        return self

    def predict(self, X):
        last = np.asarray(X)[:, -1, :]
        return last[:, None, :] + self.steps_[None, :, None]


def test_window_models_are_told_which_horizons_their_targets_hold():
    panel = pd.DataFrame({"a": np.zeros(40)}, index=pd.date_range("2000-01-31", periods=40,
                                                                   freq="ME"))
    results = backtest(_HorizonAware(), panel, window=3, horizons=[1, 6, 12], test_start=0.5)
    for horizon, rows in results.groupby("horizon"):
        assert np.allclose(rows["forecast"], horizon)
    with pytest.raises(ValueError, match=r"horizons=\[1, 2\]\) does not match"):
        backtest(_HorizonAware(horizons=[1, 2]), panel, window=3, horizons=[1, 6],
                 test_start=0.5)


@pytest.mark.parametrize("model, refit, calls", [
    (LastValue(), 5, 1 + 4),       # 20 test dates in refit blocks of 5
    (LastValue(), False, 1 + 1),   # one fit, one prediction task
    (MeanModel(), 5, 1 + 4),
    (MeanModel(), False, 1 + 1),
])
def test_progress_counts_origins_task_by_task_without_changing_results(panel, model, refit,
                                                                        calls):
    seen = []
    kwargs = dict(window=3, horizons=[1, 2], refit=refit, test_start=panel.index[-21])
    with_progress = backtest(model, panel, **kwargs,
                             progress=lambda done, total: seen.append((done, total)))
    n_origins = with_progress["origin"].nunique()
    assert len(seen) == calls
    assert seen[0] == (0, n_origins)
    assert seen[-1] == (n_origins, n_origins)
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))
    pd.testing.assert_frame_equal(with_progress.drop(columns="fit_time"),
                                  backtest(model, panel, **kwargs).drop(columns="fit_time"))


def test_progress_must_be_callable(panel):
    with pytest.raises(TypeError, match="progress must be callable"):
        backtest(LastValue(), panel, window=3, test_start=0.8, progress="bar")
