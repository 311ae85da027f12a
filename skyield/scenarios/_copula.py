"""Gaussian copula across maturities, estimated from probability-integral transforms.

A window regressor that forecasts marginal quantiles per maturity says nothing about
how the maturities move together. :func:`fit_copula` reads each training (or
calibration) observation's probability-integral transform (PIT) off the model's own
predictive quantile function and estimates the correlation of their normal scores
(the van der Waerden estimator of a Gaussian copula). The quantile function is the
piecewise-linear interpolation of ``predict_quantiles`` on a fine grid of levels, in
normal-score coordinates: exact for Gaussian marginals, monotone for any model (crossing
quantiles are sorted first) and with Gaussian-shaped tails beyond the grid, extrapolated
linearly from the two outermost levels. No library offers this PIT/quantile-function
round trip for arbitrary quantile models, so it is written here.
"""

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.stats import norm
from sklearn.utils import check_random_state

from skyield.utils import (
    Interval,
    check_correlation,
    check_numeric,
    check_param,
    covariance_factor,
)

__all__ = ["GaussianCopula", "fit_copula", "DEFAULT_QUANTILE_GRID"]

#: Levels at which predictive quantile functions are read (0.005, 0.01, ..., 0.995).
DEFAULT_QUANTILE_GRID = np.round(np.linspace(0.005, 0.995, 199), 6)

_MAX_SCORE = 8.0  # normal scores are clipped to +-8 (levels 6e-16 from 0 or 1)


def check_quantile_grid(quantile_grid):
    """Validate a grid of levels: at least 2, strictly increasing, inside (0, 1)."""
    levels = np.asarray(DEFAULT_QUANTILE_GRID if quantile_grid is None else quantile_grid,
                        dtype=float)
    if levels.ndim != 1 or levels.size < 2 or np.any(~np.isfinite(levels)) \
            or np.any(levels <= 0) or np.any(levels >= 1) or np.any(np.diff(levels) <= 0):
        raise ValueError(
            "quantile_grid must hold at least 2 strictly increasing levels strictly between "
            f"0 and 1, got {quantile_grid!r}"
        )
    return levels


def _bracket(grid_scores, position):
    """Lower/upper neighbours in the grid (clipped so the end segments extrapolate)."""
    upper = np.clip(position, 1, grid_scores.size - 1)
    return upper - 1, upper


def quantiles_at_scores(quantiles, grid_scores, scores):
    """Evaluate quantile functions at normal scores.

    Parameters
    ----------
    quantiles : ndarray of shape (..., n_levels)
        Non-decreasing quantiles at the levels ``norm.cdf(grid_scores)``.
    grid_scores : ndarray of shape (n_levels,)
        Strictly increasing normal scores of the grid levels.
    scores : ndarray of shape (...)
        Normal scores ``norm.ppf(u)`` of the levels ``u`` wanted.

    Returns
    -------
    values : ndarray of shape (...)
        Piecewise-linear interpolation in normal-score coordinates, extrapolated
        linearly beyond the end levels.
    """
    lower, upper = _bracket(grid_scores, np.searchsorted(grid_scores, scores))
    q_lower = np.take_along_axis(quantiles, lower[..., None], axis=-1)[..., 0]
    q_upper = np.take_along_axis(quantiles, upper[..., None], axis=-1)[..., 0]
    weight = (scores - grid_scores[lower]) / (grid_scores[upper] - grid_scores[lower])
    return q_lower + weight * (q_upper - q_lower)


