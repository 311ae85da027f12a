"""Estimation and filtering for the dynamic Nelson-Siegel (Svensson) models.

The model, for one curve family, is the Gaussian linear state space

    y_t = Lambda beta_t + eps_t,            eps_t ~ N(0, diag(h)),
    beta_t = mu + A (beta_{t-1} - mu) + eta_t,  eta_t ~ N(0, Q),

observed on one or more segments of consecutive dates. With ``factor_mean=False`` the
factor mean ``mu`` is held at zero: ``beta_t = A beta_{t-1} + eta_t``, the transition
without intercept of Kauffmann et al. (2022, eq. 3). Two estimators: the two-step
method (cross-sectional OLS factors, then an AR(1)/VAR(1) by OLS on their transitions) and
the one-step method (maximum likelihood, started from the two-step estimates). Segments
enter one likelihood: at the first date of every segment after the first, the state is
reset to its stationary distribution by a zero transition and a stationary state
covariance for that one step, so the log-likelihood is exactly the sum of the segments'
log-likelihoods.

The model is written once for statsmodels (:class:`SegmentedDNSModel`: parameter
transforms, and the log-likelihood reported at the optimum), and the likelihood the
optimiser climbs is computed here (:class:`DNSLikelihood`), in torch, with its exact
gradient by automatic differentiation: statsmodels' ``fit`` differentiates its
likelihood numerically, one filter run per parameter and gradient (25 runs for the 24
parameters of a three-factor VAR), each with a Python-level parameter transform, whereas
one exact gradient costs about two filter runs. The filter is not
:func:`skyield.statespace.kalman_filter`, which whitens the observations with the Cholesky
factor of ``diag(h)``: at the maximum for smooth fitted curves (such as the Gurkaynak,
Sack and Wright data) the measurement variances of as many maturities as there are
factors go to zero, where the whitened form loses its precision; this one uses the
covariance form ``F_t = Lambda P_t Lambda' + diag(h)``, which stays well conditioned
there. With complete data the covariance recursion does not depend on the observations:
it is run once for all segments, up to its steady state, and the state means of all
dates follow from one affine scan of ``ceil(log2(n_dates))`` rounds of batched matrix
products. The fit runs with one BLAS/OpenMP thread: its matrices are a few rows wide,
and waking threads for each of them costs far more than the work.

Filtering with known parameters (``kalman_filter``) is written here rather than taken
from statsmodels because it runs many windows of equal length at once: with complete
data and a shared prior, every window has the same covariance and gain sequence, so
the filter reduces to batched matrix products. Tests compare both filters with
statsmodels.
"""

import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from statsmodels.tsa.statespace.mlemodel import MLEModel
from statsmodels.tsa.statespace.tools import (
    constrain_stationary_multivariate,
    unconstrain_stationary_multivariate,
)

from skyield.baselines._curve_fit import make_loadings, resolve_decay, solve_factors

_STATIONARY_LIMIT = 0.995
# BFGS stops when every component of the gradient of the mean log-likelihood per date,
# with respect to the scaled unconstrained parameters, is below this.
_GTOL = 1e-6
# Fresh BFGS starts after a line search that lost precision before convergence.
_RESTARTS = 3
# The covariance recursion has reached its steady state when one step changes no entry by
# more than this fraction of the largest entry.
_STEADY_TOLERANCE = 1e-14


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


def mean_from_intercept(intercept, transition):
    """``mu = (I - A)^{-1} c``, the mean of ``beta_t = c + A beta_{t-1} + eta_t``.

    NaN where ``I - A`` is singular (a unit root).
    """
    try:
        return np.linalg.solve(np.eye(len(intercept)) - transition, intercept)
    except np.linalg.LinAlgError:
        return np.full(len(intercept), np.nan)


def _regress(design, response):
    coef, *_ = np.linalg.lstsq(design, response, rcond=None)
    return coef, response - design @ coef


