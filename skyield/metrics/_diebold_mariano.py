"""Diebold-Mariano test of equal predictive accuracy with the HLN correction.

Written here rather than taken from a library: statsmodels has no DM test,
and the small-sample correction, the fallback for a non-positive long-run
variance and the vectorisation over maturities and horizons are choices that
must be stated precisely.
"""

import warnings
from typing import NamedTuple

import numpy as np
from scipy import stats

from ._validation import as_float_array, check_finite, check_int, check_same_shape

__all__ = ["DieboldMarianoResult", "diebold_mariano"]

_LOSSES = {"squared": np.square, "absolute": np.abs}
_ALTERNATIVES = ("two-sided", "less", "greater")


class DieboldMarianoResult(NamedTuple):
    """Result of :func:`diebold_mariano`.

    Attributes
    ----------
    statistic : float or ndarray of shape (*outputs)
        HLN-corrected DM statistic; negative when the first forecast has the
        smaller mean loss.
    pvalue : float or ndarray of shape (*outputs)
        p-value from Student's t with ``n_samples - 1`` degrees of freedom.
    """

    statistic: float | np.ndarray
    pvalue: float | np.ndarray


def _autocovariances(d, max_lag):
    """Autocovariances gamma_0..gamma_max_lag of ``d`` along axis 0 (divisor n)."""
    n = d.shape[0]
    centred = d - d.mean(axis=0)
    return np.stack(
        [(centred[k:] * centred[: n - k]).sum(axis=0) / n for k in range(max_lag + 1)]
    )


