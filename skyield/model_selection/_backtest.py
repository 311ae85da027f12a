"""Rolling-origin backtest: every model forecast from the same origins for the same targets.

The panel layer of skyield (see the package design): it takes a panel of dates x series,
or several families as a (family, date) MultiIndex, and drives either kind of estimator.
Window regressors are fitted on windows cut from the training span and predict from the
window ending at each origin; sequence models are fitted on the training span's panel and
then updated with the observations up to each origin before forecasting. Written here
because sktime's ``evaluate`` knows only sktime forecasters and neither builds windows for
sklearn regressors nor splits stacked families by date.

Conventions
-----------
* **Dates are split, not rows.** The splitter splits the sorted dates of the panel (the
  union of every family's dates), so every family is cut at the same date.
* **Origin and target.** The origin of a forecast is the last date whose value it may use;
  its target at horizon ``h`` is the ``h``-th date after the origin (in the rows of the
  series' own panel or family). With ``evaluate_on="origin"`` (default) the test dates of
  a split are its origins, and each origin is forecast at every horizon whose target lies
  inside the panel (a target may lie beyond the test span). With ``evaluate_on="target"``
  the test dates are the targets, as in Diebold and Li (2006): a test date ``t`` is
  forecast at horizon ``h`` from origin ``t - h``. At long horizons the two sets of
  forecasts differ a lot; the results hold both dates.
* **Nothing after the origin, nothing from the test span in a fit.** A fit uses only its
  training dates: a window regressor gets the windows whose inputs and targets all lie
  in the training span; a sequence model gets the training span's panel. Every origin is
  on or after the last training date of the fit that forecasts from it; with
  ``evaluate_on="target"`` this needs ``gap >= max(horizons) - 1`` in the splitter (see
  :func:`gap_for_horizons`), which the default split sets itself.
"""

import copy
import inspect
import numbers
import time
import warnings

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from skyield.base import accepts_families, estimator_kind
from skyield.model_selection._split import SktimeSplit, _is_sktime_splitter
from skyield.preprocessing import PanelWindows
from skyield.utils import (
    UnitsWarning,
    check_coverage,
    check_horizons,
    check_increasing_levels,
    check_window,
)

__all__ = ["backtest", "summarize"]

EVALUATE_ON = ("origin", "target")


def _check_quantiles(quantiles):
    if quantiles is None:
        return None
    return tuple(float(q) for q in check_increasing_levels(quantiles))


def _check_coverage(coverage):
    return None if coverage is None else check_coverage(coverage)


def _check_refit(refit):
    if isinstance(refit, (bool, np.bool_)):
        return bool(refit)
    if isinstance(refit, (numbers.Integral, np.integer)) and refit >= 1:
        return int(refit)
    raise ValueError(f"refit must be True, False or a positive integer, got {refit!r}")


def _require_method(estimator, method, what):
    if not callable(getattr(estimator, method, None)):
        raise TypeError(f"{what} were requested but {type(estimator).__name__} has no {method}")


def _require_forecast_option(estimator, option, what):
    try:
        takes = option in inspect.signature(estimator.forecast).parameters
    except (TypeError, ValueError):
        takes = False
    if not takes:
        raise TypeError(
            f"{what} were requested but {type(estimator).__name__}.forecast takes no "
            f"{option}= argument"
        )


def _test_start_position(test_start, dates):
    n_dates = len(dates)
    if isinstance(test_start, float) and 0 < test_start < 1:
        return int(round(test_start * n_dates))
    if isinstance(dates, pd.DatetimeIndex):
        if isinstance(test_start, (numbers.Number, np.number)):
            raise ValueError(
                f"test_start must be a date or a fraction in (0, 1), got {test_start!r}"
            )
        test_start = pd.Timestamp(test_start)
    return int(dates.searchsorted(test_start, side="left"))


def _default_split(dates, test_start, gap):
    if test_start is None:
        raise ValueError(
            "pass a splitter, or test_start (a date or a fraction of the dates in (0, 1)) "
            "for a single split"
        )
    start = _test_start_position(test_start, dates)
    if start >= len(dates):
        raise ValueError(f"test_start={test_start!r} is after the last date {dates[-1]!r}")
    if start - gap < 1:
        raise ValueError(
            f"test_start={test_start!r} leaves no training dates before the first test date "
            f"{dates[start]!r} (gap of {gap} dates)"
        )
    return [(np.arange(start - gap), np.arange(start, len(dates)))]