def scores_at_values(quantiles, grid_scores, values):
    """Normal scores of the PIT of ``values`` under the quantile functions.

    The inverse of :func:`quantiles_at_scores`. Where the quantile function is flat at the
    observation (a point mass), the score is the middle of the flat stretch.

    Parameters
    ----------
    quantiles : ndarray of shape (..., n_levels)
    grid_scores : ndarray of shape (n_levels,)
    values : ndarray of shape (...)

    Returns
    -------
    scores : ndarray of shape (...)
        ``norm.ppf(F(values))``, clipped to [-8, 8].
    """
    below = np.sum(quantiles < values[..., None], axis=-1)
    at_or_below = np.sum(quantiles <= values[..., None], axis=-1)
    lower, upper = _bracket(grid_scores, at_or_below)
    q_lower = np.take_along_axis(quantiles, lower[..., None], axis=-1)[..., 0]
    q_upper = np.take_along_axis(quantiles, upper[..., None], axis=-1)[..., 0]
    step = q_upper - q_lower
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(step > 0, (values - q_lower) / step, 0.5)
    scores = grid_scores[lower] + weight * (grid_scores[upper] - grid_scores[lower])
    # A point mass: the observation equals several grid quantiles.
    flat = at_or_below - below > 1
    if np.any(flat):
        first = np.clip(below, 0, grid_scores.size - 1)
        last = np.clip(at_or_below - 1, 0, grid_scores.size - 1)
        scores = np.where(flat, (grid_scores[first] + grid_scores[last]) / 2, scores)
    return np.clip(scores, -_MAX_SCORE, _MAX_SCORE)


def predictive_quantile_grid(estimator, X, levels):
    """The model's quantiles on the grid, one-step-ahead, as (n_samples, n_series, n_levels).

    A model fitted on several horizons contributes its first horizon, which must be one
    step ahead (checked through ``horizons_`` where the model has it).
    """
    quantiles = np.asarray(estimator.predict_quantiles(X, quantiles=levels), dtype=float)
    if quantiles.ndim == 4:
        horizons = getattr(estimator, "horizons_", None)
        if horizons is not None and int(np.asarray(horizons).ravel()[0]) != 1:
            raise ValueError(
                f"{type(estimator).__name__} forecasts horizons "
                f"{np.asarray(horizons).tolist()}; joint paths need its first horizon to be "
                f"one step ahead"
            )
        quantiles = quantiles[:, 0]
    elif quantiles.ndim == 2:
        quantiles = quantiles[:, None, :]
    if quantiles.ndim != 3 or quantiles.shape[-1] != levels.size:
        raise ValueError(
            f"{type(estimator).__name__}.predict_quantiles returned shape {quantiles.shape}; "
            f"expected (n_samples, [horizon,] n_targets, {levels.size})"
        )
    # Guard against quantile crossing: the quantile function must be non-decreasing.
    return np.maximum.accumulate(quantiles, axis=-1)


@dataclass(frozen=True, eq=False)
class GaussianCopula:
    """A Gaussian copula: the dependence of normal scores across maturities.

    Parameters
    ----------
    correlation : array-like of shape (n_series, n_series)
        Symmetric positive semi-definite matrix with a unit diagonal.
    n_observations : int or None, default=None
        Number of observations it was estimated from (for the record).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.scenarios import GaussianCopula
    >>> copula = GaussianCopula(np.array([[1.0, 0.8], [0.8, 1.0]]))
    >>> u = copula.sample(1000, random_state=0)
    >>> u.shape
    (1000, 2)
    >>> bool(np.all((u > 0) & (u < 1)))
    True
    """

    correlation: np.ndarray
    n_observations: int = None

    def __post_init__(self):
        corr = check_correlation(self.correlation)
        corr.setflags(write=False)
        object.__setattr__(self, "correlation", corr)

    @property
    def n_series(self):
        return self.correlation.shape[0]

    def _factor(self):
        return covariance_factor(self.correlation)

    def sample_scores(self, n_samples, random_state=None):
        """Draw normal scores ``z ~ N(0, correlation)``.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        scores : ndarray of shape (n_samples, n_series)
        """
        n_samples = check_param(n_samples, "n_samples", [Interval(Integral, 1, None)])
        rng = check_random_state(random_state)
        noise = rng.standard_normal((n_samples, self.n_series))
        return noise @ self._factor().T

    def sample(self, n_samples, random_state=None):
        """Draw uniforms with this copula, ``u = Phi(z)``.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        u : ndarray of shape (n_samples, n_series)
        """
        return norm.cdf(self.sample_scores(n_samples, random_state))


