"""Par yields from a zero curve, and zero curves bootstrapped from par yields.

A par bond of maturity ``T`` with ``f`` coupons a year pays coupons at ``T, T - 1/f,
T - 2/f, ...`` (the dates after 0) and the principal at ``T``; its first period runs from
0 to the first coupon date (a short stub when ``T f`` is not an integer). Coupon ``k``
accrues ``delta_k = t_k - t_{k-1}`` years (``t_0 = 0``). The par yield ``c`` prices the
bond at 1::

    c * sum_k delta_k P(t_k) + P(T) = 1.

Discount factors between the given maturities come from the ``interpolation`` rule of
:mod:`skyield.curves` (see :func:`~skyield.curves.interpolate_zero`), so that
:func:`zero_to_par` and :func:`par_to_zero` are exact inverses under the same rule.
The bootstrap solves the pricing equation of one maturity at a time for its zero rate
with Newton's method, all curves of a stack at once; it is written here rather than
taken from a library because no well-kept Python library bootstraps arrays of curves
with these interpolation rules.
"""

import numpy as np

from ._conventions import check_compounding, check_units, from_continuous, to_continuous
from ._inputs import check_curve, wrap_like
from ._interpolation import check_interpolation, log_discount, segments

__all__ = ["coupon_schedule", "par_to_zero", "zero_to_par"]

# Coupon dates closer to 0 than this (in years) are rounding residue of T - k / f.
_DATE_EPS = 1e-9
_MAX_NEWTON = 100


def _check_frequency(frequency):
    if isinstance(frequency, bool) or not isinstance(frequency, (int, np.integer)) \
            or frequency < 1:
        raise ValueError(f"frequency must be a positive integer number of coupons a year, "
                         f"got {frequency!r}")
    return int(frequency)


def coupon_schedule(maturity, frequency):
    """Coupon dates ``(t_1, ..., t_K = T)`` and accruals of a par bond of maturity ``T``."""
    count = int(np.floor(maturity * frequency + _DATE_EPS * frequency))
    dates = maturity - np.arange(count + 1) / frequency
    dates = np.sort(dates[dates > _DATE_EPS])
    accruals = np.diff(dates, prepend=0.0)
    return dates, accruals


