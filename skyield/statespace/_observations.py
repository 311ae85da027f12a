"""Whitened observations, missing values and the Gaussian log-likelihood per date.

Both filters work on a whitened copy of the measurement equation. With ``H = L L'``
(Cholesky) the observations ``y* = L^{-1}(y - d)`` have design ``Z* = L^{-1} Z`` and
identity noise, so the Kalman update only needs the k x k quantities::

    Lam_t = Z*' Z*      and      r_t = Z*' y*_t

Missing values follow the standard masking trick: at a date where some entries are NaN
the observation is zeroed there, the matching rows of ``Z`` and ``d`` are zeroed, and the
matching rows and columns of ``H`` are replaced by an identity block. The masked system is
the observed sub-vector plus independent unit-variance "observations" of zero that carry
no information about the states; its log-density is that of the observed sub-vector plus
``-0.5 log(2 pi)`` (the log-density of 0 under N(0, 1)) per missing entry. That constant
is removed (the ``log(2 pi)`` term counts observed entries only), so the log-likelihood is
that of the observed values alone, and a fully missing date contributes zero.
Everything stays a dense tensor, which is what lets missing values coexist with batching
and autograd. The masked ``H`` is factorised once per distinct missing pattern, not once
per date.
"""

import math
from dataclasses import dataclass

import torch

from ._validation import DTYPE, batch_index_note

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class Whitened:
    """Per-date whitened observation quantities, batch flattened to one leading axis.

    Leading axes of size 1 broadcast against the full flattened batch ``N``; a time axis of
    size 1 means the quantity is the same at every date (no missing values).

    Attributes
    ----------
    ystar : Tensor of shape (N or 1, n, M)
    Zstar : Tensor of shape (N or 1, n or 1, M, k)
    lam : Tensor of shape (N or 1, n or 1, k, k)
    r : Tensor of shape (N or 1, n, k)
    logdet_h : Tensor of shape (N or 1, n or 1)
        Log-determinant of the masked ``H`` at each date.
    n_obs : Tensor of shape (N or 1, n or 1)
        Number of observed entries at each date.
    """

    ystar: torch.Tensor
    Zstar: torch.Tensor
    lam: torch.Tensor
    r: torch.Tensor
    logdet_h: torch.Tensor
    n_obs: torch.Tensor


def flatten_batch(x, batch_shape, core_ndim):
    """Reshape ``x`` of shape (*b, *core) to (N or 1, *core) for the batch ``batch_shape``."""
    core = x.shape[x.ndim - core_ndim:]
    batch = x.shape[: x.ndim - core_ndim]
    if batch.numel() == 1:
        return x.reshape(1, *core)
    if batch == batch_shape:
        return x.reshape(batch.numel(), *core)
    return x.expand(*batch_shape, *core).reshape(batch_shape.numel(), *core)


def whiten(model, y):
    """Build the :class:`Whitened` quantities of ``model`` for observations ``y``."""
    chol, info = torch.linalg.cholesky_ex(model.H)
    if bool((info > 0).any()):
        raise ValueError(
            f"H must be positive definite{batch_index_note(info > 0)}; the filters whiten the "
            "observations with its Cholesky factor (give exact observations a tiny variance)."
        )
    bs = model.batch_shape
    L = flatten_batch(chol, bs, 2)
    Z = flatten_batch(model.Z, bs, 2)
    d = flatten_batch(model.d, bs, 1)
    y = flatten_batch(y, bs, 2)
    observed = ~torch.isnan(y)
    if bool(observed.all()):
        return _whiten_complete(L, Z, d, y)
    return _whiten_missing(flatten_batch(model.H, bs, 2), Z, d, y, observed)


def _whiten_complete(L, Z, d, y):
    M = Z.shape[-2]
    Zstar = torch.linalg.solve_triangular(L, Z, upper=False)
    ystar = torch.linalg.solve_triangular(L, (y - d[:, None, :]).mT, upper=False).mT
    logdet_h = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    return Whitened(
        ystar=ystar,
        Zstar=Zstar[:, None],
        lam=(Zstar.mT @ Zstar)[:, None],
        r=ystar @ Zstar,
        logdet_h=logdet_h[:, None],
        n_obs=torch.full((1, 1), float(M), dtype=DTYPE, device=y.device),
    )


