"""Weighted rolling regression: a least-squares fit inside each window, then a forecast.

The regression is refitted on every window, so ``fit`` learns nothing from the training
sample but the distribution of its forecast errors (behind the quantiles). The per-window
weighted least squares are solved for all windows at once with a stacked
pseudo-inverse (the minimum-norm solution, as statsmodels' ``WLS`` with its default
``method="pinv"``).
"""

from numbers import Real

import numpy as np

from skyield.base import BaseWindowRegressor
from skyield.utils import Interval, Options

__all__ = ["WeightedRollingRegression"]


def half_life_weights(n, half_life):
    """Weights ``0.5 ** (age / half_life)`` of ``n`` observations, the newest last.

    Parameters
    ----------
    n : int
        Number of observations.
    half_life : float or None
        Half-life in steps; None gives equal weights.

    Returns
    -------
    weights : ndarray of shape (n,)
        The newest observation has weight 1.
    """
    age = np.arange(n - 1, -1, -1, dtype=float)
    if half_life is None:
        return np.ones(n)
    return 0.5 ** (age / half_life)


class WeightedRollingRegression(BaseWindowRegressor):
    """Rolling (exponentially weighted) linear regression refitted on every window.

    Inside a window ``x_1 .. x_W`` (rows are dates, columns the series), the h-step
    value of each target series is regressed on all series ``h`` steps earlier,

    ``x_{s+h, target} = a + b' x_s + e_s``,  ``s = 1 .. W - h``,

    by weighted least squares with weights ``0.5 ** (age / half_life)`` (the newest pair
    weighs 1), and the forecast is ``a + b' x_W``. This is the "rolling weighted
    regression moved forward through time" of the comparison in Hergott's attention
    study: the regression of the 10-year yield on the ten Treasury yields, refitted on
    each 52-week window, with more weight on recent observations. With
    ``differences=True`` the regressors are the first differences inside the window and
    the regressand the cumulative change ``x_{s+1} + ... + x_{s+h}`` of the target; the
    forecast change is added to the target's last level.

    When a window has fewer pairs than coefficients the minimum-norm least-squares
    solution is used (as statsmodels' ``WLS``). Predictive quantiles add the distribution
    of the forecast errors over the training windows (Gaussian with their root mean
    square, or empirical) to the forecast, per horizon.

    Parameters
    ----------
    window : int or "row", default=None
        Dates per window; required to read a 2-D ``X`` (``"row"``: each row is the
        window of one series). The windows must hold more dates (more changes, with
        ``differences=True``) than the longest horizon.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. n_horizons``.
    targets : int, list of int or None, default=-1
        Positions in ``X`` of the series to forecast (one regression each); None means
        every series.
    differences : bool, default=False
        Regress changes (see above).
    half_life : float, default=None
        Half-life of the weights in steps (dates); None gives equal weights, i.e. the
        plain rolling regression.
    fit_intercept : bool, default=True
        Whether the regressions have an intercept.
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Predictive distribution of the forecast error.

    Attributes
    ----------
    targets_ : ndarray of shape (n_targets,)
        Non-negative positions of the target series.
    horizons_ : ndarray of shape (n_horizons,)
        Steps ahead of each horizon of ``y``.
    residuals_ : ndarray of shape (n_samples, n_horizons, n_targets)
        Forecast errors over the training windows.
    n_series_in_ : int
        Number of series in the windows.
    n_features_in_ : int
        Number of features of ``X`` as passed.

    References
    ----------
    Hergott, M. J. (2019). Attention to the taper tantrum: an LSTM with attention on
    U.S. Treasury yields (section "Rolling Forecasts": rolling and weighted rolling
    regressions as the classical comparison).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import WeightedRollingRegression
    >>> from skyield.preprocessing import make_windows
    >>> rng = np.random.default_rng(0)
    >>> panel = np.cumsum(rng.normal(size=(60, 3)), axis=0)
    >>> w = make_windows(panel, window=20, horizons=1, targets=2)
    >>> model = WeightedRollingRegression(half_life=5, targets=2).fit(w.X, w.y[:, 0, 0])
    >>> model.predict(w.X).shape
    (40,)
    >>> model.predict_interval(w.X).shape
    (40, 2)
    """

    _parameter_constraints = {
        **BaseWindowRegressor._parameter_constraints,
        "half_life": [None, Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "distribution": [Options("gaussian", "empirical")],
    }
    _forecasts_inputs = True

    def __init__(self, *, window=None, horizons=None, targets=-1, differences=False,
                 half_life=None, fit_intercept=True, distribution="gaussian"):
        self.window = window
        self.horizons = horizons
        self.targets = targets
        self.differences = differences
        self.half_life = half_life
        self.fit_intercept = fit_intercept
        self.distribution = distribution

    def _fit(self, X, y):
        self._record_residuals(y, self._predict(X))

    def _predict(self, X):
        longest = int(self.horizons_[-1])
        if X.shape[1] <= longest:
            raise ValueError(
                f"windows of {X.shape[1]} {'changes' if self.differences else 'dates'} leave "
                f"no (regressor, target) pair for horizon {longest}; the windows must be "
                f"longer than the longest horizon (with window='row', n_features = "
                f"{X.shape[1]} dates)"
            )
        return np.stack([np.stack([self._forecast(X, int(h), int(target))
                                   for target in self.targets_], axis=-1)
                         for h in self.horizons_], axis=1)

    def _forecast(self, X3, horizon, target):
        n, window, _ = X3.shape
        n_pairs = window - horizon
        regressors = X3[:, :n_pairs, :]
        if self.differences:
            cumulative = np.cumsum(X3[:, :, target], axis=1)
            # Cumulative change over (s, s + h]: sum of the changes at s+1 .. s+h.
            response = cumulative[:, horizon:] - cumulative[:, :n_pairs]
        else:
            response = X3[:, horizon:, target]
        origin = X3[:, -1, :]
        if self.fit_intercept:
            regressors = np.concatenate([np.ones((n, n_pairs, 1)), regressors], axis=2)
            origin = np.concatenate([np.ones((n, 1)), origin], axis=1)
        root_w = np.sqrt(half_life_weights(n_pairs, self.half_life))
        coef = np.linalg.pinv(regressors * root_w[None, :, None]) @ (response * root_w)[..., None]
        return np.einsum("nk,nk->n", origin, coef[..., 0])

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        return [{"window": "row", "targets": 0},
                {"window": "row", "half_life": 2.0, "targets": 0, "fit_intercept": False,
                 "distribution": "empirical"}]
