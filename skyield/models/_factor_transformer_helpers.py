"""Helpers of :class:`~skyield.models._factor_transformer.FactorTransformer`.

Windowing of a panel into P-lag windows, the learning-rate schedule, the exponential
smoother of attention patterns and the validation of panels whose rows are dates.
"""

import math
import numbers

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sklearn.utils.validation import validate_data

from skyield.utils import check_panel

__all__ = [
    "WarmupCosineSchedule",
    "factor_column",
    "smooth_both_ways",
    "validate_panel",
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


def _row_label(index, row):
    if index is None:
        return f"row {row}"
    value = index[row]
    if isinstance(value, pd.Timestamp):
        return f"date {value.date() if value == value.normalize() else value}"
    return f"row {value!r}"


def validate_panel(estimator, Y, *, reset, min_dates=1):
    """Validate a panel of consecutive dates and return ``(values, index, columns)``.

    sklearn's :func:`~sklearn.utils.validation.validate_data` records or checks the number
    and names of the series; missing or infinite values are reported with their date and
    column; a DataFrame's dates must be unique and increasing.

    Returns
    -------
    values : ndarray of shape (n_dates, n_series), float64
    index : pandas.Index or None
        The DataFrame's dates, None for arrays.
    columns : list
        Column labels, or positions for arrays.
    """
    frame = Y if isinstance(Y, pd.DataFrame) else None
    values = validate_data(estimator, Y, reset=reset, dtype=np.float64,
                           ensure_all_finite=False, ensure_min_samples=min_dates)
    index = frame.index if frame is not None else None
    columns = list(frame.columns) if frame is not None else list(range(values.shape[1]))
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(values[row, col]) else "an infinite value (inf)"
        raise ValueError(
            f"Y contains {kind} at {_row_label(index, row)}, column {columns[col]!r} "
            f"({int(bad.sum())} non-finite value(s) in all); FactorTransformer needs "
            f"complete panels: select a span without gaps"
        )
    if frame is not None:
        check_panel(frame, name="Y")
    return values, index, columns
