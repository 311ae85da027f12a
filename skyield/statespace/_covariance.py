"""The covariance recursion of the Kalman filter, stopped at its steady state.

In a time-invariant model the covariances do not depend on the observed values, only on
which entries are observed. Along a run of dates that share one missing pattern (a whole
sample without missing values is one run) the recursion::

    P_{t|t} = (I + P_t Lam)^{-1} P_t,        P_{t+1} = T P_{t|t} T' + Q

converges to a fixed point. This module computes the covariances of a run until they
reach it (to ``STEADY_TOLERANCE`` relative to their largest entry, in every batch
member) and gives every later date of the run that steady state. The result is a short
list of distinct covariances and, for each date, the index of its own.

How the dates before the steady state are computed:

* the first ``_SEQUENTIAL_STEPS`` dates one by one (:class:`_Steps`: stepped in numpy
  on the host, with a hand-written reverse pass of a few small products per date), a
  few more when the geometric decay of the changes says that they will be enough;
* otherwise the steady state itself, by doubling, and all remaining dates at once from
  the closed-form solution of the Riccati recursion around it
  (:func:`_closed_form`): a few dozen batched operations however slowly the
  recursion converges.

Where there is no steady state (an unstable state that a pattern does not observe) the
run is stepped date by date to its end. The single steps, the doubling and the
convergence tests work on the host, in numpy, whatever the device: they handle a few
k x k matrices at a time, where each torch operation would cost several times more in
dispatch than in arithmetic. Everything else is torch, and the host parts are wrapped in
autograd functions or differentiated by the implicit function theorem, so that autograd,
batching and CUDA work throughout.

References
----------
Anderson and Moore (1979), *Optimal Filtering*, chapter 4 (the steady-state filter and
the convergence of the Riccati equation).
Särkkä and García-Fernández (2021), "Temporal Parallelization of Bayesian Smoothers",
IEEE Transactions on Automatic Control 66(1), 299-306 (the associative elements whose
covariance part is doubled here).
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._model import lyapunov_ex
from ._observations import left_times, right_times
from ._validation import host

#: Covariances closer than this to the steady state, or to the covariance of the date
#: before, (largest absolute difference over the largest absolute entry, worst batch
#: member) are taken as the steady state of a run.
STEADY_TOLERANCE = 1e-12
# Dates computed one by one before the steady state is solved for.
_SEQUENTIAL_STEPS = 10
# Most dates computed by one closed-form block.
_LARGEST_BLOCK = 1024
# Most doublings towards the steady state (2**64 dates: beyond them there is none).
_DOUBLINGS = 64


@dataclass
class CovarianceSequence:
    """The distinct covariances of a filter pass and the one each date uses.

    Attributes
    ----------
    predicted : Tensor of shape (N, D, k, k)
        ``P_{t|t-1}`` of each distinct state.
    filtered : Tensor of shape (N, D, k, k)
        ``P_{t|t}`` of each distinct state.
    lam : Tensor of shape (N or 1, D, k, k)
        ``Lam`` (whitened information of the observations) of each distinct state.
    state_index : Tensor of shape (n,)
        The distinct state of each date (long, on the device of the covariances).
    steady : list of (int, int)
        ``(first date, stop date)`` of each stretch of at least two dates in a steady
        state, in date order.
    info : Tensor of shape (N, D)
        Nonzero where a linear solve of that state failed.
    """

    predicted: torch.Tensor
    filtered: torch.Tensor
    lam: torch.Tensor
    state_index: torch.Tensor
    steady: list
    info: torch.Tensor


def run_lengths(index):
    """``(first position, length, value)`` of each run of equal values in a 1-D tensor."""
    values = index.cpu()
    starts = torch.cat([torch.zeros(1, dtype=torch.long),
                        (values[1:] != values[:-1]).nonzero()[:, 0] + 1])
    lengths = torch.diff(starts, append=torch.tensor([values.numel()]))
    return list(zip(starts.tolist(), lengths.tolist(), values[starts].tolist(), strict=True))


def covariance_pass(P0, T, Q, patterns, pattern_index, tolerance=STEADY_TOLERANCE):
    """Predicted and filtered covariances of every date, steady runs collapsed.

    Parameters
    ----------
    P0 : Tensor of shape (N, k, k)
        Predicted covariance at the first date.
    T, Q : Tensors of shape (N, k, k)
    patterns : Tensor of shape (N or 1, U, k, k)
        ``Lam`` of each missing pattern.
    pattern_index : Tensor of shape (n,)
        The pattern of each date.
    tolerance : float, default=STEADY_TOLERANCE
        0 disables the steady state (every date is computed).

    Returns
    -------
    CovarianceSequence
    """
    n = pattern_index.numel()
    runs = [(0, n, 0)] if patterns.shape[1] == 1 else run_lengths(pattern_index)
    P = P0
    predicted, filtered, lams, infos, index, steady = [], [], [], [], [], []
    count = 0
    for start, length, pattern in runs:
        lam = patterns[:, pattern]
        pred, filt, info = _run(P, T, Q, lam, length, tolerance)
        computed = pred.shape[1]
        predicted.append(pred)
        filtered.append(filt)
        lams.append(lam[:, None].expand(-1, computed, -1, -1))
        infos.append(info)
        index.append(torch.arange(count, count + computed))
        if computed < length:
            index.append(torch.full((length - computed,), count + computed - 1))
            steady.append((start + computed - 1, start + length))
        count += computed
        P = _predict(filt[:, -1], T, Q)
    return CovarianceSequence(
        predicted=torch.cat(predicted, dim=1) if len(predicted) > 1 else predicted[0],
        filtered=torch.cat(filtered, dim=1) if len(filtered) > 1 else filtered[0],
        lam=torch.cat(lams, dim=1),
        state_index=torch.cat(index).to(P0.device),
        steady=steady,
        info=torch.cat(infos, dim=1),
    )


def _predict(P_filt, T, Q):
    """``T P T' + Q`` for ``P_filt`` of shape (N, [s,] k, k)."""
    if P_filt.ndim == 4:
        return T[:, None] @ P_filt @ T[:, None].mT + Q[:, None]
    return torch.baddbmm(Q, torch.bmm(T, P_filt), T.mT)