def _whiten_missing(H, Z, d, y, observed):
    n, M = y.shape[-2], y.shape[-1]
    # Factorise once per distinct missing pattern, unless the patterns are so varied
    # (batched y, scattered NaNs) that working date by date is cheaper.
    if observed.shape[0] == 1:
        patterns, inverse = torch.unique(observed[0], dim=0, return_inverse=True)
        patterns, inverse = patterns[None], inverse[None]
    else:
        patterns, inverse = torch.unique(observed.reshape(-1, M), dim=0, return_inverse=True)
        if patterns.shape[0] <= n:
            patterns, inverse = patterns[None], inverse.reshape(observed.shape[0], n)
        else:
            patterns, inverse = observed, None
    mask = patterns.to(DTYPE)
    H_masked = H[:, None] * (mask[..., :, None] * mask[..., None, :]) + torch.diag_embed(1.0 - mask)
    # Sub-blocks of a positive definite H are positive definite: no failure possible here.
    L_masked = torch.linalg.cholesky_ex(H_masked)[0]
    Zstar = torch.linalg.solve_triangular(L_masked, Z[:, None] * mask[..., None], upper=False)
    lam = Zstar.mT @ Zstar
    logdet_h = 2.0 * torch.log(torch.diagonal(L_masked, dim1=-2, dim2=-1)).sum(-1)
    n_obs = mask.sum(-1)
    if inverse is not None:
        L_masked, Zstar, lam, logdet_h, n_obs = (
            _gather(x, inverse) for x in (L_masked, Zstar, lam, logdet_h, n_obs)
        )
    centred = torch.where(observed, y, 0.0) - d[:, None, :] * observed
    ystar = torch.linalg.solve_triangular(L_masked, centred[..., None], upper=False)[..., 0]
    r = matvec(Zstar.mT, ystar)
    return Whitened(ystar=ystar, Zstar=Zstar, lam=lam, r=r, logdet_h=logdet_h, n_obs=n_obs)


def matvec(A, x):
    """Batched matrix-vector product: (..., p, q) @ (..., q) -> (..., p)."""
    return (A @ x[..., None])[..., 0]


def _gather(x, inverse):
    """Pick, for every date, the pattern quantity ``x`` (shape (Nx, U, ...)) it uses."""
    if x.shape[0] == 1:
        return x[0][inverse]
    if inverse.shape[0] == 1:
        return x[:, inverse[0]]
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, inverse]


def loglike_per_date(w, a_pred, P_pred, P_filt):
    """Gaussian log-likelihood of each date from the one-step-ahead moments.

    Parameters
    ----------
    w : Whitened
    a_pred, P_pred : Tensors of shape (N, n, k) and (N, n, k, k)
        Predicted state moments for dates 1..n.
    P_filt : Tensor of shape (N, n, k, k)
        Filtered state covariances for dates 1..n.

    Returns
    -------
    Tensor of shape (N, n)

    Notes
    -----
    With ``F* = Z* P Z*' + I`` the whitened forecast covariance and ``v*`` the whitened
    forecast error, ``log det F* = log det(I + P Lam)`` (determinant lemma) and
    ``v*' F*^{-1} v* = |v*|^2 - u' P_filt u`` with ``u = Z*' v*`` (Woodbury), so nothing of
    size M x M is factorised.
    """
    v = w.ystar - matvec(w.Zstar, a_pred)
    u = matvec(w.Zstar.mT, v)
    quad = (v * v).sum(-1) - (u * matvec(P_filt, u)).sum(-1)
    k = P_pred.shape[-1]
    eye = torch.eye(k, dtype=P_pred.dtype, device=P_pred.device)
    logdet_f = torch.linalg.slogdet(eye + P_pred @ w.lam).logabsdet
    return -0.5 * (w.n_obs * LOG_2PI + w.logdet_h + logdet_f + quad)
