"""Yield curves simulated from a dynamic Nelson-Siegel model with known factors."""

import numbers

import numpy as np
import pandas as pd
from scipy.linalg import solve_discrete_lyapunov
from sklearn.utils import Bunch, check_random_state

from skyield._nelson_siegel import nelson_siegel_loadings
from skyield.utils._maturities import parse_maturities
from skyield.utils.validation import check_covariance, check_maturities, check_numeric

__all__ = ["make_nelson_siegel_curves"]

_FACTOR_NAMES = ("level", "slope", "curvature")
_DEFAULT_MATURITIES = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0)
# Persistence ordered as in Diebold and Li's estimated factors (level most persistent,
# curvature least), with mean and monthly shock sizes of the same order as theirs.
_DEFAULT_TRANSITION = np.diag([0.99, 0.97, 0.90])
_DEFAULT_MEAN = np.array([6.0, -2.0, -0.5])
_DEFAULT_SHOCK_STD = np.array([0.3, 0.4, 0.7])


def _check_int(value, name, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_maturities(maturities):
    if np.ndim(maturities) > 1:
        raise ValueError(
            f"maturities must be one-dimensional, got shape {np.shape(maturities)}"
        )
    labels = list(np.atleast_1d(np.asarray(maturities, dtype=object)))
    if not labels:
        raise ValueError("maturities must contain at least one maturity")
    return check_maturities(parse_maturities(labels, unit="years"))


def _check_families(n_families):
    if isinstance(n_families, numbers.Integral) and not isinstance(
        n_families, (bool, np.bool_)
    ):
        count = _check_int(n_families, "n_families", 1)
        return [f"family_{i + 1}" for i in range(count)]
    if isinstance(n_families, str) or not hasattr(n_families, "__iter__"):
        raise TypeError(
            "n_families must be a positive integer or a list of family names, got "
            f"{n_families!r}"
        )
    names = list(n_families)
    if not names:
        raise ValueError("n_families must name at least one family")
    seen = set()
    for name in names:
        if name in seen:
            raise ValueError(f"family names must be unique; {name!r} appears twice")
        seen.add(name)
    return names


def _check_matrix(value, name, shape):
    check_numeric(value, name)
    array = np.asarray(value, dtype=float)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _symmetric_sqrt(cov, name):
    """The symmetric square root ``V sqrt(L) V'`` of a covariance matrix, after
    :func:`~skyield.utils.check_covariance` (the simulated draws are defined by it)."""
    values, vectors = np.linalg.eigh(check_covariance(cov, name))
    # Only rounding noise below zero is left at this point.
    return (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T


def _mix_families(draws, rho, axis):
    """Multiply standard normal draws along the family ``axis`` by the square root of
    the equicorrelation matrix ``rho 11' + (1 - rho) I``, without forming it."""
    n_families = draws.shape[axis]
    common = np.sqrt(1.0 + (n_families - 1) * rho)
    own = np.sqrt(1.0 - rho)
    return own * draws + (common - own) * draws.mean(axis=axis, keepdims=True)


def make_nelson_siegel_curves(
    n_dates=240,
    maturities=_DEFAULT_MATURITIES,
    *,
    n_families=1,
    decay=0.7308,
    transition=None,
    factor_mean=None,
    factor_cov=None,
    family_correlation=0.5,
    noise_std=0.05,
    start="2000-01-31",
    freq="ME",
    random_state=None,
):
    """Simulate yield curves from a dynamic Nelson-Siegel model with known factors.

    For each family ``f`` and date ``t`` the factors ``beta_t^f = (level, slope,
    curvature)`` follow a stationary VAR(1) around a mean,

    ``beta_t^f - mu^f = A (beta_{t-1}^f - mu^f) + eta_t^f``,
    ``eta_t^f ~ N(0, Q)``,  ``Cov(eta_t^f, eta_t^g) = rho Q`` for ``f != g``,

    started from the stationary distribution, and the yields are

    ``y_t^f(tau) = Lambda(tau) beta_t^f + e_t^f(tau)``,
    ``e_t^f(tau) ~ N(0, noise_std^2)`` independent over dates, maturities and families,

    with the Nelson-Siegel loadings ``Lambda(tau) = (1, (1 - exp(-lambda tau)) / (lambda
    tau), (1 - exp(-lambda tau)) / (lambda tau) - exp(-lambda tau))``.

    Units: yields, factors and means are in percent, ``noise_std`` and the square roots
    of ``factor_cov`` in percentage points, maturities ``tau`` in years and the decay
    ``lambda`` in 1/years.

    Parameters
    ----------
    n_dates : int, default=240
        Number of dates per family.
    maturities : array-like of shape (n_maturities,), default=(0.25, 0.5, ..., 30)
        Maturities in years, or labels such as ``"3M"`` or ``"10Y"`` (plain numbers are
        years); non-negative and strictly increasing. The default is 0.25, 0.5, 1, 2,
        3, 5, 7, 10, 20 and 30 years.
    n_families : int or list of str, default=1
        Number of curve families (named ``"family_1"``, ``"family_2"``, ...) or their
        names.
    decay : float, default=0.7308
        Nelson-Siegel decay ``lambda`` in 1/years (Diebold and Li's 0.0609 per month).
    transition : array-like of shape (3, 3), default=None
        VAR(1) matrix ``A``; all its eigenvalues must lie inside the unit circle.
        None means ``diag(0.99, 0.97, 0.90)``: persistent factors, the level most and
        the curvature least, as in Diebold and Li's estimates.
    factor_mean : array-like of shape (3,) or (n_families, 3), default=None
        Mean ``mu`` of (level, slope, curvature), shared or per family. None means
        ``(6.0, -2.0, -0.5)``.
    factor_cov : array-like of shape (3, 3), default=None
        Covariance ``Q`` of the factor shocks ``eta_t^f`` of one family (not the
        unconditional covariance of the factors, which is ``params["stationary_cov"]``).
        None means ``diag(0.3, 0.4, 0.7) ** 2``.
    family_correlation : float, default=0.5
        Correlation ``rho`` of the same factor's shocks in two different families
        (``Cov(eta^f, eta^g) = rho Q``). Must lie in ``[-1 / (n_families - 1), 1]``.
    noise_std : float or array-like of shape (n_maturities,), default=0.05
        Standard deviation of the Gaussian measurement noise (percentage points), one
        value or one per maturity; 0 gives exact Nelson-Siegel curves.
    start : str or Timestamp, default="2000-01-31"
        First date.
    freq : str, default="ME"
        pandas frequency of the dates (month ends by default).
    random_state : int, RandomState instance or None, default=None
        Seed of the initial factors, the shocks and the noise.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With attributes

        curves : DataFrame of shape (n_families * n_dates, n_maturities)
            Noisy yields in percent. Columns are the maturities in years (floats, column
            index named ``"maturity"``). The index is a DatetimeIndex named ``"date"``
            for one family and a MultiIndex with levels ``"family"`` and ``"date"``
            (families in the given order, dates ascending within each) for several.
        noise_free : DataFrame of the same layout
            ``Lambda beta_t^f`` exactly: ``noise_free.to_numpy() ==
            factors.to_numpy() @ params["loadings"].T``.
        factors : DataFrame of shape (n_families * n_dates, 3)
            The true factors, columns ``"level"``, ``"slope"``, ``"curvature"``, same
            index as ``curves``.
        params : dict
            ``decay`` (float), ``maturities`` (ndarray (n_maturities,), years),
            ``loadings`` (ndarray (n_maturities, 3)), ``transition`` (ndarray (3, 3)),
            ``mean`` (ndarray (3,) or (n_families, 3), as given), ``shock_cov`` (ndarray
            (3, 3), ``Q``), ``stationary_cov`` (ndarray (3, 3), the solution ``S`` of
            ``S = A S A' + Q``), ``family_correlation`` (float), ``families`` (list),
            ``noise_std`` (float or ndarray (n_maturities,)).

    Raises
    ------
    TypeError
        If ``n_dates`` or ``n_families`` has the wrong type.
    ValueError
        If a maturity is negative, unreadable, repeated or out of order,
        ``transition`` is not stationary, ``factor_cov`` is not a covariance matrix,
        ``family_correlation`` is out of range, ``noise_std`` is negative, or an array
        has the wrong shape.

    References
    ----------
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin (several curve families).

    Examples
    --------
    >>> from skyield.datasets._nelson_siegel_curves import make_nelson_siegel_curves
    >>> data = make_nelson_siegel_curves(
    ...     n_dates=24, maturities=["3M", "2Y", "10Y"], n_families=["EUR", "USD"],
    ...     random_state=0,
    ... )
    >>> data.curves.shape
    (48, 3)
    >>> list(data.curves.index.names), data.curves.columns.tolist()
    (['family', 'date'], [0.25, 2.0, 10.0])
    >>> list(data.factors.columns)
    ['level', 'slope', 'curvature']
    """
    n_dates = _check_int(n_dates, "n_dates", 1)
    years = _check_maturities(maturities)
    families = _check_families(n_families)
    n_fam = len(families)
    loadings = nelson_siegel_loadings(years, decay)

    transition = _check_matrix(
        _DEFAULT_TRANSITION if transition is None else transition, "transition", (3, 3)
    )
    radius = np.max(np.abs(np.linalg.eigvals(transition)))
    if radius >= 1.0:
        raise ValueError(
            f"transition must be stationary (all eigenvalues inside the unit circle); "
            f"its spectral radius is {radius:.4g}"
        )
    if factor_mean is not None:
        check_numeric(factor_mean, "factor_mean")
    mean = np.asarray(_DEFAULT_MEAN if factor_mean is None else factor_mean, dtype=float)
    if mean.shape not in ((3,), (n_fam, 3)) or not np.all(np.isfinite(mean)):
        raise ValueError(
            f"factor_mean must be finite with shape (3,) or (n_families, 3) = "
            f"({n_fam}, 3), got shape {mean.shape}"
        )
    shock_cov = _check_matrix(
        np.diag(_DEFAULT_SHOCK_STD**2) if factor_cov is None else factor_cov,
        "factor_cov",
        (3, 3),
    )
    shock_sqrt = _symmetric_sqrt(shock_cov, "factor_cov")
    stationary_cov = solve_discrete_lyapunov(transition, shock_cov)
    stationary_sqrt = _symmetric_sqrt((stationary_cov + stationary_cov.T) / 2,
                                      "stationary_cov")

    if isinstance(family_correlation, (bool, np.bool_)) or \
            not isinstance(family_correlation, numbers.Real):
        raise TypeError(
            f"family_correlation must be a number, got {family_correlation!r}"
        )
    rho = float(family_correlation)
    lowest = -1.0 / (n_fam - 1) if n_fam > 1 else -1.0
    if not np.isfinite(rho) or rho < lowest or rho > 1.0:
        raise ValueError(
            f"family_correlation must lie in [{lowest:.4g}, 1] for {n_fam} families, "
            f"got {family_correlation!r}"
        )
    check_numeric(noise_std, "noise_std")
    noise = np.asarray(noise_std, dtype=float)
    if noise.shape not in ((), (years.size,)):
        raise ValueError(
            f"noise_std must be a number or have shape (n_maturities,) = ({years.size},), "
            f"got shape {noise.shape}"
        )
    if not np.all(np.isfinite(noise)) or np.any(noise < 0):
        raise ValueError(f"noise_std must be finite and non-negative, got {noise_std!r}")
    try:
        dates = pd.date_range(start=start, periods=n_dates, freq=freq, name="date")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"cannot build dates from start={start!r} and freq={freq!r}: {error}"
        ) from None

    rng = check_random_state(random_state)
    # Draw order: initial factors, shocks, measurement noise.
    initial = _mix_families(rng.standard_normal((n_fam, 3)), rho, 0) @ stationary_sqrt
    shocks = _mix_families(rng.standard_normal((n_dates - 1, n_fam, 3)), rho, 1)
    shocks = shocks @ shock_sqrt
    means = np.broadcast_to(mean, (n_fam, 3))
    factors = np.empty((n_fam, n_dates, 3))
    deviation = initial
    factors[:, 0] = means + deviation
    for t in range(1, n_dates):
        deviation = deviation @ transition.T + shocks[t - 1]
        factors[:, t] = means + deviation
    clean = factors @ loadings.T
    noisy = clean + noise * rng.standard_normal(clean.shape)

    if n_fam == 1:
        index = dates
    else:
        index = pd.MultiIndex.from_product([families, dates], names=["family", "date"])
    columns = pd.Index(years, name="maturity")

    def frame(values, cols):
        return pd.DataFrame(values.reshape(n_fam * n_dates, -1), index=index, columns=cols)

    return Bunch(
        curves=frame(noisy, columns),
        noise_free=frame(clean, columns.copy()),
        factors=frame(factors, pd.Index(_FACTOR_NAMES, name="factor")),
        params={
            "decay": float(decay),
            "maturities": years,
            "loadings": loadings,
            "transition": transition.copy(),
            "mean": mean.copy(),
            "shock_cov": shock_cov.copy(),
            "stationary_cov": stationary_cov,
            "family_correlation": rho,
            "families": families,
            "noise_std": float(noise) if noise.ndim == 0 else noise.copy(),
        },
    )
