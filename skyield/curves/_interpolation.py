"""Interpolation of a zero curve between its maturities.

Two rules, chosen with ``interpolation=``, serve every function that needs a discount
factor between the given maturities (par coupons, bootstrapping, forwards, present
values). Write ``y(t) = -log P(t) = t z(t)`` with ``z`` the continuously compounded zero
rate and ``t_1 < ... < t_M`` the maturities:

``"linear_zero"``
    ``z`` is linear in ``t`` between neighbouring maturities.
``"log_linear_discount"``
    ``log P`` is linear in ``t`` between neighbouring maturities (piecewise-constant
    instantaneous forward rates, the "raw" interpolation of Hagan and West, 2006).

Before the first maturity both rules keep the zero rate flat at ``z(t_1)`` (the same
as linear ``log P`` from ``P(0) = 1``). Past the last maturity there is no rule: asking
for it is an error, and :func:`~skyield.curves.smith_wilson` is the extrapolation.

References
----------
Hagan, P. S. and West, G. (2006). Interpolation methods for curve construction.
Applied Mathematical Finance, 13(2), 89-129.
"""

import numpy as np

from ._conventions import check_compounding, check_units, from_continuous, to_continuous
from ._inputs import check_curve, check_times, wrap_like

__all__ = [
    "INTERPOLATIONS",
    "check_interpolation",
    "check_within",
    "forward_intensity",
    "interpolate_zero",
    "log_discount",
    "segments",
]

INTERPOLATIONS = ("linear_zero", "log_linear_discount")

# Times this close beyond the last maturity (rounding in t - h, T - k / f) count as on it.
_EDGE = 1e-12


def check_interpolation(interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}"
        )
    return interpolation


def check_within(maturities, times, name="times"):
    """Raise when a time lies past the last maturity of the curve."""
    last = maturities[-1]
    beyond = times > last * (1 + _EDGE)
    if np.any(beyond):
        raise ValueError(
            f"{name} include {float(times[beyond].max()):g} years, past the curve's last "
            f"maturity of {last:g} years; no extrapolation rule applies there. Extend the "
            f"curve first, e.g. with skyield.curves.smith_wilson"
        )


def segments(maturities, times):
    """Segment of each time and its weight on the segment's right end.

    Segment ``i`` is ``(t_{i-1}, t_i]`` with ``t_{-1} = 0``. Returns ``index`` (the right
    end) and ``weight`` in ``[0, 1]`` (1 at ``t_i``); on segment 0 the weight is ``t / t_0``.
    """
    index = np.minimum(np.searchsorted(maturities, times, side="left"), maturities.size - 1)
    left = np.where(index > 0, maturities[np.maximum(index - 1, 0)], 0.0)
    weight = np.clip((times - left) / (maturities[index] - left), 0.0, 1.0)
    return index, weight


def log_discount(maturities, zero, times, interpolation):
    """``-log P(t)`` at ``times`` from continuous zero rates ``zero[..., M]``.

    Returns an array of shape ``zero.shape[:-1] + times.shape``.
    """
    index, weight = segments(maturities, times)
    previous = np.maximum(index - 1, 0)
    first = index == 0
    z_right = zero[..., index]
    z_left = zero[..., previous]
    if interpolation == "linear_zero":
        rate = np.where(first, z_right, (1 - weight) * z_left + weight * z_right)
        return times * rate
    y_left = np.where(first, 0.0, maturities[previous] * z_left)
    return (1 - weight) * y_left + weight * maturities[index] * z_right


def forward_intensity(maturities, zero, times, interpolation):
    """Instantaneous forward ``-d log P / dt`` at ``times`` (left limit at the maturities)."""
    index, weight = segments(maturities, times)
    previous = np.maximum(index - 1, 0)
    first = index == 0
    z_right = zero[..., index]
    z_left = zero[..., previous]
    span = maturities[index] - np.where(first, 0.0, maturities[previous])
    if interpolation == "linear_zero":
        slope = np.where(first, 0.0, (z_right - z_left) / span)
        rate = np.where(first, z_right, (1 - weight) * z_left + weight * z_right)
        return rate + times * slope
    y_left = np.where(first, 0.0, maturities[previous] * z_left)
    return (maturities[index] * z_right - y_left) / span


def interpolate_zero(maturities, zero_rates, at, *, interpolation="linear_zero",
                     compounding="continuous", units="decimal"):
    """Zero rates at new maturities, interpolated by a documented rule.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities of ``zero_rates`` in years, strictly increasing; None reads them from
        the index of a Series or the columns of a DataFrame.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
        Zero rates; the last axis (or the DataFrame's columns) runs over maturities.
    at : array-like of shape (n_at,)
        Maturities in years at which to interpolate, in ``(0, maturities[-1]]``.
    interpolation : {"linear_zero", "log_linear_discount"}, default="linear_zero"
        Linear in continuously compounded zero rates, or linear in the log of discount
        factors; the zero rate is flat before the first maturity.
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates`` and of the result.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``zero_rates`` and of the result.

    Returns
    -------
    zero_at : ndarray of shape (..., n_at), Series or DataFrame
        Interpolated zero rates; a Series/DataFrame input gives a Series/DataFrame whose
        labels are ``at``.

    Raises
    ------
    ValueError
        If some ``at`` lies past the last maturity: no extrapolation is made.

    References
    ----------
    Hagan, P. S. and West, G. (2006). Interpolation methods for curve construction.
    Applied Mathematical Finance, 13(2), 89-129.

    Examples
    --------
    >>> from skyield.curves import interpolate_zero
    >>> interpolate_zero([1.0, 3.0], [0.02, 0.03], [0.5, 2.0])
    array([0.02 , 0.025])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    check_interpolation(interpolation)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    times = check_times(at, "at")
    check_within(curve.maturities, times, "at")
    zero = to_continuous(curve.values / scale, kind, curve.maturities, "zero_rates")
    y = log_discount(curve.maturities, zero, times, interpolation)
    result = from_continuous(y / times, kind, times) * scale
    return wrap_like(result, curve.like, columns=times)
