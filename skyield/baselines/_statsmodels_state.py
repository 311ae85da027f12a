"""Sequence-model hooks for estimators built on a statsmodels state-space model.

:class:`KalmanFactorModel` and :class:`GaussianLinearStateSpace` keep statsmodels results
objects as fitted state; this mixin implements the hooks of
:class:`skyield.base.BaseSequenceModel` on them (forecast moments, filtering new
observations, simulation, filtering a whole panel) and makes the estimators picklable
from read-only buffers.
"""

import pickle

import numpy as np

from skyield.base import BaseSequenceModel

__all__ = ["StateSpaceSequenceMixin"]


class _PickledResults:
    """A statsmodels results object kept as pickled bytes inside an estimator's state."""

    def __init__(self, payload):
        self.payload = payload


class StateSpaceSequenceMixin(BaseSequenceModel):
    """Sequence-model hooks for estimators built on a statsmodels state-space model.

    The estimator builds its statsmodels model for a panel with ``_state_space_model`` and
    keeps ``results_`` (the statsmodels results of the training fit, whose parameters
    filter new panels) and ``state_results_``: the results whose
    last period is the last date seen (``results_``, then each :meth:`update` extends it
    with filtering only). It maps data to model units with ``_to_model_units`` and back with
    ``_from_model_units(mean, std)``; the identity unless overridden. statsmodels' filter
    skips missing values, so the state crosses dates without observations as NaN rows.
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

    def _skip(self, n_steps):
        self._update(np.full((n_steps, len(self.columns_)), np.nan))

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
