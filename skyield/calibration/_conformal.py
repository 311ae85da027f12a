"""Conformal prediction intervals for time-series forecasters.

:class:`ConformalIntervalRegressor` fits a clone of a forecaster on the earlier rows and
calibrates its intervals on the chronological tail (rows are in time order and never
shuffled), with a gap between the two so that overlapping windows or multi-step targets
do not leak. Three methods:

``"split"``
    split conformal prediction on the absolute residuals of ``predict`` (for point
    forecasters): ``[y_hat - Q, y_hat + Q]``;
``"cqr"``
    conformalized quantile regression (Romano, Patterson and Candès, 2019) on the inner
    model's ``predict_interval`` or ``predict_quantiles``: scores
    ``max(lower - y, y - upper)``, interval ``[lower - Q, upper + Q]``;
``"aci"``
    adaptive conformal inference (Gibbs and Candès, 2021), an online variant: the
    miscoverage level ``alpha_t`` of each output follows
    ``alpha_{t+1} = alpha_t + gamma (alpha - err_t)`` as observations arrive.

``Q`` is the conformal quantile: the ``ceil((n + 1) coverage)``-th smallest of the ``n``
calibration scores. Every output (each target and horizon) has its own scores and
correction. Bounds never cross (the rule and its proof are in
:mod:`skyield.calibration._scores` and the class's Notes). The conformal algorithms are
short and specific to this interface (time order, gaps, per-output and delayed
multi-step feedback), so they are written here.

References
----------
Romano, Y., Patterson, E. and Candès, E. J. (2019). Conformalized quantile regression.
Advances in Neural Information Processing Systems 32.

Gibbs, I. and Candès, E. J. (2021). Adaptive conformal inference under distribution
shift. Advances in Neural Information Processing Systems 34.

Vovk, V., Gammerman, A. and Shafer, G. (2005). Algorithmic Learning in a Random World.
Springer.
"""

import numbers
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield.base import BaseFamilyWindowRegressor, accepts_families
from skyield.utils import (
    HasMethods,
    Interval,
    Options,
    check_coverage,
    check_increasing_levels,
    check_numeric,
    validate_params,
)

from ._multi_quantile import numeric_targets
from ._scores import (
    calibrate_band,
    conformal_quantile,
    conformal_rank,
    conformity_scores,
    rearrange_band,
)

__all__ = ["ConformalIntervalRegressor"]

METHODS = ("split", "cqr", "aci")
# Levels derived as (1 -/+ coverage) / 2 are rounded so that 0.025 is asked for as 0.025.
_LEVEL_DECIMALS = 12


def _take(data, rows):
    """Rows of an array-like, keeping pandas objects as they are."""
    if isinstance(data, (pd.DataFrame, pd.Series)):
        return data.iloc[rows]
    return np.asarray(data)[rows]


def _per_row(value, n_samples):
    """Whether a fit parameter is sample-aligned (one entry per row), like sample_weight."""
    return not isinstance(value, str) and hasattr(value, "__len__") and np.ndim(value) > 0 \
        and len(value) == n_samples


def _levels(coverages):
    return np.round((1 - coverages) / 2, _LEVEL_DECIMALS), \
        np.round((1 + coverages) / 2, _LEVEL_DECIMALS)