def _run(P, T, Q, lam, length, tolerance):
    """Covariances of one run of ``length`` dates with one pattern, until steady.

    Returns ``(predicted, filtered, info)`` of the dates computed, of shape
    (N, computed, k, k) and (N, computed): the last is the steady state when fewer
    than ``length`` were computed.
    """
    lam = lam.expand_as(P)
    steps = length if tolerance <= 0 else min(length, _SEQUENTIAL_STEPS)
    predicted, filtered, infos = _steps(P, T, Q, lam, steps)
    checked = 1  # dates from here on have not been compared with the date before
    while True:
        done = filtered.shape[1]
        if done == length:
            return predicted, filtered, infos
        change = _relative_change(filtered[:, checked - 1], filtered[:, checked:])
        hits = np.flatnonzero(change <= tolerance)
        if hits.size:
            keep = checked + int(hits[0]) + 1
            return predicted[:, :keep], filtered[:, :keep], infos[:, :keep]
        # Converging geometrically: a few more single steps reach the tolerance?
        steps = _steps_to_tolerance(change, tolerance)
        if steps is None or steps > _SEQUENTIAL_STEPS:
            break
        checked = done
        more = _steps(_predict(filtered[:, -1], T, Q), T, Q, lam, min(steps, length - done))
        predicted, filtered, infos = (
            torch.cat([x, y], dim=1) for x, y in zip((predicted, filtered, infos), more, strict=True)
        )

    # The rest of the run in closed form around the steady state.
    steady = _steady_state(T, Q, lam, tolerance)
    parts = [(predicted, filtered, infos)]
    while done < length and steady is not None:
        size = min(length - done, _closed_form_dates(steady, filtered[:, -1], T, Q, tolerance))
        predicted, filtered, infos = _closed_form(_predict(filtered[:, -1], T, Q), steady, lam, size)
        hits = np.flatnonzero(_distance(filtered, steady[0]) <= tolerance)
        if hits.size:
            keep = int(hits[0]) + 1
            parts.append((predicted[:, :keep], filtered[:, :keep], infos[:, :keep]))
            break
        parts.append((predicted, filtered, infos))
        done += size
    else:
        if done < length:
            # No steady state (e.g. an unstable state that this pattern does not observe).
            parts.append(_steps(_predict(filtered[:, -1], T, Q), T, Q, lam, length - done))
    return tuple(torch.cat(x, dim=1) for x in zip(*parts, strict=True))