def fit_two_step(segments, maturities, factors, dynamics, decay, state_cov_type,
                 n_samples=None, factor_mean=True):
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
    factor_mean : bool, default=True
        Regress with an intercept (the factors revert to a mean); False regresses
        without one (the mean is zero).

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
    n_regressors = (k if dynamics == "var" else 1) + int(factor_mean)
    if n_pairs <= n_regressors:
        source = "" if n_samples is None else f" from {n_samples} window(s) (n_samples={n_samples})"
        raise ValueError(
            f"the {dynamics.upper()}(1) factor dynamics need more than {n_regressors} "
            f"transitions between consecutive curves, got {n_pairs}{source}"
        )
    # The constant regressor, when the factors revert to an estimated mean.
    ones = np.ones((n_pairs, int(factor_mean)))
    intercept = np.zeros(k)
    if dynamics == "var":
        coef, errors = _regress(np.hstack([ones, previous]), following)
        intercept[:] = coef[0] if factor_mean else 0.0
        transition = coef[int(factor_mean):].T
    else:
        slopes = np.empty(k)
        errors = np.empty_like(following)
        for j in range(k):
            coef, errors[:, j] = _regress(np.hstack([ones, previous[:, [j]]]), following[:, j])
            slopes[j] = coef[-1]
            intercept[j] = coef[0] if factor_mean else 0.0
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
        mean=mean_from_intercept(intercept, transition) if factor_mean else np.zeros(k),
        state_cov=cov, measurement_var=measurement,
    )
    return params, segment_factors


class SegmentedDNSModel(MLEModel):
    """statsmodels state-space form of the DNS model on concatenated segments.

    The state is the factor deviation ``beta_t - mu``; ``Lambda mu`` is the observation
    intercept. Parameters (constrained): mean (k; none with ``factor_mean=False``, which
    holds ``mu`` at zero), transition (k diagonal entries for ``"ar"``, k*k row-major for
    ``"var"``), state covariance (k variances for ``"diagonal"``, the k(k+1)/2 lower
    Cholesky entries row by row for ``"full"``) and the measurement variances
    (n_maturities). Transforms: variances are squares of the
    unconstrained values, AR coefficients ``u / sqrt(1 + u^2)``, VAR matrices through
    statsmodels' stationary transformation.
    """

    def __init__(self, endog, loadings, starts, dynamics, state_cov_type, factor_mean=True):
        k = loadings.shape[1]
        super().__init__(endog, k_states=k, k_posdef=k)
        self.loadings = loadings
        self.starts = np.asarray(starts, dtype=int)
        self.dynamics = dynamics
        self.state_cov_type = state_cov_type
        self.factor_mean = bool(factor_mean)
        self.k_factors = k
        self.n_maturities = loadings.shape[0]
        self.ssm["design"] = loadings
        self.ssm["selection"] = np.eye(k)
        self.ssm.initialize_known(np.zeros(k), np.eye(k))
        self._lower = np.tril_indices(k)

    @property
    def param_names(self):
        k, names = self.k_factors, []
        names += [f"mean.{i}" for i in range(self._n_mean)]
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

    @property
    def _n_mean(self):
        return self.k_factors if self.factor_mean else 0

    def _split(self, params):
        k = self.k_factors
        n_trans = k if self.dynamics == "ar" else k * k
        n_cov = k if self.state_cov_type == "diagonal" else len(self._lower[0])
        cuts = np.cumsum([self._n_mean, n_trans, n_cov])
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
        if not self.factor_mean:
            mean = np.zeros(k, dtype=trans.dtype)
        transition = np.diag(trans) if self.dynamics == "ar" else trans.reshape(k, k)
        return mean, transition, self._state_cov(cov), measurement

    def pack(self, mean, transition, state_cov, measurement):
        """Constrained parameter vector from the model matrices (``mean`` is left out
        with ``factor_mean=False``)."""
        if self.dynamics == "ar":
            trans = np.diag(transition)
        else:
            trans = transition.reshape(-1)
        if self.state_cov_type == "diagonal":
            cov = np.diag(state_cov)
        else:
            cov = np.linalg.cholesky(state_cov)[self._lower]
        mean = np.asarray(mean, dtype=float)[:self._n_mean]
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


