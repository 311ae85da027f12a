"""Static Nelson-Siegel and Svensson curve fitting with fixed decays.

With the decays fixed, the factors of every curve are an ordinary least-squares fit on the
loadings, so many curves are fitted with one solve per pattern of observed maturities
(one solve in all for a complete panel). The decay rules of the reference papers live
here too, so that the static fit and the dynamic models resolve them identically.
"""

from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from skyield._nelson_siegel import (
    decay_for_peak_curvature,
    nelson_siegel_loadings,
    svensson_loadings,
)
from skyield.utils.validation import check_numeric, check_units, resolve_maturities

__all__ = [
    "CurveFit",
    "NelsonSiegelCurve",
    "fit_nelson_siegel",
    "fit_svensson",
]

FACTOR_NAMES = {
    "ns": ("level", "slope", "curvature"),
    "nss": ("level", "slope", "curvature", "curvature2"),
}
DECAY_RULES = ("diebold-li", "mean-maturity", "grid")
# Diebold and Li (2006) place the curvature peak at 30 months.
DIEBOLD_LI_PEAK = 2.5
# No published rule fixes Svensson's second decay; its hump is put in the long end.
SECOND_PEAK = 10.0
_GRID_POINTS_NS = 100
_GRID_POINTS_NSS = 40
# Grid pairs keep the two curvature humps at least this factor apart in maturity: nearly
# equal decays make the two curvature loadings nearly collinear, so the factor
# estimates explode while the fit barely improves.
_MIN_DECAY_RATIO = 2.0


@dataclass(frozen=True)
class CurveFit:
    """Result of :func:`fit_nelson_siegel` or :func:`fit_svensson`.

    Attributes
    ----------
    factors : ndarray of shape (n_curves, n_factors)
        Least-squares factors of each curve (3 for Nelson-Siegel: level, slope,
        curvature; 4 for Svensson: plus the second curvature). Shape (n_factors,) when a
        single 1-D curve was given.
    residuals : ndarray of shape (n_curves, n_maturities)
        ``curve - loadings @ factors``; NaN where the curve is NaN.
    decay : float or tuple of float
        Decay in 1/years (Nelson-Siegel) or ``(decay1, decay2)`` (Svensson).
    maturities : ndarray of shape (n_maturities,)
        Maturities in years.
    loadings : ndarray of shape (n_maturities, n_factors)
        Loadings at ``maturities``.
    """

    factors: np.ndarray
    residuals: np.ndarray
    decay: object
    maturities: np.ndarray
    loadings: np.ndarray

    @property
    def sse(self):
        """Total squared error over all curves and observed maturities."""
        return float(np.nansum(self.residuals**2))


def _check_factors(factors):
    if factors not in FACTOR_NAMES:
        raise ValueError(f"factors must be 'ns' or 'nss', got {factors!r}")
    return factors


def make_loadings(maturities, decay, factors):
    """Loadings of ``factors`` ("ns" or "nss") at ``maturities`` for a resolved decay."""
    if factors == "ns":
        return nelson_siegel_loadings(maturities, decay)
    return svensson_loadings(maturities, *decay)


def solve_factors(curves, loadings, *, row_label=None):
    """Least-squares factors of each curve, skipping its NaN maturities.

    Curves sharing a pattern of observed maturities are solved together.

    Parameters
    ----------
    curves : ndarray of shape (n_curves, n_maturities)
    loadings : ndarray of shape (n_maturities, n_factors)
    row_label : callable, default=None
        ``row_label(i)`` names curve ``i`` in error messages.

    Returns
    -------
    factors : ndarray of shape (n_curves, n_factors)
    residuals : ndarray of shape (n_curves, n_maturities)
    """
    n_curves, _ = curves.shape
    n_factors = loadings.shape[1]
    observed = ~np.isnan(curves)
    factors = np.empty((n_curves, n_factors))
    if observed.all():
        patterns, inverse = observed[:1], np.zeros(n_curves, dtype=int)
    else:
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        inverse = inverse.ravel()
    for p, mask in enumerate(patterns):
        rows = np.flatnonzero(inverse == p)
        if mask.sum() < n_factors:
            label = row_label(rows[0]) if row_label is not None else f"curve {rows[0]}"
            raise ValueError(
                f"{label} has {int(mask.sum())} observed maturities, fewer than the "
                f"{n_factors} factors to fit"
            )
        coef, *_ = np.linalg.lstsq(loadings[mask], curves[np.ix_(rows, mask)].T, rcond=None)
        factors[rows] = coef.T
    residuals = curves - factors @ loadings.T
    return factors, residuals