def _steps(P, T, Q, lam, steps):
    """``steps`` single steps from the predicted ``P``: (predicted, filtered, info)."""
    args = (P, lam[:, None].expand(-1, steps, -1, -1), T, T.mT, Q)
    if torch.is_grad_enabled() and any(x.requires_grad for x in args):
        filtered, predicted, info = _Steps.apply(*args)
    else:
        # Nothing to differentiate: the recursion without the autograd function.
        filtered, predicted, info, _ = _forward_steps(*args, keep=False)
    return predicted[:, :-1], filtered, info


def _forward_steps(state, update, t_left, t_right, q, keep):
    """The recursion of :class:`_Steps`, stepped on the host.

    Returns filtered (N, s, k, k), predicted (N, s + 1, k, k) and info (N, s) tensors
    on the device of ``state``; with ``keep``, also ``G_t^{-1}`` of each date
    (N, s, k, k) for the reverse pass, else None. ``info`` is zero: a singular system
    raises here. The few k x k matrices of each date are stepped in numpy whatever the
    device, as the doubling of the steady state is: a numpy operation on them costs about
    a microsecond, a torch one several, and this loop is most of a filter's fixed cost.
    """
    P, S, L, R, Qh = (host(x) for x in (state, update, t_left, t_right, q))
    N, steps, k = S.shape[0], S.shape[1], P.shape[-1]
    eye = np.eye(k)
    filtered = np.empty((N, steps, k, k))
    predicted = np.empty((N, steps + 1, k, k))
    inverses = np.empty((N, steps, k, k)) if keep else None
    predicted[:, 0] = P
    for t in range(steps):
        gain_system = eye + P @ S[:, t]
        if keep:
            # One solve gives the filtered covariance and G^{-1} for the reverse pass.
            both = _solve(gain_system, np.concatenate([P, np.broadcast_to(eye, P.shape)], axis=-1))
            P, inverses[:, t] = both[..., :k], both[..., k:]
        else:
            P = _solve(gain_system, P)
        filtered[:, t] = P
        P = L @ P @ R + Qh
        predicted[:, t + 1] = P

    def to_device(array):
        return None if array is None else torch.from_numpy(array).to(state.device)

    info = torch.zeros((N, steps), dtype=torch.int32, device=state.device)
    return to_device(filtered), to_device(predicted), info, to_device(inverses)


def _solve(system, rhs):
    try:
        return np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        raise ValueError(
            "The Kalman update met a singular system before the covariances settled; the "
            "model matrices are not valid covariances (check that Q and P0 are positive "
            "semi-definite)."
        ) from None


