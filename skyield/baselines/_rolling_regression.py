"""Weighted rolling regression: a least-squares fit inside each window, then a forecast.

The regression is refitted on every window, so ``fit`` learns nothing from the training
sample beyond its shapes: it validates and records the target layout. The per-window
weighted least squares are solved for all windows at once with a stacked
pseudo-inverse (the minimum-norm solution, as statsmodels' ``WLS`` with its default
``method="pinv"``).
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from skyield.baselines._random_walk import (
    flattened_r2_score,
    resolve_horizons,
    resolve_targets,
    validate_window_data,
)
from skyield.utils.validation import restore_target_layout, validate_windows

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


class WeightedRollingRegression(RegressorMixin, BaseEstimator):
    """Rolling (exponentially weighted) linear regression refitted on every window.

    Inside a window ``x_1 .. x_W`` (rows are dates, columns the series), the h-step
    value of the target series is regressed on all series ``h`` steps earlier,

    ``x_{s+h, target} = a + b' x_s + e_s``,  ``s = 1 .. W - h``,

    by weighted least squares with weights ``0.5 ** (age / half_life)`` (the newest pair
    weighs 1), and the forecast is ``a + b' x_W``. This is the "rolling weighted
    regression moved forward through time" of the comparison in Hergott's attention
    study: the regression of the 10-year yield on the ten Treasury yields, refitted on
    each 52-week window, with more weight on recent observations. With
    ``differences=True`` the inputs are changes and the regressand is the cumulative
    change ``x_{s+1} + ... + x_{s+h}`` of the target, matching targets built by
    :func:`skyield.preprocessing.make_windows` with ``differences=True``.

    When a window has fewer pairs than coefficients the minimum-norm least-squares
    solution is used (as statsmodels' ``WLS``).

    Parameters
    ----------
    window : int, default=None
        Window length for reading a 2-D ``X``; a 2-D ``X`` without ``window`` is one
        series of n_features lags.
    half_life : float, default=None
        Half-life of the weights in steps (dates); None gives equal weights, i.e. the
        plain rolling regression.
    target : int, default=-1
        Position in ``X`` of the series to forecast.
    horizons : int or list of int, default=None
        Steps ahead held by the horizon axis of ``y``; None means ``1 .. horizon``.
    differences : bool, default=False
        Whether ``X`` holds changes and ``y`` cumulative changes since the origin.
    fit_intercept : bool, default=True
        Whether the regressions have an intercept.

    Attributes
    ----------
    target_ : int
        Non-negative position of the target series.
    horizons_ : ndarray of shape (horizon,)
        Steps ahead of each horizon of ``y``.
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
    >>> model = WeightedRollingRegression(half_life=5).fit(w.X, w.y[:, 0, 0])
    >>> model.predict(w.X).shape
    (40,)
    """

    def __init__(self, window=None, half_life=None, target=-1, horizons=None,
                 differences=False, fit_intercept=True):
        self.window = window
        self.half_life = half_life
        self.target = target
        self.horizons = horizons
        self.differences = differences
        self.fit_intercept = fit_intercept

    def fit(self, X, y):
        """Validate the windows and record the target layout.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows of history.
        y : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, horizon, 1)
            The target series at the horizons (used for its layout only: the
            regressions are fitted inside each window).

        Returns
        -------
        self : WeightedRollingRegression
        """
        if self.half_life is not None and (
                not isinstance(self.half_life, Real) or isinstance(self.half_life, bool)
                or not np.isfinite(self.half_life) or self.half_life <= 0):
            raise ValueError(f"half_life must be a positive number or None, got {self.half_life!r}")
        if not isinstance(self.target, Integral) or isinstance(self.target, bool):
            raise ValueError(f"target must be an integer position, got {self.target!r}")
        X3, y3, self.target_layout_ = validate_window_data(self, X, y, self.window)
        if y3.shape[2] != 1:
            raise ValueError(
                f"WeightedRollingRegression forecasts one series (target={self.target}); y "
                f"must have shape (n_samples,), (n_samples, 1) or (n_samples, horizon, 1), "
                f"got {y3.shape[2]} target columns"
            )
        self.n_series_in_ = X3.shape[2]
        self.target_ = int(resolve_targets(self.target, X3.shape[2], 1,
                                           "WeightedRollingRegression")[0])
        self.horizons_ = resolve_horizons(self.horizons, y3.shape[1])
        self._check_pairs(X3.shape[1])
        return self

    def _check_pairs(self, window):
        longest = int(self.horizons_[-1])
        if window <= longest:
            raise ValueError(
                f"windows of length {window} leave no (regressor, target) pair for horizon "
                f"{longest}; the windows must be longer than the longest horizon "
                f"(a 2-D X of n_features={window} is read as one series of {window} lags "
                f"unless window is set)"
            )

    def predict(self, X):
        """Per-window weighted least-squares forecasts.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of the layout of ``y`` in ``fit``
        """
        check_is_fitted(self)
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        self._check_pairs(X3.shape[1])
        forecasts = np.stack([self._forecast(X3, int(h)) for h in self.horizons_], axis=1)
        return restore_target_layout(forecasts[:, :, None], self.target_layout_)

    def _forecast(self, X3, horizon):
        n, window, _ = X3.shape
        n_pairs = window - horizon
        regressors = X3[:, :n_pairs, :]
        if self.differences:
            series = X3[:, :, self.target_]
            cumulative = np.cumsum(series, axis=1)
            # Cumulative change over (s, s + h]: sum of the changes at s+1 .. s+h.
            response = cumulative[:, horizon:] - cumulative[:, :n_pairs]
        else:
            response = X3[:, horizon:, self.target_]
        origin = X3[:, -1, :]
        if self.fit_intercept:
            regressors = np.concatenate([np.ones((n, n_pairs, 1)), regressors], axis=2)
            origin = np.concatenate([np.ones((n, 1)), origin], axis=1)
        root_w = np.sqrt(half_life_weights(n_pairs, self.half_life))
        coef = np.linalg.pinv(regressors * root_w[None, :, None]) @ (response * root_w)[..., None]
        return np.einsum("nk,nk->n", origin, coef[..., 0])

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination over all horizons.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
        y : array-like of the layout given to ``fit``
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``r2_score`` with the horizon axis flattened into outputs.
        """
        return flattened_r2_score(y, self.predict(X), sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        # A regression refitted inside each window ignores the training targets.
        tags.regressor_tags.poor_score = True
        return tags

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        return [{}, {"half_life": 2.0, "target": 0, "fit_intercept": False}]
