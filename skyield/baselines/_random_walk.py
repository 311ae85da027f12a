"""Random-walk forecaster: the benchmark every model of the package is judged against."""

import numpy as np

from skyield.base import BaseWindowRegressor
from skyield.utils import Options

__all__ = ["RandomWalk"]


class RandomWalk(BaseWindowRegressor):
    """Random-walk forecast: the last value of each window, at every horizon.

    The forecast of a target series at any horizon is its value at the window's last
    date (no drift). Predictive quantiles add the distribution of the training forecast
    errors ``y - forecast``, i.e. of the h-step changes, per horizon and target: a
    Gaussian with mean zero and the mean squared h-step change as variance, or the
    empirical quantiles of the training changes.

    Parameters
    ----------
    window : int, default=None
        Dates per window; required to read a 2-D ``X`` (see
        :class:`skyield.base.BaseWindowRegressor`).
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. n_horizons``.
    targets : int, list of int or None, default=None
        Series (positions in ``X``) held by the columns of ``y``; None means every series.
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Predictive distribution of the h-step change.

    Attributes
    ----------
    targets_ : ndarray of shape (n_targets,)
        Positions of the target series in ``X``.
    horizons_ : ndarray of shape (n_horizons,)
        Steps ahead of each horizon of ``y``.
    residuals_ : ndarray of shape (n_samples, n_horizons, n_targets)
        Training h-step changes (the forecast errors) behind the quantiles.
    n_series_in_ : int
        Number of series in the windows.
    window_ : int
        Dates per window.
    n_features_in_ : int
        Number of features of ``X`` as passed (``window * n_series`` for 2-D input).

    References
    ----------
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364 (the random walk benchmark).
    Kauffmann, P. C., Takada, H. H., Terada, A. T. and Stern, J. M. (2022). Learning
    forecast-efficient yield curve factor decompositions with neural networks.
    Econometrics, 10(2), 15 (model RW).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import RandomWalk
    >>> from skyield.preprocessing import make_windows
    >>> rng = np.random.default_rng(0)
    >>> panel = np.cumsum(rng.normal(size=(50, 2)), axis=0)
    >>> w = make_windows(panel, window=5, horizons=[1, 2])
    >>> model = RandomWalk().fit(w.X, w.y)
    >>> bool(np.all(model.predict(w.X) == w.X[:, [-1, -1], :]))
    True
    >>> model.predict_interval(w.X[:1]).shape
    (1, 2, 2, 2)
    """

    _parameter_constraints = {
        **BaseWindowRegressor._parameter_constraints,
        "distribution": [Options("gaussian", "empirical")],
    }
    _forecasts_inputs = True

    def __init__(self, *, window=None, horizons=None, targets=None, distribution="gaussian"):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.distribution = distribution

    def _fit(self, X, y):
        self._record_residuals(y, self._predict(X))

    def _predict(self, X):
        last = X[:, -1, self.targets_]
        return np.repeat(last[:, None, :], self.horizons_.size, axis=1)

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks (one-date windows)."""
        return [{"window": 1, "targets": -1},
                {"window": 1, "targets": [0], "distribution": "empirical"}]