def diebold_mariano(e1, e2, *, h=1, loss="squared", alternative="two-sided"):
    """Diebold-Mariano test with the Harvey-Leybourne-Newbold correction.

    With loss differential ``d_t = L(e1_t) - L(e2_t)``, mean ``d_bar`` and
    sample autocovariances ``gamma_k = (1/n) sum_{t>k} (d_t - d_bar)(d_{t-k} - d_bar)``,
    the long-run variance of ``d_bar`` uses the ``h - 1`` autocovariance lags
    that an optimal ``h``-step forecast error can carry (Diebold and Mariano,
    1995):

    .. math::

        \\hat V = \\frac{1}{n}\\Big(\\gamma_0 + 2\\sum_{k=1}^{h-1}\\gamma_k\\Big),
        \\qquad DM = \\bar d / \\sqrt{\\hat V}.

    The statistic reported is Harvey, Leybourne and Newbold's (1997)

    .. math::

        DM^* = DM\\,\\sqrt{\\frac{n + 1 - 2h + h(h - 1)/n}{n}},

    compared with Student's t with ``n - 1`` degrees of freedom.

    The rectangular-kernel variance above can be non-positive when
    ``h > 1``. In that case the same lags are down-weighted with the Bartlett
    kernel, ``gamma_0 + 2 sum_k (1 - k/h) gamma_k`` (Newey and West, 1987),
    which is never negative, and a ``RuntimeWarning`` says so. If the loss
    differential is identically zero (equal losses everywhere) the statistic
    is 0; if it is constant but not zero its variance is zero and a
    ValueError is raised.

    Parameters
    ----------
    e1, e2 : array-like of shape (n_samples,) or (n_samples, *outputs)
        Forecast errors of the two forecasts, in time order along the first
        axis. Trailing axes (e.g. ``(n_maturities,)`` or
        ``(horizon, n_maturities)``) are tested separately.
    h : int, default=1
        Forecast horizon in periods; ``1 <= h < n_samples``.
    loss : {"squared", "absolute"} or callable, default="squared"
        Loss applied element-wise to the errors. A callable takes an ndarray
        of errors and returns an ndarray of losses of the same shape.
    alternative : {"two-sided", "less", "greater"}, default="two-sided"
        ``"less"``: the first forecast has the smaller expected loss;
        ``"greater"``: the second one has.

    Returns
    -------
    result : DieboldMarianoResult
        Named tuple ``(statistic, pvalue)``: floats for 1-D errors, else
        ndarrays of shape ``outputs``.

    References
    ----------
    .. [1] Diebold, F. X. and Mariano, R. S. (1995). Comparing predictive
       accuracy. Journal of Business & Economic Statistics, 13(3), 253-263.
    .. [2] Harvey, D., Leybourne, S. and Newbold, P. (1997). Testing the equality
       of prediction mean squared errors. International Journal of Forecasting,
       13(2), 281-291.
    .. [3] Newey, W. K. and West, K. D. (1987). A simple, positive semi-definite,
       heteroskedasticity and autocorrelation consistent covariance matrix.
       Econometrica, 55(3), 703-708.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import diebold_mariano
    >>> rng = np.random.default_rng(0)
    >>> e_model = rng.normal(scale=0.5, size=200)
    >>> e_random_walk = rng.normal(scale=1.0, size=200)
    >>> result = diebold_mariano(e_model, e_random_walk, alternative="less")
    >>> bool(result.statistic < 0), bool(result.pvalue < 0.01)
    (True, True)
    """
    e1 = as_float_array(e1, "e1", ndim=(1, 2, 3))
    e2 = as_float_array(e2, "e2", ndim=(1, 2, 3))
    check_same_shape(e1, e2, "e1", "e2")
    n = e1.shape[0]
    if n < 2:
        raise ValueError(f"e1 and e2 need at least 2 time points, got {n}.")
    h = check_int(h, "h", minimum=1)
    if h >= n:
        raise ValueError(f"h must be smaller than the number of time points {n}, got {h}.")
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}.")
    if isinstance(loss, str):
        if loss not in _LOSSES:
            raise ValueError(
                f"loss must be one of {tuple(_LOSSES)} or a callable, got {loss!r}."
            )
        loss_fn = _LOSSES[loss]
    elif callable(loss):
        loss_fn = loss
    else:
        raise TypeError(f"loss must be a string or a callable, got {type(loss).__name__}.")

    losses = []
    for name, errors in (("e1", e1), ("e2", e2)):
        value = np.asarray(loss_fn(errors), dtype=float)
        if value.shape != errors.shape:
            raise ValueError(
                f"loss returned shape {value.shape} for {name} of shape {errors.shape}; "
                "it must act element-wise."
            )
        check_finite(value, f"loss({name})")
        losses.append(value)
    d = losses[0] - losses[1]

    constant = np.ptp(d, axis=0) == 0
    all_zero = constant & (d[0] == 0)
    if (constant & ~all_zero).any():
        raise ValueError(
            "The loss differential of e1 and e2 is constant but not zero, so its variance "
            "is zero and the Diebold-Mariano statistic is undefined."
        )
    d_bar = d.mean(axis=0)
    gamma = _autocovariances(d, h - 1)
    long_run = gamma[0] + 2.0 * gamma[1:].sum(axis=0)
    fallback = (long_run <= 0) & ~all_zero
    if fallback.any():
        bartlett = 1.0 - np.arange(1, h) / h
        bartlett = bartlett.reshape((-1,) + (1,) * (d.ndim - 1))
        newey_west = gamma[0] + 2.0 * (bartlett * gamma[1:]).sum(axis=0)
        long_run = np.where(fallback, newey_west, long_run)
        warnings.warn(
            "The long-run variance of the loss differential with rectangular weights "
            f"on {h - 1} lag(s) is not positive"
            + ("" if d.ndim == 1 else f" for {int(fallback.sum())} output(s)")
            + "; the Bartlett (Newey-West) weights were used instead.",
            RuntimeWarning,
            stacklevel=2,
        )
    if ((long_run <= 0) & ~all_zero).any():
        raise ValueError(
            "The long-run variance of the loss differential of e1 and e2 is not positive "
            "even with Bartlett weights; the Diebold-Mariano statistic is undefined."
        )

    safe_variance = np.where(all_zero, 1.0, long_run) / n
    dm = np.where(all_zero, 0.0, d_bar / np.sqrt(safe_variance))
    statistic = dm * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)

    t_dist = stats.t(df=n - 1)
    if alternative == "two-sided":
        pvalue = 2.0 * t_dist.sf(np.abs(statistic))
    elif alternative == "less":
        pvalue = t_dist.cdf(statistic)
    else:
        pvalue = t_dist.sf(statistic)

    if np.ndim(statistic) == 0:
        return DieboldMarianoResult(float(statistic), float(pvalue))
    return DieboldMarianoResult(np.asarray(statistic), np.asarray(pvalue))