def _resolve_splits(splitter, dates, test_start, gap):
    if splitter is None:
        return _default_split(dates, test_start, gap)
    if test_start is not None:
        raise ValueError("test_start sets the default single split; it cannot be used "
                         "together with a splitter")
    if _is_sktime_splitter(splitter):
        splitter = SktimeSplit(splitter)
    if not callable(getattr(splitter, "split", None)):
        raise TypeError(
            f"splitter must be a scikit-learn CV object or an sktime splitter, got "
            f"{type(splitter).__name__}"
        )
    n_dates = len(dates)
    stand_in = pd.DataFrame({"date_position": np.arange(n_dates)}, index=dates)
    splits = []
    for number, (train, test) in enumerate(splitter.split(stand_in)):
        parts = []
        for name, indices in (("training", train), ("test", test)):
            indices = np.asarray(indices)
            if indices.size == 0:
                raise ValueError(f"split {number} has an empty {name} set")
            if indices.dtype.kind not in "iu" or indices.min() < 0 or \
                    indices.max() >= n_dates:
                raise ValueError(
                    f"split {number}: {name} indices must be integer positions in "
                    f"0 .. {n_dates - 1} of the dates"
                )
            parts.append(np.unique(indices))
        train, test = parts
        if train[-1] >= test[0]:
            raise ValueError(
                f"split {number} trains on {dates[train[-1]]!r}, not before its first test "
                f"date {dates[test[0]]!r}: training must precede testing"
            )
        splits.append((train, test))
    if not splits:
        raise ValueError("the splitter made no split of the dates")
    return splits


def _plan(splits, refit):
    """Training spans of the fits and the (split, fit, test dates) of every task."""
    fits, tasks = [], []
    for number, (train, test) in enumerate(splits):
        if refit is False:
            if number == 0:
                fits.append(train)
            tasks.append((number, 0, test))
            continue
        size = len(test) if refit is True else refit
        gap = test[0] - train[-1] - 1
        for start in range(0, len(test), size):
            block = test[start:start + size]
            if start:
                # Later blocks extend the training span up to `gap` dates before them,
                # keeping its first date: the extension precedes every test date of the block.
                train = np.union1d(train, np.arange(train[-1] + 1, block[0] - gap))
            fits.append(train)
            tasks.append((number, len(fits) - 1, block))
    return fits, tasks


def _requests(family, test, horizons, evaluate_on, train_end, dates):
    """Origin rows and horizon indices this family is forecast at for a task."""
    rows = family.index.get_indexer(dates[test])
    rows = rows[rows >= 0]
    n_horizons = len(horizons)
    steps = np.asarray(horizons)
    index = np.tile(np.arange(n_horizons), len(rows))
    if evaluate_on == "origin":
        origins = np.repeat(rows, n_horizons)
        keep = origins + steps[index] < len(family)
        return origins[keep], index[keep]
    targets = np.repeat(rows, n_horizons)
    origins = targets - steps[index]
    late = (origins < 0) | (family.positions[np.maximum(origins, 0)] < train_end)
    if late.any():
        first = int(np.flatnonzero(late)[0])
        raise ValueError(
            f"{family.prefix()}with evaluate_on='target', target "
            f"{family.show(targets[first])} at horizon {steps[index[first]]} would be "
            f"forecast from an origin before the end of its training span "
            f"({_show(dates[train_end])}); leave a gap of at least max(horizons) - 1 = "
            f"{max(horizons) - 1} dates between training and test (gap_for_horizons)"
        )
    return origins, index