class DNSLikelihood:
    """Exact log-likelihood of a :class:`SegmentedDNSModel` and its gradient, in torch.

    The value equals ``model.loglike(model.transform_params(u))`` (statsmodels' filter
    without its steady-state shortcut) up to rounding; the gradient with respect to the
    unconstrained parameters ``u`` comes from automatic differentiation.

    The predicted state covariances ``P_j`` depend only on the position ``j`` of a date in
    its segment: they are computed once, from the stationary covariance, until one step
    changes them by less than a relative 1e-14 (the steady state, kept for every later
    position). With the gains ``K_j = P_j Lambda' F_j^{-1}``, the predicted state
    deviations follow the affine recursion ``a_{t+1} = A (I - K_t Lambda) a_t + A K_t
    (y_t - Lambda mu)``, restarted at zero at every segment's first date, computed for
    all dates by an inclusive scan (Hillis and Steele) in ``ceil(log2(n))`` rounds.

    Parameters
    ----------
    model : SegmentedDNSModel
        The model, its observations (complete, no NaN) and its segment starts.
    """

    def __init__(self, model):
        endog = np.asarray(model.endog, dtype=np.float64)
        if not np.all(np.isfinite(endog)):
            raise ValueError("DNSLikelihood needs complete, finite observations")
        self.model = model
        self.k = model.k_factors
        self.y = torch.as_tensor(endog)
        self.loadings = torch.as_tensor(np.asarray(model.loadings, dtype=np.float64))
        bounds = np.concatenate([[0], model.starts, [endog.shape[0]]])
        positions = np.concatenate([np.arange(b - a) for a, b in zip(bounds[:-1], bounds[1:])])
        self.positions = torch.as_tensor(positions)
        self.first = self.positions == 0
        self.longest = int(positions.max()) + 1
        self._lower = tuple(torch.as_tensor(i) for i in np.tril_indices(self.k))
        self._sizes = [len(part) for part in model._split(np.zeros(len(model.param_names)))]

    def constrain(self, unconstrained):
        """Model matrices from unconstrained parameters (torch, differentiable).

        Mirrors :meth:`SegmentedDNSModel.transform_params`. For a VAR, the transform of
        Ansley and Kohn (1986) that statsmodels uses reduces, at order one, to
        ``A = C R^{-1} S R C^{-1}`` with ``S = chol(I + U U')^{-1} U``,
        ``R = chol(I - S S')`` and ``C = chol(Q)``.

        Parameters
        ----------
        unconstrained : Tensor of shape (n_params,)

        Returns
        -------
        mean : Tensor of shape (n_factors,)
        transition : Tensor of shape (n_factors, n_factors)
        state_cov : Tensor of shape (n_factors, n_factors)
        measurement_var : Tensor of shape (n_maturities,)
        """
        mean, trans, cov, measurement = torch.split(unconstrained, self._sizes)
        k = self.k
        eye = torch.eye(k, dtype=unconstrained.dtype)
        if not self.model.factor_mean:
            mean = torch.zeros(k, dtype=unconstrained.dtype)
        if self.model.state_cov_type == "diagonal":
            state_cov = torch.diag(cov**2)
        else:
            chol = torch.zeros((k, k), dtype=unconstrained.dtype).index_put(self._lower, cov)
            state_cov = chol @ chol.T
        if self.model.dynamics == "ar":
            transition = torch.diag(trans / torch.sqrt(1.0 + trans**2))
        else:
            free = trans.reshape(k, k)
            factor = torch.linalg.cholesky(eye + free @ free.T)
            partial = torch.linalg.solve_triangular(factor, free, upper=False)
            root = torch.linalg.cholesky(eye - partial @ partial.T)
            cov_root = torch.linalg.cholesky(state_cov)
            left = cov_root @ torch.linalg.solve_triangular(root, partial @ root, upper=False)
            # left C^{-1}, as the transpose of C^{-T} left'.
            transition = torch.linalg.solve_triangular(cov_root.T, left.T, upper=True).T
        return mean, transition, state_cov, measurement**2

    def _loglike(self, unconstrained):
        mean, transition, state_cov, measurement = self.constrain(unconstrained)
        L, y, k = self.loadings, self.y, self.k
        H = torch.diag(measurement)
        predicted = [_stationary_cov_torch(transition, state_cov)]
        for _ in range(self.longest - 1):
            P = predicted[-1]
            PL = P @ L.T
            filtered = P - PL @ torch.linalg.solve(L @ PL + H, PL.T)
            following = transition @ filtered @ transition.T + state_cov
            following = (following + following.T) / 2
            predicted.append(following)
            with torch.no_grad():
                change = float((following - P).abs().max())
                steady = change <= _STEADY_TOLERANCE * float(following.abs().max())
            if steady:
                break
        predicted = torch.stack(predicted)
        index = torch.clamp(self.positions, max=predicted.shape[0] - 1)
        innovation_cov = L @ predicted @ L.T + H
        factor = torch.linalg.cholesky(innovation_cov)
        gain = torch.cholesky_solve(L @ predicted, factor).mT
        log_det = 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)
        errors = y - L @ mean
        gains = gain[index]
        eye = torch.eye(k, dtype=y.dtype)
        # Map from date t's predicted deviation to date t+1's, shifted so that entry t
        # leads into date t; zero at every segment's first date (the stationary mean).
        step = transition @ (eye - gains @ L)
        shift = (transition @ (gains @ errors[:, :, None]))[..., 0]
        step = torch.cat([torch.zeros_like(step[:1]), step[:-1]])
        shift = torch.cat([torch.zeros_like(shift[:1]), shift[:-1]])
        step = torch.where(self.first[:, None, None], 0.0, step)
        shift = torch.where(self.first[:, None], 0.0, shift)
        states = _affine_scan(step, shift)
        innovations = errors - states @ L.T
        whitened = torch.linalg.solve_triangular(factor[index], innovations[:, :, None],
                                                 upper=False)[..., 0]
        n_values = y.shape[0] * y.shape[1]
        return -0.5 * (n_values * np.log(2.0 * np.pi) + log_det[index].sum()
                       + (whitened**2).sum())

    def loglike(self, unconstrained):
        """Log-likelihood at unconstrained parameters.

        Parameters
        ----------
        unconstrained : ndarray of shape (n_params,)

        Returns
        -------
        loglike : float
        """
        with torch.no_grad():
            return float(self._loglike(torch.as_tensor(np.asarray(unconstrained, float))))

    def loglike_and_score(self, unconstrained):
        """Log-likelihood and its gradient at unconstrained parameters.

        Parameters
        ----------
        unconstrained : ndarray of shape (n_params,)

        Returns
        -------
        loglike : float
        score : ndarray of shape (n_params,)
            NaN where the model matrices at these parameters are not valid (e.g. a
            singular innovation covariance), with a NaN log-likelihood.
        """
        u = torch.tensor(np.asarray(unconstrained, dtype=np.float64), requires_grad=True)
        try:
            value = self._loglike(u)
            value.backward()
        except torch.linalg.LinAlgError:
            return np.nan, np.full(u.shape[0], np.nan)
        return float(value.detach()), u.grad.numpy().copy()

    def constrained(self, unconstrained):
        """Constrained parameter vector (the layout of :class:`SegmentedDNSModel`).

        Parameters
        ----------
        unconstrained : ndarray of shape (n_params,)

        Returns
        -------
        params : ndarray of shape (n_params,)
        """
        with torch.no_grad():
            mean, transition, state_cov, measurement = self.constrain(
                torch.as_tensor(np.asarray(unconstrained, dtype=np.float64)))
        return self.model.pack(mean.numpy(), transition.numpy(), state_cov.numpy(),
                               measurement.numpy())


