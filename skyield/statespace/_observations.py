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

import numpy as np
import torch

from ._validation import DTYPE, batch_index_note, has_values, host

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
    patterns : Tensor of shape (N or 1, U, k, k)
        ``Lam`` of each distinct missing pattern.
    pattern_index : Tensor of shape (n,)
        The pattern of each date, shared by the whole batch (long). Where the batch
        members have patterns of their own, every date is a pattern of its own
        (``U = n``, ``pattern_index = 0, 1, ..., n - 1``).
    """

    ystar: torch.Tensor
    Zstar: torch.Tensor
    lam: torch.Tensor
    r: torch.Tensor
    logdet_h: torch.Tensor
    n_obs: torch.Tensor
    patterns: torch.Tensor
    pattern_index: torch.Tensor


def flatten_batch(x, batch_shape, core_ndim):
    """Reshape ``x`` of shape (*b, *core) to (N or 1, *core) for the batch ``batch_shape``."""
    core = x.shape[x.ndim - core_ndim:]
    batch = x.shape[: x.ndim - core_ndim]
    if batch.numel() == 1:
        return x.reshape(1, *core)
    if batch == batch_shape:
        return x.reshape(batch.numel(), *core)
    return x.expand(*batch_shape, *core).reshape(batch_shape.numel(), *core)


def whiten(model, y, chol=None):
    """Build the :class:`Whitened` quantities of ``model`` for observations ``y``.

    ``chol``, the Cholesky factor of ``model.H`` when the caller has it, saves a
    factorisation.
    """
    if chol is None:
        chol, info = torch.linalg.cholesky_ex(model.H)
        if bool((info > 0).any()):
            raise ValueError(
                f"H must be positive definite{batch_index_note(info > 0)}; the filters whiten "
                "the observations with its Cholesky factor (give exact observations a tiny "
                "variance)."
            )
    bs = model.batch_shape
    L = flatten_batch(chol, bs, 2)
    Z = flatten_batch(model.Z, bs, 2)
    d = flatten_batch(model.d, bs, 1)
    y = flatten_batch(y, bs, 2)
    if not has_values(y, "nan"):
        return _whiten_complete(L, Z, d, y)
    return _whiten_missing(flatten_batch(model.H, bs, 2), Z, d, y, ~torch.isnan(y))


def _whiten_complete(L, Z, d, y):
    M = Z.shape[-2]
    sd = torch.diagonal(L, dim1=-2, dim2=-1)
    if not L.requires_grad and _is_diagonal(host(L)):
        # Diagonal H: whitening is a division. (Not under autograd: the gradient with
        # respect to the off-diagonal entries of H needs the general form.)
        Zstar = Z / sd[..., None]
        ystar = (y - d[:, None, :]) / sd[:, None, :]
    else:
        Zstar = torch.linalg.solve_triangular(L, Z, upper=False)
        ystar = torch.linalg.solve_triangular(L, (y - d[:, None, :]).mT, upper=False).mT.contiguous()
    logdet_h = 2.0 * torch.log(sd).sum(-1)
    lam = torch.bmm(Zstar.mT, Zstar)[:, None]
    return Whitened(
        ystar=ystar,
        Zstar=Zstar[:, None],
        lam=lam,
        r=ystar @ Zstar,
        logdet_h=logdet_h[:, None],
        n_obs=torch.full((1, 1), float(M), dtype=DTYPE, device=y.device),
        patterns=lam,
        pattern_index=torch.zeros(y.shape[-2], dtype=torch.long, device=y.device),
    )


def _whiten_missing(H, Z, d, y, observed):
    n, M = y.shape[-2], y.shape[-1]
    # Factorise once per distinct missing pattern, unless the patterns are so varied
    # (batched y, scattered NaNs) that working date by date is cheaper.
    if observed.shape[0] == 1:
        masks, inverse = torch.unique(observed[0], dim=0, return_inverse=True)
        masks, inverse = masks[None], inverse[None]
    else:
        masks, inverse = torch.unique(observed.reshape(-1, M), dim=0, return_inverse=True)
        if masks.shape[0] <= n:
            masks, inverse = masks[None], inverse.reshape(observed.shape[0], n)
            if bool((inverse == inverse[:1]).all()):
                inverse = inverse[:1]
        else:
            masks, inverse = observed, None
    mask = masks.to(DTYPE)
    H_masked = H[:, None] * (mask[..., :, None] * mask[..., None, :]) + torch.diag_embed(1.0 - mask)
    # Sub-blocks of a positive definite H are positive definite: no failure possible here.
    L_masked = torch.linalg.cholesky_ex(H_masked)[0]
    Zstar = torch.linalg.solve_triangular(L_masked, Z[:, None] * mask[..., None], upper=False)
    lam = Zstar.mT @ Zstar
    logdet_h = 2.0 * torch.log(torch.diagonal(L_masked, dim1=-2, dim2=-1)).sum(-1)
    n_obs = mask.sum(-1)
    patterns, pattern_index = lam, torch.arange(n, device=y.device)
    if inverse is not None:
        L_masked, Zstar, lam, logdet_h, n_obs = (
            _gather(x, inverse) for x in (L_masked, Zstar, lam, logdet_h, n_obs)
        )
        if inverse.shape[0] == 1:
            pattern_index = inverse[0]
        else:
            # The batch members have missing patterns of their own.
            patterns = lam
    centred = torch.where(observed, y, 0.0) - d[:, None, :] * observed
    ystar = torch.linalg.solve_triangular(L_masked, centred[..., None], upper=False)[..., 0]
    r = matvec(Zstar.mT, ystar)
    return Whitened(ystar=ystar, Zstar=Zstar, lam=lam, r=r, logdet_h=logdet_h, n_obs=n_obs,
                    patterns=patterns, pattern_index=pattern_index)


def _is_diagonal(factors):
    """Whether the lower triangular matrices of the array ``factors`` (..., p, p) are all
    diagonal."""
    return not np.tril(factors, -1).any()


def matvec(A, x):
    """Batched matrix-vector product: (..., p, q) @ (..., q) -> (..., p)."""
    return (A @ x[..., None])[..., 0]


def left_times(M, X):
    """``M @ X_d`` for every matrix of ``X`` (N, D, p, q), one ``M`` (N, r, p) per batch
    member: (N, D, r, q).

    One product with the matrices side by side, ``M @ [X_1 ... X_D]``: batched products
    of small matrices run far below the speed of one large product (3-4x for 5 x 5
    matrices over hundreds of dates, the reverse pass included).
    """
    N, D, p, q = X.shape
    side_by_side = X.permute(0, 2, 1, 3).reshape(N, p, D * q)
    return (M @ side_by_side).reshape(N, -1, D, q).permute(0, 2, 1, 3)


def right_times(X, M):
    """``X_d @ M`` for every matrix of ``X`` (N, D, p, q), one ``M`` (N, q, r) per batch
    member: (N, D, p, r); one product with the matrices stacked (see :func:`left_times`)."""
    N, D, p, q = X.shape
    return (X.reshape(N, D * p, q) @ M).reshape(N, D, p, -1)


def symmetrize(P):
    """Average a matrix with its transpose (removes round-off asymmetry)."""
    return 0.5 * (P + P.mT)


def _gather(x, inverse):
    """Pick, for every date, the pattern quantity ``x`` (shape (Nx, U, ...)) it uses."""
    if x.shape[0] == 1:
        return x[0][inverse]
    if inverse.shape[0] == 1:
        return x[:, inverse[0]]
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return x[rows, inverse]


def loglike_per_date(w, a_pred, logdet_f, filtered_times):
    """Gaussian log-likelihood of each date, and the update of the state mean.

    Parameters
    ----------
    w : Whitened
    a_pred : Tensor of shape (N, n, k)
        Predicted state means for dates 1..n.
    logdet_f : Tensor of shape (N, n)
        ``log det(I + P_{t|t-1} Lam_t)``.
    filtered_times : callable
        Maps ``u`` of shape (N, n, k) to ``P_{t|t} u_t`` (filtered covariances of dates
        1..n applied date by date).

    Returns
    -------
    loglike_t : Tensor of shape (N, n)
    gain : Tensor of shape (N, n, k)
        ``a_{t|t} - a_{t|t-1} = P_{t|t} u_t``.

    Notes
    -----
    With ``F* = Z* P Z*' + I`` the whitened forecast covariance and ``v*`` the whitened
    forecast error, ``log det F* = log det(I + P Lam)`` (determinant lemma) and
    ``v*' F*^{-1} v* = |v*|^2 - u' P_filt u`` with ``u = Z*' v*`` (Woodbury), so nothing of
    size M x M is factorised.
    """
    Zstar = w.Zstar
    if Zstar.shape[1] == 1:
        N = a_pred.shape[0]
        v = torch.baddbmm(w.ystar.expand(N, -1, -1), a_pred, Zstar[:, 0].mT.expand(N, -1, -1), alpha=-1.0)
        u = torch.bmm(v, Zstar[:, 0].expand(N, -1, -1))
    else:
        v = w.ystar - matvec(Zstar, a_pred)
        u = matvec(Zstar.mT, v)
    gain = filtered_times(u)
    quad = (v * v).sum(-1) - (u * gain).sum(-1)
    return -0.5 * (w.n_obs * LOG_2PI + w.logdet_h + logdet_f + quad), gain
