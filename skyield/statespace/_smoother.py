"""Fixed-interval smoothing of the Kalman filter output.

The backward pass is the state smoothing recursion of Durbin and Koopman (2012, section
4.4): it needs no inverse of the predicted covariance (which is singular whenever ``Q``
is), and it gives the same moments as the Rauch-Tung-Striebel smoother. Hand-written for
the same reasons as the filter (autograd, batching, missing values).
"""

import torch

from ._kalman_filter import augment, kalman_filter
from ._observations import flatten_batch, matvec, symmetrize, whiten
from ._results import FilterResult, SmootherResult


def kalman_smoother(y, Z, T, H, Q, a0=None, P0=None, c=None, d=None, init="stationary"):
    """Smoothed states ``E[a_t | y_1..y_n]`` and their covariances.

    Runs :func:`kalman_filter` and then :func:`smooth_filtered`; see
    :func:`kalman_filter` for the model, the arguments, missing values and batching.

    Parameters
    ----------
    y : array-like or Tensor of shape (..., n, M)
        Observations; NaN marks a missing value.
    Z : array-like or Tensor of shape (..., M, k)
        Design matrix.
    T : array-like or Tensor of shape (..., k, k)
        Transition matrix.
    H : array-like or Tensor of shape (..., M, M)
        Measurement noise covariance (positive definite).
    Q : array-like or Tensor of shape (..., k, k)
        State noise covariance.
    a0 : array-like or Tensor of shape (..., k), default=None
        Mean of the first state.
    P0 : array-like or Tensor of shape (..., k, k), default=None
        Covariance of the first state (``init="known"`` only).
    c : array-like or Tensor of shape (..., k), default=None
        State intercept.
    d : array-like or Tensor of shape (..., M), default=None
        Observation intercept.
    init : {"stationary", "diffuse", "known"}, default="stationary"
        Initialisation, as in :func:`kalman_filter`.

    Returns
    -------
    SmootherResult
        ``smoothed_state`` of shape (*batch, n, k), ``smoothed_cov`` of shape
        (*batch, n, k, k) and the ``filter_result``.

    References
    ----------
    Durbin and Koopman (2012), *Time Series Analysis by State Space Methods*, 2nd ed.,
    section 4.4.
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, section 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import kalman_smoother
    >>> y = np.random.default_rng(0).normal(size=(30, 2))
    >>> res = kalman_smoother(y, np.ones((2, 1)), [[0.7]], np.eye(2), [[1.0]])
    >>> res.smoothed_state.shape
    torch.Size([30, 1])
    """
    return smooth_filtered(kalman_filter(y, Z, T, H, Q, a0=a0, P0=P0, c=c, d=d, init=init))


def smooth_filtered(result):
    """Smooth the output of :func:`kalman_filter` or :func:`parallel_kalman_filter`.

    Parameters
    ----------
    result : FilterResult
        A filter pass over the whole sample.

    Returns
    -------
    SmootherResult
        ``smoothed_state`` of shape (*batch, n, k) and ``smoothed_cov`` of shape
        (*batch, n, k, k).

    Notes
    -----
    With the whitened measurement of :func:`kalman_filter`, ``Z' F^{-1} v`` and
    ``Z' F^{-1} Z`` of date t are ``(I + Lam P)^{-1} u`` and ``(I + Lam P)^{-1} Lam``
    (``P`` the predicted covariance, ``u = Z*' v*``) and ``L_t = T (I - P Z' F^{-1} Z)``.
    The backward recursion ``r_{t-1} = Z' F^{-1} v + L_t' r_t``,
    ``N_{t-1} = Z' F^{-1} Z + L_t' N_t L_t`` from ``r_n = 0``, ``N_n = 0`` gives
    ``E[a_t | y] = a_{t|t-1} + P r_{t-1}`` and ``Var[a_t | y] = P - P N_{t-1} P``.

    References
    ----------
    Durbin and Koopman (2012), *Time Series Analysis by State Space Methods*, 2nd ed.,
    section 4.4.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import parallel_kalman_filter, smooth_filtered
    >>> y = np.random.default_rng(1).normal(size=(25, 3))
    >>> res = parallel_kalman_filter(y, np.ones((3, 1)), [[0.6]], np.eye(3), [[1.0]])
    >>> smooth_filtered(res).smoothed_cov.shape
    torch.Size([25, 1, 1])
    """
    if not isinstance(result, FilterResult):
        raise TypeError(f"result must be a FilterResult; got {type(result).__name__}.")
    model = result.model
    w = whiten(model, result.y)
    bs = model.batch_shape
    N = bs.numel()
    n, k = result.filtered_state.shape[-2:]
    a_pred = result.predicted_state.reshape(N, n + 1, k)[:, :n]
    P_pred = result.predicted_cov.reshape(N, n + 1, k, k)[:, :n]
    T = flatten_batch(model.T, bs, 2)[:, None]
    eye = torch.eye(k, dtype=a_pred.dtype, device=a_pred.device)

    v = w.ystar - matvec(w.Zstar, a_pred)
    u = matvec(w.Zstar.mT, v)
    lam = w.lam.expand(N, n, k, k)
    sol = torch.linalg.solve(eye + lam @ P_pred, torch.cat([u[..., None], lam], dim=-1))
    score, information = sol[..., 0], sol[..., 1:]
    L = T @ (eye - P_pred @ information)

    # [[N, r], [r', 0]] evolves as [[L', 0], [0, 1]] @ . @ [[L, 0], [0, 1]] + [[ZFZ, ZFv], [.., 0]].
    l_right = augment(L, torch.zeros_like(score))
    increments = torch.cat([
        torch.cat([information, score[..., None]], dim=-1),
        torch.cat([score, torch.zeros_like(score[..., :1])], dim=-1)[..., None, :],
    ], dim=-2)
    state = torch.zeros(N, k + 1, k + 1, dtype=a_pred.dtype, device=a_pred.device)
    backward = []
    for t in range(n - 1, -1, -1):
        state = torch.baddbmm(increments[:, t], l_right[:, t].mT @ state, l_right[:, t])
        backward.append(state)
    backward = torch.stack(backward[::-1], dim=1)
    r, N_mat = backward[..., :k, k], backward[..., :k, :k]
    smoothed_state = a_pred + matvec(P_pred, r)
    smoothed_cov = symmetrize(P_pred - P_pred @ N_mat @ P_pred)
    return SmootherResult(
        smoothed_state=smoothed_state.reshape(*bs, n, k),
        smoothed_cov=smoothed_cov.reshape(*bs, n, k, k),
        filter_result=result,
    )
