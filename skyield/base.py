"""The two kinds of skyield estimators and the contract they share.

Every skyield model derives from one of two bases, which own what the models have in
common, so that each model writes only its own mathematics:

:class:`BaseWindowRegressor`
    Window regressors: each row of ``X`` is one window of history (dates x series) and
    ``y`` holds its targets. The base owns input validation (3-D windows, or 2-D rows
    read as flattened windows of ``window`` dates: without ``window`` a 2-D ``X`` is an
    error), the target layout (``y`` of shape (n,), (n, n_targets) or
    (n, n_horizons, n_targets), returned by ``predict`` in the layout ``fit`` saw), the
    ``targets``, ``horizons``, ``window`` and ``differences`` parameters, the quantile and
    interval plumbing (``predict_interval`` from ``predict_quantiles``; quantiles from the
    residual distribution where a model has no distribution of its own), ``score`` and
    the tags. :class:`BaseFamilyWindowRegressor` adds the ``families`` sample metadata
    (one curve-family label per window) to every method, for models that tell curve
    families apart.

:class:`BaseSequenceModel`
    Sequence models: ``fit(Y)`` on a panel whose rows are consecutive dates, then
    ``update(Y_new)`` appends observations without re-estimating and ``forecast(steps)``
    continues from the last date seen. ``predict(Y)``, ``predict_quantiles(Y)`` and
    ``predict_interval(Y)`` forecast every date of a block ``Y`` that follows the data
    seen (across a gap of unobserved dates where there is one), each from the origin
    ``horizon`` dates before it, with the parameters frozen; ``score(Y)`` is minus the
    mean squared error of those forecasts. So ``GridSearchCV`` and ``cross_validate``
    with ``TimeSeriesSplit(gap=...)`` tune and evaluate a sequence model on a panel, out
    of sample, exactly as they do a window model on windows.

Both validate their hyper-parameters declaratively (``_parameter_constraints``, checked at
the top of ``fit``; see :func:`skyield.utils.validate_params`), use the same names for the
same things (``window``, ``horizons``, ``targets``, ``differences``, ``epochs``, ``lr``,
``weight_decay``, ``quantiles``, ``coverage``, ``random_state``, ``device``), and default to
the quantile levels :data:`DEFAULT_QUANTILES` and the coverage :data:`DEFAULT_COVERAGE`.
"""

import copy
import inspect
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin, is_regressor
from sklearn.metrics import r2_score
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield.utils import (
    Interval,
    Options,
    Satisfies,
    TargetLayout,
    check_coverage,
    check_horizons,
    check_increasing_levels,
    check_numeric,
    check_panel,
    check_param,
    check_targets,
    check_units,
    restore_target_layout,
    validate_params,
    validate_windows,
)
from skyield.utils._dates import _PERIOD, _offset_frequency, _periods

__all__ = [
    "DEFAULT_COVERAGE",
    "DEFAULT_QUANTILES",
    "BaseFamilyWindowRegressor",
    "BaseSequenceModel",
    "BaseWindowRegressor",
    "accepts_families",
    "estimator_kind",
    "interval_levels",
]

#: Quantile levels every ``predict_quantiles`` (and ``forecast(quantiles=...)``) defaults to.
DEFAULT_QUANTILES = (0.025, 0.5, 0.975)
#: Coverage every ``predict_interval`` (and ``forecast(coverage=...)``) defaults to.
DEFAULT_COVERAGE = 0.95

_RESIDUAL_DISTRIBUTIONS = ("gaussian", "empirical")