def _grid_sse(curves, maturities, decay, factors):
    loadings = make_loadings(maturities, decay, factors)
    _, residuals = solve_factors(curves, loadings)
    return np.nansum(residuals**2)


def _decay_grid(maturities, n_points):
    # Decays whose curvature peak runs from the shortest positive maturity to the longest.
    positive = maturities[maturities > 0]
    peaks = np.geomspace(positive.min(), positive.max(), n_points)
    return decay_for_peak_curvature(1.0) / peaks[::-1]


def resolve_decay(decay, maturities, factors, curves=None):
    """Turn a decay rule into numbers (1/years).

    Parameters
    ----------
    decay : {"diebold-li", "mean-maturity", "grid"}, float or pair of float
        ``"diebold-li"``: the curvature loading peaks at 30 months (Diebold and Li,
        2006), 0.7173 per year (0.0598 per month; the paper rounds to 0.0609). For
        Svensson the second curvature peaks at 10 years (0.1793 per year), a skyield
        convention since no published rule fixes it.
        ``"mean-maturity"``: Richman and Scognamiglio (2024), appendix A.1: one over the
        average maturity for Nelson-Siegel; for Svensson ``(1 / Q1, 1 / Q3)`` with Q1 and
        Q3 the first and third quartiles of the maturities (the paper says the decays
        "equal" the quartiles; a decay is an inverse maturity, so the reciprocals are
        taken as for the Nelson-Siegel rule).
        ``"grid"``: grid search minimising the total squared error of the fit over
        ``curves`` (Kauffmann et al., 2022, section 4.1, after Nelson and Siegel, 1987):
        100 decays whose curvature peak runs log-spaced from the shortest positive to
        the longest maturity; for Svensson a 40 x 40 grid of the same kind restricted to
        ``decay1 >= 2 * decay2`` (the first hump at the shorter maturity, the two humps at
        least a factor 2 apart so that the curvature loadings are not nearly collinear).
        A float (Nelson-Siegel) or a pair ``(decay1, decay2)`` (Svensson) is used as is.
    maturities : ndarray of shape (n_maturities,)
        Maturities in years.
    factors : {"ns", "nss"}
    curves : ndarray of shape (n_curves, n_maturities), default=None
        Training curves, needed by ``"grid"``.

    Returns
    -------
    decay : float or tuple of (float, float)
    """
    _check_factors(factors)
    maturities = np.asarray(maturities, dtype=float)
    if isinstance(decay, str):
        if decay not in DECAY_RULES:
            raise ValueError(
                f"decay must be one of {DECAY_RULES}, a positive number (Nelson-Siegel) or "
                f"a pair of positive numbers (Svensson), got {decay!r}"
            )
        if decay == "diebold-li":
            first = decay_for_peak_curvature(DIEBOLD_LI_PEAK)
            return first if factors == "ns" else (first, decay_for_peak_curvature(SECOND_PEAK))
        if decay == "mean-maturity":
            if factors == "ns":
                mean = maturities.mean()
                if mean <= 0:
                    raise ValueError("decay='mean-maturity' needs a positive average maturity")
                return 1.0 / mean
            q1, q3 = np.percentile(maturities, [25, 75])
            if q1 <= 0 or q1 == q3:
                raise ValueError(
                    "decay='mean-maturity' for Svensson needs distinct, positive first and "
                    f"third maturity quartiles, got {q1:g} and {q3:g} years"
                )
            return 1.0 / q1, 1.0 / q3
        return _grid_search(curves, maturities, factors)
    if factors == "ns":
        if not isinstance(decay, Real) or isinstance(decay, bool) or \
                not np.isfinite(decay) or decay <= 0:
            raise ValueError(
                f"decay must be one of {DECAY_RULES} or a positive number for "
                f"factors='ns', got {decay!r}"
            )
        return float(decay)
    numbers_given = not isinstance(decay, (str, bytes)) and np.iterable(decay) and all(
        isinstance(d, Real) and not isinstance(d, (bool, np.bool_)) for d in decay)
    pair = tuple(float(d) for d in decay) if numbers_given else ()
    if len(pair) != 2 or not all(np.isfinite(d) and d > 0 for d in pair) or pair[0] == pair[1]:
        raise ValueError(
            f"decay must be one of {DECAY_RULES} or a pair of distinct positive numbers "
            f"(decay1, decay2) for factors='nss', got {decay!r}"
        )
    return pair


