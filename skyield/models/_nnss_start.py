"""Start values of the neural state space model (seed 004, section 4.1).

The seed starts the network from a fit of the dynamic Svensson (DSV) loadings and
``F, P, Q`` from the two-step DSV estimates. Here, for ``k`` factors:

* **Decays**: ``start_decay="grid"`` takes the Svensson decay pair that minimises the total
  squared error of the cross-sectional fits (:func:`skyield.baselines.fit_svensson` with
  ``decay1="grid"``), on the dates that have at least 4 observed maturities.
* **Loadings**: the first ``k`` columns of ``[1, slope(l1), curvature(l1), curvature(l2),
  slope(l2)]`` (Svensson for ``k = 4``, Nelson-Siegel for ``k = 3``); for ``k = 5`` the
  extra column is the slope loading at the second decay, which keeps the five columns
  linearly independent. For ``k > 5`` further curvature and slope pairs follow at
  decays halved each time (:func:`skyield._nelson_siegel.extended_svensson_loadings`,
  the start of ``GaussianLinearStateSpace`` too). The seed does not say how its 5-factor
  network was started.
* **Two-step estimates**: OLS factors of every date with at least ``k`` observed
  maturities (missing ones left out, never filled), then a VAR(1) on the transitions
  between consecutive such dates, *without intercept* as the seed's state equation, or
  with one when the model has a factor mean, estimated under the model's own priors:
  each equation's coefficients are the posterior mode under the Minnesota prior given
  ``P`` (a ridge regression towards the random walk; the intercept has a flat prior),
  each ``P_i`` the inverse-gamma posterior mode given the residuals, alternated a few
  times from OLS. With the seed's weak priors this is the OLS VAR to a
  few digits; with tight ones it starts ``F`` and ``P`` at the prior's mode rather than
  far from it. ``Q`` is the mean squared cross-sectional residual of each maturity.
  Variances are floored at ``1e-4`` times the average variance of the yields so that
  their logarithms are finite; this touches start values only.
"""

import numpy as np

from skyield._nelson_siegel import extended_svensson_loadings

__all__ = ["start_loadings", "two_step_start", "resolve_start_decay"]

_VARIANCE_FLOOR = 1e-4
_PRIOR_ROUNDS = 5


def start_loadings(maturities, n_factors, decays):
    """Nelson-Siegel-type loadings the network is pre-trained to reproduce.

    Parameters
    ----------
    maturities : ndarray of shape (n,)
        Maturities in years.
    n_factors : int
    decays : tuple of (float, float)
        Svensson decays in 1/years.

    Returns
    -------
    loadings : ndarray of shape (n, n_factors)
        :func:`skyield.baselines.extended_svensson_loadings` at ``decays``.
    """
    return extended_svensson_loadings(maturities, n_factors, decays)


def resolve_start_decay(start_decay, values, maturities):
    """Svensson decays for the start loadings.

    Parameters
    ----------
    start_decay : "grid" or pair of float
    values : ndarray of shape (n_dates, M)
        Training yields, NaN where missing.
    maturities : ndarray of shape (M,)

    Returns
    -------
    decays : tuple of (float, float)
    """
    if not isinstance(start_decay, str):
        return tuple(float(d) for d in start_decay)
    from skyield.baselines import fit_svensson

    enough = np.sum(~np.isnan(values), axis=1) >= 4
    if maturities.size < 4 or not enough.any():
        raise ValueError(
            "start_decay='grid' fits Svensson curves, which needs dates with at least 4 "
            f"observed maturities; the panel has {maturities.size} maturities and "
            f"{int(enough.sum())} such dates. Pass start_decay=(decay1, decay2) in 1/years"
        )
    return tuple(float(d) for d in fit_svensson(values[enough], maturities, decay1="grid").decay)


