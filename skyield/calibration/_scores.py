"""Conformity scores, conformal quantiles and order-preserving calibrated bands.

A *band* is what an inner model says about one output at several central coverages
``beta_1 < ... < beta_K``: lower bounds ``lower[..., j]``, upper bounds ``upper[..., j]``
and a centre ``center``. A point model's band has ``lower = upper = center`` (its
prediction), and the score below is then the absolute residual of split conformal
prediction; an interval or quantile model's band gives the score of conformalized
quantile regression (Romano, Patterson and Candès, 2019).

Calibration (:func:`calibrate_band`) moves bound ``j`` outwards by ``Q_j``, the
conformal quantile of the calibration scores at coverage ``beta_j`` (inwards when
``Q_j < 0``), in a way that can never make bounds cross:

1. *rearrange* the inner band: sort ``(lower_K, ..., lower_1, center, upper_1, ...,
   upper_K)`` (a no-op for a model whose quantiles do not cross; Chernozhukov,
   Fernández-Val and Galichon, 2010);
2. *envelope*: ``Qt_j = max(Q_1, ..., Q_j)``, non-decreasing in ``j``;
3. *shift and stop at the centre*: ``lower'_j = min(lower_j - Qt_j, center)`` and
   ``upper'_j = max(upper_j + Qt_j, center)``.

Order: for ``i < j``, ``lower_j <= lower_i`` (step 1) and ``Qt_j >= Qt_i`` (step 2), so
``lower_j - Qt_j <= lower_i - Qt_i``; taking the minimum with the same ``center`` keeps
the order, and every lower bound is ``<= center <=`` every upper bound (step 3). Hence
``lower'_K <= ... <= lower'_1 <= center <= upper'_1 <= ... <= upper'_K``.

Coverage: ``[lower'_j, upper'_j]`` contains ``[lower_j - Qt_j, upper_j + Qt_j]``, which
contains the conformalized interval ``[lower_j - Q_j, upper_j + Q_j]`` because
``Qt_j >= Q_j``; the finite-sample guarantee of the conformalized interval (under
exchangeable calibration and test scores) therefore carries over. Step 3 matters only when
a negative correction would shrink an interval past zero width: the interval then
collapses to the centre instead of becoming empty-and-crossed.

References
----------
Romano, Y., Patterson, E. and Candès, E. J. (2019). Conformalized quantile regression.
Advances in Neural Information Processing Systems 32.

Chernozhukov, V., Fernández-Val, I. and Galichon, A. (2010). Quantile and probability
curves without crossing. Econometrica, 78(3), 1093-1125.
"""

import numpy as np

__all__ = [
    "calibrate_band",
    "conformal_quantile",
    "conformal_rank",
    "conformity_scores",
    "min_conformal_scores",
    "rearrange_band",
]

# (n + 1) * level is computed in floating point; a hair below an integer must not
# round a rank up (e.g. 20 * 0.95 = 18.999999999999996 would need rank 19, not 20).
_RANK_EPS = 1e-9


def conformal_rank(n_scores, level):
    """Rank ``ceil((n + 1) level)`` of the conformal quantile among ``n`` sorted scores."""
    return int(np.ceil((n_scores + 1) * level - _RANK_EPS))


def min_conformal_scores(level):
    """Fewest scores whose conformal quantile at coverage ``level`` is finite.

    The smallest ``n`` with ``ceil((n + 1) level) <= n``, i.e. ``ceil(level / (1 - level))``
    (19 at 0.95, 99 at 0.99).
    """
    # ceil((n + 1) level) - n never increases with n: count up from just below the bound,
    # so that the answer is the one conformal_rank's own rounding gives.
    n_scores = max(1, int(np.ceil(level / (1 - level) - _RANK_EPS)) - 1)
    while conformal_rank(n_scores, level) > n_scores:
        n_scores += 1
    return n_scores


def conformal_quantile(scores, level, *, beyond="raise"):
    """Conformal quantile of ``scores`` along axis 0 at coverage ``level``.

    The ``ceil((n + 1) level)``-th smallest of the ``n`` scores, for each output.

    Parameters
    ----------
    scores : ndarray of shape (n_scores, ...)
    level : float or ndarray of the output shape
        Coverage in (0, 1); an array gives one level per output (adaptive conformal
        inference, where levels may leave (0, 1)).
    beyond : {"raise", "infinite"}, default="raise"
        When the rank exceeds ``n``: raise an error, or return ``+inf`` (the whole line);
        ranks below 1 give ``-inf`` (an empty interval) with ``"infinite"``.

    Returns
    -------
    quantile : ndarray of shape scores.shape[1:]
    """
    n_scores = scores.shape[0]
    if np.ndim(level) == 0:
        rank = conformal_rank(n_scores, level)
        if rank > n_scores:
            if beyond == "raise":
                raise ValueError(
                    f"a {level:.4g} conformal interval needs at least "
                    f"{min_conformal_scores(level)} calibration scores, "
                    f"but there are {n_scores}; use more calibration rows "
                    f"(calibration_size) or a lower coverage"
                )
            return np.full(scores.shape[1:], np.inf)
        if rank < 1:
            return np.full(scores.shape[1:], -np.inf)
        return np.partition(scores, rank - 1, axis=0)[rank - 1]
    level = np.asarray(level, dtype=float)
    ranks = np.ceil((n_scores + 1) * level - _RANK_EPS)
    ordered = np.sort(scores, axis=0)
    picked = np.take_along_axis(
        ordered, np.clip(ranks, 1, max(n_scores, 1)).astype(int)[None] - 1, axis=0)[0] \
        if n_scores else np.zeros(level.shape)
    return np.where(ranks > n_scores, np.inf, np.where(ranks < 1, -np.inf, picked))


def rearrange_band(lower, upper, center):
    """Sort a band so that lower bounds, centre and upper bounds are ordered.

    Parameters
    ----------
    lower, upper : ndarray of shape (..., K)
        Bounds at coverages ``beta_1 < ... < beta_K`` (last axis).
    center : ndarray of shape (...)

    Returns
    -------
    lower, upper, center : ndarrays of the same shapes, with ``lower[..., K-1] <= ... <=
        lower[..., 0] <= center <= upper[..., 0] <= ... <= upper[..., K-1]``.
    """
    k = lower.shape[-1]
    stacked = np.concatenate([lower[..., ::-1], center[..., None], upper], axis=-1)
    stacked = np.sort(stacked, axis=-1)
    return stacked[..., :k][..., ::-1], stacked[..., k + 1:], stacked[..., k]


def conformity_scores(lower, upper, y):
    """``max(lower - y, y - upper)`` for each coverage (last axis of the bounds)."""
    return np.maximum(lower - y[..., None], y[..., None] - upper)


def calibrate_band(lower, upper, center, corrections):
    """Shift a rearranged band by conformal corrections without letting bounds cross.

    Parameters
    ----------
    lower, upper : ndarray of shape (n, ..., K)
        Rearranged bounds (see :func:`rearrange_band`).
    center : ndarray of shape (n, ...)
    corrections : ndarray of shape (..., K)
        Conformal quantiles ``Q_j`` of the scores at each coverage (may be negative or
        infinite).

    Returns
    -------
    lower, upper : ndarrays of shape (n, ..., K)
        Calibrated bounds, ordered as stated in the module docstring.
    """
    envelope = np.maximum.accumulate(corrections, axis=-1)
    with np.errstate(invalid="ignore"):
        low = np.minimum(lower - envelope, center[..., None])
        high = np.maximum(upper + envelope, center[..., None])
    return low, high
