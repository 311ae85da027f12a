"""Estimation and filtering for the dynamic Nelson-Siegel (Svensson) models.

The model, for one curve family, is the Gaussian linear state space

    y_t = Lambda beta_t + eps_t,            eps_t ~ N(0, diag(h)),
    beta_t = mu + A (beta_{t-1} - mu) + eta_t,  eta_t ~ N(0, Q),

observed on one or more segments of consecutive dates. Two estimators: the two-step
method (cross-sectional OLS factors, then an AR(1)/VAR(1) by OLS on their transitions) and
the one-step method (maximum likelihood through statsmodels' Kalman filter, started from
the two-step estimates). Segments enter one likelihood: at the first date of every
segment after the first, the state is reset to its stationary distribution by a zero
transition and a stationary state covariance for that one step, so the log-likelihood is
exactly the sum of the segments' log-likelihoods.

Filtering with known parameters (``kalman_filter``) is written here rather than taken
from statsmodels because it runs many windows of equal length at once: with complete
data and a shared prior, every window has the same covariance and gain sequence, so
the filter reduces to batched matrix products. Tests compare it with statsmodels.
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from statsmodels.tsa.statespace.mlemodel import MLEModel
from statsmodels.tsa.statespace.tools import (
    constrain_stationary_multivariate,
    unconstrain_stationary_multivariate,
)

from skyield.baselines._curve_fit import make_loadings, resolve_decay, solve_factors

_STATIONARY_LIMIT = 0.995


@dataclass(frozen=True)
class DNSParams:
    """Parameters of one family's dynamic Nelson-Siegel model.

    Attributes
    ----------
    decay : float or tuple of (float, float)
    loadings : ndarray of shape (n_maturities, n_factors)
    intercept : ndarray of shape (n_factors,)
        ``c`` in ``beta_t = c + A beta_{t-1} + eta_t``.
    transition : ndarray of shape (n_factors, n_factors)
    mean : ndarray of shape (n_factors,)
        ``mu = (I - A)^{-1} c`` (NaN when ``I - A`` is singular).
    state_cov : ndarray of shape (n_factors, n_factors)
    measurement_var : ndarray of shape (n_maturities,)
    log_likelihood : float or None
        Maximised log-likelihood (one-step method).
    converged : bool or None
        Whether the optimiser reported convergence (one-step method).
    """

    decay: object
    loadings: np.ndarray
    intercept: np.ndarray
    transition: np.ndarray
    mean: np.ndarray
    state_cov: np.ndarray
    measurement_var: np.ndarray
    log_likelihood: float | None = None
    converged: bool | None = None


def stationary_cov(transition, state_cov):
    """Solve ``P = A P A' + Q`` (the stationary state covariance)."""
    k = transition.shape[0]
    # The Kronecker form avoids conjugation, so it stays valid for complex-step inputs.
    lhs = np.eye(k * k) - np.kron(transition, transition)
    cov = np.linalg.solve(lhs, state_cov.reshape(-1)).reshape(k, k)
    return (cov + cov.T) / 2


def _mean_from_intercept(intercept, transition):
    try:
        return np.linalg.solve(np.eye(len(intercept)) - transition, intercept)
    except np.linalg.LinAlgError:
        return np.full(len(intercept), np.nan)


def _regress(design, response):
    coef, *_ = np.linalg.lstsq(design, response, rcond=None)
    return coef, response - design @ coef


