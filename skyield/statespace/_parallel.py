"""The parallel-scan Kalman filter of Särkkä and García-Fernández (2021).

Filtering is written as an all-prefix "sum" of per-date elements ``(A, b, C, eta, J)``
under an associative operator, so the n sequential updates become a scan of depth
``2 log2(n)`` whose levels are single batched tensor operations over the time axis.
Written by hand because none of skyield's dependencies offers it (Kauffmann et al. used
pyro's, and pyro is not a dependency), and because it must share the whitened, NaN-aware
measurement handling of the sequential filter so that the two agree to round-off.
"""

import torch

from ._kalman_filter import finish
from ._model import build_model
from ._observations import flatten_batch, loglike_per_date, matvec, symmetrize, whiten


def parallel_kalman_filter(y, Z, T, H, Q, a0=None, P0=None, c=None, d=None, init="stationary"):
    """Kalman filter computed by an associative (parallel-prefix) scan over time.

    Same model, arguments, missing-value handling, batching and result as
    :func:`kalman_filter` (except that ``H`` must be positive definite); only the order
    of the computation differs, so both agree to round-off. The scan needs ``O(log n)`` sequential steps instead of ``n``, each a
    batched operation over up to ``n / 2`` dates, which pays off when the per-step cost of
    the sequential filter is dominated by overhead (small models, long samples, GPUs).

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
        Mean of the first state (see :func:`kalman_filter`).
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
    FilterResult
        As returned by :func:`kalman_filter`.

    Notes
    -----
    Element of date ``t >= 2`` (the elements of Särkkä and García-Fernández 2021, written
    with the whitened measurement of :func:`kalman_filter`, ``Lam_t = Z*' Z*`` and
    ``r_t = Z*' y*_t``, so that only k x k systems are solved)::

        A_t = (I + Q Lam_t)^{-1} T              b_t = (I + Q Lam_t)^{-1} (c + Q r_t)
        C_t = (I + Q Lam_t)^{-1} Q
        eta_t = T' (I + Lam_t Q)^{-1} (r_t - Lam_t c)
        J_t = T' (I + Lam_t Q)^{-1} Lam_t T

    and date 1 carries the filtered moments given ``a0``, ``P0`` with ``A = 0``,
    ``eta = 0``, ``J = 0``. Their associative operator combines an earlier element ``i``
    with a later ``j``::

        A_ij = A_j (I + C_i J_j)^{-1} A_i
        b_ij = A_j (I + C_i J_j)^{-1} (b_i + C_i eta_j) + b_j
        C_ij = A_j (I + C_i J_j)^{-1} C_i A_j' + C_j
        eta_ij = A_i' (I + J_j C_i)^{-1} (eta_j - J_j b_i) + eta_i
        J_ij = A_i' (I + J_j C_i)^{-1} J_j A_i + J_i

    After the scan, ``b`` and ``C`` of each prefix are the filtered moments; the predicted
    moments and the log-likelihood follow from them without further recursion. The scan is
    the work-efficient odd/even recursion (as ``jax.lax.associative_scan``): about ``2n``
    combinations in ``2 log2(n)`` levels.

    References
    ----------
    Särkkä and García-Fernández (2021), "Temporal Parallelization of Bayesian Smoothers",
    IEEE Transactions on Automatic Control 66(1), 299-306.
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, sections 3.1 and 4.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import kalman_filter, parallel_kalman_filter
    >>> rng = np.random.default_rng(0)
    >>> y = rng.normal(size=(100, 3))
    >>> Z, T, H, Q = np.ones((3, 1)), np.array([[0.8]]), np.eye(3), np.array([[1.0]])
    >>> seq = kalman_filter(y, Z, T, H, Q).loglike
    >>> par = parallel_kalman_filter(y, Z, T, H, Q).loglike
    >>> bool(abs(seq - par) < 1e-8)
    True
    """
    model, y = build_model(y, Z, T, H, Q, a0, P0, c, d, init)
    w = whiten(model, y)
    n = y.shape[-2]
    bs = model.batch_shape
    N = bs.numel()
    k = model.k_states
    T = flatten_batch(model.T, bs, 2).expand(N, k, k)
    Q = flatten_batch(model.Q, bs, 2).expand(N, k, k)
    c = flatten_batch(model.c, bs, 1).expand(N, k)
    a0 = flatten_batch(model.a0, bs, 1).expand(N, k)
    P0 = flatten_batch(model.P0, bs, 2).expand(N, k, k)

    elements = _elements(w, T, Q, c, a0, P0, n)
    _, a_filt, P_filt, _, _ = _associative_scan(elements)
    a_pred = torch.cat([a0[:, None], c[:, None] + matvec(T[:, None], a_filt)], dim=1)
    P_pred = torch.cat([P0[:, None], T[:, None] @ P_filt @ T[:, None].mT + Q[:, None]], dim=1)
    eye = torch.eye(k, dtype=T.dtype, device=T.device)
    logdet_f = torch.linalg.slogdet(eye + P_pred[:, :n] @ w.lam).logabsdet
    loglike_t, _ = loglike_per_date(w, a_pred[:, :n], logdet_f, lambda u: matvec(P_filt, u))
    return finish(model, y, loglike_t, a_filt, symmetrize(P_filt), a_pred, symmetrize(P_pred))