class _Steps(torch.autograd.Function):
    """Single steps of the covariance recursion, with a hand-written reverse pass.

    Forward, for each date t with ``S_t = Lam_t``::

        G_t = I + A_t S_t,   X_t = G_t^{-1} A_t,   A_{t+1} = q + L X_t R

    (``A_t`` predicted, ``X_t`` filtered; ``L = T``, ``R = T'``, ``q = Q``). Autograd
    would record about ten nodes per date and re-solve with ``G_t`` in the reverse pass;
    here the forward pass keeps ``G_t^{-1}`` (one solve with ``[A_t, I]``) and the
    adjoint recursion takes five small matrix products per date, every per-date outer
    product moved out of the loop::

        dX_t = L' dA_{t+1} R' + (output gradient of X_t)
        Y_t = G_t^{-T} dX_t,  dG_t = -Y_t X_t',  dA_t = Y_t + dG_t S_t' (+ output gradient)
        dS_t = A_t' dG_t,  dL = sum dA_{t+1} (X_t R)',  dR = sum (L X_t)' dA_{t+1},
        dq = sum dA_{t+1}
    """

    @staticmethod
    def forward(ctx, state, update, t_left, t_right, q):
        keep = any(ctx.needs_input_grad)
        filtered, predicted, info, inverses = _forward_steps(state, update, t_left, t_right, q, keep)
        ctx.mark_non_differentiable(info)
        if keep:
            ctx.save_for_backward(state, predicted[:, :-1], filtered, inverses,
                                  update, t_left, t_right, q)
        return filtered, predicted, info

    @staticmethod
    def backward(ctx, d_filtered, d_predicted, _):
        state0, inputs, filtered, inverses, update, t_left, t_right, q = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True (higher derivatives): differentiate a recorded recursion.
            with torch.enable_grad():
                # Fresh nodes: gradients with respect to them follow only their own paths
                # (t_right is T' of the same T as t_left).
                args = tuple(a.view_as(a) for a in (state0, update, t_left, t_right, q))
                outputs = _recorded_steps(*args)
            pairs = [(o, g) for o, g in zip(outputs, (d_filtered, d_predicted), strict=True) if g is not None]
            wrt = [i for i, arg in enumerate(args) if arg.requires_grad]
            grads = torch.autograd.grad(
                [o for o, _ in pairs], [args[i] for i in wrt], [g for _, g in pairs],
                create_graph=True, allow_unused=True,
            )
            found = dict(zip(wrt, grads, strict=True))
            return tuple(found.get(i) for i in range(len(args)))
        n = filtered.shape[1]
        if d_filtered is None:
            d_filtered = torch.zeros_like(filtered)
        if d_predicted is None:
            d_predicted = torch.zeros_like(filtered[:, :1]).expand(-1, n + 1, -1, -1)
        # Views prepared once, so the loop body is tensor arithmetic only.
        l_t, r_t = t_left.mT, t_right.mT
        x_t = filtered.mT.unbind(1)
        inv_t = inverses.mT.unbind(1)
        s_t = update.mT.unbind(1)
        d_x_out = d_filtered.unbind(1)
        d_a_out = d_predicted.unbind(1)
        d_state = torch.zeros_like(filtered[:, 0])
        d_next, solved = [None] * n, [None] * n
        for t in range(n - 1, -1, -1):
            g = d_a_out[t + 1] + d_state
            d_x = torch.baddbmm(d_x_out[t], torch.bmm(l_t, g), r_t)
            y = torch.bmm(inv_t[t], d_x)
            d_state = torch.baddbmm(y, torch.bmm(y, x_t[t]), s_t[t], alpha=-1.0)
            d_next[t], solved[t] = g, y
        d_state = d_state + d_a_out[0]
        d_next = torch.stack(d_next, dim=1)
        d_gain = -torch.stack(solved, dim=1) @ filtered.mT
        d_update = inputs.mT @ d_gain
        d_left = (d_next @ (filtered @ t_right[:, None]).mT).sum(1)
        d_right = ((t_left[:, None] @ filtered).mT @ d_next).sum(1)
        return d_state, d_update, d_left, d_right, d_next.sum(1)


def _recorded_steps(state, update, t_left, t_right, q):
    """The forward recursion of :class:`_Steps` written for autograd to record."""
    eye = torch.eye(state.shape[-1], dtype=state.dtype, device=state.device)
    filtered, predicted = [], [state]
    for update_t in update.unbind(1):
        state = torch.linalg.solve(torch.baddbmm(eye, state, update_t), state)
        filtered.append(state)
        state = torch.baddbmm(q, torch.bmm(t_left, state), t_right)
        predicted.append(state)
    return torch.stack(filtered, dim=1), torch.stack(predicted, dim=1)