class ConformalIntervalRegressor(BaseFamilyWindowRegressor):
    """Conformal intervals and quantiles for any forecaster, valid for time series.

    Parameters
    ----------
    estimator : estimator
        The forecaster to calibrate. It needs ``fit`` and ``predict`` (``"split"``), or
        ``predict_interval(X, coverage=...)`` and/or ``predict_quantiles(X,
        quantiles=...)`` (``"cqr"``); ``"aci"`` uses the interval score when either is
        there and the absolute residual otherwise. It is cloned; the clone is fitted.
    method : {"cqr", "split", "aci"}, default="cqr"
        Split conformal on absolute residuals, conformalized quantile regression, or
        adaptive conformal inference (online).
    coverage : float, default=0.95
        Target coverage of ``predict_interval`` in (0, 1), and the level ACI tracks.
    calibration_size : float or int, default=0.2
        Calibration rows, taken from the end: a fraction of the rows in (0, 1) (rounded
        up) or a number of rows.
    gap : int, default=0
        Rows dropped between the training rows and the calibration tail. With windows
        of length ``window`` and targets up to ``horizon`` steps ahead, ``window +
        horizon - 1`` keeps calibration windows and training targets from sharing a
        date.
    gamma : float, default=0.005
        ACI step size (``"aci"`` only).
    score_window : int, default=None
        ACI only: use the last ``score_window`` scores (calibration and updates) for the
        conformal quantile; None uses them all.

    Attributes
    ----------
    estimator_ : estimator
        The clone fitted on the training rows.
    score_ : {"absolute", "interval"}
        Conformity score used: absolute residuals of ``predict``, or
        ``max(lower - y, y - upper)`` of the inner interval at ``coverage``.
    n_train_, n_calibration_ : int
        Rows used to fit and to calibrate; the first ``n_train_`` and the last
        ``n_calibration_`` rows of ``fit``'s data.
    output_shape_ : tuple
        ``y.shape[1:]`` of the ``y`` given to ``fit``: ``()``, ``(n_targets,)`` or
        ``(horizon, n_targets)``.
    conformity_scores_ : ndarray of shape (n_scores,) + output_shape_
        Calibration scores at ``coverage``; for ``"aci"`` the scores of the updates are
        appended.
    correction_ : ndarray of shape output_shape_
        Conformal correction ``Q`` at ``coverage`` (``"aci"``: at the current level
        ``1 - miscoverage_``; ``+inf`` or ``-inf`` when that level leaves the range the
        scores can serve).
    miscoverage_ : ndarray of shape output_shape_
        ``"aci"`` only: the current miscoverage level ``alpha_t`` of every output.
    n_updates_ : int
        ``"aci"`` only: observations absorbed by :meth:`update`.
    calibration_X_, calibration_y_, calibration_families_
        The calibration rows (as given, pandas kept), used to calibrate other
        coverages and quantile levels.
    n_features_in_ : int
        Number of features (the window length for 3-D input).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` is a DataFrame.

    Notes
    -----
    **Time order.** Rows are consecutive forecast origins in time order. The clone is
    fitted on rows ``[0, n_train_)``; the calibration tail is the last
    ``n_calibration_`` rows; ``gap`` rows between them are not used. Nothing is
    shuffled.

    **Outputs.** ``y`` may be ``(n,)``, ``(n, n_targets)`` or ``(n, horizon,
    n_targets)``; every output (target, horizon) is calibrated separately with its own
    scores, and results come back in ``fit``'s layout with a last axis added.

    **Quantiles.** ``predict_quantiles`` pairs each level ``tau`` with the central
    interval of coverage ``|1 - 2 tau|``: a level below 0.5 is that interval's
    calibrated lower bound, a level above 0.5 its upper bound, and 0.5 the centre (the
    inner median when the inner model gives quantiles; else the midpoint of the
    innermost interval; ``predict`` for ``"split"``). Corrections are made
    non-decreasing in coverage and bounds stop at the centre, so the returned quantiles
    are sorted and each central interval keeps the conformal guarantee.

    **Why bounds never cross.** With coverages ``beta_1 < ... < beta_K`` and raw
    corrections ``Q_j``: (1) the inner bounds and centre are sorted (a no-op for a
    model whose quantiles do not cross; Chernozhukov, Fernández-Val and Galichon, 2010);
    (2) ``Qt_j = max(Q_1, ..., Q_j)``; (3) ``lower'_j = min(lower_j - Qt_j, center)``,
    ``upper'_j = max(upper_j + Qt_j, center)``. For ``i < j``, ``lower_j <= lower_i`` and
    ``Qt_j >= Qt_i`` give ``lower'_j <= lower'_i``, and every lower bound is at most the
    centre, every upper bound at least; symmetrically for the upper bounds. Since
    ``[lower'_j, upper'_j]`` contains ``[lower_j - Q_j, upper_j + Q_j]``, coverage is not
    lost. A negative correction (an over-covering model) narrows the intervals, down to
    the centre at most.

    **ACI and multi-step targets.** ``update`` and ``predict_interval_online`` walk
    through rows in time order: each interval uses only the levels and scores of
    observations already known. For ``(n, horizon, n_targets)`` targets, the error of
    step ``h`` (1-based) of the forecast made at row ``t`` is known from row ``t + h``
    on, so it enters that output's level and scores only then. 2-D targets are one
    step ahead. When ``alpha_t <= 0`` the interval is the whole line (``-inf``,
    ``+inf``); when the level asks for fewer than one score the interval collapses to
    its centre.

    References
    ----------
    Romano, Y., Patterson, E. and Candès, E. J. (2019). Conformalized quantile
    regression. Advances in Neural Information Processing Systems 32.

    Gibbs, I. and Candès, E. J. (2021). Adaptive conformal inference under distribution
    shift. Advances in Neural Information Processing Systems 34.

    Chernozhukov, V., Fernández-Val, I. and Galichon, A. (2010). Quantile and probability
    curves without crossing. Econometrica, 78(3), 1093-1125.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from skyield.calibration import ConformalIntervalRegressor, MultiQuantileRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = X @ [0.5, -0.2] + rng.normal(size=300)
    >>> inner = MultiQuantileRegressor(QuantileRegressor(alpha=0.0),
    ...                                quantiles=(0.05, 0.5, 0.95))
    >>> model = ConformalIntervalRegressor(inner, coverage=0.9,
    ...                                    calibration_size=100).fit(X, y)
    >>> model.n_train_, model.n_calibration_
    (200, 100)
    >>> model.predict_interval(X[:3]).shape
    (3, 2)
    """

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict")],
        "method": [Options(*METHODS)],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "calibration_size": [Interval(Real, 0, 1, closed="neither"),
                             Interval(Integral, 1, None)],
        "gap": [Interval(Integral, 0, None)],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "score_window": [None, Interval(Integral, 1, None)],
    }

    def __init__(self, estimator, *, method="cqr", coverage=0.95, calibration_size=0.2,
                 gap=0, gamma=0.005, score_window=None):
        self.estimator = estimator
        self.method = method
        self.coverage = coverage
        self.calibration_size = calibration_size
        self.gap = gap
        self.gamma = gamma
        self.score_window = score_window

    @classmethod
    def get_test_params(cls):
        """Small parameter sets, each with a small inner estimator, for the common checks."""
        from sklearn.linear_model import QuantileRegressor, Ridge

        from ._multi_quantile import MultiQuantileRegressor

        return [
            {"estimator": Ridge(), "method": "split", "coverage": 0.5,
             "calibration_size": 0.5},
            {"estimator": MultiQuantileRegressor(QuantileRegressor(alpha=0.0),
                                                 quantiles=(0.25, 0.5, 0.75)),
             "method": "cqr", "coverage": 0.5, "calibration_size": 0.5},
            {"estimator": Ridge(), "method": "aci", "coverage": 0.5,
             "calibration_size": 0.5, "gamma": 0.01},
        ]

    # ----------------------------------------------------------------- validation
    def _check_params(self):
        validate_params(self)

    def _check_inner(self):
        estimator = self.estimator
        has_interval = hasattr(estimator, "predict_interval")
        has_quantiles = hasattr(estimator, "predict_quantiles")
        name = type(estimator).__name__
        if not hasattr(estimator, "fit") or not hasattr(estimator, "predict"):
            raise ValueError(f"estimator must have fit and predict methods; {name} has not")
        if self.method == "cqr" and not (has_interval or has_quantiles):
            raise ValueError(
                f"method='cqr' calibrates the inner model's intervals, but {name} has "
                f"neither predict_interval nor predict_quantiles; use method='split' for a "
                f"point forecaster"
            )
        if self.method == "split" or not (has_interval or has_quantiles):
            return "absolute"
        return "interval"

    def _validate_X(self, X, reset):
        check_numeric(X, "X")
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return validate_data(self, X, reset=reset, allow_nd=True,
                             ensure_all_finite="allow-nan" if allow_nan else True)

    def _check_y(self, y, n_samples, name="y", output_shape=None):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        values = numeric_targets(y, name)
        if values.ndim not in (1, 2, 3):
            raise ValueError(
                f"{name} must be (n,), (n, n_targets) or (n, horizon, n_targets), got shape "
                f"{values.shape}"
            )
        if values.shape[0] != n_samples:
            raise ValueError(f"{name} has {values.shape[0]} rows but X has {n_samples}")
        if output_shape is not None and values.shape[1:] != output_shape:
            raise ValueError(
                f"{name} has outputs of shape {values.shape[1:]} but the model was fitted "
                f"on outputs of shape {output_shape}"
            )
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise ValueError(f"{name} has a missing or infinite value in row {row}")
        return values

    def _split(self, n_samples):
        size = self.calibration_size
        n_cal = int(np.ceil(size * n_samples)) if not isinstance(size, numbers.Integral) \
            else int(size)
        n_train = n_samples - n_cal - self.gap
        if n_train < 1 or n_cal < 1:
            raise ValueError(
                f"{type(self).__name__} needs at least one training row before a gap of "
                f"{self.gap} and a calibration tail of {n_cal} row(s), but got "
                f"{n_samples} sample(s)"
            )
        return n_train, n_cal

    @staticmethod
    def _families(families, n_samples):
        if families is None:
            return None
        if np.ndim(families) == 0 or len(families) != n_samples:
            raise ValueError(
                f"families must have one entry per row ({n_samples}), got "
                f"{np.shape(families)}"
            )
        return families

    # ----------------------------------------------------------------- fitting
    def fit(self, X, y, families=None, **fit_params):
        """Fit a clone on the earlier rows and calibrate on the chronological tail.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
            Inputs in time order (rows are consecutive forecast origins).
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, horizon, n_targets)
            Targets.
        families : array-like of shape (n_samples,), default=None
            Family of each row; passed to the inner estimator's ``fit`` and prediction
            methods when given.
        **fit_params : dict
            Passed to the inner ``fit``; array-likes with one entry per row are cut to
            the training rows.

        Returns
        -------
        self : ConformalIntervalRegressor
        """
        self._check_params()
        score = self._check_inner()
        X_checked = self._validate_X(X, reset=True)
        n_samples = X_checked.shape[0]
        y_values = self._check_y(y, n_samples)
        families = self._families(families, n_samples)
        n_train, n_cal = self._split(n_samples)
        train, calibration = np.arange(n_train), np.arange(n_samples - n_cal, n_samples)
        params = {key: _take(value, train) if _per_row(value, n_samples) else value
                  for key, value in fit_params.items()}
        if families is not None and accepts_families(self.estimator.fit):
            params["families"] = _take(families, train)
        self.estimator_ = clone(self.estimator).fit(_take(X, train), _take(y, train), **params)
        self.score_ = score
        self.n_train_, self.n_calibration_ = n_train, n_cal
        self.output_shape_ = y_values.shape[1:]
        self.calibration_X_ = _take(X, calibration)
        self.calibration_y_ = y_values[calibration]
        self.calibration_families_ = None if families is None else _take(families, calibration)
        lower, upper, center = self._band(self.calibration_X_, np.array([self.coverage]),
                                          self.calibration_families_)
        self.conformity_scores_ = conformity_scores(lower, upper, self.calibration_y_)[..., 0]
        # Too few scores for the coverage is an error for every method: ACI would start
        # from intervals that are the whole line.
        self.correction_ = conformal_quantile(self._recent(self.conformity_scores_)
                                              if self.method == "aci" else
                                              self.conformity_scores_, self.coverage)
        if self.method == "aci":
            self.miscoverage_ = np.full(self.output_shape_, 1.0 - self.coverage)
            self.n_updates_ = 0
        return self

    # ----------------------------------------------------------------- inner band
    def _inner_kwargs(self, families):
        # A model that pools the families (no families= in its signature) gets none.
        if families is None or not accepts_families(self.estimator.predict):
            return {}
        return {"families": families}

    def _as_outputs(self, values, n_samples, method, extra=()):
        values = np.asarray(values, dtype=float)
        expected = (n_samples,) + self.output_shape_ + extra
        # (n, 1) for (n,) and the like: the same values, one axis more or less.
        if values.shape != expected and values.shape[:1] == expected[:1] and \
                [d for d in values.shape[1:] if d != 1] == [d for d in expected[1:] if d != 1]:
            values = values.reshape(expected)
        if values.shape != expected:
            raise ValueError(
                f"{type(self.estimator_).__name__}.{method} returned shape {values.shape}, "
                f"expected {expected} (rows, the outputs of y, {list(extra)})"
            )
        return values

    def _band(self, X, coverages, families, *, quantiles=False, median=False):
        """Rearranged inner band at central ``coverages`` (increasing) on ``X``.

        Returns ``lower``, ``upper`` of shape ``(n,) + output_shape_ + (K,)`` and
        ``center`` of shape ``(n,) + output_shape_``.
        """
        estimator, kwargs = self.estimator_, self._inner_kwargs(families)
        n_samples = len(X)
        n_levels = coverages.size
        if self.score_ == "absolute":
            point = self._as_outputs(estimator.predict(X, **kwargs), n_samples, "predict")
            band = np.repeat(point[..., None], n_levels, axis=-1)
            return band, band.copy(), point
        use_quantiles = hasattr(estimator, "predict_quantiles") and (
            quantiles or not hasattr(estimator, "predict_interval"))
        low_levels, high_levels = _levels(coverages)
        if use_quantiles:
            levels = np.concatenate([low_levels, high_levels, [0.5] if median else []])
            levels = np.unique(levels)
            values = self._as_outputs(
                estimator.predict_quantiles(X, quantiles=levels, **kwargs), n_samples,
                "predict_quantiles", (levels.size,))
            lower = values[..., np.searchsorted(levels, low_levels)]
            upper = values[..., np.searchsorted(levels, high_levels)]
            center = values[..., np.searchsorted(levels, 0.5)] if median else None
        else:
            bounds = [self._as_outputs(
                estimator.predict_interval(X, coverage=float(level), **kwargs), n_samples,
                "predict_interval", (2,)) for level in coverages]
            lower = np.stack([b[..., 0] for b in bounds], axis=-1)
            upper = np.stack([b[..., 1] for b in bounds], axis=-1)
            center = None
        if center is None:
            center = (lower[..., 0] + upper[..., 0]) / 2
        return rearrange_band(lower, upper, center)

    def _corrections(self, coverages, **band_options):
        lower, upper, center = self._band(self.calibration_X_, coverages,
                                          self.calibration_families_, **band_options)
        scores = conformity_scores(lower, upper, self.calibration_y_)
        return np.stack([conformal_quantile(scores[..., j], level)
                         for j, level in enumerate(coverages)], axis=-1)

    # ----------------------------------------------------------------- prediction
    def predict(self, X, families=None):
        """Point forecast of the inner estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        families : array-like of shape (n_samples,), default=None
            Passed to the inner ``predict`` when given.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) + output_shape_
        """
        check_is_fitted(self)
        self._validate_X(X, reset=False)
        return self.estimator_.predict(X, **self._inner_kwargs(families))

    def predict_interval(self, X, coverage=None, families=None):
        """Calibrated prediction intervals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        coverage : float, default=None
            Coverage in (0, 1); None uses ``coverage``. ``"aci"`` serves only the level
            it tracks.
        families : array-like of shape (n_samples,), default=None
            Passed to the inner estimator when given.

        Returns
        -------
        y_interval : ndarray of shape (n_samples,) + output_shape_ + (2,)
            Lower and upper bounds on the last axis, ``lower <= upper``.

        Raises
        ------
        ValueError
            If the calibration tail is too short for the coverage (a coverage ``c``
            needs at least ``c / (1 - c)`` calibration rows).
        """
        check_is_fitted(self)
        coverage = self.coverage if coverage is None else check_coverage(coverage)
        self._validate_X(X, reset=False)
        if self.method == "aci" and coverage != self.coverage:
            raise ValueError(
                f"method='aci' tracks coverage={self.coverage}; its intervals at "
                f"{coverage} are not calibrated. Fit another model for that coverage"
            )
        families = self._families(families, len(X))
        levels = np.array([coverage])
        if coverage == self.coverage:
            corrections = self.correction_[..., None]
        else:
            corrections = self._corrections(levels)
        lower, upper, center = self._band(X, levels, families)
        low, high = calibrate_band(lower, upper, center, corrections)
        return np.stack([low[..., 0], high[..., 0]], axis=-1)

    def predict_quantiles(self, X, quantiles, families=None):
        """Calibrated quantiles, sorted along the last axis.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, window, n_series)
        quantiles : sequence of float
            Strictly increasing levels in (0, 1). Level ``tau`` is a bound of the central
            interval of coverage ``|1 - 2 tau|``, calibrated at that coverage (see Notes
            of the class).
        families : array-like of shape (n_samples,), default=None
            Passed to the inner estimator when given.

        Returns
        -------
        y_quantiles : ndarray of shape (n_samples,) + output_shape_ + (n_quantiles,)
            Non-decreasing along the last axis.
        """
        check_is_fitted(self)
        if self.method == "aci":
            raise ValueError(
                "method='aci' adapts one coverage level; use predict_interval, or "
                "method='cqr' / 'split' for calibrated quantiles"
            )
        levels = check_increasing_levels(quantiles)
        self._validate_X(X, reset=False)
        families = self._families(families, len(X))
        widths = np.round(np.abs(1 - 2 * levels), _LEVEL_DECIMALS)
        is_median = widths == 0
        coverages = np.unique(widths[~is_median])
        if coverages.size == 0:
            coverages = np.array([self.coverage])
        options = {"quantiles": True, "median": bool(is_median.any())}
        corrections = self._corrections(coverages, **options)
        lower, upper, center = self._band(X, coverages, families, **options)
        low, high = calibrate_band(lower, upper, center, corrections)
        columns = []
        for level, width in zip(levels, widths):
            if width == 0:
                columns.append(center)
            else:
                j = int(np.searchsorted(coverages, width))
                columns.append(low[..., j] if level < 0.5 else high[..., j])
        return np.stack(columns, axis=-1)

    # ----------------------------------------------------------------- ACI
    def _recent(self, scores):
        return scores if self.score_window is None else scores[-self.score_window:]

    def _aci_correction(self, scores, miscoverage):
        return conformal_quantile(self._recent(scores), 1.0 - miscoverage, beyond="infinite")

    def _check_online(self, X, y, families):
        check_is_fitted(self)
        if self.method != "aci":
            raise ValueError(
                f"online updates adapt the level of method='aci'; this model uses "
                f"method={self.method!r}"
            )
        self._validate_X(X, reset=False)
        y_values = self._check_y(y, len(X), output_shape=self.output_shape_)
        return y_values, self._families(families, len(X))

    def _walk(self, X, y_values, families):
        """Intervals row by row in time order, then the state once every row is known."""
        lower, upper, center = self._band(X, np.array([self.coverage]), families)
        lower, upper = lower[..., 0], upper[..., 0]
        new_scores = conformity_scores(lower[..., None], upper[..., None], y_values)[..., 0]
        n_rows = len(y_values)
        horizon = self.output_shape_[0] if len(self.output_shape_) == 2 else 1

        def by_step(values):
            return values.reshape(values.shape[0], horizon, -1)

        lower, upper, center = by_step(lower), by_step(upper), by_step(center)
        y_steps, new_scores = by_step(y_values), by_step(new_scores)
        old = by_step(self.conformity_scores_)
        n_old, n_columns = old.shape[0], old.shape[2]
        history = np.concatenate([old, np.empty((n_rows,) + old.shape[1:])], axis=0)
        counts = np.full(horizon, n_old)
        # Sorted copies of the scores in use, so each quantile is a look-up.
        pools = [[np.sort(self._recent(old[:, step, column])) for column in range(n_columns)]
                 for step in range(horizon)]
        alpha = self.miscoverage_.reshape(horizon, -1).copy()
        low, high = np.empty_like(lower), np.empty_like(upper)
        target = 1.0 - self.coverage
        window = self.score_window

        def absorb(step, row):
            miss = (y_steps[row, step] < low[row, step]) | (y_steps[row, step] > high[row, step])
            alpha[step] += self.gamma * (target - miss)
            history[counts[step], step] = new_scores[row, step]
            counts[step] += 1
            for column in range(n_columns):
                pool, value = pools[step][column], new_scores[row, step, column]
                pool = np.insert(pool, np.searchsorted(pool, value), value)
                if window is not None and pool.size > window:
                    oldest = history[counts[step] - window - 1, step, column]
                    pool = np.delete(pool, np.searchsorted(pool, oldest))
                pools[step][column] = pool

        def correction(step):
            q = np.empty(n_columns)
            for column, pool in enumerate(pools[step]):
                rank = conformal_rank(pool.size, 1.0 - alpha[step, column])
                q[column] = np.inf if rank > pool.size else (
                    -np.inf if rank < 1 else pool[rank - 1])
            return q

        for row in range(n_rows):
            for step in range(horizon):
                # the step-(step + 1) error of the forecast made at row - step - 1 is now known
                if row - step - 1 >= 0:
                    absorb(step, row - step - 1)
            for step in range(horizon):
                q = correction(step)
                low[row, step] = np.minimum(lower[row, step] - q, center[row, step])
                high[row, step] = np.maximum(upper[row, step] + q, center[row, step])
        for step in range(horizon):
            for row in range(max(0, n_rows - step - 1), n_rows):
                absorb(step, row)
        shape = (n_rows,) + self.output_shape_
        intervals = np.stack([low.reshape(shape), high.reshape(shape)], axis=-1)
        return intervals, alpha.reshape(self.output_shape_), \
            history.reshape((n_old + n_rows,) + self.output_shape_)

    def update(self, X, y, families=None):
        """Absorb new observations into the ACI levels and scores (``"aci"`` only).

        Rows are processed in time order exactly as :meth:`predict_interval_online`
        does; afterwards every row's error and score are known.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features) or (n_new, window, n_series)
            Inputs of the new forecast origins, after those seen so far.
        y : array-like of shape (n_new,) + output_shape_
            Their observed targets.
        families : array-like of shape (n_new,), default=None

        Returns
        -------
        self : ConformalIntervalRegressor
        """
        y_values, families = self._check_online(X, y, families)
        _, self.miscoverage_, self.conformity_scores_ = self._walk(X, y_values, families)
        self.n_updates_ += len(y_values)
        self.correction_ = self._aci_correction(self.conformity_scores_, self.miscoverage_)
        return self

    def predict_interval_online(self, X, y, families=None):
        """ACI intervals over a span, each made before its observation is seen.

        Row ``t``'s interval uses the levels and scores of the observations known before
        it (see Notes of the class for multi-step targets); ``y[t]`` enters only after.
        The model's state is left unchanged: call :meth:`update` on the span to move on.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features) or (n_rows, window, n_series)
            Consecutive forecast origins following those seen so far.
        y : array-like of shape (n_rows,) + output_shape_
            Their observed targets, revealed one row at a time.
        families : array-like of shape (n_rows,), default=None

        Returns
        -------
        y_interval : ndarray of shape (n_rows,) + output_shape_ + (2,)
        """
        y_values, families = self._check_online(X, y, families)
        intervals, _, _ = self._walk(X, y_values, families)
        return intervals

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.three_d_array = inner.input_tags.three_d_array
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = inner.regressor_tags is not None \
            and inner.regressor_tags.poor_score
        tags.non_deterministic = inner.non_deterministic
        return tags
