"""Random-walk forecaster, and the target/horizon/quantile helpers of the window baselines.

The helpers live here because the random walk is the simplest window regressor; the other
window baselines of this package import them.
"""

from numbers import Integral

import numpy as np
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from skyield.utils.validation import (
    check_coverage,
    check_increasing_levels,
    check_targets,
    restore_target_layout,
    validate_windows,
)

__all__ = ["RandomWalk"]

DISTRIBUTIONS = ("gaussian", "empirical")


def validate_window_data(estimator, X, y, window):
    """Validate windows and targets; ``y`` may have 1, 2 or 3 dimensions.

    Returns
    -------
    X3 : ndarray of shape (n_samples, window, n_series)
    y3 : ndarray of shape (n_samples, horizon, n_targets)
    layout : TargetLayout
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    shape = np.asarray(y).shape
    # A 3-D y is validated flattened to (n_samples, horizon * n_targets), then restored.
    flat = np.reshape(np.asarray(y), (shape[0], -1)) if len(shape) == 3 else y
    X3, checked = validate_windows(estimator, X, flat, window=window)
    if len(shape) == 3:
        checked = checked.reshape(shape)
    y3, layout = check_targets(checked, X3.shape[0])
    return X3, y3, layout


def flattened_r2_score(y, prediction, sample_weight=None):
    """``r2_score`` with the horizon and target axes of ``y`` flattened into outputs."""
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    return r2_score(y.reshape(n, -1), np.asarray(prediction).reshape(n, -1),
                    sample_weight=sample_weight)


def resolve_targets(targets, n_series, n_targets, owner):
    """Positions of the series that the columns of ``y`` hold.

    Parameters
    ----------
    targets : None, int or sequence of int
        None: ``y`` holds every input series in order. Otherwise the series positions
        (negative counts from the end), one per column of ``y``.
    n_series, n_targets : int
    owner : str
        Estimator name for error messages.

    Returns
    -------
    positions : ndarray of shape (n_targets,)
    """
    if targets is None:
        if n_targets != n_series:
            raise ValueError(
                f"y has {n_targets} target column(s) but X has {n_series} series; "
                f"{owner} forecasts its input series, so y needs one column per series, "
                f"or targets=[...] must say which series y holds"
            )
        return np.arange(n_series)
    positions = np.atleast_1d(np.asarray(targets))
    if positions.ndim != 1 or positions.dtype.kind not in "iu" or positions.size == 0:
        raise ValueError(f"targets must be an integer or a list of integers, got {targets!r}")
    bad = (positions < -n_series) | (positions >= n_series)
    if bad.any():
        raise ValueError(
            f"targets entry {int(positions[bad][0])} is out of range for X with "
            f"{n_series} series"
        )
    if positions.size != n_targets:
        raise ValueError(
            f"targets names {positions.size} series but y has {n_targets} target column(s)"
        )
    return positions % n_series


def resolve_horizons(horizons, n_horizons):
    """Steps ahead held by the horizon axis of ``y``.

    None means ``1 .. n_horizons``; otherwise a strictly increasing list of positive
    integers with one entry per horizon of ``y``.
    """
    if horizons is None:
        return np.arange(1, n_horizons + 1)
    if isinstance(horizons, Integral) and not isinstance(horizons, bool):
        horizons = [horizons]
    values = np.asarray(horizons)
    if values.ndim != 1 or values.dtype.kind not in "iu" or values.size == 0 \
            or np.any(values < 1) or np.any(np.diff(values) <= 0):
        raise ValueError(
            f"horizons must be positive, strictly increasing integers, got {horizons!r}"
        )
    if values.size != n_horizons:
        raise ValueError(
            f"horizons lists {values.size} steps ahead but y has {n_horizons} horizon(s) "
            f"on its second axis"
        )
    return values.astype(int)


def interval_levels(coverage):
    """Lower and upper quantile levels of a central interval of ``coverage``."""
    coverage = check_coverage(coverage)
    return np.array([(1 - coverage) / 2, (1 + coverage) / 2])


class RandomWalk(RegressorMixin, BaseEstimator):
    """Random-walk forecast: the last value of each window, at every horizon.

    With ``differences=False`` the inputs and targets are levels and the forecast of a
    target series at any horizon is its value at the last row of the window. With
    ``differences=True`` the inputs are changes and the targets changes since the
    forecast origin (as :func:`skyield.preprocessing.make_windows` builds them with
    ``differences=True``), and the forecast is zero change.

    Predictive quantiles add the distribution of the training forecast errors
    ``y - forecast``, i.e. of the h-step changes, per horizon and target: a Gaussian
    with mean zero and the mean squared h-step change as variance (no drift, like the
    point forecast), or the empirical quantiles of the training changes.

    Parameters
    ----------
    differences : bool, default=False
        Whether ``X`` holds changes and ``y`` changes since the origin.
    window : int, default=None
        Window length for reading a 2-D ``X`` (see :func:`skyield.utils.validate_windows`).
    targets : int, list of int or None, default=None
        Series (positions in ``X``) held by the columns of ``y``; None means every series.
    distribution : {"gaussian", "empirical"}, default="gaussian"
        Predictive distribution of the h-step change.

    Attributes
    ----------
    targets_ : ndarray of shape (n_targets,)
        Positions of the target series in ``X``.
    scale_ : ndarray of shape (horizon, n_targets)
        Root mean squared training h-step change (the Gaussian standard deviation).
    train_changes_ : ndarray of shape (n_samples, horizon, n_targets)
        Training h-step changes (forecast errors), for the empirical quantiles.
    n_series_in_ : int
        Number of series in the windows.
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

    def __init__(self, differences=False, window=None, targets=None, distribution="gaussian"):
        self.differences = differences
        self.window = window
        self.targets = targets
        self.distribution = distribution

    def fit(self, X, y):
        """Record the training h-step changes.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
            Windows of history.
        y : array-like of shape (n_samples,), (n_samples, n_targets) or
                (n_samples, horizon, n_targets)
            Targets: levels, or changes since the origin with ``differences=True``.

        Returns
        -------
        self : RandomWalk
        """
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}"
            )
        if not isinstance(self.differences, (bool, np.bool_)):
            raise ValueError(f"differences must be True or False, got {self.differences!r}")
        X3, y3, self.target_layout_ = validate_window_data(self, X, y, self.window)
        self.n_series_in_ = X3.shape[2]
        self.targets_ = resolve_targets(self.targets, X3.shape[2], y3.shape[2], "RandomWalk")
        self.train_changes_ = y3 - self._point(X3, y3.shape[1])
        self.scale_ = np.sqrt(np.mean(self.train_changes_**2, axis=0))
        return self

    def _point(self, X3, n_horizons):
        if self.differences:
            return np.zeros((X3.shape[0], n_horizons, self.targets_.size))
        last = X3[:, -1, self.targets_]
        return np.repeat(last[:, None, :], n_horizons, axis=1)

    def _validated_point(self, X):
        check_is_fitted(self)
        X3, _ = validate_windows(self, X, window=self.window, reset=False)
        return self._point(X3, self.target_layout_.horizon)

    def predict(self, X):
        """Last value of each window (levels) or zero change (differences).

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of the layout of ``y`` in ``fit``
            (n_samples,), (n_samples, n_targets) or (n_samples, horizon, n_targets).
        """
        return restore_target_layout(self._validated_point(X), self.target_layout_)

    def predict_quantiles(self, X, quantiles=(0.05, 0.5, 0.95)):
        """Predictive quantiles of the targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
        quantiles : array-like of shape (n_quantiles,), default=(0.05, 0.5, 0.95)
            Strictly increasing levels in (0, 1).

        Returns
        -------
        y_quantiles : ndarray
            The layout of ``predict`` with a last axis of length n_quantiles.
        """
        levels = check_increasing_levels(quantiles)
        point = self._validated_point(X)
        if self.distribution == "gaussian":
            offsets = self.scale_[..., None] * norm.ppf(levels)
        else:
            offsets = np.moveaxis(np.quantile(self.train_changes_, levels, axis=0), 0, -1)
        return restore_target_layout(point[..., None] + offsets, self.target_layout_)

    def predict_interval(self, X, coverage=0.95):
        """Central predictive interval.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
        coverage : float, default=0.95

        Returns
        -------
        y_interval : ndarray
            The layout of ``predict`` with a last axis (lower, upper).
        """
        return self.predict_quantiles(X, interval_levels(coverage))

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination over all horizons and targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, window, n_series) or (n_samples, n_features)
        y : array-like of the layout given to ``fit``
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``r2_score`` with the horizon and target axes flattened into outputs.
        """
        return flattened_r2_score(y, self.predict(X), sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        # Uninformative on arbitrary regression data by design: it is a benchmark.
        tags.regressor_tags.poor_score = True
        return tags

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        return [{}, {"differences": True, "distribution": "empirical"}]