def _relative_change(previous, block):
    """Change of each covariance of ``block`` from the one before, worst batch member.

    ``previous`` (N, k, k) precedes ``block`` (N, s, k, k); the change is the largest
    absolute difference over the largest absolute entry. Returns an array of shape (s,)
    (computed on the host, as every convergence test here).
    """
    block = host(block)
    before = np.concatenate([host(previous)[:, None], block[:, :-1]], axis=1)
    return _relative(np.abs(block - before).max(axis=(-2, -1)),
                     np.abs(block).max(axis=(-2, -1)))


def _steps_to_tolerance(change, tolerance):
    """Steps until the change falls below ``tolerance`` at its last rate, or None."""
    if change.size < 2:
        return None
    last, rate = float(change[-1]), float(change[-1] / change[-2])
    if not 0.0 < rate < 1.0:
        return None
    return max(1, math.ceil(math.log(tolerance / last) / math.log(rate)))


def _steady_state(T, Q, lam, tolerance):
    """Steady covariances of one pattern, with the closed loop around them.

    Returns ``(P_filt, Abar, Lbar, P_pred)``, each of shape (N, k, k), or None when
    there is no steady state. ``Abar = T (I + P Lam)^{-1}`` is the closed-loop transition
    and ``Lbar = Lam (I + P Lam)^{-1}`` (``P`` the steady predicted covariance).

    The fixed point is found without autograd by doubling (:func:`_doubling`): the one-date map
    ``P_{t|t} -> P_{t+1|t+1}`` is ``P' = A (I + P J)^{-1} P A' + C`` with
    ``A = (I + Q Lam)^{-1} T``, ``C = (I + Q Lam)^{-1} Q`` and
    ``J = T' (I + Lam Q)^{-1} Lam T`` (the covariance part of the elements of Särkkä and
    García-Fernández 2021); composed with itself it gives the map over twice the dates,
    and ``C`` tends to the steady covariance as ``A`` vanishes, quadratically in the
    number of doublings. When a gradient is needed, two Newton steps from that fixed point,
    ``P <- P + X`` with ``X = Abar X Abar' + (f(P) - P)`` (``f`` the one-date map of the
    predicted covariance), are recorded by autograd: they leave the value unchanged and
    give the derivatives of the fixed point with respect to ``T``, ``Q`` and ``Lam``
    (first and second order) by the implicit function theorem, instead of
    differentiating the doublings.
    """
    fixed_point = _doubling(*(host(x) for x in (T, Q, lam)), tolerance)
    if fixed_point is None:
        return None
    eye = torch.eye(T.shape[-1], dtype=T.dtype, device=T.device)
    P_pred = torch.as_tensor(fixed_point, dtype=T.dtype, device=T.device)
    if torch.is_grad_enabled() and any(x.requires_grad for x in (T, Q, lam)):
        for _ in range(2):
            inverse = torch.linalg.solve(eye + P_pred @ lam, eye)
            residual = _predict(inverse @ P_pred, T, Q) - P_pred
            P_pred = P_pred + lyapunov_ex(T @ inverse, 0.5 * (residual + residual.mT))[0]
    inverse = torch.linalg.solve(eye + P_pred @ lam, eye)
    return inverse @ P_pred, T @ inverse, lam @ inverse, P_pred


def _doubling(T, Q, lam, tolerance):
    """Steady predicted covariance by doubling (numpy, arrays of shape (N, k, k)), or None.

    The maps are a few k x k matrices whatever the device of the filter, so they are
    composed on the host, where each small operation costs a fraction of a tensor one.
    """
    eye = np.eye(T.shape[-1])
    gain = eye + Q @ lam
    A, C = np.split(np.linalg.solve(gain, np.concatenate([T, Q], axis=-1)), 2, axis=-1)
    # (I + Lam Q) is the transpose of (I + Q Lam).
    J = T.swapaxes(-1, -2) @ np.linalg.solve(gain.swapaxes(-1, -2), lam @ T)
    for _ in range(_DOUBLINGS):
        A, C, J = _compose((A, C, J), (A, C, J))
        size = float(np.abs(A).max())
        if not (math.isfinite(size) and np.isfinite(C).all()):
            return None
        # C changes by O(|A|^2) at the next doubling: one more makes it exact.
        if size * size <= tolerance:
            C = _compose((A, C, J), (A, C, J))[1]
            return T @ C @ T.swapaxes(-1, -2) + Q
    return None