def _elements(w, T, Q, c, a0, P0, n):
    """Scan elements of shape (N, n, ...) for all dates."""
    N, k = T.shape[0], T.shape[-1]
    eye = torch.eye(k, dtype=T.dtype, device=T.device)
    lam = w.lam.expand(N, n, k, k)
    r = w.r.expand(N, n, k)
    Tt, Qt, ct = T[:, None], Q[:, None], c[:, None]

    lu, pivots, _ = torch.linalg.lu_factor_ex(eye + Qt @ lam)
    rhs = torch.cat([Tt.expand(N, n, k, k), Qt.expand(N, n, k, k), (ct + matvec(Qt, r))[..., None]], dim=-1)
    sol = torch.linalg.lu_solve(lu, pivots, rhs)
    A, C, b = sol[..., :k], sol[..., k:2 * k], sol[..., 2 * k]
    # (I + Lam Q) is the transpose of (I + Q Lam): reuse the factorisation.
    rhs_t = torch.cat([(r - matvec(lam, ct))[..., None], lam @ Tt], dim=-1)
    sol_t = Tt.mT @ torch.linalg.lu_solve(lu, pivots, rhs_t, adjoint=True)
    eta, J = sol_t[..., 0], sol_t[..., 1:]

    # Date 1: the measurement update of the prior a0, P0; no dependence on earlier dates.
    prior = torch.cat([P0, (a0 + matvec(P0, r[:, 0]))[..., None]], dim=-1)
    first = torch.linalg.solve(eye + P0 @ lam[:, 0], prior)
    zero_mat = torch.zeros_like(A[:, :1])
    A = torch.cat([zero_mat, A[:, 1:]], dim=1)
    C = torch.cat([first[:, None, :, :k], C[:, 1:]], dim=1)
    b = torch.cat([first[:, None, :, k], b[:, 1:]], dim=1)
    eta = torch.cat([torch.zeros_like(eta[:, :1]), eta[:, 1:]], dim=1)
    J = torch.cat([zero_mat, J[:, 1:]], dim=1)
    return A, b, C, eta, J


def _combine(earlier, later):
    """The associative operator on batches of elements (time axis 1)."""
    A_i, b_i, C_i, eta_i, J_i = earlier
    A_j, b_j, C_j, eta_j, J_j = later
    k = A_i.shape[-1]
    eye = torch.eye(k, dtype=A_i.dtype, device=A_i.device)
    lu, pivots, _ = torch.linalg.lu_factor_ex(eye + C_i @ J_j)
    rhs = torch.cat([A_i, (b_i + matvec(C_i, eta_j))[..., None], C_i], dim=-1)
    sol = A_j @ torch.linalg.lu_solve(lu, pivots, rhs)
    A = sol[..., :k]
    b = sol[..., k] + b_j
    C = sol[..., k + 1:] @ A_j.mT + C_j
    rhs_t = torch.cat([(eta_j - matvec(J_j, b_i))[..., None], J_j], dim=-1)
    sol_t = A_i.mT @ torch.linalg.lu_solve(lu, pivots, rhs_t, adjoint=True)
    eta = sol_t[..., 0] + eta_i
    J = sol_t[..., 1:] @ A_i + J_i
    return A, b, 0.5 * (C + C.mT), eta, 0.5 * (J + J.mT)


def _associative_scan(elements):
    """Inclusive prefix combination of ``elements`` along axis 1 (odd/even recursion)."""
    n = elements[0].shape[1]
    if n < 2:
        return elements
    # Combine neighbours (0,1), (2,3), ...; their prefixes are the odd positions.
    pairs = _combine(tuple(e[:, 0:n - 1:2] for e in elements), tuple(e[:, 1:n:2] for e in elements))
    odd = _associative_scan(pairs)
    # Even positions 2, 4, ... extend the odd prefix just before them by one element.
    m = (n - 1) // 2
    even = _combine(tuple(o[:, :m] for o in odd), tuple(e[:, 2::2] for e in elements))
    result = []
    for e, o, ev in zip(elements, odd, even, strict=True):
        evens = torch.cat([e[:, :1], ev], dim=1)
        n_odd = o.shape[1]
        woven = torch.stack([evens[:, :n_odd], o], dim=2).reshape(e.shape[0], 2 * n_odd, *e.shape[2:])
        if n % 2:
            woven = torch.cat([woven, evens[:, -1:]], dim=1)
        result.append(woven)
    return tuple(result)