def _grid_search(curves, maturities, factors):
    if curves is None:
        raise ValueError("decay='grid' needs the training curves")
    if not np.any(maturities > 0) or np.sum(maturities > 0) < 2:
        raise ValueError("decay='grid' needs at least two positive maturities")
    if factors == "ns":
        grid = _decay_grid(maturities, _GRID_POINTS_NS)
        sse = [_grid_sse(curves, maturities, d, "ns") for d in grid]
        return float(grid[int(np.argmin(sse))])
    grid = _decay_grid(maturities, _GRID_POINTS_NSS)
    best, best_sse = None, np.inf
    for first in grid:
        for second in grid[grid * _MIN_DECAY_RATIO <= first]:
            sse = _grid_sse(curves, maturities, (first, second), "nss")
            if sse < best_sse:
                best, best_sse = (float(first), float(second)), sse
    if best is None:
        raise ValueError(
            "decay='grid' for Svensson found no decay pair: the maturities span too short "
            "a range for two humps a factor 2 apart"
        )
    return best


def _curves_and_maturities(curves, maturities, name="curves"):
    """Validate curves (NaN allowed) and resolve their maturities."""
    columns = None
    index = None
    if isinstance(curves, pd.Series):
        curves = curves.to_frame().T
    if isinstance(curves, pd.DataFrame):
        columns, index = list(curves.columns), curves.index
        values = curves.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(curves, dtype=np.float64)
    one_curve = values.ndim == 1
    if one_curve:
        values = values[None, :]
    if values.ndim != 2:
        raise ValueError(
            f"{name} must be one curve (n_maturities,) or curves (n_curves, n_maturities), "
            f"got shape {values.shape}"
        )
    if np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise ValueError(f"{name} has an infinite value in curve {row}, maturity column {col}")
    tau = resolve_maturities(maturities, values.shape[1], columns)

    def label(row):
        return f"curve {row}" if index is None else f"curve {index[row]!r}"

    return values, tau, one_curve, label


def _fit(curves, maturities, decay, factors):
    values, tau, one_curve, label = _curves_and_maturities(curves, maturities)
    resolved = resolve_decay(decay, tau, factors, values)
    loadings = make_loadings(tau, resolved, factors)
    fitted, residuals = solve_factors(values, loadings, row_label=label)
    if one_curve:
        fitted, residuals = fitted[0], residuals[0]
    return CurveFit(factors=fitted, residuals=residuals, decay=resolved, maturities=tau,
                    loadings=loadings)


def fit_nelson_siegel(curves, maturities=None, decay="diebold-li"):
    """Fit Nelson-Siegel factors to many curves at once by least squares.

    With the decay fixed, ``y(tau) = b0 + b1 (1 - e^{-l tau}) / (l tau) + b2 ((1 -
    e^{-l tau}) / (l tau) - e^{-l tau})`` is linear in the factors, fitted curve by curve
    in one least-squares solve. Missing (NaN) maturities of a curve are left out of that
    curve's fit, never filled.

    Parameters
    ----------
    curves : DataFrame or array-like of shape (n_curves, n_maturities) or (n_maturities,)
        Yields. A DataFrame's columns are maturity labels ("3M", "10Y" or years).
    maturities : array-like of shape (n_maturities,) or "uniform", default=None
        Maturities in years; None to read them from DataFrame columns.
    decay : {"diebold-li", "mean-maturity", "grid"} or float, default="diebold-li"
        Decay rule or value in 1/years; see :func:`resolve_decay` in this module. The
        grid search minimises the total squared error over all given curves.

    Returns
    -------
    fit : CurveFit
        ``fit.factors`` of shape (n_curves, 3) (level, slope, curvature),
        ``fit.residuals`` of shape (n_curves, n_maturities), the resolved ``fit.decay``.

    Raises
    ------
    ValueError
        If a curve has fewer than 3 observed maturities, a value is infinite, or the
        maturities or the decay are invalid.

    References
    ----------
    Nelson, C. R. and Siegel, A. F. (1987). Parsimonious modeling of yield curves.
    Journal of Business, 60(4), 473-489.
    Diebold, F. X. and Li, C. (2006). Forecasting the term structure of government bond
    yields. Journal of Econometrics, 130(2), 337-364.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin, appendix A.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import fit_nelson_siegel, nelson_siegel_loadings
    >>> tau = np.array([0.25, 1.0, 2.0, 5.0, 10.0, 30.0])
    >>> rng = np.random.default_rng(0)
    >>> true = np.array([[5.0, -2.0, 1.0], [4.0, 1.0, -0.5]])
    >>> curves = true @ nelson_siegel_loadings(tau, 0.7).T
    >>> fit_nelson_siegel(curves, tau, decay=0.7).factors.round(6)
    array([[ 5. , -2. ,  1. ],
           [ 4. ,  1. , -0.5]])
    """
    return _fit(curves, maturities, decay, "ns")


