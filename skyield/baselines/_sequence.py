"""Shared plumbing of the sequence models (state-space and sequence-to-factor estimators).

A sequence model is fitted on one panel whose rows are consecutive dates and then moves
forward in time: ``transform`` filters factors over any panel with frozen parameters,
``update`` appends observations that follow the last date seen (filtering only, no
re-estimation) and ``forecast`` continues from there. This module holds what every such
model needs besides its own mathematics:

- checking a panel and remembering its columns, its last date and its frequency;
- checking that an update starts right after the last date seen (no gap, no overlap);
- the dates of the forecast horizon;
- point forecasts, quantiles and intervals from Gaussian forecast moments, and the
  validation of ``steps``, ``quantiles``, ``coverage`` and ``n_paths``.

Subclasses implement ``_forecast_moments(steps)`` (mean and standard deviation of the
forecast distribution), ``_update(values)`` and, optionally, ``_sample_paths(n_paths,
steps, rng)``. :class:`StateSpaceSequenceMixin` implements them for models built on a
:mod:`statsmodels` state-space results object.
"""

import numbers
import pickle

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield.utils.validation import check_coverage, check_increasing_levels, check_panel

__all__ = ["SequenceModelMixin", "StateSpaceSequenceMixin"]

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


def check_positive_int(value, name):
    """Return ``value`` as an int, raising a clear error unless it is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class SequenceModelMixin:
    """Panel bookkeeping and the forecast API shared by sequence models.

    Fitted attributes set by :meth:`_validate_fit_panel` (besides scikit-learn's
    ``n_features_in_`` and, for DataFrames with string labels, ``feature_names_in_``):

    - ``columns_`` : list, the column labels of the training panel (``0 .. n - 1`` for
      arrays); the columns of every forecast.
    - ``last_date_`` : Timestamp, Period or None, the last date seen (None when the
      panels carry no dates).
    - ``freq_`` : pandas offset or None, the regular frequency of the training dates.
    - ``n_dates_seen_`` : int, dates seen by ``fit`` and ``update`` together.

    A model whose filter handles missing values sets the class attribute
    ``_allow_missing = True``; otherwise a NaN is an error naming its date and column.
    """

    _allow_missing = False

    # -- panels -------------------------------------------------------------------------

    def _check_model_panel(self, Y, name, min_length=1, maturities=None,
                           need_maturities=False):
        if not isinstance(Y, (pd.DataFrame, pd.Series)):
            # scikit-learn's conversion: object arrays of numbers become float, while
            # 1-D, sparse, complex and column-less input get its standard errors.
            Y = check_array(Y, dtype=np.float64, ensure_all_finite=False,
                            ensure_min_samples=0, input_name=name)
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

    def _sklearn_view(self, Y, panel):
        return Y if isinstance(Y, pd.DataFrame) else panel.values

    def _validate_fit_panel(self, Y, *, min_length=1, maturities=None,
                            need_maturities=False):
        """Validate the training panel and remember its columns, dates and frequency.

        Returns
        -------
        panel : Panel
        """
        panel = self._check_model_panel(Y, "Y", min_length=min_length, maturities=maturities,
                                        need_maturities=need_maturities)
        validate_data(self, self._sklearn_view(Y, panel), reset=True, skip_check_array=True)
        self.columns_ = list(panel.columns)
        index = panel.index
        if isinstance(index, _DATED_INDEXES):
            self.last_date_ = index[-1]
            self.freq_ = _index_frequency(index)
        else:
            self.last_date_ = None
            self.freq_ = None
        self.n_dates_seen_ = panel.n_dates
        return panel

    def _validate_panel(self, Y, name="Y"):
        """Validate a panel given to ``transform``/``predict`` against the training panel."""
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

    def _validate_update_panel(self, Y_new):
        """Validate observations that must start right after the last date seen."""
        panel = self._validate_panel(Y_new, name="Y_new")
        if self.last_date_ is None:
            return panel
        index = panel.index
        if not isinstance(index, type(pd.Index([self.last_date_]))):
            raise ValueError(
                f"the model was fitted on a panel dated up to {_show_date(self.last_date_)}; "
                f"Y_new must be a DataFrame indexed by the dates that follow it"
            )
        first = index[0]
        if first <= self.last_date_:
            raise ValueError(
                f"Y_new starts on {_show_date(first)}, which is not after the last date seen "
                f"({_show_date(self.last_date_)}); update takes only new observations "
                f"(overlapping dates)"
            )
        if self.freq_ is not None:
            expected = _following_dates(self.last_date_, self.freq_, panel.n_dates)
            if first != expected[0]:
                raise ValueError(
                    f"Y_new starts on {_show_date(first)} but the date after the last date "
                    f"seen ({_show_date(self.last_date_)}) at frequency {self.freq_.freqstr} "
                    f"is {_show_date(expected[0])} (a gap or an off-grid date)"
                )
            mismatch = np.flatnonzero(np.asarray(index != expected))
            if mismatch.size:
                row = int(mismatch[0])
                raise ValueError(
                    f"Y_new dates must follow frequency {self.freq_.freqstr}: row {row} is "
                    f"{_show_date(index[row])}, expected {_show_date(expected[row])}"
                )
        return panel

    def _advance(self, panel):
        if self.last_date_ is not None:
            self.last_date_ = panel.index[-1]
        self.n_dates_seen_ += panel.n_dates

    def _future_index(self, steps):
        """Forecast dates when the panel has a regular frequency, else ``1 .. steps``."""
        if self.last_date_ is not None and self.freq_ is not None:
            return _following_dates(self.last_date_, self.freq_, steps)
        return pd.RangeIndex(1, steps + 1, name="step")

    # -- public API ---------------------------------------------------------------------

    def update(self, Y_new):
        """Append observations that follow the last date seen (filtering only).

        The parameters stay frozen; the filtered state moves to the end of ``Y_new`` so
        that :meth:`forecast` continues from there.

        Parameters
        ----------
        Y_new : DataFrame of shape (n_new_dates, n_series) or array-like
            New observations, same columns as the training panel. When the model was fitted
            on dated rows, ``Y_new`` must be a DataFrame whose first date follows the last
            date seen (the next date of the panel's frequency when it has one); a gap or an
            overlap is an error. Without a regular frequency only overlaps can be detected.

        Returns
        -------
        self : object
        """
        check_is_fitted(self)
        panel = self._validate_update_panel(Y_new)
        self._update(panel.values)
        self._advance(panel)
        return self

    def forecast(self, steps=1):
        """Mean forecast of every series ``1 .. steps`` dates after the last date seen.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.

        Returns
        -------
        forecast : DataFrame of shape (steps, n_series)
            Indexed by the future dates when the panel's dates have a regular frequency,
            else by ``1 .. steps``; the columns are those of the training panel.
        """
        check_is_fitted(self)
        steps = check_positive_int(steps, "steps")
        mean, _ = self._forecast_moments(steps)
        return pd.DataFrame(mean, index=self._future_index(steps), columns=self.columns_)

    def forecast_quantiles(self, steps=1, quantiles=(0.05, 0.5, 0.95)):
        """Quantiles of the forecast distribution ``1 .. steps`` dates ahead.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.
        quantiles : sequence of float, default=(0.05, 0.5, 0.95)
            Strictly increasing levels in (0, 1).

        Returns
        -------
        quantiles : ndarray of shape (steps, n_series, n_quantiles)
            ``[h, j, q]`` is the ``quantiles[q]`` quantile of series ``j`` at horizon
            ``h + 1``; sorted along the last axis.
        """
        check_is_fitted(self)
        steps = check_positive_int(steps, "steps")
        levels = check_increasing_levels(quantiles)
        mean, std = self._forecast_moments(steps)
        return mean[..., None] + std[..., None] * norm.ppf(levels)

    def forecast_interval(self, steps=1, coverage=0.95):
        """Central prediction interval ``1 .. steps`` dates ahead.

        Parameters
        ----------
        steps : int, default=1
            Forecast horizon.
        coverage : float, default=0.95
            Nominal probability that the interval holds the outcome.

        Returns
        -------
        interval : ndarray of shape (steps, n_series, 2)
            Lower and upper bounds along the last axis.
        """
        coverage = check_coverage(coverage)
        return self.forecast_quantiles(steps, [(1 - coverage) / 2, (1 + coverage) / 2])

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
        n_paths = check_positive_int(n_paths, "n_paths")
        steps = check_positive_int(steps, "steps")
        return self._sample_paths(n_paths, steps, check_random_state(random_state))

    # -- hooks --------------------------------------------------------------------------

    def _forecast_moments(self, steps):
        """Return the forecast mean and standard deviation, each (steps, n_series)."""
        raise NotImplementedError

    def _update(self, values):
        """Filter ``values`` (n_new_dates, n_series) forward from the last date seen."""
        raise NotImplementedError

    def _sample_paths(self, n_paths, steps, rng):
        raise NotImplementedError(f"{type(self).__name__} does not simulate paths")


class _PickledResults:
    """A statsmodels results object kept as pickled bytes inside an estimator's state."""

    def __init__(self, payload):
        self.payload = payload


class StateSpaceSequenceMixin(SequenceModelMixin):
    """Sequence-model hooks for estimators built on a statsmodels state-space model.

    The estimator builds its statsmodels model for a panel with ``_state_space_model`` and
    keeps ``results_`` (the statsmodels results of the training fit, whose parameters
    filter new panels) and ``state_results_``: the results whose
    last period is the last date seen (``results_``, then each :meth:`update` extends it
    with filtering only). It maps data to model units with ``_to_model_units`` and back with
    ``_from_model_units(mean, std)``; the identity unless overridden.
    """

    _STATSMODELS_ATTRIBUTES = ("results_", "state_results_")

    def __getstate__(self):
        # statsmodels' Cython state-space objects cannot be rebuilt from read-only
        # buffers (joblib memory-maps arrays when loading); stored as bytes, they are
        # rebuilt from writable copies.
        state = dict(super().__getstate__())  # a copy: never alter the live estimator
        for name in self._STATSMODELS_ATTRIBUTES:
            if name in state:
                state[name] = _PickledResults(pickle.dumps(state[name]))
        return state

    def __setstate__(self, state):
        state = dict(state)
        for name in self._STATSMODELS_ATTRIBUTES:
            if isinstance(state.get(name), _PickledResults):
                state[name] = pickle.loads(state[name].payload)
        super().__setstate__(state)

    def _to_model_units(self, values):
        return values

    def _state_space_model(self, data):
        """The statsmodels model of the fitted specification for ``data`` (model units)."""
        raise NotImplementedError

    def _from_model_units(self, mean, std):
        return mean, std

    def _forecast_moments(self, steps):
        prediction = self.state_results_.get_forecast(steps)
        mean = np.asarray(prediction.predicted_mean, dtype=float).reshape(steps, -1)
        std = np.asarray(prediction.se_mean, dtype=float).reshape(steps, -1)
        return self._from_model_units(mean, std)

    def _update(self, values):
        self.state_results_ = self.state_results_.extend(self._to_model_units(values))

    def _sample_paths(self, n_paths, steps, rng):
        simulated = self.state_results_.simulate(
            steps, anchor="end", repetitions=n_paths, rng=rng
        )
        # statsmodels returns (steps, n_series, n_paths)
        paths = np.asarray(simulated, dtype=float).reshape(steps, -1, n_paths)
        paths = np.moveaxis(paths, -1, 0)
        mean, _ = self._from_model_units(paths, np.zeros_like(paths))
        return mean

    def _filter_panel(self, values, smooth=False):
        """Filter (or smooth) a panel from the model's initial state, parameters frozen."""
        model = self._state_space_model(self._to_model_units(values))
        # A fresh, writable copy: a results object loaded read-only (e.g. memory-mapped
        # by joblib) cannot be handed to statsmodels' Cython filter.
        params = np.array(self.results_.params, dtype=float)
        results = model.smooth(params, cov_type="none") if smooth else \
            model.filter(params, cov_type="none")
        if smooth:
            return results.smoothed_state, results
        return results.filtered_state, results