def fit_copula(estimator, X_train, y_train, *, quantile_grid=None):
    """Estimate a Gaussian copula across maturities from a model's PIT residuals.

    For each window ``X_train[i]`` the model's predictive quantile function of every
    series is read from ``predict_quantiles`` on ``quantile_grid`` (interpolated linearly
    in normal-score coordinates); the observation ``y_train[i]`` gets its PIT
    ``u = F(y)`` and normal score ``z = Phi^{-1}(u)``; the copula correlation is the
    sample correlation of the scores, rescaled to a unit diagonal.

    Use a span the model did not train on (a calibration span) when the model may
    over-fit: in-sample PITs of a flexible model are too concentrated, which biases the
    scale but much less the correlation.

    Parameters
    ----------
    estimator : fitted window regressor with ``predict_quantiles(X, quantiles)``
        Forecasting every series of the windows (``targets`` all of them) one step ahead.
    X_train : array-like of shape (n_samples, window, n_series)
        Windows of the training or calibration span.
    y_train : array-like of shape (n_samples, n_series) or (n_samples, horizon, n_series)
        The observed next curves (the first horizon is used).
    quantile_grid : array-like of shape (n_levels,), default=None
        Levels at which the predictive quantile functions are read; None means 0.005,
        0.010, ..., 0.995.

    Returns
    -------
    copula : GaussianCopula
        ``n_observations`` is ``n_samples``.

    References
    ----------
    Genest, C., Ghoudi, K. and Rivest, L.-P. (1995). A semiparametric estimation procedure
    of dependence parameters in multivariate families of distributions. Biometrika, 82(3).
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin (real-world yield scenarios for
    Solvency II and IFRS 17).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import RandomWalk
    >>> from skyield.preprocessing import make_windows
    >>> from skyield.scenarios import fit_copula
    >>> rng = np.random.default_rng(0)
    >>> steps = rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], size=400)
    >>> w = make_windows(np.cumsum(steps, axis=0), window=3, horizons=[1])
    >>> model = RandomWalk().fit(w.X, w.y)
    >>> copula = fit_copula(model, w.X, w.y)
    >>> round(float(copula.correlation[0, 1]), 1)
    0.7
    """
    if not hasattr(estimator, "predict_quantiles"):
        raise TypeError(
            f"fit_copula needs a model with predict_quantiles(X, quantiles); "
            f"{type(estimator).__name__} has none"
        )
    levels = check_quantile_grid(quantile_grid)
    quantiles = predictive_quantile_grid(estimator, X_train, levels)
    check_numeric(y_train, "y_train")
    y = np.asarray(y_train, dtype=float)
    if y.ndim == 3:
        y = y[:, 0]
    elif y.ndim == 1:
        y = y[:, None]
    if y.shape != quantiles.shape[:2]:
        raise ValueError(
            f"y_train has shape {np.shape(y_train)} but the model forecasts "
            f"{quantiles.shape[1]} series for {quantiles.shape[0]} windows"
        )
    if y.shape[0] < 3:
        raise ValueError(f"fit_copula needs at least 3 observations, got {y.shape[0]}")
    if not np.all(np.isfinite(y)):
        row, col = np.argwhere(~np.isfinite(y))[0]
        raise ValueError(f"y_train has a missing or infinite value at sample {row}, series {col}")
    scores = scores_at_values(quantiles, norm.ppf(levels), y)
    cov = np.atleast_2d(np.cov(scores, rowvar=False))
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        series = int(np.flatnonzero(sd == 0)[0])
        raise ValueError(
            f"the PIT scores of series {series} do not vary; its predictive distribution "
            f"is degenerate on this span and no correlation can be estimated"
        )
    corr = cov / np.outer(sd, sd)
    corr = (corr + corr.T) / 2
    np.fill_diagonal(corr, 1.0)
    return GaussianCopula(corr, n_observations=int(y.shape[0]))