def _stationary_cov_torch(transition, state_cov):
    k = transition.shape[0]
    kron = (transition[:, None, :, None] * transition[None, :, None, :]).reshape(k * k, k * k)
    eye = torch.eye(k * k, dtype=transition.dtype)
    cov = torch.linalg.solve(eye - kron, state_cov.reshape(k * k)).reshape(k, k)
    return (cov + cov.T) / 2


def _affine_scan(step, shift):
    """All ``x_t = step_t x_{t-1} + shift_t`` (``x_{-1} = 0``) by an inclusive scan.

    Parameters
    ----------
    step : Tensor of shape (n, k, k)
    shift : Tensor of shape (n, k)

    Returns
    -------
    Tensor of shape (n, k)
    """
    n, span = shift.shape[0], 1
    while span < n:
        # Entry t composes maps t-span+1..t; compose it with entry t-span's maps.
        carried = (step[span:] @ shift[:-span, :, None])[..., 0]
        shift = torch.cat([shift[:span], shift[span:] + carried])
        if 2 * span < n:
            step = torch.cat([step[:span], step[span:] @ step[:-span]])
        span *= 2
    return shift


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


def _parameter_scale(model, unconstrained):
    """Per-parameter scale of the optimiser's variables (start values of order one).

    Each parameter is divided by its absolute start value, floored at a tenth of the
    largest one of its block (mean, transition, state covariance, measurement), so that
    the optimisation does not depend on the units of the yields.
    """
    scale = np.empty_like(unconstrained)
    cuts = np.cumsum([0] + [len(part) for part in model._split(unconstrained)])
    for a, b in zip(cuts[:-1], cuts[1:]):
        block = np.abs(unconstrained[a:b])
        largest = block.max() if block.size else 0.0
        scale[a:b] = np.maximum(block, 0.1 * largest) if largest > 0 else 1.0
    return scale


