"""The Kalman filter in covariance form, for a singular measurement covariance ``H``.

The whitened (information) form of :mod:`._kalman_filter` needs ``H^{-1/2}``. Models
with exact observations (a singular ``H``, e.g. unobserved-components models whose
measurement equation has no noise, such as Clark's (1987) trend-cycle model) go through
the usual covariance form instead::

    F_t = Z P_t Z' + H,   K_t = P_t Z' F_t^{-1},   P_{t|t} = P_t - K_t F_t K_t'

which needs only ``F_t`` positive definite. Missing values are masked as in
:mod:`._observations` (zeroed rows of ``Z``, unit variance in ``H``). The covariances are
computed date by date and recorded by autograd: this form is for the exceptional
singular ``H``, not for speed; the state means use the same scans as the whitened form.
"""

import torch

from ._observations import LOG_2PI, flatten_batch, matvec, symmetrize
from ._scan import state_means


def covariance_form_moments(model, y):
    """Filtered and predicted moments and the log-likelihood of each date.

    Returns ``(loglike_t, a_filt, P_filt, a_pred, P_pred)`` with the flattened batch on
    axis 0; ``a_pred`` and ``P_pred`` hold dates 1..n+1.
    """
    bs = model.batch_shape
    N, k, M = bs.numel(), model.k_states, model.k_endog
    T = flatten_batch(model.T, bs, 2).expand(N, k, k)
    Q = flatten_batch(model.Q, bs, 2).expand(N, k, k)
    c = flatten_batch(model.c, bs, 1).expand(N, k)
    a0 = flatten_batch(model.a0, bs, 1).expand(N, k)
    P = flatten_batch(model.P0, bs, 2).expand(N, k, k)
    Z = flatten_batch(model.Z, bs, 2)
    H = flatten_batch(model.H, bs, 2)
    d = flatten_batch(model.d, bs, 1)
    y = flatten_batch(y, bs, 2)
    observed = ~torch.isnan(y)
    mask = observed.to(y.dtype)
    Z_t = (Z[:, None] * mask[..., None]).expand(N, -1, M, k)
    H_t = H[:, None] * (mask[..., :, None] * mask[..., None, :]) + torch.diag_embed(1.0 - mask)
    H_t = H_t.expand(N, -1, M, M)
    centred = torch.where(observed, y, 0.0) - d[:, None, :] * mask

    n = y.shape[-2]
    predicted, filtered, gains, factors = [], [], [], []
    for t in range(n):
        ZP = Z_t[:, t] @ P
        factor, info = torch.linalg.cholesky_ex(ZP @ Z_t[:, t].mT + H_t[:, t])
        if bool((info > 0).any()):
            raise ValueError(
                f"The forecast covariance Z P Z' + H is singular at date index {t}: H is "
                "singular and the states do not fill its null space."
            )
        gain = torch.cholesky_solve(ZP, factor).mT  # P Z' F^{-1}
        predicted.append(P)
        P_filt = symmetrize(P - gain @ ZP)
        filtered.append(P_filt)
        gains.append(gain)
        factors.append(factor)
        P = symmetrize(T @ P_filt @ T.mT + Q)
    predicted.append(P)
    P_pred = torch.stack(predicted, dim=1)
    P_filt = torch.stack(filtered, dim=1)
    gain = torch.stack(gains, dim=1)
    factor = torch.stack(factors, dim=1)

    # a_{t+1} = c + T (I - K_t Z_t) a_t + T K_t (y_t - d).
    eye = torch.eye(k, dtype=T.dtype, device=T.device)
    Phi = T[:, None] @ (eye - gain @ Z_t)
    b = c[:, None] + matvec(gain, centred) @ T.mT
    a_pred = torch.cat([a0[:, None], state_means(Phi, b, a0, [(0, n, None)], torch.arange(n))], dim=1)
    v = centred - matvec(Z_t, a_pred[:, :-1])
    a_filt = a_pred[:, :-1] + matvec(gain, v)
    scaled = torch.linalg.solve_triangular(factor, v[..., None], upper=False)[..., 0]
    logdet_f = 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)
    loglike_t = -0.5 * (mask.sum(-1) * LOG_2PI + logdet_f + (scaled * scaled).sum(-1))
    return loglike_t, a_filt, P_filt, a_pred, P_pred
