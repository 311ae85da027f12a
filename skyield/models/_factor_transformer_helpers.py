"""Helpers of :class:`~skyield.models._factor_transformer.FactorTransformer`.

Windowing of a panel into P-lag windows, the learning-rate schedule, the exponential
smoother of attention patterns and the reading of a factor model's output.
"""

import math
import numbers

import numpy as np
from scipy.signal import lfilter

__all__ = [
    "WarmupCosineSchedule",
    "factor_column",
    "smooth_both_ways",
    "window_view",
]


class WarmupCosineSchedule:
    """Learning-rate multiplier: linear warm-up, then cosine decay, restarted every cycle.

    A picklable callable for :class:`torch.optim.lr_scheduler.LambdaLR` stepped once per
    training batch (section 3.3 and Table 4 of the seed: cycles of ``T0`` epochs).

    Parameters
    ----------
    warmup_steps : int
        Steps of linear warm-up at the start of each cycle (at least 1).
    cycle_steps : int
        Steps per cycle; the multiplier returns to the warm-up after each cycle.

    Examples
    --------
    >>> from skyield.models._factor_transformer_helpers import WarmupCosineSchedule
    >>> schedule = WarmupCosineSchedule(warmup_steps=2, cycle_steps=6)
    >>> [round(schedule(step), 3) for step in range(7)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.5]
    """

    def __init__(self, warmup_steps, cycle_steps):
        self.warmup_steps = max(int(warmup_steps), 1)
        self.cycle_steps = max(int(cycle_steps), self.warmup_steps + 1)

    def __call__(self, step):
        position = step % self.cycle_steps
        if position < self.warmup_steps:
            return (position + 1) / self.warmup_steps
        progress = (position - self.warmup_steps) / (self.cycle_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def window_view(values, window):
    """All windows of ``window`` consecutive rows, oldest row first.

    Parameters
    ----------
    values : ndarray of shape (n_dates, ...)
    window : int

    Returns
    -------
    windows : ndarray of shape (n_dates - window + 1, window, ...)
        Row ``j`` holds ``values[j:j + window]`` (a read-only view).
    """
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)
    return np.moveaxis(view, -1, 1)


def smooth_both_ways(values, alpha):
    """Average of a forward and a backward exponential smoother (seed, section 2.10).

    Each pass is ``b_t = alpha a_t + (1 - alpha) b_{t-1}`` with ``b_0 = a_0``; averaging
    the two passes removes the starting-point bias of either. Rows with a missing value
    (dates without a full window) are left out and stay NaN.

    Parameters
    ----------
    values : array-like of shape (n_dates, n_columns)
    alpha : float in (0, 1]

    Returns
    -------
    smoothed : ndarray of shape (n_dates, n_columns)

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.models._factor_transformer_helpers import smooth_both_ways
    >>> smooth_both_ways(np.array([[0.0], [1.0], [0.0]]), alpha=0.5).ravel().tolist()
    [0.125, 0.5, 0.125]
    """
    values = np.asarray(values, dtype=float)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha <= 1:
        raise ValueError(f"smoothing must be a number in (0, 1], got {alpha!r}")
    out = np.full_like(values, np.nan)
    rows = np.flatnonzero(np.all(np.isfinite(values), axis=1))
    if rows.size == 0:
        return out
    block = values[rows]

    def one_way(data):
        filtered, _ = lfilter([alpha], [1.0, alpha - 1.0], data, axis=0,
                              zi=(1.0 - alpha) * data[:1])
        return filtered

    out[rows] = 0.5 * (one_way(block) + one_way(block[::-1])[::-1])
    return out


def factor_column(output, name, n_dates):
    """First column of a factor model's ``transform`` output as a float array (n_dates,)."""
    values = np.asarray(output, dtype=float)
    if values.ndim == 2 and values.shape[1] >= 1:
        values = values[:, 0]
    if values.ndim != 1 or values.shape[0] != n_dates:
        raise ValueError(
            f"{name}.transform returned shape {np.shape(output)}; expected one factor "
            f"value per date, shape ({n_dates},) or ({n_dates}, n_factors)"
        )
    return values