def _maximise(segments, start, segment_factors, dynamics, state_cov_type, maxiter,
              factor_mean, warm=None):
    """The optimisation of :func:`fit_one_step`: estimates, log-likelihood, last result."""
    endog = np.vstack(segments)
    starts = np.cumsum([len(s) for s in segments])[:-1]
    model = SegmentedDNSModel(endog, start.loadings, starts, dynamics, state_cov_type,
                              factor_mean)
    floor = max(1e-10, 1e-6 * float(np.mean(np.var(endog, axis=0))))

    def unconstrained_at(params, mean):
        return model.untransform_params(model.pack(
            mean,
            _stationary_start(params.transition, dynamics),
            _positive_definite(params.state_cov),
            np.maximum(params.measurement_var, floor),
        ))

    likelihood = DNSLikelihood(model)
    unconstrained = unconstrained_at(start, np.vstack(segment_factors).mean(axis=0))
    # The scaling is the two-step start's, with a warm start too: the optimiser's
    # geometry is a cold fit's and only its starting point differs.
    scale = _parameter_scale(model, unconstrained)
    if warm is not None:
        unconstrained = unconstrained_at(warm, warm.mean)
    n_dates = endog.shape[0]

    def objective(scaled):
        value, score = likelihood.loglike_and_score(scaled * scale)
        if not (np.isfinite(value) and np.all(np.isfinite(score))):
            # Invalid matrices: an infinite value makes the line search step back.
            return np.inf, np.zeros_like(scaled)
        return -value / n_dates, -score * scale / n_dates

    point, used = unconstrained / scale, 0
    for _ in range(_RESTARTS + 1):
        result = minimize(objective, point, jac=True, method="BFGS",
                          options={"maxiter": maxiter - used, "gtol": _GTOL})
        moved = not np.array_equal(result.x, point)
        point, used = result.x, used + int(result.nit)
        # status 2: the line search lost precision before the gradient was small.
        if result.status != 2 or used >= maxiter or not moved:
            break
    params = likelihood.constrained(point * scale)
    # Reported without statsmodels' steady-state shortcut, whose absolute tolerance
    # would make the value depend (slightly) on the units of the yields.
    model.ssm.tolerance = 0
    return model.unpack(params), float(model.loglike(params)), result


def fit_one_step(segments, start, segment_factors, dynamics, state_cov_type, maxiter, label="",
                 factor_mean=True, warm=None):
    """Maximum-likelihood estimates started from the two-step ones.

    BFGS (scipy) on the unconstrained parameters of :class:`SegmentedDNSModel`, each
    divided by its start value (see ``_parameter_scale``), with the exact gradient of
    the mean log-likelihood per date from :class:`DNSLikelihood`. Convergence means
    scipy's BFGS reported success: every gradient component below 1e-6. When the line
    search loses precision before that, BFGS starts afresh from the last point (at most
    three times, within ``maxiter`` iterations in all). The log-likelihood reported is
    statsmodels' at the estimates (without its steady-state shortcut).

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
        Iteration limit of BFGS (all starts together).
    label : str
        Family label for the convergence warning.
    factor_mean : bool, default=True
        Estimate the factor mean; False holds it at zero (no transition intercept).
    warm : DNSParams, default=None
        A previous fit's estimates to start the optimiser from (a warm start) instead of
        the two-step estimates; the parameters are still scaled by the two-step ones, and
        the decay and loadings are ``start``'s.

    Returns
    -------
    params : DNSParams
    """
    # Every matrix here is tiny: threads of BLAS, LAPACK and OpenMP cost far more than
    # they save (a hundredfold on a loaded machine), so the fit runs on one.
    with threadpool_limits(limits=1):
        params, llf, result = _maximise(segments, start, segment_factors, dynamics,
                                        state_cov_type, maxiter, factor_mean, warm)
    converged = bool(result.success)
    if not converged:
        where = f" for family {label!r}" if label else ""
        warnings.warn(
            f"DynamicNelsonSiegel: the maximum-likelihood optimiser did not converge"
            f"{where} within maxiter={maxiter} iterations ({result.message}); the "
            f"estimates are those of the last iteration. Increase maxiter or check the "
            f"data and the decay.",
            ConvergenceWarning, stacklevel=3,
        )
    mean, transition, state_cov, measurement = params
    return replace(
        start, intercept=(np.eye(len(mean)) - transition) @ mean, transition=transition,
        mean=mean, state_cov=state_cov, measurement_var=measurement,
        log_likelihood=llf, converged=converged,
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
