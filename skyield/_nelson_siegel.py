"""Nelson-Siegel and Svensson factor loadings.

Kept at the bottom of the package so that both the simulators in :mod:`skyield.datasets`
and the estimators in :mod:`skyield.baselines` can use them; the public names are exported
from :mod:`skyield.baselines`.
"""

import numpy as np


def _slope_and_curvature(maturities, decay):
    x = decay * maturities
    # (1 - e^{-x}) / x -> 1 and the curvature loading -> 0 as the maturity goes to 0.
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(x > 0, -np.expm1(-x) / np.where(x > 0, x, 1.0), 1.0)
    curvature = slope - np.exp(-x)
    return slope, curvature


def _check_decay(decay, name):
    decay = float(decay)
    if not np.isfinite(decay) or decay <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {decay!r}")
    return decay


def _check_maturity_array(maturities):
    tau = np.asarray(maturities, dtype=float)
    if tau.ndim > 1:
        raise ValueError(f"maturities must be one-dimensional, got shape {tau.shape}")
    tau = np.atleast_1d(tau)
    if not np.all(np.isfinite(tau)) or np.any(tau < 0):
        raise ValueError("maturities must be finite and non-negative (in years)")
    return tau


def nelson_siegel_loadings(maturities, decay):
    """Nelson-Siegel factor loadings (level, slope, curvature).

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,)
        Maturities in years (non-negative).
    decay : float
        Decay parameter lambda in 1/years. Diebold and Li's 0.0609 per month is
        ``0.0609 * 12 = 0.7308`` per year.

    Returns
    -------
    loadings : ndarray of shape (n_maturities, 3)
        Columns ``1``, ``(1 - exp(-lambda tau)) / (lambda tau)`` and that minus
        ``exp(-lambda tau)``; the limits at ``tau = 0`` are 1, 1 and 0.

    References
    ----------
    Nelson, C. R. and Siegel, A. F. (1987). Parsimonious modeling of yield curves.
    Journal of Business, 60(4), 473-489.
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364.

    Examples
    --------
    >>> from skyield.baselines import nelson_siegel_loadings
    >>> nelson_siegel_loadings([0.0, 10.0], decay=0.7308).round(3)
    array([[1.   , 1.   , 0.   ],
           [1.   , 0.137, 0.136]])
    """
    tau = _check_maturity_array(maturities)
    decay = _check_decay(decay, "decay")
    slope, curvature = _slope_and_curvature(tau, decay)
    return np.column_stack([np.ones_like(tau), slope, curvature])


def svensson_loadings(maturities, decay1, decay2):
    """Svensson (Nelson-Siegel-Svensson) factor loadings.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,)
        Maturities in years (non-negative).
    decay1, decay2 : float
        Decay parameters in 1/years of the first and second curvature terms.

    Returns
    -------
    loadings : ndarray of shape (n_maturities, 4)
        The three Nelson-Siegel loadings at ``decay1`` followed by the curvature loading
        at ``decay2``.

    References
    ----------
    Svensson, L. E. O. (1994). Estimating and interpreting forward interest rates:
    Sweden 1992-1994. NBER Working Paper 4871.
    """
    tau = _check_maturity_array(maturities)
    decay1 = _check_decay(decay1, "decay1")
    decay2 = _check_decay(decay2, "decay2")
    slope, curvature1 = _slope_and_curvature(tau, decay1)
    _, curvature2 = _slope_and_curvature(tau, decay2)
    return np.column_stack([np.ones_like(tau), slope, curvature1, curvature2])


def extended_svensson_loadings(maturities, n_factors, decays):
    """Svensson loadings extended to any number of factors.

    The columns are, in order, ``1``, ``slope(decay1)``, ``curvature(decay1)``,
    ``curvature(decay2)`` and ``slope(decay2)``, where ``slope`` and ``curvature`` are the
    second and third Nelson-Siegel loadings; from the sixth on, pairs of curvature and
    slope loadings follow at decays halved each time (``decay2 / 2``, ``decay2 / 4``, ...).
    The slope at ``decay2`` keeps five columns linearly independent (its curvature is
    already there), and the smaller decays add shapes that move further out on the curve.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,)
        Maturities in years (non-negative).
    n_factors : int
        Number of columns, at least 1. The first 3 are the Nelson-Siegel loadings at
        ``decay1`` and the first 4 the Svensson loadings.
    decays : pair of float
        ``(decay1, decay2)`` in 1/years.

    Returns
    -------
    loadings : ndarray of shape (n_maturities, n_factors)

    See Also
    --------
    svensson_loadings : The first four columns.

    Examples
    --------
    >>> from skyield.baselines import extended_svensson_loadings
    >>> extended_svensson_loadings([0.0, 1.0, 10.0], 5, (0.7, 0.2)).round(3)
    array([[1.   , 1.   , 0.   , 0.   , 1.   ],
           [1.   , 0.719, 0.223, 0.088, 0.906],
           [1.   , 0.143, 0.142, 0.297, 0.432]])
    """
    if isinstance(n_factors, bool) or not isinstance(n_factors, (int, np.integer)) \
            or n_factors < 1:
        raise ValueError(f"n_factors must be a positive integer, got {n_factors!r}")
    if np.ndim(decays) != 1 or len(decays) != 2:
        raise ValueError(f"decays must be a pair (decay1, decay2), got {decays!r}")
    first, second = decays
    columns = list(svensson_loadings(maturities, first, second).T)
    columns.append(nelson_siegel_loadings(maturities, second)[:, 1])
    decay = second
    while len(columns) < n_factors:
        decay = decay / 2.0
        extra = nelson_siegel_loadings(maturities, decay)
        columns += [extra[:, 2], extra[:, 1]]
    return np.column_stack(columns[:n_factors])


def decay_for_peak_curvature(maturity):
    """Decay at which the Nelson-Siegel curvature loading peaks at ``maturity`` (years).

    This is the Diebold-Li rule: they fix lambda so that the curvature loading is maximal
    at 30 months (lambda = 0.0609 per month). Solved numerically.

    Parameters
    ----------
    maturity : float
        Maturity in years where the curvature loading should peak.

    Returns
    -------
    decay : float
        Decay in 1/years.
    """
    from scipy.optimize import brentq

    maturity = float(maturity)
    if not np.isfinite(maturity) or maturity <= 0:
        raise ValueError(f"maturity must be positive and finite, got {maturity!r}")
    # d/dx [(1 - e^{-x})/x - e^{-x}] = 0 has a single root x* ~ 1.7933 in x = lambda * tau.
    x_star = brentq(
        lambda x: (np.exp(-x) * (x * x + x + 1.0) - 1.0) / (x * x), 0.1, 10.0
    )
    return x_star / maturity
