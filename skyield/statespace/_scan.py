"""Prefix scans of the affine recursion ``x_j = Phi_j x_{j-1} + b_j`` over time.

Once the gains of the Kalman filter are known, its state means follow the affine
recursion ``a_{t+1} = Phi_t a_t + b_t``: a linear recursion that does not need to run
date by date in Python. On a CPU it is one banded triangular solve per batch member
(LAPACK's forward substitution, :func:`_banded_recursion`), except for one matrix over
more than about a thousand dates x members. Elsewhere, and for those, it is a prefix
scan, whose depth is what a GPU needs. With a matrix per date the scan is the
Hillis-Steele doubling: ``ceil(log2(n))`` rounds, each a batched tensor operation over
the time axis; a few dates are one block-triangular solve. With one matrix (a steady
state) blocks of ``_BLOCK`` dates are one product with the block Toeplitz matrix of its
powers, and the block ends are scanned the same way, so the cost per date stays flat
from a few hundred to tens of thousands of dates (below about a thousand dates x
members, doubling directly is faster). The time axis is axis 1 and the batch axis 0
(the filters' flattened layout).

The reverse pass of a linear recursion is the same recursion run backwards with the
transposed matrices (``lam_j = g_j + Phi_{j+1}' lam_{j+1}``), so each scan is an
autograd function whose backward is one more scan and one batched product; autograd
would otherwise record and reverse every round.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.linalg.lapack import dtbtrs

from ._observations import matvec
from ._validation import host

# Ranges of at least this many dates with one steady covariance are scanned with the
# powers of one matrix; shorter ones join the date-by-date scan of their neighbours.
_STEADY_SEGMENT = 8
# Dates per block of the constant-matrix scan.
_BLOCK = 16
# Up to this many dates x batch members a constant-matrix recursion is one pass: the
# banded solve on a CPU, doubling directly elsewhere; the blocks win beyond it. Measured
# on one CPU thread, 3 states: against the blocks, doubling directly takes 0.5-0.7x the
# time for one member and 200-1,000 dates, the same at 2,000 and 1.6x at 4,000; the
# banded solve 0.5-0.6x for one member and 100-500 dates, 0.4-0.7x for 2-16 members
# and 100 dates, 1.3-3.5x at 4,000 dates. Up to the same size the filter's per-date work
# takes one matrix per date at once (a gathered copy) instead of stretch by stretch.
_DIRECT_WORK = 1024
# Ranges of at most this many dates without a steady state are solved as one
# block-triangular system rather than scanned.
_SEQUENTIAL_DATES = 16


def affine_scan(Phi, b):
    """All ``x_j = Phi_j x_{j-1} + b_j`` (``x_{-1} = 0``) for matrices varying with ``j``.

    Parameters
    ----------
    Phi : Tensor of shape (N, n, k, k)
    b : Tensor of shape (N, n, k)

    Returns
    -------
    Tensor of shape (N, n, k)
    """
    return _apply_scan(Phi, b)


def affine_scan_constant(Phi, b):
    """All ``x_j = Phi x_{j-1} + b_j`` (``x_{-1} = 0``) for one matrix ``Phi``.

    Parameters
    ----------
    Phi : Tensor of shape (N, k, k)
    b : Tensor of shape (N, n, k)

    Returns
    -------
    Tensor of shape (N, n, k)

    Notes
    -----
    Only the powers ``Phi^0 .. Phi^B`` of one matrix are formed, never a matrix per date.
    """
    return _apply_scan(Phi, b)


def _apply_scan(Phi, b):
    if torch.is_grad_enabled() and (Phi.requires_grad or b.requires_grad):
        return _AffineScan.apply(Phi, b)
    # Nothing to differentiate: the recursion alone, without an autograd function's
    # bookkeeping (a sizeable share of a single filter call).
    return _recursion(Phi, b)


def _recursion(Phi, b):
    """The values of either scan, computed the fastest way for the device and size."""
    N, n = b.shape[:2]
    on_host = b.device.type == "cpu" and b.dtype == torch.float64
    if on_host and (Phi.ndim == 4 or N * n <= _DIRECT_WORK):
        return _banded_recursion(Phi, b)
    if Phi.ndim == 3:
        return _scan_constant(Phi, b)
    return _short_recursion(Phi, b) if n <= _SEQUENTIAL_DATES else _scan(Phi, b)


def _banded_recursion(Phi, b):
    """``x_j = Phi_j x_{j-1} + b_j`` on the host, one banded triangular solve per member.

    With the dates stacked, ``(I - S) x = b`` where ``S`` holds ``Phi_j`` in block
    ``(j, j - 1)``: a unit lower triangular matrix with ``2k - 1`` subdiagonals. LAPACK's
    banded solve (``dtbtrs``) is forward substitution, i.e. the recursion itself run date
    by date in compiled code: ``O(n k^2)`` operations, exact, and no Python loop over
    dates. On a CPU it beats the doubling scans (which exist for the depth they save on
    GPUs) by 7-15x for a matrix per date, and for a constant matrix up to about a
    thousand dates x members (``_DIRECT_WORK``).
    """
    N = max(Phi.shape[0], b.shape[0])
    _, n, k = b.shape
    rhs = np.broadcast_to(host(b), (N, n, k)).reshape(N, n * k)
    if n == 1:
        return torch.from_numpy(rhs.reshape(N, 1, k).copy())
    phi = host(Phi) if Phi.ndim == 4 else host(Phi)[:, None]
    phi = np.broadcast_to(phi, (phi.shape[0], n, k, k))[:, 1:]
    # Lower band storage: row k + a - c, column (j - 1) k + c holds -Phi_j[a, c].
    band = np.zeros((N, 2 * k, n * k))
    for a in range(k):
        for c in range(k):
            band[:, k + a - c, c:(n - 1) * k:k] = -phi[:, :, a, c]
    out = np.empty((N, n * k))
    for member in range(N):
        out[member] = dtbtrs(band[member], rhs[member, :, None], uplo="L", diag="U")[0][:, 0]
    return torch.from_numpy(out.reshape(N, n, k))


def _shift(x, s):
    """``x`` moved ``s`` places later along axis 1, zeros in front (same shape)."""
    pad = [0, 0] * (x.ndim - 2) + [s, 0]
    return F.pad(x[:, :-s], pad)


def _scan(Phi, b):
    n = b.shape[1]
    s = 1
    while s < n:
        # After this round, x_j sums the terms of b_{j-2s+1} .. b_j; Phi_j is the product
        # of the 2s matrices that carry b_{j-2s+1} forward to j.
        b = b + (Phi @ _shift(b, s)[..., None])[..., 0]
        if 2 * s < n:
            Phi = torch.cat([Phi[:, :s], Phi[:, s:] @ Phi[:, :-s]], dim=1)
        s *= 2
    return b


def _scan_constant(Phi, b):
    N, n, k = b.shape
    if n <= 2 * _BLOCK or N * n <= _DIRECT_WORK:
        power = Phi.mT
        s = 1
        while s < n:
            # The first s dates are final; the others add Phi^s times the date s before.
            b = torch.cat([b[:, :s], torch.baddbmm(b[:, s:], b[:, :-s], power)], dim=1)
            s *= 2
            if s < n:
                power = torch.bmm(power, power)
        return b
    # Blocks of _BLOCK dates: within a block, x = W b with W the lower block-Toeplitz
    # matrix of the powers Phi^0 .. Phi^(B-1) (one product for all blocks); the states
    # at the block ends then follow the same recursion with Phi^B, and carry over.
    B = _BLOCK
    blocks = -(-n // B)
    powers = torch.eye(k, dtype=b.dtype, device=b.device).expand(N, 1, k, k)
    step = Phi[:, None]
    while powers.shape[1] <= B:
        powers = torch.cat([powers, powers @ step], dim=1)
        step = step @ step
    lag = torch.arange(B, device=b.device)
    lag = lag[:, None] - lag[None, :]
    W = powers[:, lag.clamp(min=0)] * (lag >= 0)[:, :, None, None].to(b.dtype)
    W = W.transpose(2, 3).reshape(N, B * k, B * k)
    padded = F.pad(b, (0, 0, 0, blocks * B - n)).reshape(N, blocks, B * k)
    local = padded @ W.mT
    ends = _scan_constant(powers[:, B], local[..., -k:])
    # Position j of block i adds Phi^(j+1) times the state at the end of block i - 1.
    carry = powers[:, 1:B + 1].permute(0, 3, 1, 2).reshape(N, k, B * k)
    x = torch.baddbmm(local, _shift(ends, 1), carry)
    return x.reshape(N, blocks * B, k)[:, :n]


class _AffineScan(torch.autograd.Function):
    """Either scan; ``Phi`` of shape (N, k, k) is one matrix, (N, n, k, k) one per date."""

    @staticmethod
    def forward(ctx, Phi, b):
        x = _recursion(Phi, b)
        ctx.save_for_backward(Phi, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        Phi, x = ctx.saved_tensors
        # lam_j = g_j + Phi_{j+1}' lam_{j+1}: the scan of the reversed dates.
        if Phi.ndim == 3:
            lam = torch.flip(affine_scan_constant(Phi.mT, torch.flip(grad, dims=[1])), dims=[1])
            return lam[:, 1:].mT @ x[:, :-1], lam
        reverse = _shift(torch.flip(Phi.mT, dims=[1]), 1)
        lam = torch.flip(affine_scan(reverse, torch.flip(grad, dims=[1])), dims=[1])
        return lam[..., :, None] * _shift(x, 1)[..., None, :], lam


def segments_of(steady, state_index):
    """Split the dates into ``(first, stop, state)``.

    ``steady`` lists the ``(first, stop)`` date ranges that share one state;
    ``state_index`` (n,) gives the state of each date. ``state`` is that of a long
    steady range, or None for ranges whose states vary.
    """
    segments, start = [], 0
    for first, stop in steady:
        if stop - first >= _STEADY_SEGMENT:
            if first > start:
                segments.append((start, first, None))
            segments.append((first, stop, int(state_index[first])))
            start = stop
    n = state_index.numel()
    if start < n:
        segments.append((start, n, None))
    return segments


def per_date(matrices, x, segments, index, bias=None):
    """``matrices[state of t] @ x_t (+ bias)`` for every date: (N, D, k, k), (N, n, k) ->
    (N, n, k); ``bias`` of shape (N, 1, k).

    A steady stretch is one matrix product rather than one small product per date; few
    dates (``_DIRECT_WORK``) take their matrices all at once.
    """
    if x.shape[0] * x.shape[1] <= _DIRECT_WORK:
        out = matvec(matrices.index_select(1, index), x)
        return out if bias is None else out + bias
    out = []
    for first, stop, state in segments:
        if state is None:
            part = matvec(states_of(matrices, index, first, stop), x[:, first:stop])
            out.append(part if bias is None else part + bias)
        elif bias is None:
            out.append(x[:, first:stop] @ matrices[:, state].mT)
        else:
            out.append(torch.baddbmm(bias, x[:, first:stop], matrices[:, state].mT))
    return torch.cat(out, dim=1) if len(out) > 1 else out[0]


def state_means(Phi, b, a0, segments, index):
    """``a_2 .. a_{n+1}`` from ``a_{t+1} = Phi_t a_t + b_t``, ``a_1 = a0``.

    ``Phi`` of shape (N, D, k, k) is given per distinct state, ``b`` of shape (N, n, k)
    per date. Steady stretches use the recursion with one matrix, the dates between
    them the recursion with a matrix per date; few dates (``_DIRECT_WORK``) are one
    recursion with a matrix per date.
    """
    if b.shape[0] * b.shape[1] <= _DIRECT_WORK:
        matrices = Phi.index_select(1, index)
        return affine_scan(matrices, _fold_start(b, matrices[:, 0], a0))
    means, state = [], a0
    for first, stop, steady in segments:
        if steady is not None:
            matrix = Phi[:, steady]
            out = affine_scan_constant(matrix, _fold_start(b[:, first:stop], matrix, state))
        else:
            matrices = states_of(Phi, index, first, stop)
            out = affine_scan(matrices, _fold_start(b[:, first:stop], matrices[:, 0], state))
        means.append(out)
        state = out[:, -1]
    return torch.cat(means, dim=1) if len(means) > 1 else means[0]


def _fold_start(b, matrix, state):
    """``b`` with ``matrix @ state`` added to its first date (the scans start from zero)."""
    return torch.cat([torch.baddbmm(b[:, :1].mT, matrix, state[..., None]).mT, b[:, 1:]], dim=1)


def _short_recursion(Phi, b):
    """``x_j = Phi_j x_{j-1} + b_j`` (``x_{-1} = 0``) as one block-triangular solve.

    For a few dates: ``(I - S) x = b`` with ``Phi_1 .. Phi_{m-1}`` on the block
    subdiagonal of ``S`` is solved by forward substitution, which is the recursion
    itself, in a handful of operations.
    """
    N, m, k = b.shape
    if m == 1:
        return b
    blocks = torch.zeros(N, m, m, k, k, dtype=b.dtype, device=b.device)
    batch = torch.arange(N, device=b.device)[:, None]
    rows = torch.arange(1, m, device=b.device)[None]
    blocks = blocks.index_put((batch, rows, rows - 1), Phi[:, 1:])
    eye = torch.eye(m * k, dtype=b.dtype, device=b.device)
    system = eye - blocks.transpose(2, 3).reshape(N, m * k, m * k)
    x = torch.linalg.solve_triangular(system, b.reshape(N, m * k, 1), upper=False, unitriangular=True)
    return x.reshape(N, m, k)


def states_of(values, index, first, stop):
    """``values`` (N, D, ...) of the states of dates ``first .. stop - 1``.

    The dates before a steady state have consecutive states of their own: a slice then
    replaces the gather.
    """
    low, high = int(index[first]), int(index[stop - 1])
    if high - low == stop - 1 - first:
        return values[:, low:high + 1]
    return values.index_select(1, index[first:stop])
