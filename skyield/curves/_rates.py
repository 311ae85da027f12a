"""Discount factors, zero rates and forward rates of one curve or a stack of curves."""

import numpy as np

from ._conventions import check_compounding, check_units, from_continuous, to_continuous
from ._inputs import check_curve, check_times, wrap_like
from ._interpolation import check_interpolation, check_within, forward_intensity

__all__ = ["discount_to_zero", "instantaneous_forward", "zero_to_discount", "zero_to_forward"]


def zero_to_discount(maturities, zero_rates, *, compounding="continuous", units="decimal"):
    """Discount factors from zero rates.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years, positive and strictly increasing; None reads them from the
        index of a Series or the columns of a DataFrame.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
        Zero rates; the last axis runs over maturities (e.g. ``(n_dates, n_maturities)``
        or a scenario cube ``(n_paths, n_horizons, n_maturities)``).
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates``; an integer is a number of periods per year.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``zero_rates``.

    Returns
    -------
    discount_factors : ndarray of shape (..., n_maturities), Series or DataFrame
        ``P(t)``, shaped like ``zero_rates``.

    See Also
    --------
    discount_to_zero : the inverse.

    Examples
    --------
    >>> from skyield.curves import zero_to_discount
    >>> zero_to_discount([1.0, 2.0], [0.05, 0.05], compounding="annual").round(6)
    array([0.952381, 0.907029])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    zero = to_continuous(curve.values / scale, kind, curve.maturities, "zero_rates")
    return wrap_like(np.exp(-zero * curve.maturities), curve.like)


def discount_to_zero(maturities, discount_factors, *, compounding="continuous",
                     units="decimal"):
    """Zero rates from discount factors.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years, positive and strictly increasing; None reads them from the
        index of a Series or the columns of a DataFrame.
    discount_factors : array-like of shape (..., n_maturities), Series or DataFrame
        Positive discount factors ``P(t)``.
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of the returned rates.
    units : {"decimal", "percent"}, default="decimal"
        Units of the returned rates.

    Returns
    -------
    zero_rates : ndarray of shape (..., n_maturities), Series or DataFrame

    Examples
    --------
    >>> from skyield.curves import discount_to_zero
    >>> discount_to_zero([2.0], [0.81], compounding="annual", units="percent").round(6)
    array([11.111111])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    curve = check_curve(maturities, discount_factors, "discount_factors", positive=True)
    zero = -np.log(curve.values) / curve.maturities
    return wrap_like(from_continuous(zero, kind, curve.maturities) * scale, curve.like)


def zero_to_forward(maturities, zero_rates, *, compounding="continuous", units="decimal"):
    """Discrete forward rates between consecutive maturities.

    The forward rate for the period ``(t_{j-1}, t_j]`` (with ``t_{-1} = 0``) is the rate
    that, compounded over the period's length ``t_j - t_{j-1}``, gives the forward
    discount factor ``P(t_j) / P(t_{j-1})``. The first one is the zero rate at ``t_0``.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years; None reads them from pandas labels.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates`` and of the forward rates.
    units : {"decimal", "percent"}, default="decimal"

    Returns
    -------
    forward_rates : ndarray of shape (..., n_maturities), Series or DataFrame
        ``forward_rates[..., j]`` is the forward rate for ``(t_{j-1}, t_j]``.

    See Also
    --------
    instantaneous_forward : forward rates at a point under an interpolation rule.

    Examples
    --------
    >>> from skyield.curves import zero_to_forward
    >>> zero_to_forward([1.0, 2.0], [0.02, 0.03], compounding="annual").round(6)
    array([0.02    , 0.040098])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    tau = curve.maturities
    zero = to_continuous(curve.values / scale, kind, tau, "zero_rates")
    y = zero * tau
    previous = np.concatenate([np.zeros_like(y[..., :1]), y[..., :-1]], axis=-1)
    length = np.diff(tau, prepend=0.0)
    forward = (y - previous) / length
    return wrap_like(from_continuous(forward, kind, length) * scale, curve.like)


def instantaneous_forward(maturities, zero_rates, at=None, *, interpolation="linear_zero",
                          compounding="continuous", units="decimal"):
    """Instantaneous forward rates ``f(t) = -d log P(t) / dt`` under an interpolation rule.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years; None reads them from pandas labels.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
    at : array-like of shape (n_at,), default=None
        Times in years, in ``[0, maturities[-1]]``; None uses ``maturities``.
    interpolation : {"linear_zero", "log_linear_discount"}, default="linear_zero"
        How the curve runs between maturities (see :func:`interpolate_zero`). The forward
        jumps at the maturities under both rules; there the left limit (the forward at
        the end of the segment that ends at that maturity) is returned.
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates``. The result is always a forward *intensity*
        (continuously compounded).
    units : {"decimal", "percent"}, default="decimal"
        Units of ``zero_rates`` and of the result.

    Returns
    -------
    forwards : ndarray of shape (..., n_at), Series or DataFrame
        Labels are ``at`` (or the input's labels when ``at`` is None).

    References
    ----------
    Hagan, P. S. and West, G. (2006). Interpolation methods for curve construction.
    Applied Mathematical Finance, 13(2), 89-129.

    Examples
    --------
    >>> from skyield.curves import instantaneous_forward
    >>> instantaneous_forward([1.0, 2.0], [0.02, 0.03]).round(6)
    array([0.02, 0.05])
    >>> instantaneous_forward([1.0, 2.0], [0.02, 0.03],
    ...                       interpolation="log_linear_discount").round(6)
    array([0.02, 0.04])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    check_interpolation(interpolation)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    times = curve.maturities if at is None else check_times(at, "at", allow_zero=True)
    check_within(curve.maturities, times, "at")
    zero = to_continuous(curve.values / scale, kind, curve.maturities, "zero_rates")
    forwards = forward_intensity(curve.maturities, zero, times, interpolation) * scale
    return wrap_like(forwards, curve.like, columns=None if at is None else times)