def fit_svensson(curves, maturities=None, decay1="diebold-li", decay2=None):
    """Fit Svensson (Nelson-Siegel-Svensson) factors to many curves by least squares.

    Parameters
    ----------
    curves : DataFrame or array-like of shape (n_curves, n_maturities) or (n_maturities,)
        Yields. A DataFrame's columns are maturity labels.
    maturities : array-like of shape (n_maturities,) or "uniform", default=None
        Maturities in years; None to read them from DataFrame columns.
    decay1 : {"diebold-li", "mean-maturity", "grid"} or float, default="diebold-li"
        A decay rule (then ``decay2`` must be None) or the first decay in 1/years (then
        ``decay2`` is the second). See :func:`resolve_decay` in this module for the rules.
    decay2 : float, default=None
        Second decay in 1/years, with a numeric ``decay1``.

    Returns
    -------
    fit : CurveFit
        ``fit.factors`` of shape (n_curves, 4) (level, slope, curvature, second
        curvature), ``fit.residuals`` of shape (n_curves, n_maturities) and ``fit.decay``
        ``(decay1, decay2)``.

    Raises
    ------
    ValueError
        If a curve has fewer than 4 observed maturities, or the decays are invalid.

    References
    ----------
    Svensson, L. E. O. (1994). Estimating and interpreting forward interest rates:
    Sweden 1992-1994. NBER Working Paper 4871.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin, appendix A.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import fit_svensson, svensson_loadings
    >>> tau = np.array([0.25, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0])
    >>> curve = svensson_loadings(tau, 1.0, 0.2) @ np.array([5.0, -2.0, 1.0, 2.0])
    >>> fit_svensson(curve, tau, 1.0, 0.2).factors.round(6)
    array([ 5., -2.,  1.,  2.])
    """
    if isinstance(decay1, str):
        if decay2 is not None:
            raise ValueError(
                f"decay2 must be None when decay1 is the rule {decay1!r}, got {decay2!r}"
            )
        decay = decay1
    else:
        if decay2 is None:
            raise ValueError("decay2 is needed when decay1 is a number")
        decay = (decay1, decay2)
    return _fit(curves, maturities, decay, "nss")


