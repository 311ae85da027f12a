"""Online conformal recalibration of the intervals of backtest rows, leak-free by date.

:func:`conformalize_backtest` works on the rows of a rolling-origin backtest
(:func:`skyield.model_selection.backtest`), whatever model made them: a window regressor,
a sequence model or a combination, which :class:`ConformalIntervalRegressor` (a wrapper
around window regressors) cannot all serve. Each row's interval is corrected with the
conformity scores of the rows of its group whose outcomes were observed by the row's
origin, so the recalibrated intervals are what a forecaster could have issued on that
date.

The conformal quantile (its finite-sample ``ceil((n + 1) coverage)`` rank) and the shift
that never lets bounds cross are those of :mod:`skyield.calibration._scores`, shared with
:class:`ConformalIntervalRegressor`. The order statistics of growing sets of scores are
computed here, one batch per number of scores: for each number ``n`` every set of ``n``
scores is gathered as one row of a matrix and partitioned at the conformal rank, so the
work is vectorised across groups and origins and no matrix holds more values than there
are scores.

References
----------
Romano, Y., Patterson, E. and Candès, E. J. (2019). Conformalized quantile regression.
Advances in Neural Information Processing Systems 32.

Sesia, M. and Candès, E. J. (2020). A comparison of some conformal quantile regression
methods. Stat, 9(1), e261.

Angelopoulos, A. N., Candès, E. J. and Tibshirani, R. J. (2023). Conformal PID control
for time series prediction. Advances in Neural Information Processing Systems 36.

Wang, X. and Hyndman, R. J. (2024). Online conformal inference for multi-step time
series forecasting. arXiv:2410.13115.
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from skyield.utils import Interval, Options, check_coverage, check_param

from ._scores import calibrate_band, conformal_quantile, min_conformal_scores

__all__ = ["conformalize_backtest"]

METHODS = ("cqr", "cqr-r")
#: The column that says which rows were recalibrated.
FLAG = "conformal"
#: Columns that separate groups whenever the results have them (besides ``by``).
GROUP_COLUMNS = ("model", "family")
_NAME = "conformalize_backtest"


def _row_label(results, position):
    return f"row {results.index[position]!r}"


def _bounds(results, column):
    values = results[column]
    if not is_numeric_dtype(values) or is_bool_dtype(values):
        raise ValueError(f"results[{column!r}] must be numeric, got dtype {values.dtype}")
    return values.to_numpy(dtype=float, na_value=np.nan)


def _check_results(results, by, pool_families):
    """The group keys, bounds, actuals and date codes of backtest rows, checked."""
    if not isinstance(results, pd.DataFrame):
        raise TypeError(
            f"results must be a DataFrame of backtest rows, got {type(results).__name__}")
    by = [by] if isinstance(by, str) else list(dict.fromkeys(by or ()))
    required = ["origin", "target_date", "actual", "lower", "upper", *by]
    missing = [column for column in dict.fromkeys(required) if column not in results.columns]
    if missing:
        raise ValueError(
            f"results have no column(s) {missing}; {_NAME} needs the rows of "
            f"skyield.model_selection.backtest run with coverage= (origin, target_date, "
            f"actual, lower, upper) and the columns of by={tuple(by)}"
        )
    if FLAG in results.columns:
        raise ValueError(
            f"results already have a {FLAG!r} column: they were recalibrated once; pass "
            f"the backtest's own rows"
        )
    lower, upper, actual = (_bounds(results, c) for c in ("lower", "upper", "actual"))
    for name, values in (("lower", lower), ("upper", upper), ("actual", actual)):
        infinite = np.isinf(values)
        if infinite.any():
            raise ValueError(f"results[{name!r}] is infinite in "
                             f"{_row_label(results, np.argmax(infinite))}")
    half = np.isnan(lower) != np.isnan(upper)
    if half.any():
        raise ValueError(
            f"{_row_label(results, np.argmax(half))} has one interval bound and not the "
            f"other: lower and upper must both be NaN (no interval) or both be numbers")
    with np.errstate(invalid="ignore"):
        crossed = lower > upper
    if crossed.any():
        raise ValueError(f"lower > upper in {int(crossed.sum())} row(s), the first "
                         f"{_row_label(results, np.argmax(crossed))}")
    pooled = {"family"} if pool_families else set()
    keys = [c for c in GROUP_COLUMNS
            if c in results.columns and c not in by and c not in pooled] + by
    groups = results.groupby(keys, sort=False, dropna=False).ngroup().to_numpy() if keys \
        else np.zeros(len(results), dtype=int)
    return groups, lower, upper, actual, _date_codes(results)


def _date_codes(results):
    """Origins and target dates as integer codes of one common order of their dates."""
    n_rows = len(results)
    both = pd.concat([results["origin"], results["target_date"]], ignore_index=True)
    try:
        codes, _ = pd.factorize(both, sort=True)
    except TypeError as error:
        raise TypeError(
            f"results['origin'] and results['target_date'] must hold dates (or positions) "
            f"that can be compared with each other: {error}") from None
    origin, target = codes[:n_rows], codes[n_rows:]
    for name, values in (("origin", origin), ("target_date", target)):
        if (values < 0).any():
            raise ValueError(f"results[{name!r}] is missing in "
                             f"{_row_label(results, np.argmax(values < 0))}")
    early = target <= origin
    if early.any():
        raise ValueError(
            f"{_row_label(results, np.argmax(early))} has a target date on or before its "
            f"origin: backtest rows forecast dates after their origin")
    return origin, target


def _running_corrections(scores, ends, n_used, coverage):
    """Conformal quantile of ``scores[end - n:end]`` for each (end, n) pair."""
    corrections = np.empty(ends.size)
    for n in np.unique(n_used):
        rows = np.flatnonzero(n_used == n)
        # Rows with the same end and count share one set of scores: take it once.
        last, which = np.unique(ends[rows], return_inverse=True)
        sets = scores[last[:, None] - n + np.arange(n)]
        corrections[rows] = conformal_quantile(sets.T, coverage)[which]
    return corrections


def _tracking_terms(base, rows, groups, date_codes, scores, score_rows, bounds, rate,
                    miscoverage):
    """Quantile-tracking term of each interval row, misses fed back as outcomes arrive.

    Walks through the origins in date order. Before the rows of origin ``t`` get their
    intervals, every outcome observed by ``t`` (target date ``<= t``, taken one target
    date at a time) moves its group's term by ``rate * R * (m - miscoverage)``: ``m``
    the share of the group's rows with that target date whose issued interval missed,
    ``R`` the range of the group's scores known by that date. The misses are those of
    the intervals issued (the model's bounds shifted by ``base + term``), so the walk is
    sequential in origins; it is vectorised across groups.

    Returns the term each row in ``rows`` used and whether its group had an observed
    outcome by the row's origin.
    """
    origin, target = date_codes
    lower, upper, actual, scale = bounds
    n_groups = int(groups.max(initial=0)) + 1
    term = np.zeros(n_groups)
    # The range of each group's known scores; a finite one means an outcome was observed.
    high, low = np.full(n_groups, -np.inf), np.full(n_groups, np.inf)
    used, had_outcome = np.zeros(rows.size), np.zeros(rows.size, dtype=bool)
    missed = np.zeros(len(groups), dtype=bool)

    events = score_rows[np.argsort(target[score_rows], kind="stable")]
    event_dates = target[events]
    ordered = np.argsort(origin[rows], kind="stable")
    dates, starts = np.unique(origin[rows][ordered], return_index=True)
    absorbed = 0
    for date, start, stop in zip(dates, starts, [*starts[1:], rows.size]):
        known = np.searchsorted(event_dates, date, side="right")
        while absorbed < known:
            same_date = np.searchsorted(event_dates, event_dates[absorbed], side="right")
            batch, absorbed = events[absorbed:same_date], same_date
            group = groups[batch]
            np.maximum.at(high, group, scores[batch])
            np.minimum.at(low, group, scores[batch])
            count = np.bincount(group, minlength=n_groups)
            misses = np.bincount(group, weights=missed[batch], minlength=n_groups)
            observed = count > 0
            term[observed] += rate * (high[observed] - low[observed]) * (
                misses[observed] / count[observed] - miscoverage)
        positions = ordered[start:stop]
        batch = rows[positions]
        used[positions] = term[groups[batch]]
        had_outcome[positions] = np.isfinite(high[groups[batch]])
        shift = (base[positions] + used[positions]) * scale[batch]
        issued_lower, issued_upper = calibrate_band(
            lower[batch, None], upper[batch, None], (lower[batch] + upper[batch]) / 2,
            shift[:, None])
        missed[batch] = ((actual[batch] < issued_lower[:, 0])
                         | (actual[batch] > issued_upper[:, 0]))
    return used, had_outcome


def conformalize_backtest(results, coverage, *, method="cqr", by=("horizon", "series"),
                          min_scores=None, score_window=None, pool_families=False,
                          tracking_rate=None):
    """Recalibrate the intervals of backtest rows online, from outcomes known at each origin.

    Conformalized quantile regression on the rows of
    :func:`skyield.model_selection.backtest`, for any model that gave intervals: the
    interval of a row with origin ``t`` is corrected with the conformity scores of the
    rows of its group whose target date is on or before ``t`` (their outcomes were
    observed by the origin date), never a later one.

    Parameters
    ----------
    results : DataFrame
        Backtest rows with columns ``origin``, ``target_date``, ``actual``, ``lower``,
        ``upper`` and those of ``by``; ``model`` and ``family``, when present, also
        separate groups. Rows whose ``lower`` and ``upper`` are NaN have no interval.
        Dates may be timestamps or integer positions (as the backtest gives for a panel
        without a date index).
    coverage : float
        Target coverage in (0, 1) of the recalibrated intervals; the intervals given may
        have been made at any coverage (usually the same one).
    method : {"cqr", "cqr-r"}, default="cqr"
        ``"cqr"``: scores ``max(lower - y, y - upper)`` and an additive correction,
        ``[lower - Q, upper + Q]`` (Romano, Patterson and Candès, 2019). ``"cqr-r"``:
        scores divided by the interval's width ``upper - lower`` and a multiplicative
        correction, ``[lower - Q w, upper + Q w]`` with ``w = upper - lower``: the width
        is scaled by ``1 + 2 Q`` around the midpoint (CQR-r of Sesia and Candès, 2020).
        Every interval row needs a positive width for ``"cqr-r"``.
    by : str or sequence of str, default=("horizon", "series")
        Columns whose values separate groups (each with its own scores), besides
        ``model`` and ``family``; empty pools the horizons and series of a model.
    min_scores : int, default=None
        Fewest scores a row's correction may use; rows with fewer keep the model's
        interval. None uses the fewest for which the conformal quantile is finite:
        ``ceil(coverage / (1 - coverage))``, 19 at 0.95. A smaller number is an error.
    score_window : int, default=None
        Use only the ``score_window`` most recent scores (by target date, ties in row
        order) known at each origin; None uses all of them. At least ``min_scores``.
    pool_families : bool, default=False
        Pool the curve families of a multi-curve backtest: one group for all of them
        (per model and ``by``) instead of one per family. With few origins, scores per
        family leave most rows without ``min_scores`` of them; ``"cqr-r"`` puts families
        of different volatility on one scale.
    tracking_rate : float, default=None
        Add quantile tracking to the conformal correction: each outcome observed moves
        its group's correction by ``tracking_rate`` times the range of the group's known
        scores times the excess of misses over ``1 - coverage`` (see Notes); 0.1 is the
        default of Wang and Hyndman (2024). None corrects by the conformal quantile
        alone.

    Returns
    -------
    recalibrated : DataFrame
        A copy of ``results`` (same index, rows and columns) with ``lower`` and ``upper``
        recalibrated where the column ``conformal`` (bool, added) is True: the rows with
        an interval and at least ``min_scores`` scores known at their origin (with
        ``tracking_rate``, also those whose group had an outcome observed). The other
        rows keep the model's bounds (NaN where there is none). Quantile columns
        (``q0.025``, ...) are left as the model gave them.

    Raises
    ------
    ValueError
        When a column is missing or not numeric, a bound is infinite or one of the pair
        is missing, ``lower > upper``, a date is missing or a target date is not after
        its origin, ``coverage`` is not in (0, 1), ``min_scores`` is too small for the
        coverage, ``tracking_rate`` is not positive, or ``"cqr-r"`` meets an interval of
        zero width.
    TypeError
        When ``results`` is not a DataFrame, or origins and target dates cannot be
        compared.

    See Also
    --------
    ConformalIntervalRegressor : conformal intervals for a window regressor, calibrated
        on a tail of its training windows.

    Notes
    -----
    **Groups and scores.** A group is the rows with one value of each of ``model`` (when
    present), ``family`` (when present, unless ``pool_families``) and the columns of
    ``by``. A row with an
    interval and an observed ``actual`` ``y`` gives the score ``max(lower - y, y -
    upper)`` (``"cqr"``; divided by ``upper - lower`` for ``"cqr-r"``): negative inside
    the interval, the distance outside it otherwise. Rows without an interval, or with
    a missing actual, give no score.

    **The leak-free rule.** Row ``r`` of origin ``t`` uses the scores of its group's
    rows whose ``target_date <= t`` (the last ``score_window`` of them, when set); its
    correction ``Q`` is their conformal quantile, the ``ceil((n + 1) coverage)``-th
    smallest of the ``n`` scores, as in :class:`ConformalIntervalRegressor`. A target
    date is after its own origin, so a row never uses its own score, and no outcome
    observed after ``t`` enters any row of origin ``t``. Rows from several splits or
    refits are pooled by the same rule.

    **Two-sided.** ``Q`` is negative when the model's intervals are too wide and the
    correction then narrows them. Bounds never cross: the recalibrated bounds are
    ``min(lower - Q w, m)`` and ``max(upper + Q w, m)`` (``w = 1`` for ``"cqr"``) with
    ``m`` the interval's midpoint: a correction that would shrink an interval past zero
    width collapses it to its midpoint (``lower = upper = m``) instead of crossing the
    bounds. This is the rule of :class:`ConformalIntervalRegressor`; the result is never
    narrower than the conformalized interval ``[lower - Q w, upper + Q w]``, so the
    coverage guarantee is kept.

    **Guarantee.** Under exchangeable scores within a group, each recalibrated interval
    covers with probability at least ``coverage``. Forecast errors of a time series are
    not exchangeable (they drift with regimes and overlap across horizons); the
    procedure is then an online recalibration whose coverage is to be measured, as the
    Examples do.

    **Quantile tracking** (``tracking_rate``). When the errors drift, the conformal
    quantile of past scores lags behind: after a calm span it keeps intervals narrow
    into a turbulent one. Tracking feeds back the misses of the intervals actually
    issued. The correction of a row of origin ``t`` becomes ``Q + T_t`` (``Q = 0`` for
    rows with fewer than ``min_scores`` scores), where ``T_t``, one per group, starts at
    0 and moves, for each target date ``s <= t`` of the group in date order, by
    ``tracking_rate * R_s * (m_s - (1 - coverage))``: ``m_s`` is the share of the
    group's rows with target date ``s`` whose issued interval (the recalibrated one)
    missed ``actual``, and ``R_s`` the range (largest minus smallest) of the group's
    scores with target dates up to ``s``, which puts the step on the scores' scale.
    This is the quantile tracking of Angelopoulos, Candès and Tibshirani (2023) with
    the learning rate scaled by the range of the scores as in Wang and Hyndman (2024),
    on top of the conformal quantile, and with the misses of a date averaged over the
    rows that share it (the curves of a pooled panel), so that the step per date does
    not grow with their number. An ``h``-step outcome enters only ``h`` periods after
    its origin, so the feedback is delayed; the longer the delay, the more a large rate
    overshoots (wide intervals after the misses, narrow ones again later). The
    leak-free rule holds as for ``Q``: a row's term uses only outcomes observed by its
    origin.

    References
    ----------
    Romano, Y., Patterson, E. and Candès, E. J. (2019). Conformalized quantile
    regression. Advances in Neural Information Processing Systems 32.

    Sesia, M. and Candès, E. J. (2020). A comparison of some conformal quantile
    regression methods. Stat, 9(1), e261.

    Examples
    --------
    Intervals of +/-1 around a standard normal forecast error cover about 68%, not the
    95% they claim; recalibrated from the outcomes known at each origin they cover 95%:

    >>> import numpy as np
    >>> import pandas as pd
    >>> from skyield.calibration import conformalize_backtest
    >>> rng = np.random.default_rng(0)
    >>> origins = pd.date_range("2000-01-31", periods=600, freq="ME")
    >>> actual = rng.normal(size=600)
    >>> results = pd.DataFrame({
    ...     "origin": origins, "horizon": 1, "target_date": origins + pd.offsets.MonthEnd(),
    ...     "series": "10Y", "forecast": 0.0, "actual": actual, "lower": -1.0, "upper": 1.0})
    >>> recalibrated = conformalize_backtest(results, 0.95)
    >>> int(recalibrated["conformal"].sum())  # the first 19 origins have too few scores
    581
    >>> def coverage(frame):
    ...     inside = frame["actual"].between(frame["lower"], frame["upper"])
    ...     return round(float(inside.mean()), 3)
    >>> rows = recalibrated["conformal"]
    >>> coverage(results[rows]), coverage(recalibrated[rows])
    (0.661, 0.952)

    When the errors double halfway, the conformal quantile of all past scores lags (the
    second half covered 85%); tracking the misses catches up:

    >>> results["actual"] *= np.where(np.arange(600) < 300, 1.0, 2.0)
    >>> late = results["origin"] >= origins[300]
    >>> plain = conformalize_backtest(results, 0.95)
    >>> tracked = conformalize_backtest(results, 0.95, tracking_rate=0.1)
    >>> coverage(plain[late]), coverage(tracked[late])
    (0.85, 0.947)
    """
    coverage = check_coverage(coverage)
    check_param(method, "method", [Options(*METHODS)], owner=_NAME)
    needed = min_conformal_scores(coverage)
    if min_scores is None:
        min_scores = needed
    check_param(min_scores, "min_scores", [Interval(Integral, 1, None)], owner=_NAME)
    if min_scores < needed:
        raise ValueError(
            f"min_scores={min_scores} is too few for coverage={coverage}: its conformal "
            f"quantile needs at least {needed} scores")
    check_param(score_window, "score_window", [None, Interval(Integral, 1, None)],
                owner=_NAME)
    if score_window is not None and score_window < min_scores:
        raise ValueError(f"score_window={score_window} is smaller than "
                         f"min_scores={min_scores}: no row could be recalibrated")
    check_param(pool_families, "pool_families", ["boolean"], owner=_NAME)
    check_param(tracking_rate, "tracking_rate",
                [None, Interval(Real, 0, None, closed="neither")], owner=_NAME)
    groups, lower, upper, actual, (origin, target) = _check_results(results, by,
                                                                    pool_families)

    has_interval = ~np.isnan(lower)
    width = upper - lower
    if method == "cqr-r" and (has_interval & (width <= 0)).any():
        raise ValueError(
            f"method='cqr-r' divides scores by the interval's width, but "
            f"{_row_label(results, np.argmax(has_interval & (width <= 0)))} has "
            f"lower == upper; use method='cqr'")
    scale = width if method == "cqr-r" else np.ones_like(width)
    with np.errstate(invalid="ignore"):
        scores = np.maximum(lower - actual, actual - upper) / scale
    is_score = has_interval & ~np.isnan(actual)

    # Scores in order of (group, target date); a row's known scores are those of its
    # group up to the last one whose target date is on or before its origin.
    n_dates = int(max(origin.max(initial=0), target.max(initial=0))) + 1
    score_rows = np.flatnonzero(is_score)
    score_keys = groups[score_rows].astype(np.int64) * n_dates + target[score_rows]
    order = np.argsort(score_keys, kind="stable")
    score_keys, ordered = score_keys[order], scores[score_rows][order]
    rows = np.flatnonzero(has_interval)
    group_start = groups[rows].astype(np.int64) * n_dates
    ends = np.searchsorted(score_keys, group_start + origin[rows], side="right")
    n_known = ends - np.searchsorted(score_keys, group_start, side="left")
    n_used = n_known if score_window is None else np.minimum(n_known, score_window)
    enough = n_used >= min_scores
    correction = np.zeros(rows.size)  # in units of ``scale``; 0 keeps the model's bounds
    correction[enough] = _running_corrections(ordered, ends[enough], n_used[enough],
                                              coverage)
    if tracking_rate is not None:
        term, had_outcome = _tracking_terms(
            correction, rows, groups, (origin, target), scores, score_rows,
            (lower, upper, actual, scale), tracking_rate, 1.0 - coverage)
        correction += term
        enough |= had_outcome
    rows, shift = rows[enough], correction[enough] * scale[rows[enough]]

    new_lower, new_upper = lower.copy(), upper.copy()
    # One output, one coverage: the band is the interval itself, its centre the midpoint.
    low, high = calibrate_band(lower[rows, None], upper[rows, None],
                               (lower[rows] + upper[rows]) / 2, shift[:, None])
    new_lower[rows], new_upper[rows] = low[:, 0], high[:, 0]
    flag = np.zeros(len(results), dtype=bool)
    flag[rows] = True
    return results.assign(lower=new_lower, upper=new_upper, **{FLAG: flag})
