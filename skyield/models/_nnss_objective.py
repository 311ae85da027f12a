"""Log-likelihood and log-priors of the neural state space model (seed 004, section 3).

The model, for ``k`` factors and the maturities ``m_1 .. m_M``::

    y_t = H_theta beta_t + eps_t,          eps_t ~ N(0, Q),  Q = diag(Q_1 .. Q_M)
    beta_t = c + F beta_{t-1} + w_t,       w_t ~ N(0, P),    P = diag(P_1 .. P_k)

with ``H_theta = [g_theta(m_1), ..., g_theta(m_M)]'``. The seed's state equation has no
intercept (``c = 0``); with a factor mean, ``c`` is estimated under a flat prior. The
prior (section 3.2)::

    theta ~ N(0, sigma_NN^2 I)
    P_i ~ IG(a, b)                                   i = 1 .. k
    f_ij | P ~ N(u_ij, v_ij),  u_ij = 1{i = j},
        v_ij = lambda^2 (i = j),  (lambda gamma)^2 P_i / P_j (i != j)

All functions work on float64 torch tensors and are differentiable; densities are those
of the parameters themselves (no Jacobian of a reparameterisation), so the maximiser of
the log-posterior is the MAP estimate of ``(theta, F, P, Q)`` whatever variables the
optimiser moves.
"""

import math
from dataclasses import dataclass

import torch

from skyield.statespace import kalman_filter, parallel_kalman_filter

__all__ = [
    "FILTERS",
    "Priors",
    "log_likelihood",
    "log_posterior",
    "log_prior_state_var",
    "log_prior_transition",
    "log_prior_weights",
]

FILTERS = {"sequential": kalman_filter, "parallel": parallel_kalman_filter}
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Priors:
    """Hyper-parameters of the prior.

    Attributes
    ----------
    a, b : float
        Shape and scale of the inverse-gamma prior on each state variance ``P_i``.
    lam : float
        Minnesota ``lambda``: prior standard deviation of the diagonal of ``F``.
    gamma : float
        Minnesota ``gamma``: relative tightness of the off-diagonal entries.
    weight_var : float
        ``sigma_NN^2``, prior variance of every network weight and bias.
    """

    a: float
    b: float
    lam: float
    gamma: float
    weight_var: float


def log_prior_weights(parameters, variance):
    """Log-density of ``theta ~ N(0, variance * I)``.

    Parameters
    ----------
    parameters : iterable of Tensor
        The network's weights and biases.
    variance : float
        ``sigma_NN^2``.

    Returns
    -------
    Tensor of shape ()
    """
    flat = torch.cat([p.reshape(-1) for p in parameters])
    n = flat.numel()
    return -0.5 * (flat @ flat) / variance - 0.5 * n * (LOG_2PI + math.log(variance))


def log_prior_transition(F, P, lam, gamma):
    """Log-density of the Minnesota prior on ``F`` given the state variances ``P``.

    Parameters
    ----------
    F : Tensor of shape (k, k)
        Transition matrix; ``F[i, j]`` is the coefficient of factor ``j`` in the equation
        of factor ``i``.
    P : Tensor of shape (k,)
        State variances.
    lam, gamma : float
        Minnesota hyper-parameters.

    Returns
    -------
    Tensor of shape ()
    """
    k = F.shape[-1]
    eye = torch.eye(k, dtype=F.dtype, device=F.device)
    ratio = P[:, None] / P[None, :]
    var = torch.where(eye.bool(), torch.full_like(ratio, lam**2), (lam * gamma) ** 2 * ratio)
    return -0.5 * (((F - eye) ** 2) / var + torch.log(var) + LOG_2PI).sum()


def log_prior_state_var(P, a, b):
    """Log-density of independent ``IG(a, b)`` priors on the state variances.

    ``p(x) = b^a / Gamma(a) x^{-a-1} exp(-b / x)``, whose mode is ``b / (a + 1)``.

    Parameters
    ----------
    P : Tensor of shape (k,)
    a, b : float

    Returns
    -------
    Tensor of shape ()
    """
    const = a * math.log(b) - math.lgamma(a)
    return (const - (a + 1.0) * torch.log(P) - b / P).sum()


def log_likelihood(y, loadings, F, P, Q, initial_var, filter="sequential", intercept=None):
    """Gaussian log-likelihood by the prediction error decomposition.

    The first state has the approximately diffuse prior ``N(0, initial_var * I)``: the
    Minnesota prior centres ``F`` on a random walk, so a stationary start is not available
    in general.

    Parameters
    ----------
    y : Tensor of shape (n_dates, M)
        Observations; NaN where missing.
    loadings : Tensor of shape (M, k)
        ``H_theta``.
    F : Tensor of shape (k, k)
    P : Tensor of shape (k,)
        State variances.
    Q : Tensor of shape (M,)
        Measurement variances.
    initial_var : float
        Variance of every factor at the first date.
    filter : {"sequential", "parallel"}, default="sequential"
    intercept : Tensor of shape (k,), default=None
        Transition intercept ``c``; None means zero.

    Returns
    -------
    FilterResult
        The filter output; ``.loglike`` is the log-likelihood.
    """
    k = F.shape[-1]
    a0 = torch.zeros(k, dtype=F.dtype, device=F.device)
    P0 = initial_var * torch.eye(k, dtype=F.dtype, device=F.device)
    return FILTERS[filter](y, loadings, F, torch.diag(Q), torch.diag(P), a0=a0, P0=P0,
                           c=intercept, init="known")


def log_posterior(y, loadings, weights, F, P, Q, priors, initial_var, filter="sequential",
                  intercept=None):
    """Unnormalised log-posterior and log-likelihood of the parameters.

    Parameters
    ----------
    y : Tensor of shape (n_dates, M)
    loadings : Tensor of shape (M, k)
        ``H_theta``, computed from ``weights``.
    weights : iterable of Tensor
        Network parameters ``theta``.
    F : Tensor of shape (k, k)
    P : Tensor of shape (k,)
    Q : Tensor of shape (M,)
    priors : Priors
    initial_var : float
        Variance of every factor at the first date.
    filter : {"sequential", "parallel"}, default="sequential"
    intercept : Tensor of shape (k,), default=None
        Transition intercept ``c`` (flat prior); None means zero.

    Returns
    -------
    log_post : Tensor of shape ()
    log_lik : Tensor of shape ()
    """
    log_lik = log_likelihood(y, loadings, F, P, Q, initial_var, filter, intercept).loglike
    log_prior = (
        log_prior_weights(weights, priors.weight_var)
        + log_prior_transition(F, P, priors.lam, priors.gamma)
        + log_prior_state_var(P, priors.a, priors.b)
    )
    return log_lik + log_prior, log_lik