def _show(value):
    value = pd.Timestamp(value) if isinstance(value, np.datetime64) else value
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def _as_shape(values, expected, name, owner, optional_axes):
    """``values`` as an array of shape ``expected``; singleton axes in ``optional_axes``
    may be missing."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape == expected:
        return values
    for axes in optional_axes:
        if all(expected[a] == 1 for a in axes):
            squeezed = tuple(d for a, d in enumerate(expected) if a not in axes)
            if values.shape == squeezed:
                return values.reshape(expected)
    raise ValueError(
        f"{owner}.{name} returned shape {values.shape}; the backtest expected {expected}"
    )


# ---- window regressors -------------------------------------------------------------------


def _target_layout(y):
    # (n,) for one target at one horizon, as single-output sklearn regressors expect.
    if y.shape[1] == 1:
        return y[:, 0, 0] if y.shape[2] == 1 else y[:, 0, :]
    return y


def _fit_window(estimator, X, y, families):
    model = clone(estimator)
    kwargs = {"families": families} if families is not None and \
        accepts_families(model.fit) else {}
    start = time.perf_counter()
    model.fit(X, _target_layout(y), **kwargs)
    return model, time.perf_counter() - start


def _window_task(estimator, fitted, train_set, X, families, shape, quantiles, coverage):
    if fitted is None:
        model, fit_time = _fit_window(estimator, *train_set)
    else:
        model, fit_time = fitted
    owner = type(model).__name__

    def call(method, name, extra, optional, **params):
        if families is not None and accepts_families(method):
            params["families"] = families
        return _as_shape(method(X, **params), shape + extra, name, owner, optional)

    # Axes 1 (one horizon) and 2 (one target) may be left out by the estimator.
    point = call(model.predict, "predict", (), [(1,), (1, 2)])
    quantile_values = interval_values = None
    if quantiles is not None:
        quantile_values = call(model.predict_quantiles, "predict_quantiles",
                               (len(quantiles),), [(1,), (1, 2)], quantiles=list(quantiles))
    if coverage is not None:
        interval_values = call(model.predict_interval, "predict_interval", (2,),
                               [(1,), (1, 2)], coverage=coverage)
    return point, quantile_values, interval_values, fit_time, model


# ---- sequence models ---------------------------------------------------------------------


def _training_rows(family, train, split):
    rows = np.flatnonzero(np.isin(family.positions, train))
    if rows.size == 0:
        raise ValueError(f"{family.prefix()}no date in the training span of split {split}")
    if np.any(np.diff(rows) != 1):
        raise ValueError(
            f"{family.prefix()}the training dates of split {split} are not consecutive rows; "
            f"a sequence model is fitted on one contiguous span"
        )
    return rows


def _fit_sequence(estimator, frame):
    model = clone(estimator)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # The units of the panel were checked once, when the backtest took it.
        warnings.simplefilter("ignore", UnitsWarning)
        model.fit(frame)
    return model, time.perf_counter() - start


def _sequence_task(estimator, fitted, frame, n_train, origins, horizons, target_cols,
                   quantiles, coverage, keep):
    """Fit on ``frame[:n_train]`` (or copy ``fitted``), then update and forecast at each
    origin; ``origins`` are rows of ``frame``, increasing, none before ``n_train - 1``.
    ``keep``: also return the fitted model as it was before the updates."""
    if fitted is None:
        model, fit_time = _fit_sequence(estimator, frame.iloc[:n_train])
    else:
        model, fit_time = fitted
    kept = model if keep else None
    model = copy.deepcopy(model) if (keep or fitted is not None) else model
    owner = type(model).__name__
    steps = int(horizons[-1])
    n_series = frame.shape[1]
    pick = np.asarray(horizons) - 1
    last = n_train - 1
    point, quantile_values, interval_values = [], [], []
    for origin in origins:
        if origin > last:
            model.update(frame.iloc[last + 1:origin + 1])
            last = origin
        values = _as_shape(model.forecast(steps), (steps, n_series), "forecast", owner, [(1,)])
        point.append(values[pick][:, target_cols])
        if quantiles is not None:
            values = _as_shape(model.forecast(steps, quantiles=list(quantiles)),
                               (steps, n_series, len(quantiles)),
                               "forecast(quantiles=...)", owner, [(1,)])
            quantile_values.append(values[pick][:, target_cols])
        if coverage is not None:
            values = _as_shape(model.forecast(steps, coverage=coverage),
                               (steps, n_series, 2), "forecast(coverage=...)", owner, [(1,)])
            interval_values.append(values[pick][:, target_cols])
    return (np.stack(point), np.stack(quantile_values) if quantiles is not None else None,
            np.stack(interval_values) if coverage is not None else None, fit_time, kept)


# ---- the backtest ------------------------------------------------------------------------


def backtest(estimator, data, splitter=None, *, window=None, horizons=1, refit=True,
             quantiles=None, coverage=None, targets=None, n_jobs=None, test_start=None,
             evaluate_on="origin", missing="raise", progress=None, return_estimators=False):
    """Rolling-origin evaluation of a window regressor or a sequence model on a panel.

    The splitter splits the panel's dates into training and test dates. For each split
    a fresh clone of ``estimator`` is fitted on the training dates only, and forecasts
    are made from the test dates (``evaluate_on="origin"``) or for them
    (``evaluate_on="target"``), at every horizon, for every target series (and family).

    * Window regressors (:class:`skyield.base.BaseWindowRegressor`, or any scikit-learn
      regressor): fitted on the windows of ``window`` dates whose inputs and targets all
      lie on training dates, with ``X`` of shape (n_windows, window, n_series) and ``y``
      of shape (n_windows,) for one target at one horizon, (n_windows, n_targets) for one
      horizon or (n_windows, n_horizons, n_targets) for several; they predict from the
      window ending at each origin, in the layout ``y`` had. A model with a ``horizons``
      parameter is told the backtest's horizons. A plain scikit-learn regressor needs a
      step that flattens the windows first, e.g.
      ``make_pipeline(FunctionTransformer(lambda X: X.reshape(len(X), -1)), Ridge())``.
      On a multi-family panel the windows of all families are stacked in date order and
      ``families=`` (one label per window) is passed to ``fit``, ``predict``,
      ``predict_quantiles`` and ``predict_interval`` when their signature has that
      parameter.
    * Sequence models (:class:`skyield.base.BaseSequenceModel`, or any estimator with
      ``fit(Y)``, ``update(Y)`` and ``forecast(steps)``): fitted on the DataFrame of the
      training dates, then at each origin (in increasing order) updated with the
      observations after the last date seen, up to and including the origin, never
      beyond, and asked for ``forecast(max(horizons))`` (with ``quantiles=`` or
      ``coverage=`` for the distribution). On a multi-family panel each family gets its
      own clone.

    Parameters
    ----------
    estimator : estimator instance
        The model to evaluate; it is cloned, never fitted in place.
    data : DataFrame of shape (n_dates, n_series) or array-like
        A panel (dates as a sorted index, one column per series), or a panel of several
        families indexed by a (family, date) MultiIndex on a shared grid of columns. Each
        family is forecast at the split dates that are among its own dates. Horizons
        count rows of the series' own panel, so the dates must be evenly spaced: a gap
        is an error (see :func:`skyield.utils.check_dates`), or, for models that handle
        missing values, rows of missing values (``missing="allow"`` on a panel from
        :func:`skyield.preprocessing.insert_missing_dates`). Yields that look like
        decimals get a :class:`skyield.utils.UnitsWarning`.
    splitter : CV object, sktime splitter or None, default=None
        Splits the dates: a scikit-learn CV object (``split(X)`` yielding training and
        test positions, e.g. :class:`ExpandingWindowSplit`) or an sktime splitter
        (wrapped in :class:`SktimeSplit`). Every training set must precede its test set.
        None makes one split at ``test_start``.
    window : int, default=None
        Window length for window regressors (required for them). Sequence models build
        what history they need themselves and ignore it.
    horizons : int or sequence of int, default=1
        Forecast horizons in steps (rows): ``h`` means ``1 .. h``; a sequence gives them
        explicitly, e.g. ``[1, 6, 12]``.
    refit : bool or int, default=True
        True fits a clone for every split. An int ``k`` also refits every ``k`` test dates
        inside a split, each refit training on the split's training span extended up to
        ``gap`` dates before its first test date (the split's own gap). False fits once,
        on the first split's training span, and later only predicts (window regressors)
        or updates and forecasts (sequence models): the parameters then never see a date
        after that span, and each forecast still uses nothing after its origin.
    quantiles : sequence of float, default=None
        Quantile levels in (0, 1), strictly increasing; adds columns ``q<level>`` (e.g.
        ``q0.025``) from ``predict_quantiles(X, quantiles=...)`` or
        ``forecast(steps, quantiles=...)``.
    coverage : float, default=None
        Central interval coverage in (0, 1); adds columns ``lower`` and ``upper`` from
        ``predict_interval(X, coverage=...)`` or ``forecast(steps, coverage=...)``.
    targets : label or list of labels, default=None
        Columns to forecast and report; all columns by default. Window regressors use
        every column as input.
    n_jobs : int, default=None
        Fits and forecasts of different tasks (one per split, or per refit block) run in
        parallel through joblib; a Dask or Ray joblib backend (``parallel_config``) scales
        them out. Results do not depend on ``n_jobs`` (except ``fit_time``).
    test_start : date, label or float, default=None
        For ``splitter=None``: the first test date (the first date on or after it), or a
        fraction in (0, 1) of the dates that go to training. With
        ``evaluate_on="target"`` the training span ends ``max(horizons)`` dates before it.
    evaluate_on : {"origin", "target"}, default="origin"
        Whether the test dates are forecast origins or forecast targets; see Notes.
    missing : {"raise", "allow"}, default="raise"
        "allow" keeps NaN in the panel for models that handle it; the actual (and the
        error) of a missing target is then NaN.
    progress : callable, default=None
        Called as ``progress(done, total)``, where ``done`` counts the forecast origins
        (over all families) whose forecasts are made and ``total`` all of them: once with
        ``done=0`` before the first fit, then each time a fit-and-forecast task ends, in
        task order. For progress bars; it does not change the results.
    return_estimators : bool, default=False
        Also return the fitted models (as sktime's ``evaluate(return_model=True)``).

    Returns
    -------
    results : DataFrame
        One row per (split, origin, horizon, family, series), sorted in that order
        (families in order of first appearance, series in column order), with columns
        ``origin``, ``horizon``, ``target_date``, ``series`` (the column label),
        ``family`` (multi-family panels only), ``split``, ``forecast``, ``actual`` (the
        panel's value at the target date), ``error`` (``forecast - actual``), the
        quantile columns, ``lower`` and ``upper`` when requested, ``train_end`` (last
        training date of the fit that made the forecast) and ``fit_time`` (seconds of
        that fit).
    fits : list of dict
        Only with ``return_estimators=True``: one entry per fit, in order of its training
        end, with ``train_start`` and ``train_end`` (dates) and ``estimator`` (the fitted
        window regressor, or for sequence models a dict ``{family: model}``, key None
        without families, each as fitted, before any update).

    See Also
    --------
    summarize : RMSE and MAE of the results per group.
    gap_for_horizons : the gap that keeps multi-step targets out of a test span.

    Notes
    -----
    With ``evaluate_on="origin"`` every test date is an origin and targets may lie after
    the test span, so the target set differs across horizons. With
    ``evaluate_on="target"`` every horizon is evaluated on the same targets (the test
    dates), as Diebold and Li (2006) do; the origins ``t - h`` then reach back before the
    test span, and every one of them must be on or after the last training date: the
    splitter's gap must be at least ``max(horizons) - 1``.

    References
    ----------
    .. [1] F. X. Diebold and C. Li, "Forecasting the term structure of government bond
       yields", Journal of Econometrics 130 (2006), 337-364.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skyield.baselines import RandomWalk
    >>> from skyield.model_selection import ExpandingWindowSplit, backtest, summarize
    >>> rng = np.random.default_rng(0)
    >>> panel = pd.DataFrame(rng.normal(size=(40, 2)).cumsum(axis=0), columns=["2Y", "10Y"],
    ...                      index=pd.date_range("2000-01-31", periods=40, freq="ME"))
    >>> results = backtest(RandomWalk(), panel, ExpandingWindowSplit(3, test_size=5),
    ...                    window=3)
    >>> results[["origin", "target_date", "series", "split"]].head(2)
          origin target_date series  split
    0 2002-02-28  2002-03-31     2Y      0
    1 2002-02-28  2002-03-31    10Y      0
    >>> bool(results["forecast"].iloc[0] == panel["2Y"].iloc[25])
    True
    >>> summarize(results).columns.tolist()
    ['n', 'rmse', 'mae', 'mean_error']
    """
    kind = estimator_kind(estimator)
    if evaluate_on not in EVALUATE_ON:
        raise ValueError(f"evaluate_on must be one of {EVALUATE_ON}, got {evaluate_on!r}")
    horizons = check_horizons(horizons)
    if not horizons:
        raise ValueError("horizons must hold at least one horizon")
    refit = _check_refit(refit)
    quantiles = _check_quantiles(quantiles)
    coverage = _check_coverage(coverage)
    if kind == "sequence":
        if quantiles is not None:
            _require_forecast_option(estimator, "quantiles", "quantiles")
        if coverage is not None:
            _require_forecast_option(estimator, "coverage", "intervals (coverage)")
    else:
        if quantiles is not None:
            _require_method(estimator, "predict_quantiles", "quantiles")
        if coverage is not None:
            _require_method(estimator, "predict_interval", "intervals (coverage)")
        if window is None:
            raise ValueError("window regressors need window=, the number of dates per window")
        window = check_window(window)

    cut = PanelWindows(data, window if kind == "window" else 1, horizons, targets=targets,
                       missing=missing)
    cut.check_units()
    families, dates, multi, target_cols = cut.families, cut.dates, cut.multi, cut.target_cols
    gap = max(horizons) - 1 if evaluate_on == "target" else 0
    splits = _resolve_splits(splitter, dates, test_start, gap)
    fits, tasks = _plan(splits, refit)

    requests = []
    for number, fit, test in tasks:
        train_end = fits[fit][-1]
        requests.append([_requests(family, test, horizons, evaluate_on, train_end, dates)
                         for family in families])
        for family, (origins, _) in zip(families, requests[-1]):
            early = origins.size and family.positions[origins.min()] < train_end
            if early:
                raise ValueError(
                    f"{family.prefix()}split {number} forecasts from "
                    f"{family.show(origins.min())}, before the end of the training "
                    f"span it is forecast with ({_show(dates[train_end])})"
                )
    # A task without any forecast (its test dates have no target inside the panel) is
    # not run, so no model is fitted for it.
    busy = [i for i, per_task in enumerate(requests) if any(o.size for o, _ in per_task)]
    if not busy:
        raise ValueError("no forecast can be made: no test date has a target inside the panel")
    tasks = [tasks[i] for i in busy]
    requests = [requests[i] for i in busy]
    origins = [[np.unique(o) for o, _ in per_task] for per_task in requests]

    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}")
    tracker = _Progress(progress, sum(o.size for per_task in origins for o in per_task))
    if kind == "window":
        outputs, fitted = _run_windows(estimator, cut, fits, tasks, origins, horizons, refit,
                                       quantiles, coverage, n_jobs, tracker,
                                       return_estimators)
    else:
        outputs, fitted = _run_sequences(estimator, families, fits, tasks, origins, horizons,
                                         target_cols, refit, quantiles, coverage, n_jobs,
                                         tracker, return_estimators)
    results = _assemble(families, dates, fits, tasks, requests, origins, outputs, horizons,
                        target_cols, cut.columns, quantiles, coverage, multi)
    if not return_estimators:
        return results
    return results, [{"train_start": dates[fits[fit][0]], "train_end": dates[fits[fit][-1]],
                      "estimator": model} for fit, model in sorted(fitted.items())]


class _Progress:
    """Counts finished forecast origins for the ``progress`` callback of ``backtest``."""

    def __init__(self, callback, total):
        self.callback = callback
        self.total = int(total)
        self.done = 0
        self._report()

    def _report(self):
        if self.callback is not None:
            self.callback(self.done, self.total)

    def collect(self, jobs, sizes, n_jobs):
        """Run joblib ``jobs``, advancing by ``sizes[i]`` origins as job ``i`` ends."""
        if self.callback is None:
            return Parallel(n_jobs=n_jobs)(jobs)
        results = []
        for result, size in zip(Parallel(n_jobs=n_jobs, return_as="generator")(jobs), sizes):
            results.append(result)
            self.done += int(size)
            self._report()
        return results


def _with_horizons(estimator, horizons):
    """Tell a window model with a ``horizons`` parameter which steps its targets hold."""
    params = estimator.get_params(deep=False)
    if "horizons" not in params:
        return estimator
    if params["horizons"] is None:
        return clone(estimator).set_params(horizons=list(horizons))
    if list(check_horizons(params["horizons"])) != list(horizons):
        raise ValueError(
            f"{type(estimator).__name__}(horizons={params['horizons']!r}) does not match the "
            f"backtest's horizons {list(horizons)}; leave horizons=None or make them equal"
        )
    return estimator


def _run_windows(estimator, cut, fits, tasks, origins, horizons, refit, quantiles, coverage,
                 n_jobs, tracker, keep):
    estimator = _with_horizons(estimator, horizons)
    dates = cut.dates

    def train_set(fit):
        windows = cut.training(fits[fit])
        if windows is None:
            raise ValueError(
                f"the training span {_show(dates[fits[fit][0]])} .. "
                f"{_show(dates[fits[fit][-1]])} holds no window of {cut.window} dates whose "
                f"targets up to horizon {max(horizons)} are training dates too"
            )
        return windows.X, windows.y, windows.families

    fitted = _fit_window(estimator, *train_set(0)) if refit is False else None
    jobs = []
    for (number, fit, test), task_origins in zip(tasks, origins):
        X, labels = cut.at_origins(task_origins)
        shape = (X.shape[0], len(horizons), len(cut.target_cols))
        jobs.append(delayed(_window_task)(
            estimator, fitted, None if fitted is not None else train_set(fit), X, labels,
            shape, quantiles, coverage,
        ))
    sizes = [sum(len(o) for o in task_origins) for task_origins in origins]
    results = tracker.collect(jobs, sizes, n_jobs)
    outputs, models = [], {}
    for (number, fit, test), task_origins, (point, q, interval, fit_time, model) in zip(
            tasks, origins, results):
        if keep:
            models.setdefault(fit, model)
        per_family, start = [], 0
        for family_origins in task_origins:
            stop = start + len(family_origins)
            per_family.append((point[start:stop],
                               None if q is None else q[start:stop],
                               None if interval is None else interval[start:stop],
                               fit_time))
            start = stop
        outputs.append(per_family)
    return outputs, models


def _run_sequences(estimator, families, fits, tasks, origins, horizons, target_cols, refit,
                   quantiles, coverage, n_jobs, tracker, keep):
    fitted = {}
    if refit is False:
        for family in families:
            rows = _training_rows(family, fits[0], 0)
            fitted[family.rank] = (*_fit_sequence(estimator, family.frame.iloc[rows]),
                                   rows)
    jobs, slots, sizes = [], [], []
    for task_number, ((number, fit, test), task_origins) in enumerate(zip(tasks, origins)):
        for family, family_origins in zip(families, task_origins):
            if family_origins.size == 0:
                continue
            if refit is False:
                model, fit_time, rows = fitted[family.rank]
                state = (model, fit_time)
            else:
                rows = _training_rows(family, fits[fit], number)
                state = None
            first = rows[0]
            frame = family.frame.iloc[first:family_origins[-1] + 1]
            jobs.append(delayed(_sequence_task)(
                estimator, state, frame, len(rows), family_origins - first, horizons,
                target_cols, quantiles, coverage, keep,
            ))
            slots.append((task_number, family.rank, fit, family.label))
            sizes.append(family_origins.size)
    outcomes = tracker.collect(jobs, sizes, n_jobs)
    results = {slot[:2]: outcome[:4] for slot, outcome in zip(slots, outcomes)}
    models = {}
    if keep:
        for (_, _, fit, label), outcome in zip(slots, outcomes):
            models.setdefault(fit, {}).setdefault(label, outcome[4])
    outputs = [[results.get((task_number, family.rank)) for family in families]
               for task_number in range(len(tasks))]
    return outputs, models


def _assemble(families, dates, fits, tasks, requests, origins, outputs, horizons,
              target_cols, columns, quantiles, coverage, multi):
    steps = np.asarray(horizons)
    n_targets = len(target_cols)
    pieces = []
    for (number, fit, test), per_task, task_origins, task_outputs in zip(
            tasks, requests, origins, outputs):
        for family, (rows, index), unique, output in zip(
                families, per_task, task_origins, task_outputs):
            if rows.size == 0:
                continue
            point, q, interval, fit_time = output
            at = np.searchsorted(unique, rows)
            levels = family.values[:, target_cols]
            target_rows = rows + steps[index]
            family_dates = np.asarray(family.index)
            piece = {
                "_position": np.repeat(family.positions[rows], n_targets),
                "_rank": np.full(len(rows) * n_targets, family.rank),
                "_series": np.tile(np.arange(n_targets), len(rows)),
                "origin": np.repeat(family_dates[rows], n_targets),
                "horizon": np.repeat(steps[index], n_targets),
                "target_date": np.repeat(family_dates[target_rows], n_targets),
                "series": np.tile(np.asarray([columns[c] for c in target_cols], dtype=object),
                                  len(rows)),
            }
            if multi:
                piece["family"] = np.full(len(rows) * n_targets, family.label, dtype=object)
            forecast = point[at, index].ravel()
            actual = levels[target_rows].ravel()
            piece.update(split=np.full(forecast.size, number), forecast=forecast,
                         actual=actual, error=forecast - actual)
            if quantiles is not None:
                values = q[at, index]
                for k, level in enumerate(quantiles):
                    piece[f"q{level!r}"] = values[:, :, k].ravel()
            if coverage is not None:
                values = interval[at, index]
                piece["lower"] = values[:, :, 0].ravel()
                piece["upper"] = values[:, :, 1].ravel()
            piece["train_end"] = np.full(forecast.size, np.asarray(dates)[fits[fit][-1]])
            piece["fit_time"] = np.full(forecast.size, float(fit_time))
            pieces.append(pd.DataFrame(piece))
    results = pd.concat(pieces, ignore_index=True)
    order = np.lexsort((results["_series"], results["_rank"], results["horizon"],
                        results["_position"], results["split"]))
    results = results.iloc[order].drop(columns=["_position", "_rank", "_series"])
    return results.reset_index(drop=True)


def summarize(results, by=("horizon",)):
    """Root mean squared and mean absolute error of backtest results per group.

    Parameters
    ----------
    results : DataFrame
        The output of :func:`backtest` (columns ``error`` and those in ``by``; ``actual``,
        ``lower`` and ``upper`` for the interval coverage).
    by : str or sequence of str, default=("horizon",)
        Columns to group by, e.g. ``("horizon", "series")``; empty for one overall row.

    Returns
    -------
    summary : DataFrame
        One row per group (sorted), with columns ``n`` (forecasts), ``rmse``, ``mae``,
        ``mean_error`` (``forecast - actual`` on average) and, when the results have
        ``lower`` and ``upper``, ``coverage`` (the share of actuals inside them).

    Examples
    --------
    >>> import pandas as pd
    >>> from skyield.model_selection import summarize
    >>> results = pd.DataFrame({"horizon": [1, 1, 2], "error": [3.0, -4.0, 1.0]})
    >>> summary = summarize(results)
    >>> summary["n"].tolist(), summary["rmse"].round(4).tolist(), summary["mae"].tolist()
    ([2, 1], [3.5355, 1.0], [3.5, 1.0])
    """
    by = [by] if isinstance(by, str) else list(by or ())
    missing = [c for c in ["error", *by] if c not in results.columns]
    if missing:
        raise ValueError(f"results have no column(s) {missing}")
    unknown = int(results["error"].isna().sum())
    if unknown:
        raise ValueError(
            f"{unknown} result row(s) have no error (their actual is missing); drop or "
            f"keep them explicitly before summarizing"
        )
    error = results["error"].to_numpy(dtype=float)
    frame = pd.DataFrame({"_squared": error ** 2, "_absolute": np.abs(error), "_error": error},
                         index=results.index)
    for column in by:
        frame[column] = results[column]
    has_interval = {"lower", "upper", "actual"} <= set(results.columns)
    if has_interval:
        frame["_inside"] = ((results["actual"] >= results["lower"])
                            & (results["actual"] <= results["upper"])).astype(float)
    grouped = frame.groupby(by, sort=True) if by else frame.groupby(np.zeros(len(frame)))
    summary = pd.DataFrame({
        "n": grouped["_error"].size(),
        "rmse": np.sqrt(grouped["_squared"].mean()),
        "mae": grouped["_absolute"].mean(),
        "mean_error": grouped["_error"].mean(),
    })
    if has_interval:
        summary["coverage"] = grouped["_inside"].mean()
    if not by:
        summary.index = pd.Index(["all"])
    return summary