def interval_levels(coverage):
    """Lower and upper quantile levels ``(1 - coverage) / 2`` and ``(1 + coverage) / 2``.

    Parameters
    ----------
    coverage : float
        Nominal coverage strictly inside (0, 1).

    Returns
    -------
    levels : ndarray of shape (2,)

    Examples
    --------
    >>> from skyield.base import interval_levels
    >>> interval_levels(0.9).round(3).tolist()
    [0.05, 0.95]
    """
    coverage = check_coverage(coverage)
    return np.array([(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0])


def _is_int_list(value):
    values = list(value) if not isinstance(value, (str, bytes)) else None
    return bool(values) and all(
        isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in values)


def _is_horizon_list(value):
    return _is_int_list(value) and list(value) == sorted(set(value)) and min(value) >= 1


def _residual_offsets(residuals, levels, distribution):
    """Quantiles of a zero-centred residual distribution per (horizon, target).

    ``residuals`` (n, H, T): "gaussian" uses mean zero and the root mean square of the
    residuals as standard deviation; "empirical" the residuals' own quantiles.
    Returns (H, T, Q).
    """
    if distribution == "gaussian":
        scale = np.sqrt(np.mean(residuals ** 2, axis=0))
        return scale[..., None] * norm.ppf(levels)
    return np.moveaxis(np.quantile(residuals, levels, axis=0), 0, -1)


# ======================================================================================
# Window regressors
# ======================================================================================


class BaseWindowRegressor(RegressorMixin, BaseEstimator):
    """Base of the window regressors: validation, target layout, quantiles, score, tags.

    A window regressor maps windows of history to forecasts. Subclasses implement the
    hooks below on validated arrays and never see the user's layout:

    - ``_fit(X, y)``: ``X`` of shape (n_samples, window', n_series) (``window' = window - 1``
      first differences with ``differences=True``), ``y`` of shape
      (n_samples, n_horizons, n_targets) (changes since the window's last date with
      ``differences=True``); ``families`` is passed as a keyword by
      :class:`BaseFamilyWindowRegressor`.
    - ``_predict(X)``: the point forecasts, (n_samples, n_horizons, n_targets).
    - ``_predict_quantiles(X, levels)``: (n_samples, n_horizons, n_targets, n_levels),
      non-decreasing along the last axis. The default adds the quantiles of the residual
      distribution recorded with :meth:`_record_residuals` (``distribution`` "gaussian" or
      "empirical") to the point forecast.

    Parameters owned by the base (subclasses list them in their own constructor, with
    their own defaults, and keep the base's constraints):

    window : int or "row", default=None
        Dates per window. Required to read a 2-D ``X`` (each row a window flattened in
        time-major order: every series at the oldest date, then the next date, ...);
        checked against a 3-D ``X``. ``"row"`` reads each 2-D row as the window of one
        series (its ``n_features`` dates).
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``: ``h`` means ``1 .. h``, a list gives
        them (``[1, 6, 12]``); None means ``1 .. n_horizons`` from the shape of ``y``. With
        more than one horizon, a 2-D ``y`` of shape (n_samples, n_horizons) is read as the
        horizons of one target.
    targets : int, list of int or None, default=None
        Positions among the input series of the series the columns of ``y`` hold. None
        means every input series in order when ``y`` has one column per series.
        Models that forecast their inputs (random walk, rolling regressions, and every
        model with ``differences=True``) need to know them; others use them only to
        check ``y``.
    differences : bool, default=False
        Model the changes: the model sees the ``window - 1`` first differences inside
        each window and forecasts the change of each target since the window's last
        date; forecasts, quantiles and intervals are returned in levels (the level at the
        window's last date is added back). ``X`` and ``y`` stay in levels.
    """

    _parameter_constraints = {
        "window": [None, Interval(Integral, 1, None), Options("row")],
        "horizons": [None, Interval(Integral, 1, None),
                     Satisfies(_is_horizon_list, "a list of strictly increasing positive "
                                                 "integers")],
        "targets": [None, Interval(Integral, None, None),
                    Satisfies(_is_int_list, "a list of integer positions")],
        "differences": ["boolean"],
    }

    #: Whether the model forecasts input series (so ``targets`` must map onto them).
    _forecasts_inputs = False

    @property
    def _differences(self):
        # A model without the parameter (the random walk: its forecast of the change is
        # zero, so changes and levels give the same forecasts) works in levels.
        return bool(getattr(self, "differences", False))

    # ------------------------------------------------------------------ hooks
    def _fit(self, X, y, **metadata):
        raise NotImplementedError

    def _predict(self, X, **metadata):
        raise NotImplementedError

    def _predict_quantiles(self, X, levels, **metadata):
        residuals = getattr(self, "residuals_", None)
        if residuals is None:
            raise NotImplementedError(f"{type(self).__name__} has no predictive distribution")
        offsets = _residual_offsets(residuals, levels, self.distribution)
        return self._predict(X, **metadata)[..., None] + offsets[None]

    def _record_residuals(self, y, prediction):
        """Keep the forecast errors ``y - prediction`` (n, H, T) for the default quantiles."""
        self.residuals_ = np.asarray(y, dtype=float) - np.asarray(prediction, dtype=float)

    # ------------------------------------------------------------------ validation
    def _validate_fit_data(self, X, y):
        """Validate ``X`` and ``y``; set the data attributes; return the model's arrays."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        validate_params(self)
        X3, y = validate_windows(self, X, y, window=self.window)
        y3, layout = self._read_targets(y, X3.shape[0])
        n_series = X3.shape[2]
        self.n_series_in_ = n_series
        self.window_ = X3.shape[1]
        self.target_layout_ = layout
        self.horizons_ = self._resolve_horizons(y3.shape[1])
        self.targets_ = self._resolve_targets(n_series, y3.shape[2])
        inputs = self._model_inputs(X3)
        if self._differences:
            y3 = y3 - X3[:, -1, self.targets_][:, None, :]
        return inputs, y3

    def _read_targets(self, y, n_samples):
        y = np.asarray(y, dtype=np.float64)
        horizons = check_horizons(self.horizons) if self.horizons is not None else ()
        if y.ndim == 2 and len(horizons) > 1 and y.shape[1] == len(horizons):
            # (n, n_horizons): the horizons of one target (the seed-000 layout).
            y3, _ = check_targets(y[:, :, None], n_samples)
            return y3, TargetLayout(ndim=2, horizon=y3.shape[1], n_targets=1,
                                    steps_in_columns=True)
        return check_targets(y, n_samples)

    def _resolve_horizons(self, n_horizons):
        if self.horizons is None:
            return np.arange(1, n_horizons + 1)
        horizons = np.asarray(check_horizons(self.horizons))
        if horizons.size != n_horizons:
            raise ValueError(
                f"horizons={self.horizons!r} lists {horizons.size} step(s) ahead but y holds "
                f"{n_horizons} horizon(s) (its second axis)"
            )
        return horizons

    def _resolve_targets(self, n_series, n_targets):
        owner = type(self).__name__
        if self.targets is None:
            if n_targets == n_series:
                return np.arange(n_series)
            if self._differences or self._forecasts_inputs:
                raise ValueError(
                    f"y has {n_targets} target column(s) but X has {n_series} series; "
                    f"{owner}{' with differences=True' if self._differences else ''} "
                    f"forecasts input series, so y needs one column per series, or "
                    f"targets=[...] must say which series y holds"
                )
            return None
        positions = np.atleast_1d(np.asarray(self.targets, dtype=int))
        bad = positions[(positions < -n_series) | (positions >= n_series)]
        if bad.size:
            raise ValueError(
                f"targets entry {int(bad[0])} is out of range: X has {n_series} series"
            )
        if positions.size != n_targets:
            raise ValueError(
                f"targets names {positions.size} series but y has {n_targets} target "
                f"column(s)"
            )
        return positions % n_series

    def _model_inputs(self, X3):
        if not self._differences:
            return X3
        if X3.shape[1] < 2:
            raise ValueError(
                f"differences=True needs windows of at least 2 dates, got windows of "
                f"length {X3.shape[1]}" + (f" (window='row': n_features = {X3.shape[1]})"
                                           if self.window == "row" else "")
            )
        return np.diff(X3, axis=1)

    def _validated_windows(self, X):
        """Windows given to a prediction method, checked against those seen in ``fit``."""
        check_is_fitted(self)
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        if X3.shape[1] != self.window_:
            raise ValueError(
                f"X windows have length {X3.shape[1]} but {type(self).__name__} was fitted "
                f"on windows of length {self.window_}"
            )
        return X3

    def _to_levels(self, values, X3):
        """Add the level at each window's last date back to changes (with differences)."""
        if not self._differences:
            return values
        last = X3[:, -1, self.targets_]
        return values + last.reshape(last.shape[:1] + (1,) + last.shape[1:]
                                     + (1,) * (values.ndim - 3))

    # ------------------------------------------------------------------ templates
    def _fit_template(self, X, y, **metadata):
        inputs, targets = self._validate_fit_data(X, y)
        self._fit(inputs, targets, **metadata)
        return self

    def _point(self, X, **metadata):
        X3 = self._validated_windows(X)
        values = self._predict(self._model_inputs(X3), **metadata)
        return restore_target_layout(self._to_levels(values, X3), self.target_layout_)

    def _quantiles(self, X, quantiles, **metadata):
        levels = check_increasing_levels(quantiles)
        X3 = self._validated_windows(X)
        values = self._predict_quantiles(self._model_inputs(X3), levels, **metadata)
        return restore_target_layout(self._to_levels(values, X3), self.target_layout_)

    def _r2(self, X, y, sample_weight, **metadata):
        prediction = np.asarray(self.predict(X, **metadata))
        n_samples = prediction.shape[0]
        return r2_score(np.reshape(np.asarray(y, dtype=float), (n_samples, -1)),
                        prediction.reshape(n_samples, -1), sample_weight=sample_weight)

    # ------------------------------------------------------------------ public API
    def fit(self, X, y):
        """Fit the model on windows ``X`` and their targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows of history in time order (oldest window first). A 2-D row is a window
            flattened in time-major order and needs ``window``.
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, n_horizons, n_targets)
            Targets in levels.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_template(X, y)

    def predict(self, X):
        """Point forecasts of the targets of every window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.

        Returns
        -------
        y_pred : ndarray
            Forecasts in levels, in the layout of the ``y`` given to ``fit``.
        """
        return self._point(X)

    def predict_quantiles(self, X, quantiles=DEFAULT_QUANTILES):
        """Quantile forecasts of the targets of every window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.5, 0.975)
            Strictly increasing levels in (0, 1).

        Returns
        -------
        y_quantiles : ndarray
            The layout of ``predict`` with a last axis of length ``n_quantiles``,
            non-decreasing along it.
        """
        return self._quantiles(X, quantiles)

    def predict_interval(self, X, coverage=DEFAULT_COVERAGE):
        """Central prediction intervals: the quantiles at ``(1 -/+ coverage) / 2``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        coverage : float, default=0.95
            Nominal coverage, strictly inside (0, 1).

        Returns
        -------
        y_interval : ndarray
            The layout of ``predict`` with a last axis (lower, upper).
        """
        return self._quantiles(X, interval_levels(coverage))

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination of ``predict`` over every horizon and target.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        y : array-like
            True targets in the layout given to ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            ``r2_score`` with the horizon and target axes flattened into outputs.
        """
        return self._r2(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        # Forecasters of time series score poorly on the checks' random regressions.
        tags.regressor_tags.poor_score = True
        return tags


class BaseFamilyWindowRegressor(BaseWindowRegressor):
    """A window regressor that tells curve families apart.

    Every method takes ``families``, one label per window (any hashable values; None for
    one family), routed by scikit-learn's metadata routing (``set_fit_request``,
    ``set_predict_request``, ``set_score_request``). Subclasses receive it in their hooks
    as the keyword ``families``.
    """

    def fit(self, X, y, families=None):
        """Fit the model on windows ``X``, their targets ``y`` and their families.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows of history in time order (oldest window first).
        y : array-like of shape (n_samples,), (n_samples, n_targets) or \
                (n_samples, n_horizons, n_targets)
            Targets in levels.
        families : array-like of shape (n_samples,), default=None
            Curve family of each window; None for one family.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_template(X, y, families=families)

    def predict(self, X, families=None):
        """Point forecasts of the targets of every window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_pred : ndarray
            Forecasts in levels, in the layout of the ``y`` given to ``fit``.
        """
        return self._point(X, families=families)

    def predict_quantiles(self, X, quantiles=DEFAULT_QUANTILES, families=None):
        """Quantile forecasts of the targets of every window.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.5, 0.975)
            Strictly increasing levels in (0, 1).
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_quantiles : ndarray
            The layout of ``predict`` with a last axis of length ``n_quantiles``.
        """
        return self._quantiles(X, quantiles, families=families)

    def predict_interval(self, X, coverage=DEFAULT_COVERAGE, families=None):
        """Central prediction intervals: the quantiles at ``(1 -/+ coverage) / 2``.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        coverage : float, default=0.95
            Nominal coverage, strictly inside (0, 1).
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        y_interval : ndarray
            The layout of ``predict`` with a last axis (lower, upper).
        """
        return self._quantiles(X, interval_levels(coverage), families=families)

    def score(self, X, y, sample_weight=None, families=None):
        """Coefficient of determination of ``predict`` over every horizon and target.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, window * n_series)
            Windows laid out as in ``fit``.
        y : array-like
            True targets in the layout given to ``fit``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        families : array-like of shape (n_samples,), default=None
            Family of each window; required when fitted with families.

        Returns
        -------
        score : float
        """
        return self._r2(X, y, sample_weight, families=families)


# ======================================================================================
# Sequence models
# ======================================================================================

_DATED_INDEXES = (pd.DatetimeIndex, pd.PeriodIndex)


def _show_date(value):
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return str(value.date())
    return str(value)


def _index_frequency(index):
    """Regular frequency of a dated index, or None when it has none."""
    if isinstance(index, pd.PeriodIndex):
        return index.freq
    if index.freq is not None:
        return index.freq
    if len(index) < 3:
        return None
    inferred = pd.infer_freq(index)
    return None if inferred is None else pd.tseries.frequencies.to_offset(inferred)


def _following_dates(last, freq, steps):
    """The ``steps`` dates after ``last`` at frequency ``freq``."""
    if isinstance(last, pd.Period):
        return pd.period_range(start=last + 1, periods=steps, freq=freq)
    return pd.date_range(start=last + freq, periods=steps, freq=freq)


_STEPS = [Interval(Integral, 1, None)]


class BaseSequenceModel(BaseEstimator):
    """Base of the sequence models: panels, update, forecasts, predict and score.

    A sequence model is fitted on a panel whose rows are consecutive dates (a DataFrame
    with a DatetimeIndex or PeriodIndex, one column per series; or a 2-D array, whose
    rows are then taken as consecutive) and then moves forward in time.

    Subclasses implement:

    - ``fit(Y, y=None)``, which calls :meth:`_validate_fit_panel` first;
    - ``_update(values)``: filter ``values`` (n_new_dates, n_series) forward from the last
      date seen, parameters frozen (NaN rows are unobserved dates when the model
      handles missing values, ``_allow_missing = True``);
    - ``_forecast_moments(steps)``: mean and standard deviation, each (steps, n_series),
      of the forecasts ``1 .. steps`` dates after the last date seen; or, for a model
      whose forecast distribution is not Gaussian, ``_forecast_quantiles(steps, levels)``
      (steps, n_series, n_levels) and ``_forecast_mean(steps)``;
    - optionally ``_skip(n_steps)`` (advance the state over dates without observations;
      the default updates with NaN rows where missing values are handled) and
      ``_sample_paths(n_paths, steps, rng)``.

    Fitted attributes set by :meth:`_validate_fit_panel` (besides scikit-learn's
    ``n_features_in_`` and, for string column labels, ``feature_names_in_``):
    ``columns_`` (the training column labels, those of every forecast), ``last_date_``
    (the last date seen, None for panels without dates), ``freq_`` (the regular frequency
    of the dates, or None), ``index_name_`` (the name of the dates, given to the
    forecasts' index) and ``n_dates_seen_`` (dates seen by ``fit`` and ``update``).
    """

    _allow_missing = False

    # -- panels -------------------------------------------------------------------------

    @staticmethod
    def _panel_input(Y, name):
        """``Y`` as :func:`skyield.utils.check_panel` takes it: pandas objects as they are,
        anything else through scikit-learn's conversion once the numeric rule holds."""
        if isinstance(Y, (pd.DataFrame, pd.Series)):
            return Y
        check_numeric(Y, name)
        # scikit-learn's conversion: object arrays of numbers become float, while 1-D,
        # sparse, complex and column-less input get its standard errors.
        return check_array(Y, dtype=np.float64, ensure_all_finite=False,
                           ensure_min_samples=0, input_name=name)

    def _check_model_panel(self, Y, name, min_length=1, maturities=None,
                           need_maturities=False):
        """A :class:`skyield.utils.Panel` of ``Y``; subclasses may check more."""
        Y = self._panel_input(Y, name)
        panel = check_panel(Y, name=name, missing="allow", maturities=maturities,
                            need_maturities=need_maturities)
        missing = np.isnan(panel.values)
        if missing.any() and not self._allow_missing:
            row, col = np.argwhere(missing)[0]
            raise ValueError(
                f"{name} has {int(missing.sum())} missing (NaN) value(s); the first is at "
                f"{panel.label(row)}, column {panel.columns[col]!r}. "
                f"{type(self).__name__} needs complete panels: select a span and series "
                f"without gaps"
            )
        if panel.n_dates < min_length:
            raise ValueError(
                f"{name} has {panel.n_dates} dates (n_samples = {panel.n_dates}) but "
                f"{type(self).__name__} needs at least {min_length} consecutive dates"
            )
        return panel

    @staticmethod
    def _sklearn_view(Y, panel):
        return Y if isinstance(Y, pd.DataFrame) else panel.values

    def _validate_fit_panel(self, Y, *, min_length=1, maturities=None,
                            need_maturities=False):
        """Check the parameters and the training panel; remember its columns and dates.

        Returns
        -------
        panel : Panel
        """
        validate_params(self)
        panel = self._check_model_panel(Y, "Y", min_length=min_length, maturities=maturities,
                                        need_maturities=need_maturities)
        if panel.curve:
            check_units(panel.values, name="Y")
        validate_data(self, self._sklearn_view(Y, panel), reset=True, skip_check_array=True)
        self.columns_ = list(panel.columns)
        index = panel.index
        self.index_name_ = None if index is None else index.name
        if isinstance(index, _DATED_INDEXES):
            self.last_date_ = index[-1]
            self.freq_ = _index_frequency(index)
        else:
            self.last_date_ = None
            self.freq_ = None
        self.n_dates_seen_ = panel.n_dates
        return panel

    def _validate_panel(self, Y, name="Y"):
        """Validate a panel given after ``fit`` against the training panel."""
        panel = self._check_model_panel(Y, name)
        validate_data(self, self._sklearn_view(Y, panel), reset=False, skip_check_array=True)
        self._check_same_columns(Y, panel, name)
        return panel

    def _check_same_columns(self, Y, panel, name):
        if not isinstance(Y, pd.DataFrame) or \
                self.columns_ == list(range(len(self.columns_))):
            return
        for position, (got, expected) in enumerate(zip(panel.columns, self.columns_)):
            if got != expected:
                raise ValueError(
                    f"{name} column {position} is {got!r} but the model was fitted with "
                    f"{expected!r} there; pass the series in the training order"
                )

    def _dates_after_last(self, panel, name):
        """Dates between the last date seen and ``panel``'s first date (its gap).

        Returns 0 for panels without dates (they are taken to follow directly). Raises
        when ``panel`` does not start after the last date seen, or, at a known frequency,
        when its dates are not on the frequency's grid.
        """
        if self.last_date_ is None:
            return 0
        index = panel.index
        if not isinstance(index, type(pd.Index([self.last_date_]))):
            raise ValueError(
                f"the model was fitted on a panel dated up to {_show_date(self.last_date_)}; "
                f"{name} must be a DataFrame indexed by the dates that follow it"
            )
        first = index[0]
        if first <= self.last_date_:
            raise ValueError(
                f"{name} starts on {_show_date(first)}, which is not after the last date "
                f"seen ({_show_date(self.last_date_)}): it must hold only dates that follow "
                f"the data seen (overlapping dates)"
            )
        if self.freq_ is None:
            return 0
        frequency = None if isinstance(first, pd.Period) else _offset_frequency(self.freq_)
        if frequency in _PERIOD:  # monthly, quarterly, annual
            # Monthly (quarterly, annual) dates are on the grid by calendar period, as the
            # data intake reads them: a business month end moved by a holiday (2018-03-29)
            # is that month's date, whichever month ends the dates seen fell on.
            last = _periods(pd.DatetimeIndex([self.last_date_]), frequency)[0]
            index = _periods(index, frequency)
            grid = pd.period_range(start=last + 1, end=max(index[-1], last + len(index)),
                                   freq=last.freq)
        else:
            grid = _following_dates(self.last_date_, self.freq_,
                                    self._periods_between(self.last_date_, index[-1]))
        positions = grid.get_indexer(index)
        off_grid = np.flatnonzero(positions < 0)
        if off_grid.size:
            row = int(off_grid[0])
            raise ValueError(
                f"{name} date {_show_date(index[row])} (row {row}) is not on the "
                f"{self.freq_.freqstr} grid of the dates seen"
            )
        skipped = np.flatnonzero(np.diff(positions) != 1)
        if skipped.size:
            row = int(skipped[0]) + 1
            raise ValueError(
                f"{name} skips dates of frequency {self.freq_.freqstr}: row {row} is "
                f"{_show_date(index[row])}, expected {_show_date(grid[positions[row - 1] + 1])}"
            )
        return int(positions[0])

    def _periods_between(self, last, end):
        if isinstance(last, pd.Period):
            return max(int((end - last).n), 1)
        count = len(pd.date_range(start=last, end=end, freq=self.freq_)) - 1
        return max(count, 1)

    def _validate_update_panel(self, Y_new):
        """Validate observations that must start right after the last date seen."""
        panel = self._validate_panel(Y_new, name="Y_new")
        gap = self._dates_after_last(panel, "Y_new")
        if gap:
            raise ValueError(
                f"Y_new starts on {_show_date(panel.index[0])}, {gap} date(s) after the date "
                f"that follows the last date seen ({_show_date(self.last_date_)}) at "
                f"frequency {self.freq_.freqstr}: a gap; pass the missing dates (as NaN "
                f"rows where the model handles missing values)"
            )
        return panel

    def _advance(self, panel):
        if self.last_date_ is not None:
            self.last_date_ = panel.index[-1]
        self.n_dates_seen_ += panel.n_dates

    def _future_index(self, steps):
        """Forecast dates when the panel has a regular frequency, else ``1 .. steps``."""
        if self.last_date_ is not None and self.freq_ is not None:
            return _following_dates(self.last_date_, self.freq_, steps).rename(
                self.index_name_)
        return pd.RangeIndex(1, steps + 1, name="step")

    # -- hooks --------------------------------------------------------------------------

    def _update(self, values):
        raise NotImplementedError

    def _forecast_moments(self, steps):
        raise NotImplementedError(f"{type(self).__name__} has no Gaussian forecast moments")

    def _forecast_mean(self, steps, **options):
        return self._forecast_moments(steps, **options)[0]

    def _forecast_quantiles(self, steps, levels, **options):
        mean, std = self._forecast_moments(steps, **options)
        return mean[..., None] + std[..., None] * norm.ppf(levels)

    def _skip(self, n_steps):
        """Move the state ``n_steps`` dates forward without observations."""
        if not self._allow_missing:
            raise NotImplementedError(
                f"{type(self).__name__} cannot move its state over dates without "
                f"observations"
            )
        self._update(np.full((n_steps, len(self.columns_)), np.nan))

    def _sample_paths(self, n_paths, steps, rng):
        raise NotImplementedError(f"{type(self).__name__} does not simulate paths")

    # -- moving forward -----------------------------------------------------------------

    def update(self, Y_new):
        """Append observations that follow the last date seen (filtering only).

        The parameters stay frozen; the state moves to the end of ``Y_new`` so that
        :meth:`forecast` continues from there.

        Parameters
        ----------
        Y_new : DataFrame of shape (n_new_dates, n_series) or array-like
            New observations, same columns as the training panel. When the model was fitted
            on dated rows, ``Y_new`` must be a DataFrame whose first date follows the last
            date seen (the next date of the panel's frequency when it has one); a gap or an
            overlap is an error.

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        panel = self._validate_update_panel(Y_new)
        self._update(panel.values)
        self._advance(panel)
        return self

    def forecast(self, steps=1, *, quantiles=None, coverage=None):
        """Forecasts of every series ``1 .. steps`` dates after the last date seen.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.
        quantiles : array-like of shape (n_quantiles,), default=None
            Strictly increasing levels in (0, 1): return these quantiles instead of the
            mean.
        coverage : float, default=None
            Return the central interval of this coverage instead of the mean.

        Returns
        -------
        forecast : DataFrame of shape (steps, n_series), or ndarray
            The mean forecast, indexed by the future dates when the panel's dates have a
            regular frequency (else by ``1 .. steps``), with the training columns; with
            ``quantiles`` an ndarray of shape (steps, n_series, n_quantiles); with
            ``coverage`` an ndarray of shape (steps, n_series, 2) (lower, upper).
        """
        return self._forecast(steps, quantiles, coverage)

    def _forecast(self, steps, quantiles, coverage, columns=None, **options):
        """:meth:`forecast`; ``options`` go to the forecast hooks, ``columns`` label them."""
        check_is_fitted(self)
        steps = check_param(steps, "steps", _STEPS)
        if quantiles is not None and coverage is not None:
            raise ValueError("pass quantiles or coverage, not both")
        if quantiles is not None:
            return self._forecast_quantiles(steps, check_increasing_levels(quantiles),
                                            **options)
        if coverage is not None:
            return self._forecast_quantiles(steps, interval_levels(coverage), **options)
        return pd.DataFrame(self._forecast_mean(steps, **options),
                            index=self._future_index(steps),
                            columns=self.columns_ if columns is None else columns)

    def sample_paths(self, n_paths, steps, random_state=None):
        """Simulate future paths from the fitted model, conditional on the data seen.

        Parameters
        ----------
        n_paths : int
            Number of simulated paths.
        steps : int
            Length of each path (dates after the last date seen).
        random_state : int, RandomState instance or None, default=None
            Seed of the simulation.

        Returns
        -------
        paths : ndarray of shape (n_paths, steps, n_series)
        """
        check_is_fitted(self)
        n_paths = check_param(n_paths, "n_paths", _STEPS)
        steps = check_param(steps, "steps", _STEPS)
        return self._sample_paths(n_paths, steps, check_random_state(random_state))

    # -- forecasts of a block that follows ------------------------------------------------

    def _block_forecasts(self, Y, horizon, levels=None):
        """Forecasts of every row of ``Y`` from the origin ``horizon`` rows before it.

        ``Y`` follows the data seen, possibly after a gap of ``g`` unobserved dates. Row
        ``t`` is forecast at the origin ``t - horizon`` (in rows of ``Y``) with every
        observation the model has there; an origin before ``Y``'s first row (in the gap
        or earlier) has only the data seen, so that row is forecast ``g + t + 1`` steps
        from the last date seen. The model itself is not changed.

        Returns (n_dates, n_series) means, or (n_dates, n_series, n_levels) quantiles.
        """
        check_is_fitted(self)
        horizon = check_param(horizon, "horizon", _STEPS)
        panel = self._validate_panel(Y)
        gap = self._dates_after_last(panel, "Y")
        n_dates = panel.n_dates
        shape = (n_dates, panel.n_series) + (() if levels is None else (len(levels),))
        out = np.empty(shape)

        def ahead(model, steps):
            if levels is None:
                return model._forecast_mean(steps)
            return model._forecast_quantiles(steps, levels)

        early = min(horizon, n_dates)
        out[:early] = ahead(self, gap + early)[gap:gap + early]
        if n_dates > horizon:
            model = copy.deepcopy(self)
            if gap:
                model._skip(gap)
            for row in range(horizon, n_dates):
                model._update(panel.values[row - horizon:row - horizon + 1])
                out[row] = ahead(model, horizon)[horizon - 1]
        return out

    def _block_output(self, Y, values):
        if isinstance(Y, pd.DataFrame) and values.ndim == 2:
            return pd.DataFrame(values, index=Y.index, columns=Y.columns)
        return values

    def predict(self, Y, *, horizon=1):
        """Forecast every date of ``Y`` from the data before it, parameters frozen.

        ``Y`` is a block of dates that follows the data seen by ``fit`` and ``update``
        (a test span), possibly after a gap of dates the model has not seen. Row ``t`` of
        the result is the forecast of row ``t`` of ``Y`` made ``horizon`` dates earlier,
        with every observation available then: the data seen, and the rows of ``Y`` up to
        that origin. Rows whose origin lies before ``Y``'s first date are forecast from the
        last date seen, further ahead. The model does not move: ``update`` does that.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The block, with the training columns. A DataFrame with dates must start after
            the last date seen, on the dates' frequency; arrays carry no dates and are
            taken to follow the last date seen directly.
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_pred : DataFrame or ndarray of shape (n_dates, n_series)
            Mean forecasts, a DataFrame indexed like ``Y`` when ``Y`` is one.
        """
        return self._block_output(Y, self._block_forecasts(Y, horizon))

    def predict_quantiles(self, Y, quantiles=DEFAULT_QUANTILES, *, horizon=1):
        """Quantile forecasts of every date of ``Y`` (see :meth:`predict`).

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The block that follows the data seen.
        quantiles : array-like of shape (n_quantiles,), default=(0.025, 0.5, 0.975)
            Strictly increasing levels in (0, 1).
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_quantiles : ndarray of shape (n_dates, n_series, n_quantiles)
        """
        return self._block_forecasts(Y, horizon, check_increasing_levels(quantiles))

    def predict_interval(self, Y, coverage=DEFAULT_COVERAGE, *, horizon=1):
        """Central prediction intervals of every date of ``Y`` (see :meth:`predict`).

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The block that follows the data seen.
        coverage : float, default=0.95
            Nominal coverage, strictly inside (0, 1).
        horizon : int, default=1
            Dates between each origin and the date it forecasts.

        Returns
        -------
        y_interval : ndarray of shape (n_dates, n_series, 2)
            Lower and upper bounds.
        """
        return self._block_forecasts(Y, horizon, interval_levels(coverage))

    def score(self, Y, y=None, *, horizon=1):
        """Minus the mean squared error of the forecasts of a block that follows.

        The out-of-sample loss that ``GridSearchCV`` and ``cross_validate`` maximise:
        fitted on a training span, the model forecasts every date of the test block
        ``Y`` ``horizon`` dates ahead (see :meth:`predict`), and the squared errors are
        averaged over dates and series (missing values in ``Y`` are left out).

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_series) or array-like
            The test block, following the data seen.
        y : None
            Ignored; scikit-learn's signature.
        horizon : int, default=1
            Forecast horizon in dates.

        Returns
        -------
        score : float
            ``-mean((predict(Y) - Y) ** 2)``; greater is better.
        """
        forecasts = self._block_forecasts(Y, horizon)
        actual = self._validate_panel(Y).values
        observed = np.isfinite(actual)
        return -float(np.mean((forecasts[observed] - actual[observed]) ** 2))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.requires_fit = True
        return tags


# ======================================================================================
# Which kind an estimator is
# ======================================================================================


def estimator_kind(estimator):
    """Whether ``estimator`` is driven as a window regressor or as a sequence model.

    skyield's estimators say it by their base; any other estimator is a sequence model
    when it has ``forecast`` and ``update`` and a window regressor when it is a
    scikit-learn regressor (a pipeline that flattens windows before ``Ridge``, say).

    Parameters
    ----------
    estimator : estimator instance

    Returns
    -------
    kind : {"window", "sequence"}

    Raises
    ------
    TypeError
        When it is neither, naming what it lacks.

    Examples
    --------
    >>> from skyield.base import estimator_kind
    >>> from skyield.baselines import KalmanFactorModel, RandomWalk
    >>> estimator_kind(RandomWalk()), estimator_kind(KalmanFactorModel())
    ('window', 'sequence')
    """
    if isinstance(estimator, BaseSequenceModel):
        return "sequence"
    if isinstance(estimator, BaseWindowRegressor):
        return "window"
    sequence_like = callable(getattr(estimator, "forecast", None)) and \
        callable(getattr(estimator, "update", None))
    try:
        window_like = is_regressor(estimator)
    except (AttributeError, TypeError):
        window_like = False
    if sequence_like and not window_like:
        return "sequence"
    if window_like and not sequence_like:
        return "window"
    name = type(estimator).__name__
    if window_like:
        raise TypeError(
            f"{name} is a regressor and has forecast/update: derive it from "
            f"skyield.base.BaseWindowRegressor or BaseSequenceModel to say which it is"
        )
    raise TypeError(
        f"{name} is neither a window regressor (a scikit-learn regressor) nor a sequence "
        f"model (with forecast and update methods)"
    )


def accepts_families(method):
    """Whether ``method`` takes a ``families=`` argument (multi-family window models)."""
    try:
        return "families" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
