"""Gaussian linear state-space yield-curve model with a free loadings matrix (GLSS).

Filtering, smoothing, forecasting and simulation are statsmodels' (an ``MLEModel``
subclass holds the specification). The estimation is written here because none of
statsmodels' models has this specification and start: free loadings started at the
Svensson loadings (extended beyond four factors), a full VAR(1) transition without
stationarity constraint, diagonal state and measurement covariances, and an approximately
diffuse initial state. The likelihood is raised by EM iterations (closed-form updates) and
then maximised by BFGS with the exact score, which Fisher's identity gives from one
smoothing pass (a numerical gradient would need one filter pass per parameter: 75 for 11
maturities and 4 factors).
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.linalg
from scipy.optimize import minimize
from sklearn.base import TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted
from statsmodels.tsa.statespace.kalman_smoother import (
    SMOOTHER_STATE,
    SMOOTHER_STATE_AUTOCOV,
    SMOOTHER_STATE_COV,
)
from statsmodels.tsa.statespace.mlemodel import MLEModel

from skyield._nelson_siegel import (
    decay_for_peak_curvature,
    extended_svensson_loadings,
    svensson_loadings,
)
from skyield.baselines._dns_statespace import mean_from_intercept
from skyield.baselines._statsmodels_state import StateSpaceSequenceMixin
from skyield.utils import Interval, Options, check_numeric

__all__ = ["GaussianLinearStateSpace"]

_TRANSITIONS = ("full", "diagonal")
_N_GRID = 25
# Decay pairs whose loading matrix is this ill-conditioned are left out of the grid.
_MAX_CONDITION = 1e6
# Variances are kept above this fraction of the mean variance of the training panel's
# first differences, so that the score (which divides by them) stays finite.
_VARIANCE_FLOOR = 1e-6
# Convergence window: BFGS iterations over which the relative log-likelihood change is
# compared with ``tol``.
_WINDOW = 10
# Variance of the approximately diffuse initial state, as a multiple of the mean square of
# the training panel: wide against any plausible factor value, yet not so wide that the
# first Kalman update loses precision (a variance of 1e6 against measurement variances
# near 1e-8 leaves too few significant digits for the score).
_DIFFUSE_SCALE = 10.0


class _GLSSModel(MLEModel):
    """statsmodels specification: ``y_t = H b_t + e_t``, ``b_t = c + F b_{t-1} + w_t``.

    Parameters (constrained) in order: ``H`` row by row (n_series x k), ``F`` row by row
    (k x k) or its diagonal (k), the intercept ``c`` (k; only with ``factor_mean``, else
    ``c = 0``), the state variances (k) and the measurement variances (n_series).
    """

    def __init__(self, endog, k_factors, transition, initial_variance, factor_mean=False):
        super().__init__(endog, k_states=k_factors, k_posdef=k_factors,
                         initialization="approximate_diffuse",
                         initial_variance=initial_variance)
        self.k_factors = k_factors
        self.transition = transition
        self.initial_variance = initial_variance
        self.factor_mean = bool(factor_mean)
        self.ssm["selection"] = np.eye(k_factors)

    @property
    def n_transition(self):
        k = self.k_factors
        return k * k if self.transition == "full" else k

    @property
    def n_intercept(self):
        return self.k_factors if self.factor_mean else 0

    @property
    def param_names(self):
        k, m = self.k_factors, self.k_endog
        names = [f"loading.y{i + 1}.f{j + 1}" for i in range(m) for j in range(k)]
        if self.transition == "full":
            names += [f"transition.f{i + 1}.f{j + 1}" for i in range(k) for j in range(k)]
        else:
            names += [f"transition.f{j + 1}" for j in range(k)]
        names += [f"intercept.f{j + 1}" for j in range(self.n_intercept)]
        names += [f"state_var.f{j + 1}" for j in range(k)]
        names += [f"obs_var.y{i + 1}" for i in range(m)]
        return names

    @property
    def start_params(self):
        raise NotImplementedError("GaussianLinearStateSpace provides the start values")

    def split(self, params):
        """``(H, F, c, state variances, measurement variances)`` from a parameter vector.

        ``c`` is zero without ``factor_mean``.
        """
        k, m = self.k_factors, self.k_endog
        loadings = params[:m * k].reshape(m, k)
        position = m * k + self.n_transition
        raw = params[m * k:position]
        transition = raw.reshape(k, k) if self.transition == "full" else np.diag(raw)
        intercept = params[position:position + self.n_intercept] if self.factor_mean \
            else np.zeros(k)
        position += self.n_intercept
        state_var = params[position:position + k]
        obs_var = params[position + k:position + k + m]
        return loadings, transition, intercept, state_var, obs_var

    def join(self, loadings, transition, intercept, state_var, obs_var):
        raw = transition.ravel() if self.transition == "full" else np.diag(transition)
        intercept = np.asarray(intercept, dtype=float)[:self.n_intercept]
        return np.concatenate([loadings.ravel(), raw, intercept, state_var, obs_var])

    def update(self, params, **kwargs):
        params = super().update(params, **kwargs)
        loadings, transition, intercept, state_var, obs_var = self.split(params)
        self.ssm["design"] = loadings
        self.ssm["transition"] = transition
        self.ssm["state_intercept"] = intercept
        self.ssm["state_cov"] = np.diag(state_var)
        self.ssm["obs_cov"] = np.diag(obs_var)
        return params

    def clone(self, endog, exog=None, **kwargs):
        return _GLSSModel(endog, self.k_factors, self.transition, self.initial_variance,
                          self.factor_mean)


def _n_decays(n_factors):
    """Number of decays the start loadings of ``n_factors`` factors depend on."""
    if n_factors == 1:
        return 0
    return 1 if n_factors <= 3 else 2


def _start_loadings(maturities, n_factors, decays):
    if n_factors >= 4:
        return extended_svensson_loadings(maturities, n_factors, decays)
    # Svensson's first columns are the Nelson-Siegel loadings; decay2 does not enter.
    return svensson_loadings(maturities, decays[0] if decays else 1.0, 1.0)[:, :n_factors]


def grid_search_decays(values, maturities, n_factors):
    """Decays minimising the total squared error of cross-sectional OLS fits.

    The grid is geometric between the decays whose curvature loading peaks at the longest
    and at the shortest positive maturity; for four or more factors, pairs with
    ``decay1 > decay2`` are searched, each scored with the start loadings of
    ``n_factors`` factors (:func:`~skyield.baselines.extended_svensson_loadings`).

    Parameters
    ----------
    values : ndarray of shape (n_dates, n_maturities)
        Training yields.
    maturities : ndarray of shape (n_maturities,)
        Maturities in years.
    n_factors : int
        Number of factors of the start loadings.

    Returns
    -------
    decays : tuple of float
        ``()`` for one factor, ``(decay1,)`` for two or three, ``(decay1, decay2)`` for
        four or more.
    """
    if n_factors == 1:
        return ()
    positive = maturities[maturities > 0]
    grid = np.geomspace(decay_for_peak_curvature(positive.max()),
                        decay_for_peak_curvature(positive.min()), _N_GRID)
    if _n_decays(n_factors) == 2:
        candidates = [(a, b) for a in grid for b in grid if a > b]
    else:
        candidates = [(a,) for a in grid]
    gram = values.T @ values
    best, best_sse = None, np.inf
    for decays in candidates:
        loadings = _start_loadings(maturities, n_factors, decays)
        if np.linalg.cond(loadings) > _MAX_CONDITION:
            continue
        q, _ = np.linalg.qr(loadings)
        sse = np.trace(gram) - np.trace(q.T @ gram @ q)
        if sse < best_sse:
            best, best_sse = decays, sse
    if best is None:
        raise ValueError(
            f"the maturities do not separate the {n_factors} start loadings on the decay "
            "grid; pass decays=... explicitly"
        )
    return tuple(float(d) for d in best)


def _check_decays(decays, n_factors):
    if decays is None:
        return None
    needed = _n_decays(n_factors)
    check_numeric(decays, "decays")
    try:
        values = np.atleast_1d(np.asarray(decays, dtype=float))
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1 or values.size != needed:
        what = {0: "no decay (leave decays=None)", 1: "one decay (decay1)",
                2: "two decays (decay1, decay2)"}[needed]
        raise ValueError(f"n_factors={n_factors} takes {what}, got decays={decays!r}")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"decays must be positive and finite, got {values.tolist()}")
    return tuple(float(d) for d in values)


def _identification_mask(loadings, transition):
    """Loadings held at their start values (see the class Notes)."""
    n_series, k = loadings.shape
    _, _, pivots = scipy.linalg.qr(loadings.T, pivoting=True)
    anchors = np.sort(pivots[:k])
    fixed = np.zeros((n_series, k), dtype=bool)
    for i, row in enumerate(anchors):
        if transition == "full":
            fixed[row, i:] = True
        else:
            fixed[row, i] = True
    return fixed


class _Estimation:
    """EM iterations and the exact score of the GLSS likelihood for one training panel."""

    def __init__(self, model, values, fixed, floor):
        self.model = model
        self.values = values
        self.fixed = fixed
        self.floor = floor

    def moments(self, params):
        """Log-likelihood and the smoothed sufficient statistics at ``params``."""
        model = self.model
        model.update(params)
        smoothed = model.ssm.smooth(SMOOTHER_STATE | SMOOTHER_STATE_COV | SMOOTHER_STATE_AUTOCOV)
        llf = float(np.sum(smoothed.llf_obs))
        state = smoothed.smoothed_state.T                       # (T, k)
        cov = smoothed.smoothed_state_cov.transpose(2, 0, 1)    # (T, k, k)
        # statsmodels' autocov[t] = Cov(b_{t+1}, b_t | Y)
        lag_cov = smoothed.smoothed_state_autocov.transpose(2, 0, 1)[:-1].sum(axis=0)
        cov_sum = cov.sum(axis=0)
        return llf, dict(
            state=state,
            cov_sum=cov_sum,
            cov_sum_head=cov_sum - cov[-1],
            cov_sum_tail=cov_sum - cov[0],
            lag_cov=lag_cov,
        )

    @staticmethod
    def _state_squares(stats, transition, intercept):
        """``sum_t E[w_t w_t' | Y]`` for the state shocks ``w_t = b_t - c - F b_{t-1}``."""
        state = stats["state"]
        # Residual forms rather than raw second moments: the latter cancel badly when a
        # variance is small. The intercept is a constant, so it enters the means only.
        innovations = state[1:] - intercept - state[:-1] @ transition.T
        return (innovations.T @ innovations + stats["cov_sum_tail"]
                - transition @ stats["lag_cov"].T - stats["lag_cov"] @ transition.T
                + transition @ stats["cov_sum_head"] @ transition.T)

    def _statistics(self, params, stats):
        loadings, transition, intercept, state_var, obs_var = self.model.split(params)
        state, y = stats["state"], self.values
        n_dates = y.shape[0]
        resid = y - state @ loadings.T
        obs_sq = (resid ** 2).sum(axis=0) + np.einsum(
            "ij,jk,ik->i", loadings, stats["cov_sum"], loadings)
        state_sq = self._state_squares(stats, transition, intercept)
        s00 = stats["cov_sum_head"] + state[:-1].T @ state[:-1]
        s10 = stats["lag_cov"] + state[1:].T @ state[:-1]
        s11_all = stats["cov_sum"] + state.T @ state
        return dict(loadings=loadings, transition=transition, intercept=intercept,
                    state_var=state_var, obs_var=obs_var, resid=resid, obs_sq=obs_sq,
                    state_sq=np.diag(state_sq), s00=s00, s10=s10, s_all=s11_all,
                    previous_sum=state[:-1].sum(axis=0), next_sum=state[1:].sum(axis=0),
                    n_dates=n_dates)

    def _transition_update(self, s):
        """M-step of ``(F, c)``: the regression of ``E[b_t]`` on ``(1, E[b_{t-1}])``."""
        k = s["s00"].shape[0]
        full = self.model.transition == "full"
        if not self.model.factor_mean:
            if full:
                transition = np.linalg.solve(s["s00"].T, s["s10"].T).T
            else:
                transition = np.diag(np.diag(s["s10"]) / np.diag(s["s00"]))
            return transition, np.zeros(k)
        n_pairs = s["n_dates"] - 1
        # Moments of the regressors z_{t-1} = (1, b_{t-1}) and of b_t with them.
        zz = np.block([[np.array([[n_pairs]]), s["previous_sum"][None]],
                       [s["previous_sum"][:, None], s["s00"]]])
        bz = np.column_stack([s["next_sum"], s["s10"]])
        if full:
            coef = np.linalg.solve(zz.T, bz.T).T
            return coef[:, 1:], coef[:, 0]
        intercept, slopes = np.empty(k), np.empty(k)
        for j in range(k):
            rows = [0, j + 1]
            intercept[j], slopes[j] = np.linalg.solve(zz[np.ix_(rows, rows)], bz[j, rows])
        return np.diag(slopes), intercept

    def em_step(self, params):
        """One EM iteration: returns (log-likelihood at ``params``, new parameters)."""
        llf, stats = self.moments(params)
        s = self._statistics(params, stats)
        y, state, fixed = self.values, stats["state"], self.fixed
        n_dates = s["n_dates"]
        cross = y.T @ state                                      # sum_t y_t E[b_t]'
        loadings = s["loadings"].copy()
        for i in range(loadings.shape[0]):
            free = ~fixed[i]
            rhs = cross[i, free] - loadings[i, ~free] @ s["s_all"][np.ix_(~free, free)]
            loadings[i, free] = np.linalg.solve(s["s_all"][np.ix_(free, free)], rhs)
        resid = y - state @ loadings.T
        obs_var = ((resid ** 2).sum(axis=0) + np.einsum(
            "ij,jk,ik->i", loadings, stats["cov_sum"], loadings)) / n_dates
        transition, intercept = self._transition_update(s)
        state_var = np.diag(self._state_squares(stats, transition, intercept)) / (n_dates - 1)
        # The variance update is unimodal in the variance, so clipping at the floor is the
        # constrained maximiser and EM still raises the likelihood.
        new = self.model.join(loadings, transition, intercept,
                              np.maximum(state_var, self.floor), np.maximum(obs_var, self.floor))
        return llf, new

    def score(self, params):
        """Log-likelihood and its gradient with respect to every constrained parameter."""
        llf, stats = self.moments(params)
        s = self._statistics(params, stats)
        state = stats["state"]
        n_dates = s["n_dates"]
        grad_loadings = (s["resid"].T @ state - s["loadings"] @ stats["cov_sum"]) \
            / s["obs_var"][:, None]
        transition, intercept = s["transition"], s["intercept"]
        grad_transition = (s["s10"] - np.outer(intercept, s["previous_sum"])
                           - transition @ s["s00"]) / s["state_var"][:, None]
        if self.model.transition == "diagonal":
            grad_transition = np.diag(grad_transition)
        grad_intercept = (s["next_sum"] - (n_dates - 1) * intercept
                          - transition @ s["previous_sum"]) / s["state_var"]
        grad_state_var = -0.5 * (n_dates - 1) / s["state_var"] \
            + 0.5 * s["state_sq"] / s["state_var"] ** 2
        grad_obs_var = -0.5 * n_dates / s["obs_var"] + 0.5 * s["obs_sq"] / s["obs_var"] ** 2
        gradient = np.concatenate([grad_loadings.ravel(), np.ravel(grad_transition),
                                   grad_intercept[:self.model.n_intercept],
                                   grad_state_var, grad_obs_var])
        return llf, gradient


class GaussianLinearStateSpace(TransformerMixin, StateSpaceSequenceMixin):
    """Yield-curve factor model with a free loadings matrix (GLSS), maximum likelihood.

    The Gaussian linear state-space model that Kauffmann et al. use as the free-loadings
    benchmark of their neural network augmented state-space model (NNSS):

    .. math::

        b_t = c + F b_{t-1} + w_t, \\quad w_t \\sim N(0, P), \\\\
        y_t = H b_t + e_t, \\quad e_t \\sim N(0, Q),

    with ``k`` factors ``b_t``, an ``M x k`` loadings matrix ``H`` estimated entry by
    entry, a full (or diagonal) transition ``F``, and diagonal ``P`` and ``Q``. The
    intercept ``c`` is zero, as in the paper's eq. (3), unless ``factor_mean=True``. As in
    the paper, ``H`` starts at the Svensson loadings (decays chosen by the paper's grid search
    on the training span unless given), extended by further Nelson-Siegel-type columns
    beyond four factors, and the other parameters at the two-step estimates:
    cross-sectional OLS factors and a VAR(1) on them.

    Parameters
    ----------
    n_factors : int, default=4
        Number of factors ``k`` (the paper uses 4 and 5), at most the number of
        maturities. The start loadings are the first ``k`` columns of
        :func:`~skyield.baselines.extended_svensson_loadings`: level, slope, curvature
        and second curvature (the Svensson loadings) for ``k <= 4``; the fifth is the slope
        loading at ``decay2``, and beyond five come curvature and slope pairs at ``decay2``
        halved each time. This is the start of the 5-factor
        :class:`~skyield.models.NeuralStateSpaceModel` too (the paper does not say how
        its 5-factor models were started).
    transition : {"full", "diagonal"}, default="full"
        Structure of ``F``. The paper's prior covers a full matrix.
    decays : float, sequence of float or None, default=None
        Svensson decays (1/years) of the start loadings: ``decay1`` for 2-3 factors,
        ``(decay1, decay2)`` for 4 or more. None chooses them by the paper's grid search:
        the pair minimising the total squared error of cross-sectional OLS fits over the
        training span (a geometric grid of 25 decays whose curvature peaks span the
        maturities, ``decay1 > decay2``).
    maturities : array-like of shape (n_series,), "uniform" or None, default=None
        Maturities in years; None reads them from the DataFrame column labels.
    maxiter : int, default=500
        Maximum number of BFGS iterations.
    em_iter : int, default=20
        EM iterations run from the start values before BFGS (0 to skip).
    tol : float, default=1e-6
        Convergence tolerance on the relative change of the log-likelihood over 10 BFGS
        iterations (see Notes).
    factor_mean : bool, default=False
        Estimate the transition intercept ``c``, so that the factors revert to the mean
        ``(I - F)^{-1} c`` (where ``I - F`` is invertible); False keeps ``c = 0``, the
        paper's specification. The same parameter of
        :class:`~skyield.baselines.DynamicNelsonSiegel` and
        :class:`~skyield.models.NeuralStateSpaceModel` switches the same term.
    warm_start : bool, default=False
        When the model is fitted, start the next ``fit`` (its EM iterations, then BFGS)
        from the previous estimates instead of the two-step start. The specification is
        a cold fit's: the decays, the start loadings and the loadings held fixed for
        identification come from the new training panel (the fixed entries take their
        new values); the free loadings, the transition and the variances start at the
        previous estimates. The maturities and ``n_factors`` must not change.

    Attributes
    ----------
    maturities_ : ndarray of shape (n_series,)
        Maturities in years.
    decays_ : tuple of float
        Decays of the start loadings.
    initial_loadings_ : ndarray of shape (n_series, n_factors)
        Start loadings: the (extended) Svensson loadings at ``decays_``.
    loadings_ : ndarray of shape (n_series, n_factors)
        Estimated ``H``.
    initial_state_var_ : float
        Variance of the approximately diffuse initial state of every factor (10 times
        the mean square of the training panel).
    fixed_loadings_ : ndarray of bool of shape (n_series, n_factors)
        Entries of ``H`` held at their start values (identification, see Notes).
    transition_ : ndarray of shape (n_factors, n_factors)
        Estimated ``F`` (diagonal when ``transition="diagonal"``).
    intercept_ : ndarray of shape (n_factors,)
        Estimated ``c`` (zeros with ``factor_mean=False``).
    mean_ : ndarray of shape (n_factors,)
        ``(I - F)^{-1} c``, the mean the factors revert to (NaN where ``I - F`` is
        singular; zeros with ``factor_mean=False``).
    state_cov_ : ndarray of shape (n_factors, n_factors)
        Diagonal ``P``.
    error_cov_ : ndarray of shape (n_series, n_series)
        Diagonal ``Q``.
    initial_log_likelihood_ : float
        Log-likelihood of the training panel at the start values.
    log_likelihood_ : float
        Log-likelihood at the estimate (never below ``initial_log_likelihood_``).
    converged_ : bool
        Whether the optimisation met its convergence criterion.
    n_iter_ : int
        EM plus BFGS iterations.
    results_ : statsmodels MLEResults
        Smoothed results on the training panel at the estimate.
    state_results_ : statsmodels MLEResults
        Results ending at the last date seen (``results_`` extended by :meth:`update`).
    n_features_in_ : int
        Number of maturities.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when the training panel had string column labels.
    columns_ : list
        Column labels of the training panel (those of every forecast).
    last_date_ : Timestamp, Period or None
        Last date seen by ``fit`` and ``update``.
    freq_ : pandas offset or None
        Regular frequency of the training dates, if any.
    n_dates_seen_ : int
        Number of dates seen by ``fit`` and ``update``.

    See Also
    --------
    KalmanFactorModel : Dynamic factor model for standardised macro panels.

    Notes
    -----
    **Identification.** With ``H`` free and ``P`` diagonal, the factors can be rescaled and
    (with a full ``F``) rotated without changing the likelihood. The paper's priors pin
    them; for maximum likelihood, ``k (k + 1) / 2`` loadings (``k`` for a diagonal ``F``)
    are held at their start values: at ``k`` anchor maturities (the most
    independent rows of the start loadings, by pivoted QR, sorted by maturity), the
    ``i``-th anchor's loadings on factors ``i, ..., k - 1`` (only on factor ``i`` for a
    diagonal ``F``). This just identifies the model, so the fitted curves and forecasts
    are those of the unrestricted GLSS, and keeps the factors in the units of the start
    loadings.

    **Estimation.** The initial state is approximately diffuse, ``N(0, v I)`` with ``v``
    ten times the mean square of the training panel, and ``F`` is not constrained to be
    stationary. ``em_iter`` EM iterations, each of which raises
    the likelihood, are followed by BFGS on the free parameters with the exact score
    (Fisher's identity: the gradient of the expected complete-data log-likelihood under
    the smoother), variances written as ``floor + theta**2`` with a floor of 1e-6 times
    the mean variance of the panel's first differences. BFGS stops, converged, when its
    gradient test passes or when the log-likelihood has changed by less than ``tol``
    (relative) over the last 10 iterations; a fit that stops otherwise (``maxiter``, or a
    failed line search) raises a :class:`~sklearn.exceptions.ConvergenceWarning`. The
    best parameters seen are kept.

    References
    ----------
    Kauffmann et al. (2022). Learning forecast-efficient yield curve factor decompositions
    with neural networks. Econometrics, 10(2), 15. Sections 2-4: the GLSS benchmark,
    initialised with the loadings of the two-step dynamic Svensson model.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skyield.baselines import GaussianLinearStateSpace, svensson_loadings
    >>> rng = np.random.default_rng(0)
    >>> maturities = [0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0]
    >>> factors = 3.0 + np.cumsum(rng.normal(scale=0.1, size=(120, 3)), axis=0)
    >>> curves = factors @ svensson_loadings(maturities, 0.7, 0.2)[:, :3].T
    >>> dates = pd.date_range("2015-01-02", periods=120, freq="W-FRI")
    >>> Y = pd.DataFrame(curves + rng.normal(scale=0.02, size=curves.shape),
    ...                  index=dates, columns=maturities)
    >>> model = GaussianLinearStateSpace(n_factors=3, decays=0.7).fit(Y)
    >>> model.log_likelihood_ >= model.initial_log_likelihood_
    True
    >>> model.forecast(steps=2).index[0]
    Timestamp('2017-04-21 00:00:00')
    """

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None)],
        "transition": [Options(*_TRANSITIONS)],
        "decays": [None, Interval(Real, 0, None, closed="neither"), "array-like"],
        "maturities": [None, Options("uniform"), "array-like"],
        "maxiter": [Interval(Integral, 1, None)],
        "em_iter": [Interval(Integral, 0, None)],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "factor_mean": ["boolean"],
        "warm_start": ["boolean"],
    }

    def __init__(self, *, n_factors=4, transition="full", decays=None, maturities=None,
                 maxiter=500, em_iter=20, tol=1e-6, factor_mean=False, warm_start=False):
        self.n_factors = n_factors
        self.transition = transition
        self.decays = decays
        self.maturities = maturities
        self.maxiter = maxiter
        self.em_iter = em_iter
        self.tol = tol
        self.factor_mean = factor_mean
        self.warm_start = warm_start

    @classmethod
    def get_test_params(cls):
        """Small settings for the common estimator checks."""
        return [
            {"n_factors": 2, "maturities": "uniform", "maxiter": 5, "em_iter": 2},
            {"n_factors": 1, "transition": "diagonal", "maturities": "uniform", "maxiter": 3,
             "em_iter": 0, "factor_mean": True},
        ]

    def fit(self, Y, y=None):
        """Estimate the model on a training panel of yield curves.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            Consecutive dates (rows) of yields; no missing values. Maturities come from
            the DataFrame column labels or from ``maturities``.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        previous = self.results_.model.split(np.array(self.results_.params, dtype=float)) \
            if self.warm_start and hasattr(self, "results_") else None
        panel = self._validate_fit_panel(Y, min_length=10, maturities=self.maturities,
                                         need_maturities=True)
        n_factors, maxiter = self.n_factors, self.maxiter
        decays = _check_decays(self.decays, n_factors)
        values = panel.values
        if panel.n_series < n_factors:
            raise ValueError(
                f"Y has {panel.n_series} maturities (n_features = {panel.n_series}) but "
                f"n_factors={n_factors} needs at least {n_factors}"
            )
        self.maturities_ = panel.maturities
        self.decays_ = decays if decays is not None else \
            grid_search_decays(values, self.maturities_, n_factors)
        self.initial_loadings_ = _start_loadings(self.maturities_, n_factors, self.decays_)

        floor = _VARIANCE_FLOOR * max(float(np.mean(np.var(np.diff(values, axis=0), axis=0))),
                                      np.finfo(float).tiny)
        self.initial_state_var_ = _DIFFUSE_SCALE * max(float(np.mean(values ** 2)),
                                                       np.finfo(float).tiny)
        model = _GLSSModel(values, n_factors, self.transition, self.initial_state_var_,
                           self.factor_mean)
        self.fixed_loadings_ = _identification_mask(self.initial_loadings_, model.transition)
        start = self._two_step_start(model, values, floor) if previous is None else \
            self._warm_start_values(model, previous, floor)
        estimation = _Estimation(model, values, self.fixed_loadings_, floor)
        params, history = self._maximise(estimation, start, maxiter, floor)

        self.results_ = model.smooth(params, cov_type="none")
        self.state_results_ = self.results_
        self.log_likelihood_ = float(self.results_.llf)
        self.initial_log_likelihood_ = history["initial"]
        self.converged_ = history["converged"]
        self.n_iter_ = history["n_iter"]
        if not self.converged_:
            warnings.warn(
                f"GaussianLinearStateSpace: maximum likelihood did not converge: BFGS "
                f"stopped after {history['bfgs_iter']} of maxiter={maxiter} iterations "
                f"({history['message']}) with the log-likelihood still changing by more "
                f"than tol={self.tol:g} (relative) over {_WINDOW} iterations",
                ConvergenceWarning, stacklevel=2,
            )
        loadings, transition, intercept, state_var, obs_var = model.split(params)
        self.loadings_, self.transition_ = loadings.copy(), transition.copy()
        self.intercept_ = np.array(intercept, dtype=float)
        self.mean_ = mean_from_intercept(self.intercept_, transition)
        self.state_cov_, self.error_cov_ = np.diag(state_var), np.diag(obs_var)
        return self

    def _state_space_model(self, data):
        return self.results_.model.clone(data)

    def _warm_start_values(self, model, previous, floor):
        """The previous estimates, with the identifying loadings of the new specification."""
        loadings, transition, intercept, state_var, obs_var = previous
        if loadings.shape != self.initial_loadings_.shape or \
                transition.shape != (self.n_factors, self.n_factors):
            raise ValueError(
                f"GaussianLinearStateSpace(warm_start=True) starts from the previous fit, "
                f"whose loadings have shape {loadings.shape} (maturities x factors), not "
                f"{self.initial_loadings_.shape}: fit with warm_start=False"
            )
        loadings = np.where(self.fixed_loadings_, self.initial_loadings_, loadings)
        return model.join(loadings, transition, intercept, np.maximum(state_var, floor),
                          np.maximum(obs_var, floor))

    def _two_step_start(self, model, values, floor):
        loadings = self.initial_loadings_
        factors = np.linalg.lstsq(loadings, values.T, rcond=None)[0].T
        lagged, current = factors[:-1], factors[1:]
        k = factors.shape[1]
        # With a factor mean, the regressions have a constant (the first column).
        ones = np.ones((lagged.shape[0], int(model.factor_mean)))
        intercept = np.zeros(k)
        if model.transition == "full":
            coef = np.linalg.lstsq(np.hstack([ones, lagged]), current, rcond=None)[0]
            transition = coef[ones.shape[1]:].T
            intercept += coef[0] if model.factor_mean else 0.0
        else:
            slopes = np.empty(k)
            for j in range(k):
                coef = np.linalg.lstsq(np.hstack([ones, lagged[:, [j]]]), current[:, j],
                                       rcond=None)[0]
                slopes[j] = coef[-1]
                intercept[j] = coef[0] if model.factor_mean else 0.0
            transition = np.diag(slopes)
        state_var = np.mean((current - intercept - lagged @ transition.T) ** 2, axis=0)
        obs_var = np.mean((values - factors @ loadings.T) ** 2, axis=0)
        return model.join(loadings, transition, intercept, np.maximum(state_var, floor),
                          np.maximum(obs_var, floor))

    def _maximise(self, estimation, start, maxiter, floor):
        model, fixed = estimation.model, estimation.fixed
        n_loadings = fixed.size
        free = np.concatenate([~fixed.ravel(), np.ones(start.size - n_loadings, dtype=bool)])
        variances = np.zeros(start.size, dtype=bool)
        variances[n_loadings + model.n_transition + model.n_intercept:] = True
        n_dates = estimation.values.shape[0]

        initial_llf, params = estimation.em_step(start) if self.em_iter else \
            (estimation.moments(start)[0], start)
        best_params, best_llf = start, initial_llf
        for _ in range(max(self.em_iter - 1, 0)):
            llf, new = estimation.em_step(params)
            if llf > best_llf:
                best_params, best_llf = params, llf
            params = new

        # BFGS on z: free loadings and transition as they are, variances = floor + z**2,
        # started a little above the floor where EM put a variance on it (the gradient
        # vanishes at z = 0).
        def to_params(z):
            full = params.copy()
            values = z.copy()
            values[variances[free]] = floor + values[variances[free]] ** 2
            full[free] = values
            return full

        z0 = params[free].copy()
        z0[variances[free]] = np.sqrt(np.maximum(z0[variances[free]] - floor, floor))
        seen = {"best": (best_llf, best_params)}

        def objective(z):
            full = to_params(z)
            with np.errstate(all="ignore"):
                try:
                    llf, gradient = estimation.score(full)
                except (np.linalg.LinAlgError, ValueError):
                    return np.inf, np.zeros_like(z)
            if not np.isfinite(llf) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros_like(z)
            if llf > seen["best"][0]:
                seen["best"] = (llf, full)
            gradient = gradient[free]
            gradient[variances[free]] *= 2 * z[variances[free]]
            return -llf / n_dates, -gradient / n_dates

        trace, stopped = [], []

        def callback(intermediate_result):
            trace.append(-intermediate_result.fun * n_dates)
            if len(trace) > _WINDOW and \
                    abs(trace[-1] - trace[-1 - _WINDOW]) <= self.tol * abs(trace[-1]):
                stopped.append(True)
                raise StopIteration

        result = minimize(objective, z0, jac=True, method="BFGS",
                          options={"maxiter": maxiter}, callback=callback)
        converged = bool(result.success or stopped)
        best_llf, best_params = seen["best"]
        return best_params, dict(initial=float(initial_llf), converged=converged,
                                 n_iter=int(self.em_iter + result.nit),
                                 bfgs_iter=int(result.nit), message=str(result.message))

    # -- panels with frozen parameters ---------------------------------------------------

    def transform(self, Y, smooth=False):
        """Factors of a panel of curves, filtered with the parameters frozen.

        Parameters
        ----------
        Y : DataFrame of shape (n_dates, n_maturities) or array-like
            Consecutive dates at the training maturities; filtering starts from the
            approximately diffuse initial state at its first date.
        smooth : bool, default=False
            Return smoothed factors (which use later dates) instead of filtered ones.

        Returns
        -------
        factors : ndarray of shape (n_dates, n_factors)
        """
        check_is_fitted(self)
        panel = self._validate_panel(Y)
        states, _ = self._filter_panel(panel.values, smooth=smooth)
        return np.asarray(states, dtype=float).T

    def get_feature_names_out(self, input_features=None):
        """Names of the factors returned by :meth:`transform`.

        Returns
        -------
        names : ndarray of str of shape (n_factors,)
        """
        check_is_fitted(self)
        return np.asarray([f"factor_{j}" for j in range(self.loadings_.shape[1])],
                          dtype=object)