def _compose(earlier, later):
    """The map of ``earlier`` followed by ``later``, each ``(A, C, J)`` of shape (N, k, k)."""
    A_i, C_i, J_i = earlier
    A_j, C_j, J_j = later
    # (I + C_i J_j)^{-1} once, for both solves (one with its transpose): I + C J with C
    # and J positive semi-definite has eigenvalues of at least one.
    inverse = np.linalg.inv(np.eye(A_i.shape[-1]) + C_i @ J_j)
    left = A_j @ inverse
    A = left @ A_i
    C = left @ C_i @ A_j.swapaxes(-1, -2) + C_j
    J = A_i.swapaxes(-1, -2) @ inverse.swapaxes(-1, -2) @ J_j @ A_i + J_i
    return A, 0.5 * (C + C.swapaxes(-1, -2)), 0.5 * (J + J.swapaxes(-1, -2))


def _closed_form_dates(steady, P_filt, T, Q, tolerance):
    """Dates until the covariance from ``P_filt`` should be within ``tolerance`` of steady.

    The distance shrinks like ``rho^(2s)`` with ``rho`` the spectral radius of the
    closed loop; a margin covers the transient growth of non-normal loops.
    """
    with torch.no_grad():
        rho = float(torch.linalg.eigvals(steady[1]).abs().max())
        gap = float(_distance(_predict(P_filt, T, Q)[:, None], steady[3]).max())
    if not 0.0 < rho < 1.0 or gap <= tolerance:
        return _LARGEST_BLOCK
    dates = math.log(tolerance / gap) / (2.0 * math.log(rho))
    return int(min(_LARGEST_BLOCK, math.ceil(1.1 * dates) + 4))


def _closed_form(P, steady, lam, size):
    """Covariances of ``size`` dates from the predicted ``P``, around the steady state.

    With ``D_s = P_{t+s} - Pbar``: ``D_s = Abar^s D_0 (I + W_s D_0)^{-1} Abar'^s``,
    ``W_s = sum_{j<s} Abar'^j Lbar Abar^j``, all dates at once. Returns
    ``(predicted, filtered, info)`` of shape (N, size, k, k) and (N, size).
    """
    _, Abar, Lbar, P_bar = steady
    k = P.shape[-1]
    eye = torch.eye(k, dtype=P.dtype, device=P.device)
    powers = eye.expand(P.shape[0], 1, k, k)
    step = Abar
    while powers.shape[1] < size:
        powers = torch.cat([powers, right_times(powers, step)], dim=1)
        step = step @ step
    powers = powers[:, :size]
    terms = powers.mT @ left_times(Lbar, powers)
    W = torch.cat([torch.zeros_like(terms[:, :1]), torch.cumsum(terms[:, :-1], dim=1)], dim=1)
    D0 = P - P_bar
    D = powers @ torch.linalg.solve(eye + left_times(D0, W), D0[:, None].expand_as(W)) @ powers.mT
    predicted = P_bar[:, None] + 0.5 * (D + D.mT)
    filtered, info = torch.linalg.solve_ex(eye + right_times(predicted, lam), predicted)
    return predicted, filtered, info


def _distance(block, reference):
    """Largest absolute difference of ``block`` (N, s, k, k) from ``reference`` (N, k, k),
    over the largest absolute entry of ``reference``, worst batch member: shape (s,)."""
    reference = host(reference)
    return _relative(np.abs(host(block) - reference[:, None]).max(axis=(-2, -1)),
                     np.abs(reference).max(axis=(-2, -1))[:, None])


def _relative(change, scale):
    """``change / scale`` where ``change`` is nonzero (0 elsewhere), worst batch member."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(change > 0, change / scale, 0.0).max(axis=0)