def fit_two_step(segments, maturities, factors, dynamics, decay, state_cov_type,
                 n_samples=None):
    """Two-step estimates on segments of consecutive curves.

    Parameters
    ----------
    segments : list of ndarray of shape (n_dates_s, n_maturities)
    maturities : ndarray of shape (n_maturities,)
    factors : {"ns", "nss"}
    dynamics : {"ar", "var"}
    decay : rule, float or pair
    state_cov_type : {"full", "diagonal"}
    n_samples : int, default=None
        Number of windows the segments come from, for error messages.

    Returns
    -------
    params : DNSParams
    segment_factors : list of ndarray of shape (n_dates_s, n_factors)
    """
    curves = np.vstack(segments)
    resolved = resolve_decay(decay, maturities, factors, curves)
    loadings = make_loadings(maturities, resolved, factors)
    k = loadings.shape[1]
    betas, residuals = solve_factors(curves, loadings)
    bounds = np.cumsum([0] + [len(s) for s in segments])
    segment_factors = [betas[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    previous = np.vstack([f[:-1] for f in segment_factors])
    following = np.vstack([f[1:] for f in segment_factors])
    n_pairs = previous.shape[0]
    n_regressors = k + 1 if dynamics == "var" else 2
    if n_pairs <= n_regressors:
        source = "" if n_samples is None else f" from {n_samples} window(s) (n_samples={n_samples})"
        raise ValueError(
            f"the {dynamics.upper()}(1) factor dynamics need more than {n_regressors} "
            f"transitions between consecutive curves, got {n_pairs}{source}"
        )
    ones = np.ones((n_pairs, 1))
    if dynamics == "var":
        coef, errors = _regress(np.hstack([ones, previous]), following)
        intercept, transition = coef[0], coef[1:].T
    else:
        intercept, slopes = np.empty(k), np.empty(k)
        errors = np.empty_like(following)
        for j in range(k):
            coef, errors[:, j] = _regress(np.hstack([ones, previous[:, [j]]]), following[:, j])
            intercept[j], slopes[j] = coef
        transition = np.diag(slopes)
    cov = errors.T @ errors / (n_pairs - n_regressors)
    if state_cov_type == "diagonal":
        cov = np.diag(np.diag(cov))
    # Residual variance per maturity, corrected for the leverage of the cross-sectional
    # fit (E[r_i^2] = (1 - h_ii) sigma_i^2 for homoskedastic noise).
    leverage = np.einsum("ij,ji->i", loadings, np.linalg.pinv(loadings))
    freedom = residuals.shape[0] * (1.0 - leverage)
    measurement = np.where(freedom > 1e-9, np.sum(residuals**2, axis=0) / np.maximum(freedom, 1e-9),
                           0.0)
    params = DNSParams(
        decay=resolved, loadings=loadings, intercept=intercept, transition=transition,
        mean=_mean_from_intercept(intercept, transition), state_cov=cov,
        measurement_var=measurement,
    )
    return params, segment_factors


class SegmentedDNSModel(MLEModel):
    """statsmodels state-space form of the DNS model on concatenated segments.

    The state is the factor deviation ``beta_t - mu``; ``Lambda mu`` is the observation
    intercept. Parameters (constrained): mean (k), transition (k diagonal entries for
    ``"ar"``, k*k row-major for ``"var"``), state covariance (k variances for
    ``"diagonal"``, the k(k+1)/2 lower Cholesky entries row by row for ``"full"``) and
    the measurement variances (n_maturities). Transforms: variances are squares of the
    unconstrained values, AR coefficients ``u / sqrt(1 + u^2)``, VAR matrices through
    statsmodels' stationary transformation.
    """

    def __init__(self, endog, loadings, starts, dynamics, state_cov_type):
        k = loadings.shape[1]
        super().__init__(endog, k_states=k, k_posdef=k)
        self.loadings = loadings
        self.starts = np.asarray(starts, dtype=int)
        self.dynamics = dynamics
        self.state_cov_type = state_cov_type
        self.k_factors = k
        self.n_maturities = loadings.shape[0]
        self.ssm["design"] = loadings
        self.ssm["selection"] = np.eye(k)
        self.ssm.initialize_known(np.zeros(k), np.eye(k))
        self._lower = np.tril_indices(k)

    @property
    def param_names(self):
        k, names = self.k_factors, []
        names += [f"mean.{i}" for i in range(k)]
        if self.dynamics == "ar":
            names += [f"ar.{i}" for i in range(k)]
        else:
            names += [f"var.{i}.{j}" for i in range(k) for j in range(k)]
        if self.state_cov_type == "diagonal":
            names += [f"state_var.{i}" for i in range(k)]
        else:
            names += [f"state_chol.{i}.{j}" for i, j in zip(*self._lower)]
        names += [f"measurement_var.{i}" for i in range(self.n_maturities)]
        return names

    def _split(self, params):
        k = self.k_factors
        n_trans = k if self.dynamics == "ar" else k * k
        n_cov = k if self.state_cov_type == "diagonal" else len(self._lower[0])
        cuts = np.cumsum([k, n_trans, n_cov])
        return np.split(params, cuts)

    def _state_cov(self, cov_params):
        if self.state_cov_type == "diagonal":
            return np.diag(cov_params)
        chol = np.zeros((self.k_factors, self.k_factors), dtype=cov_params.dtype)
        chol[self._lower] = cov_params
        return chol @ chol.T

    def unpack(self, params):
        """Return mean, transition, state covariance and measurement variances."""
        mean, trans, cov, measurement = self._split(np.asarray(params))
        k = self.k_factors
        transition = np.diag(trans) if self.dynamics == "ar" else trans.reshape(k, k)
        return mean, transition, self._state_cov(cov), measurement

    def pack(self, mean, transition, state_cov, measurement):
        """Constrained parameter vector from the model matrices."""
        if self.dynamics == "ar":
            trans = np.diag(transition)
        else:
            trans = transition.reshape(-1)
        if self.state_cov_type == "diagonal":
            cov = np.diag(state_cov)
        else:
            cov = np.linalg.cholesky(state_cov)[self._lower]
        return np.concatenate([mean, trans, cov, measurement])

    def transform_params(self, unconstrained):
        mean, trans, cov, measurement = self._split(np.asarray(unconstrained))
        if self.state_cov_type == "diagonal":
            cov = cov**2
        if self.dynamics == "ar":
            trans = trans / np.sqrt(1.0 + trans**2)
        else:
            k = self.k_factors
            matrix, _ = constrain_stationary_multivariate(
                trans.reshape(k, k), self._state_cov(cov))
            trans = np.asarray(matrix).reshape(-1)
        return np.concatenate([mean, trans, cov, measurement**2])

    def untransform_params(self, constrained):
        mean, trans, cov, measurement = self._split(np.asarray(constrained))
        if self.dynamics == "ar":
            trans = trans / np.sqrt(1.0 - trans**2)
        else:
            k = self.k_factors
            matrix, _ = unconstrain_stationary_multivariate(
                trans.reshape(k, k), self._state_cov(cov))
            trans = np.asarray(matrix).reshape(-1)
        if self.state_cov_type == "diagonal":
            cov = np.sqrt(cov)
        return np.concatenate([mean, trans, cov, np.sqrt(measurement)])

    def update(self, params, transformed=True, includes_fixed=False, complex_step=False):
        params = super().update(params, transformed=transformed,
                                includes_fixed=includes_fixed, complex_step=complex_step)
        mean, transition, state_cov, measurement = self.unpack(params)
        self.ssm["obs_intercept"] = self.loadings @ mean
        self.ssm["obs_cov"] = np.diag(measurement)
        prior = stationary_cov(transition, state_cov)
        self.ssm.initialize_known(np.zeros(self.k_factors), prior)
        if self.starts.size:
            n = self.nobs
            transitions = np.repeat(transition[:, :, None], n, axis=2)
            covs = np.repeat(state_cov[:, :, None], n, axis=2)
            # The step into a segment's first date forgets the past: beta - mu ~ N(0, P).
            transitions[:, :, self.starts - 1] = 0.0
            covs[:, :, self.starts - 1] = prior[:, :, None]
            self.ssm["transition"] = transitions
            self.ssm["state_cov"] = covs
        else:
            self.ssm["transition"] = transition
            self.ssm["state_cov"] = state_cov


def _stationary_start(transition, dynamics):
    """Pull a two-step transition inside the stationary region for the optimiser."""
    if dynamics == "ar":
        values = np.clip(np.diag(transition), -_STATIONARY_LIMIT, _STATIONARY_LIMIT)
        return np.diag(values)
    radius = np.max(np.abs(np.linalg.eigvals(transition)))
    if radius >= _STATIONARY_LIMIT:
        return transition * (_STATIONARY_LIMIT / radius)
    return transition


def _positive_definite(cov):
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    floor = 1e-8 * max(values.max(), 1e-12)
    return (vectors * np.maximum(values, floor)) @ vectors.T


def fit_one_step(segments, start, segment_factors, dynamics, state_cov_type, maxiter, label=""):
    """Maximum-likelihood estimates started from the two-step ones.

    Parameters
    ----------
    segments : list of ndarray of shape (n_dates_s, n_maturities)
    start : DNSParams
        Two-step estimates (the decay is kept fixed).
    segment_factors : list of ndarray of shape (n_dates_s, n_factors)
        Two-step factors; their average starts the mean.
    dynamics : {"ar", "var"}
    state_cov_type : {"full", "diagonal"}
    maxiter : int
    label : str
        Family label for the convergence warning.

    Returns
    -------
    params : DNSParams
    """
    endog = np.vstack(segments)
    starts = np.cumsum([len(s) for s in segments])[:-1]
    model = SegmentedDNSModel(endog, start.loadings, starts, dynamics, state_cov_type)
    floor = max(1e-10, 1e-6 * float(np.mean(np.var(endog, axis=0))))
    start_vector = model.pack(
        np.vstack(segment_factors).mean(axis=0),
        _stationary_start(start.transition, dynamics),
        _positive_definite(start.state_cov),
        np.maximum(start.measurement_var, floor),
    )
    with warnings.catch_warnings():
        # statsmodels' own convergence message is replaced by the one below.
        warnings.simplefilter("ignore")
        result = model.fit(start_params=start_vector, method="lbfgs", maxiter=maxiter,
                           disp=False, cov_type="none")
    converged = bool(result.mle_retvals.get("converged", False))
    if not converged:
        where = f" for family {label!r}" if label else ""
        warnings.warn(
            f"DynamicNelsonSiegel: the maximum-likelihood optimiser did not converge"
            f"{where} within maxiter={maxiter} iterations; the estimates are those of "
            f"the last iteration. Increase maxiter or check the data and the decay.",
            ConvergenceWarning, stacklevel=3,
        )
    mean, transition, state_cov, measurement = model.unpack(result.params)
    return replace(
        start, intercept=(np.eye(len(mean)) - transition) @ mean, transition=transition,
        mean=mean, state_cov=state_cov, measurement_var=measurement,
        log_likelihood=float(result.llf), converged=converged,
    )


def kalman_filter(params, curves, prior_mean=None, prior_cov=None, smooth=False):
    """Filter (or smooth) many windows of equal length with complete data at once.

    Parameters
    ----------
    params : DNSParams
    curves : ndarray of shape (n_windows, n_dates, n_maturities)
    prior_mean : ndarray of shape (n_windows, n_factors) or (n_factors,), default=None
        Predicted state for the first date; the stationary mean by default.
    prior_cov : ndarray of shape (n_factors, n_factors), default=None
        Its covariance; the stationary covariance by default.
    smooth : bool, default=False
        Return smoothed instead of filtered states.

    Returns
    -------
    means : ndarray of shape (n_windows, n_dates, n_factors)
    covs : ndarray of shape (n_dates, n_factors, n_factors)
    """
    A, Q, L = params.transition, params.state_cov, params.loadings
    c = params.intercept
    n, T, _ = curves.shape
    k = L.shape[1]
    pred_mean = np.broadcast_to(params.mean if prior_mean is None else prior_mean, (n, k))
    pred_cov = stationary_cov(A, Q) if prior_cov is None else prior_cov
    H = np.diag(params.measurement_var)
    means, covs = np.empty((n, T, k)), np.empty((T, k, k))
    pred_means, pred_covs = np.empty((n, T, k)), np.empty((T, k, k))
    for t in range(T):
        pred_means[:, t], pred_covs[t] = pred_mean, pred_cov
        innovation_cov = L @ pred_cov @ L.T + H
        gain = np.linalg.solve(innovation_cov, L @ pred_cov).T
        means[:, t] = pred_mean + (curves[:, t] - pred_mean @ L.T) @ gain.T
        cov = pred_cov - gain @ L @ pred_cov
        covs[t] = (cov + cov.T) / 2
        pred_mean = c + means[:, t] @ A.T
        pred_cov = A @ covs[t] @ A.T + Q
    if not smooth:
        return means, covs
    for t in range(T - 2, -1, -1):
        smoother_gain = np.linalg.solve(pred_covs[t + 1], A @ covs[t]).T
        means[:, t] = means[:, t] + (means[:, t + 1] - pred_means[:, t + 1]) @ smoother_gain.T
        cov = covs[t] + smoother_gain @ (covs[t + 1] - pred_covs[t + 1]) @ smoother_gain.T
        covs[t] = (cov + cov.T) / 2
    return means, covs


def forecast_moments(params, state, steps, state_cov=None):
    """Mean and variance of the curves ``steps`` ahead of a factor state.

    Parameters
    ----------
    params : DNSParams
    state : ndarray of shape (n, n_factors)
        Factor estimate at the origin.
    steps : ndarray of shape (n_steps,)
        Positive, increasing steps ahead.
    state_cov : ndarray of shape (n_factors, n_factors), default=None
        Covariance of the factor estimate at the origin (Kalman); None for the two-step
        model, whose origin factors are taken as known.

    Returns
    -------
    mean : ndarray of shape (n, n_steps, n_maturities)
    var : ndarray of shape (n_steps, n_maturities)
        ``diag(Lambda V_h Lambda') + h`` with ``V_h = sum_{j<h} A^j Q A^j'`` plus
        ``A^h P A^h'`` when ``state_cov`` is given.
    """
    A, Q, L, c = params.transition, params.state_cov, params.loadings, params.intercept
    k = A.shape[0]
    longest = int(steps[-1])
    current = state
    shock_cov = np.zeros((k, k))
    power = np.eye(k)
    means, variances = {}, {}
    wanted = set(int(s) for s in steps)
    for h in range(1, longest + 1):
        current = c + current @ A.T
        shock_cov = shock_cov + power @ Q @ power.T
        power = A @ power
        if h in wanted:
            total = shock_cov if state_cov is None else shock_cov + power @ state_cov @ power.T
            means[h] = current @ L.T
            variances[h] = np.einsum("ij,jk,ik->i", L, total, L) + params.measurement_var
    mean = np.stack([means[int(s)] for s in steps], axis=1)
    var = np.stack([variances[int(s)] for s in steps], axis=0)
    return mean, var