def _var_under_priors(previous, following, priors, intercept=False):
    """VAR(1): Minnesota ridge for F and IG posterior modes for P.

    With ``intercept`` the regressors start with a constant whose coefficient (the
    intercept ``c``) has a flat prior. Returns ``(F, c, P)``.
    """
    n, k = previous.shape
    n_const = int(intercept)
    design = np.hstack([np.ones((n, n_const)), previous])
    coef, *_ = np.linalg.lstsq(design, following, rcond=None)
    coef = coef.T                       # row i: equation i, constant first
    errors = following - design @ coef.T
    state_var = np.sum(errors**2, axis=0) / max(n - k - n_const, 1)
    if priors is not None:
        gram, cross = design.T @ design, design.T @ following
        centre = np.hstack([np.zeros((k, n_const)), np.eye(k)])
        for _ in range(_PRIOR_ROUNDS):
            state_var = np.maximum(state_var, np.finfo(float).tiny)
            for i in range(k):
                prior_var = (priors.lam * priors.gamma) ** 2 * state_var[i] / state_var
                prior_var[i] = priors.lam**2
                precision = np.concatenate([np.zeros(n_const), 1.0 / prior_var])
                lhs = gram / state_var[i] + np.diag(precision)
                rhs = cross[:, i] / state_var[i] + centre[i] * precision
                coef[i] = np.linalg.solve(lhs, rhs)
            errors = following - design @ coef.T
            state_var = (priors.b + 0.5 * np.sum(errors**2, axis=0)) / (priors.a + 1.0 + 0.5 * n)
    constant = coef[:, 0] if intercept else np.zeros(k)
    return coef[:, n_const:], constant, state_var


def two_step_start(values, maturities, n_factors, decays, priors=None, intercept=False):
    """Two-step estimates under the given start loadings.

    Parameters
    ----------
    values : ndarray of shape (n_dates, M)
        Training yields, NaN where missing.
    maturities : ndarray of shape (M,)
    n_factors : int
    decays : tuple of (float, float)
    priors : Priors, default=None
        The model's priors for the VAR step; None gives OLS.
    intercept : bool, default=False
        Estimate the VAR with an intercept (a model with a factor mean).

    Returns
    -------
    start : dict
        ``loadings`` (M, k), ``factors`` (n_dates, k) (NaN on dates with fewer than ``k``
        observed maturities), ``transition`` (k, k), ``intercept`` (k,) (zeros without
        ``intercept``), ``state_var`` (k,) and ``measurement_var`` (M,).
    """
    loadings = start_loadings(maturities, n_factors, decays)
    n_dates, M = values.shape
    observed = ~np.isnan(values)
    factors = np.full((n_dates, n_factors), np.nan)
    residuals = np.full_like(values, np.nan)
    usable = observed.sum(axis=1) >= n_factors
    patterns, inverse = np.unique(observed[usable], axis=0, return_inverse=True)
    rows_usable = np.flatnonzero(usable)
    for p, mask in enumerate(patterns):
        rows = rows_usable[inverse.ravel() == p]
        coef, *_ = np.linalg.lstsq(loadings[mask], values[np.ix_(rows, mask)].T, rcond=None)
        factors[rows] = coef.T
        residuals[np.ix_(rows, mask)] = values[np.ix_(rows, mask)] - coef.T @ loadings[mask].T

    pairs = usable[1:] & usable[:-1]
    needed = n_factors + int(intercept)
    if pairs.sum() <= needed:
        raise ValueError(
            f"the start values need more than {needed} transitions between consecutive "
            f"dates with at least n_factors={n_factors} observed maturities; the panel has "
            f"{int(pairs.sum())}"
        )
    previous, following = factors[:-1][pairs], factors[1:][pairs]
    transition, constant, state_var = _var_under_priors(previous, following, priors,
                                                        intercept)
    with np.errstate(invalid="ignore"):
        measurement_var = np.nanmean(residuals**2, axis=0)
    scale = float(np.nanmean(np.nanvar(values, axis=0)))
    floor = _VARIANCE_FLOOR * scale if np.isfinite(scale) and scale > 0 else _VARIANCE_FLOOR
    measurement_var = np.where(np.isfinite(measurement_var), measurement_var, scale)
    return {
        "loadings": loadings,
        "factors": factors,
        "transition": transition,
        "intercept": constant,
        "state_var": np.maximum(state_var, floor),
        "measurement_var": np.maximum(measurement_var, floor),
    }