def zero_to_par(maturities, zero_rates, *, frequency=1, interpolation="linear_zero",
                compounding="continuous", units="decimal"):
    """Par yields at the given maturities from a zero curve.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years, positive and strictly increasing; None reads them from the
        index of a Series or the columns of a DataFrame.
    zero_rates : array-like of shape (..., n_maturities), Series or DataFrame
        Zero rates; the last axis runs over maturities.
    frequency : int, default=1
        Coupons per year of the par bonds (1 annual, 2 semi-annual, ...). Par yields are
        coupon rates, i.e. compounded ``frequency`` times a year.
    interpolation : {"linear_zero", "log_linear_discount"}, default="linear_zero"
        Rule for discount factors at coupon dates between the given maturities.
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of ``zero_rates``.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``zero_rates`` and of the returned par yields.

    Returns
    -------
    par_rates : ndarray of shape (..., n_maturities), Series or DataFrame

    See Also
    --------
    par_to_zero : the inverse (bootstrapping).

    References
    ----------
    Hull, J. C. (2018). Options, Futures, and Other Derivatives, 10th ed., section 4.6
    (par yield) and 4.7 (bootstrap method). Pearson.

    Examples
    --------
    A flat 4% annually compounded curve has 4% annual par yields:

    >>> from skyield.curves import zero_to_par
    >>> zero_to_par([1.0, 2.0, 5.0], [4.0, 4.0, 4.0], compounding="annual",
    ...             units="percent").round(10)
    array([4., 4., 4.])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    frequency = _check_frequency(frequency)
    check_interpolation(interpolation)
    curve = check_curve(maturities, zero_rates, "zero_rates")
    tau = curve.maturities
    zero = to_continuous(curve.values / scale, kind, tau, "zero_rates")
    par = np.empty_like(zero)
    for j, maturity in enumerate(tau):
        dates, accruals = coupon_schedule(maturity, frequency)
        discount = np.exp(-log_discount(tau, zero, dates, interpolation))
        annuity = discount @ accruals
        par[..., j] = (1.0 - discount[..., -1]) / annuity
    return wrap_like(par * scale, curve.like)


def _segment_coefficients(tau, j, dates, interpolation):
    """``-log P(t) = a z_{j-1} + b z_j`` for dates on segment ``(t_{j-1}, t_j]``."""
    if j == 0:
        return np.zeros_like(dates), dates.copy()
    _, weight = segments(tau, dates)
    if interpolation == "linear_zero":
        return dates * (1 - weight), dates * weight
    return (1 - weight) * tau[j - 1], weight * tau[j]


def par_to_zero(maturities, par_rates, *, frequency=1, interpolation="linear_zero",
                compounding="continuous", units="decimal"):
    """Bootstrap a zero curve from par yields.

    Maturity by maturity, the zero rate at ``T_j`` is the one at which the par bond of
    maturity ``T_j`` prices at 1, with discount factors at coupon dates before ``T_j``
    taken from the curve found so far and the ``interpolation`` rule (coupon dates
    between ``T_{j-1}`` and ``T_j`` depend on the unknown rate and are solved for with
    it). Before the first maturity the zero rate is flat.

    Parameters
    ----------
    maturities : array-like of shape (n_maturities,) or None
        Maturities in years, positive and strictly increasing; None reads them from the
        index of a Series or the columns of a DataFrame.
    par_rates : array-like of shape (..., n_maturities), Series or DataFrame
        Par yields (coupon rates of bonds priced at par) with ``frequency`` coupons a
        year; the last axis runs over maturities.
    frequency : int, default=1
        Coupons per year.
    interpolation : {"linear_zero", "log_linear_discount"}, default="linear_zero"
        Rule for discount factors at coupon dates between the given maturities.
    compounding : {"continuous", "simple", "annual", "semiannual", "quarterly", \
            "monthly"} or int, default="continuous"
        Compounding of the returned zero rates.
    units : {"decimal", "percent"}, default="decimal"
        Units of ``par_rates`` and of the returned zero rates.

    Returns
    -------
    zero_rates : ndarray of shape (..., n_maturities), Series or DataFrame

    Raises
    ------
    ValueError
        If no zero rate prices some par bond at 1 (Newton's method does not converge),
        naming the maturity.

    See Also
    --------
    zero_to_par : the inverse.

    References
    ----------
    Hull, J. C. (2018). Options, Futures, and Other Derivatives, 10th ed., section 4.7
    (the bootstrap method). Pearson.

    Examples
    --------
    Annual par yields of 2%, 3% and 4% at 1, 2 and 3 years:

    >>> from skyield.curves import par_to_zero
    >>> par_to_zero([1, 2, 3], [2.0, 3.0, 4.0], compounding="annual",
    ...             units="percent").round(4)
    array([2.    , 3.0152, 4.055 ])
    """
    scale = check_units(units)
    kind = check_compounding(compounding)
    frequency = _check_frequency(frequency)
    check_interpolation(interpolation)
    curve = check_curve(maturities, par_rates, "par_rates")
    tau = curve.maturities
    coupon = curve.values / scale
    zero = np.zeros_like(coupon)
    for j, maturity in enumerate(tau):
        dates, accruals = coupon_schedule(maturity, frequency)
        known = dates <= (tau[j - 1] if j > 0 else 0.0)
        c = coupon[..., j]
        fixed = c * (np.exp(-log_discount(tau[:j], zero[..., :j], dates[known],
                                          interpolation)) @ accruals[known]) if known.any() \
            else np.zeros_like(c)
        a, b = _segment_coefficients(tau, j, dates[~known], interpolation)
        new_accruals = accruals[~known]
        z_left = zero[..., j - 1] if j > 0 else np.zeros_like(c)
        # Start from the flat curve at the par yield, a good guess for Newton.
        z = np.log1p(c * (1.0 / frequency)) * frequency if j == 0 else z_left.copy()
        z = np.where(np.isfinite(z), z, 0.0)
        # A par yield no rate can match makes Newton overflow; the residual check names it.
        with np.errstate(all="ignore"):
            for _ in range(_MAX_NEWTON):
                flows = np.exp(-(a * z_left[..., None] + b * z[..., None]))
                coupons = c[..., None] * new_accruals * flows
                principal = np.exp(-maturity * z)
                residual = fixed + coupons.sum(axis=-1) + principal - 1.0
                slope = -(coupons * b).sum(axis=-1) - maturity * principal
                step = residual / slope
                z = z - step
                if np.all(np.abs(step) <= 1e-15 * np.maximum(1.0, np.abs(z))):
                    break
            flows = np.exp(-(a * z_left[..., None] + b * z[..., None]))
            residual = fixed + (c[..., None] * new_accruals * flows).sum(axis=-1) \
                + np.exp(-maturity * z) - 1.0
        bad = ~(np.abs(residual) <= 1e-12)
        if np.any(bad):
            where = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
            raise ValueError(
                f"the bootstrap found no zero rate that prices the {maturity:g}-year par bond "
                f"(par yield {float(np.atleast_1d(c)[where]) * scale:g}"
                f"{'' if c.ndim == 0 else f', curve {where}'}) at 1; check the par yields "
                f"and their units"
            )
        zero[..., j] = z
    return wrap_like(from_continuous(zero, kind, tau) * scale, curve.like)
