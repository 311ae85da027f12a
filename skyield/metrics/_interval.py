"""Interval-forecast metrics: coverage (PICP), width (MPIW), interval score."""

import numpy as np

from ._validation import (
    aggregate,
    as_float_array,
    check_interval,
    check_multioutput,
    check_probability,
    check_same_shape,
    check_sample_weight,
)

__all__ = ["interval_hits", "interval_score", "mpiw", "picp"]


def _check_bounds(lower, upper, y_true=None):
    lower = as_float_array(lower, "lower")
    upper = as_float_array(upper, "upper")
    check_same_shape(lower, upper, "lower", "upper")
    check_interval(lower, upper)
    if y_true is not None:
        y_true = as_float_array(y_true, "y_true")
        check_same_shape(y_true, lower, "y_true", "lower")
    return y_true, lower, upper


def interval_hits(y_true, lower, upper):
    """Indicator of observations outside their prediction interval.

    This is the hit (violation) sequence used by :func:`kupiec_test` and
    :func:`christoffersen_test`: 1 where ``y_true < lower`` or
    ``y_true > upper``, 0 where ``lower <= y_true <= upper``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    lower, upper : array-like of the same shape as ``y_true``
        Interval bounds, ``lower <= upper``.

    Returns
    -------
    hits : ndarray of int of the same shape as ``y_true``

    Examples
    --------
    >>> from skyield.metrics import interval_hits
    >>> interval_hits([0.0, 2.0, -1.0], [-1.0, -1.0, -0.5], [1.0, 1.0, 0.5])
    array([0, 1, 1])
    """
    y_true, lower, upper = _check_bounds(lower, upper, y_true)
    return ((y_true < lower) | (y_true > upper)).astype(int)


def picp(y_true, lower, upper, *, sample_weight=None, multioutput="uniform_average"):
    """Prediction interval coverage probability (eq. 5.3 of Richman & Scognamiglio).

    The share of observations inside their closed interval ``[lower, upper]``.
    A calibrated interval of nominal coverage ``alpha`` has PICP close to
    ``alpha``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    lower, upper : array-like of the same shape as ``y_true``
        Interval bounds, ``lower <= upper`` element-wise.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`: ``"raw_values"`` gives the coverage
        of every output, shape ``y_true.shape[1:]``.

    Returns
    -------
    coverage : float or ndarray
        In [0, 1]; shaped as described under ``multioutput``.

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, eq. 5.3.

    Examples
    --------
    >>> from skyield.metrics import picp
    >>> picp([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
    0.5
    """
    hits = interval_hits(y_true, lower, upper)
    multioutput = check_multioutput(multioutput, hits.ndim - 1)
    sample_weight = check_sample_weight(sample_weight, hits.shape[0])
    return aggregate(
        1.0 - hits, sample_weight=sample_weight, multioutput=multioutput,
        n_output_dims=hits.ndim - 1,
    )


def mpiw(lower, upper, *, sample_weight=None, multioutput="uniform_average"):
    """Mean prediction interval width (eq. 5.4 of Richman & Scognamiglio).

    MPIW is linear in the bounds, so the MPIW of an averaging ensemble (bounds
    averaged over K models) equals the average of the K models' MPIWs
    (Richman & Scognamiglio, appendix A.2).

    Parameters
    ----------
    lower, upper : array-like of shape (n_samples,), (n_samples, n_maturities) \
            or (n_samples, horizon, n_maturities)
        Interval bounds, ``lower <= upper`` element-wise.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`.

    Returns
    -------
    width : float or ndarray
        Non-negative; shaped as described under ``multioutput``.

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, eq. 5.4 and
       appendix A.2.

    Examples
    --------
    >>> from skyield.metrics import mpiw
    >>> mpiw([[0.0, 1.0], [0.0, 1.0]], [[1.0, 4.0], [3.0, 2.0]], multioutput="raw_values")
    array([2., 2.])
    """
    _, lower, upper = _check_bounds(lower, upper)
    multioutput = check_multioutput(multioutput, lower.ndim - 1)
    sample_weight = check_sample_weight(sample_weight, lower.shape[0])
    return aggregate(
        upper - lower, sample_weight=sample_weight, multioutput=multioutput,
        n_output_dims=lower.ndim - 1,
    )


def interval_score(
    y_true, lower, upper, coverage, *, sample_weight=None, multioutput="uniform_average"
):
    """Mean interval (Winkler) score of central prediction intervals.

    For nominal coverage ``1 - a`` the score of one interval is

    .. math::

        S_a(l, u; y) = (u - l) + \\frac{2}{a}(l - y)\\,1\\{y < l\\}
                        + \\frac{2}{a}(y - u)\\,1\\{y > u\\},

    a proper scoring rule for the pair of ``a/2`` and ``1 - a/2`` quantiles
    (lower is better). A covering interval scores its width.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    lower, upper : array-like of the same shape as ``y_true``
        Interval bounds, ``lower <= upper`` element-wise.
    coverage : float
        Nominal coverage ``1 - a`` of the intervals, strictly inside (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`.

    Returns
    -------
    score : float or ndarray
        Shaped as described under ``multioutput``.

    References
    ----------
    .. [1] Winkler, R. L. (1972). A decision-theoretic approach to interval
       estimation. Journal of the American Statistical Association, 67(337),
       187-191.
    .. [2] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
       prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359-378, eq. (43).

    Examples
    --------
    >>> from skyield.metrics import interval_score
    >>> interval_score([0.5, 3.0], [0.0, 0.0], [1.0, 1.0], coverage=0.5)
    5.0
    """
    coverage = check_probability(coverage, "coverage")
    y_true, lower, upper = _check_bounds(lower, upper, y_true)
    multioutput = check_multioutput(multioutput, y_true.ndim - 1)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    alpha = 1.0 - coverage
    below = np.maximum(lower - y_true, 0.0)
    above = np.maximum(y_true - upper, 0.0)
    scores = (upper - lower) + (2.0 / alpha) * (below + above)
    return aggregate(
        scores, sample_weight=sample_weight, multioutput=multioutput,
        n_output_dims=y_true.ndim - 1,
    )