class NelsonSiegelCurve(TransformerMixin, BaseEstimator):
    """Nelson-Siegel or Svensson curve with fixed decays: curves <-> factors.

    ``fit`` resolves the maturities and the decay (a grid search uses the training
    curves); ``transform`` returns the least-squares factors of each curve and
    ``inverse_transform`` the curves of given factors, at the fitted maturities or any
    others. Fitting a single curve is ``NelsonSiegelCurve(...).fit_transform(curve[None])``.

    Parameters
    ----------
    factors : {"ns", "nss"}, default="ns"
        Nelson-Siegel (level, slope, curvature) or Svensson (plus a second curvature).
    decay : {"diebold-li", "mean-maturity", "grid"}, float or pair, default="diebold-li"
        Decay rule or value(s) in 1/years, as in :func:`fit_nelson_siegel` (a pair
        ``(decay1, decay2)`` for ``factors="nss"``).
    maturities : array-like of shape (n_maturities,), "uniform" or None, default=None
        Maturities in years; None reads them from DataFrame column labels; "uniform"
        means 1, 2, ..., n_maturities years.
    missing : {"raise", "allow"}, default="raise"
        ``"allow"`` fits each curve on its observed maturities (NaN skipped, never filled);
        ``"raise"`` rejects NaN.

    Attributes
    ----------
    maturities_ : ndarray of shape (n_maturities,)
        Maturities in years.
    decay_ : float or tuple of (float, float)
        Resolved decay(s) in 1/years.
    loadings_ : ndarray of shape (n_maturities, n_factors)
        Loadings at ``maturities_``.
    n_features_in_ : int
        Number of maturities.
    feature_names_in_ : ndarray of shape (n_maturities,)
        Column labels, when fitted on a DataFrame with string labels.

    References
    ----------
    Nelson, C. R. and Siegel, A. F. (1987). Parsimonious modeling of yield curves.
    Journal of Business, 60(4), 473-489.
    Svensson, L. E. O. (1994). Estimating and interpreting forward interest rates:
    Sweden 1992-1994. NBER Working Paper 4871.
    Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling and
    forecasting using deep learning. ASTIN Bulletin, appendix A.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.baselines import NelsonSiegelCurve
    >>> tau = [0.25, 1.0, 2.0, 5.0, 10.0, 30.0]
    >>> rng = np.random.default_rng(0)
    >>> model = NelsonSiegelCurve(decay=0.7, maturities=tau)
    >>> curves = model.fit(np.zeros((1, 6))).inverse_transform([[5.0, -2.0, 1.0]])
    >>> curves = curves + rng.normal(scale=0.01, size=curves.shape)
    >>> model.transform(curves).round(1)
    array([[ 5., -2.,  1.]])
    >>> model.inverse_transform([[5.0, -2.0, 1.0]], maturities=[0.0, 100.0]).round(2)
    array([[3.  , 4.99]])
    """

    def __init__(self, factors="ns", decay="diebold-li", maturities=None, missing="raise"):
        self.factors = factors
        self.decay = decay
        self.maturities = maturities
        self.missing = missing

    def fit(self, X, y=None):
        """Resolve the maturities and the decay.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_curves, n_maturities)
            Training curves (used by ``decay="grid"``), numbers only (text is refused,
            however numeric it reads). Curves that look like decimals get a
            :class:`skyield.utils.UnitsWarning`. Each curve is fitted on its own, so
            their dates, if any, do not enter the fit.
        y : None
            Ignored.

        Returns
        -------
        self : NelsonSiegelCurve
        """
        factors = _check_factors(self.factors)
        if self.missing not in ("raise", "allow"):
            raise ValueError(f"missing must be 'raise' or 'allow', got {self.missing!r}")
        columns = list(X.columns) if isinstance(X, pd.DataFrame) else None
        check_numeric(X, "X")
        values = validate_data(self, X, dtype=np.float64,
                               ensure_all_finite="allow-nan" if self.missing == "allow" else True)
        check_units(values, name="X")
        n_factors = len(FACTOR_NAMES[factors])
        if values.shape[1] < n_factors:
            raise ValueError(
                f"{n_factors} factors need at least {n_factors} maturities, got "
                f"n_features={values.shape[1]}"
            )
        self.maturities_ = resolve_maturities(self.maturities, values.shape[1], columns)
        self.decay_ = resolve_decay(self.decay, self.maturities_, factors, values)
        self.loadings_ = make_loadings(self.maturities_, self.decay_, factors)
        return self

    def transform(self, X):
        """Least-squares factors of each curve.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_curves, n_maturities)

        Returns
        -------
        factors : ndarray of shape (n_curves, n_factors)
        """
        check_is_fitted(self)
        check_numeric(X, "X")
        values = validate_data(self, X, dtype=np.float64, reset=False,
                               ensure_all_finite="allow-nan" if self.missing == "allow" else True)
        factors, _ = solve_factors(values, self.loadings_)
        return factors

    def inverse_transform(self, X, maturities=None):
        """Curves of given factors.

        Parameters
        ----------
        X : array-like of shape (n_curves, n_factors)
            Factors.
        maturities : array-like of shape (n_out,), default=None
            Maturities in years; the fitted ones by default.

        Returns
        -------
        curves : ndarray of shape (n_curves, n_maturities) or (n_curves, n_out)
        """
        check_is_fitted(self)
        factors = np.asarray(X, dtype=np.float64)
        n_factors = self.loadings_.shape[1]
        if factors.ndim != 2 or factors.shape[1] != n_factors:
            raise ValueError(
                f"factors must have shape (n_curves, {n_factors}), got shape {factors.shape}"
            )
        return factors @ self.loadings(maturities).T

    def loadings(self, maturities=None):
        """Loadings at any maturities.

        Parameters
        ----------
        maturities : array-like of shape (n_out,), default=None
            Maturities in years; the fitted ones by default.

        Returns
        -------
        loadings : ndarray of shape (n_out, n_factors)
        """
        check_is_fitted(self)
        if maturities is None:
            return self.loadings_.copy()
        return make_loadings(maturities, self.decay_, self.factors)

    def get_feature_names_out(self, input_features=None):
        """Factor names: level, slope, curvature (and curvature2 for Svensson)."""
        check_is_fitted(self)
        return np.asarray(FACTOR_NAMES[self.factors], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "allow"
        return tags

    @classmethod
    def get_test_params(cls):
        """Small parameter sets for the common estimator checks."""
        return [
            {"maturities": "uniform"},
            {"decay": "grid", "maturities": "uniform"},
        ]
