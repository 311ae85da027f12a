"""Quantile-forecast metrics: pinball loss and a quantile approximation of CRPS."""

import numpy as np

from ._validation import (
    aggregate,
    check_multioutput,
    check_quantile_predictions,
    check_sample_weight,
)

__all__ = ["crps_from_quantiles", "pinball_loss"]


def _pinball(y_true, y_quantiles, levels):
    # rho_tau(u) = max(tau * u, (tau - 1) * u) with u = y - q
    diff = y_true[..., np.newaxis] - y_quantiles
    return np.maximum(levels * diff, (levels - 1.0) * diff)


def pinball_loss(
    y_true,
    y_quantiles,
    quantiles,
    *,
    sample_weight=None,
    multioutput="uniform_average",
    average_quantiles=True,
):
    """Mean pinball (quantile) loss over a last axis of quantile levels.

    For level ``tau`` and quantile forecast ``q`` the loss is
    ``max(tau * (y - q), (tau - 1) * (y - q))``; at ``tau = 0.5`` it is half
    the absolute error.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    y_quantiles : array-like of shape ``y_true.shape + (n_quantiles,)``
        Quantile forecasts, as returned by ``predict_quantiles``; they need
        not be sorted.
    quantiles : array-like of shape (n_quantiles,)
        Distinct levels strictly inside (0, 1), in the order of the last axis
        of ``y_quantiles``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        How the outputs of ``y_true`` are combined, as in
        :func:`mean_squared_error`.
    average_quantiles : bool, default=True
        Average over the quantile levels. If False, the result gains a last
        axis of length ``n_quantiles`` (one loss per level).

    Returns
    -------
    loss : float or ndarray
        Shaped as described under ``multioutput``, with a trailing
        ``(n_quantiles,)`` axis when ``average_quantiles=False``.

    References
    ----------
    .. [1] Koenker, R. and Bassett, G. (1978). Regression quantiles.
       Econometrica, 46(1), 33-50.

    Examples
    --------
    >>> from skyield.metrics import pinball_loss
    >>> pinball_loss([1.0, 3.0], [[0.0, 2.0], [0.0, 2.0]], quantiles=[0.1, 0.9],
    ...              average_quantiles=False)
    array([0.2, 0.5])
    """
    y_true, y_quantiles, levels = check_quantile_predictions(y_true, y_quantiles, quantiles)
    n_out = y_true.ndim - 1
    multioutput = check_multioutput(multioutput, n_out)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    losses = _pinball(y_true, y_quantiles, levels)
    if average_quantiles:
        losses = losses.mean(axis=-1)
    return aggregate(
        losses, sample_weight=sample_weight, multioutput=multioutput, n_output_dims=n_out
    )


def crps_from_quantiles(
    y_true, y_quantiles, quantiles, *, sample_weight=None, multioutput="uniform_average"
):
    """Continuous ranked probability score approximated from quantile forecasts.

    The CRPS of a predictive distribution with quantile function ``F^{-1}`` is
    twice its pinball loss integrated over all levels,
    ``CRPS(F, y) = 2 * integral_0^1 rho_tau(y - F^{-1}(tau)) dtau``
    (Laio and Tamea, 2007; Gneiting and Ranjan, 2011). With ``K`` levels this
    function uses the equal-weight rule

    .. math::

        \\mathrm{CRPS}(F, y) \\approx \\frac{2}{K}\\sum_{k=1}^{K}
            \\rho_{\\tau_k}\\left(y - q_{\\tau_k}\\right),

    which converges to the CRPS for equally spaced levels such as
    ``tau_k = k / (K + 1)`` as ``K`` grows. With few or unevenly spaced
    levels it is a quantile-weighted score rather than the CRPS itself (the
    tails beyond the extreme levels are left out), so compare models only on
    the same levels.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    y_quantiles : array-like of shape ``y_true.shape + (n_quantiles,)``
        Quantile forecasts at ``quantiles``.
    quantiles : array-like of shape (n_quantiles,)
        Distinct levels strictly inside (0, 1).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`.

    Returns
    -------
    crps : float or ndarray
        Shaped as described under ``multioutput``; lower is better.

    References
    ----------
    .. [1] Gneiting, T. and Raftery, A. E. (2007). Strictly proper scoring rules,
       prediction, and estimation. Journal of the American Statistical
       Association, 102(477), 359-378.
    .. [2] Laio, F. and Tamea, S. (2007). Verification tools for probabilistic
       forecasts of continuous hydrological variables. Hydrology and Earth
       System Sciences, 11(4), 1267-1277.
    .. [3] Gneiting, T. and Ranjan, R. (2011). Comparing density forecasts using
       threshold- and quantile-weighted scoring rules. Journal of Business &
       Economic Statistics, 29(3), 411-422.

    Examples
    --------
    >>> from skyield.metrics import crps_from_quantiles
    >>> crps_from_quantiles([1.0], [[0.0, 2.0]], quantiles=[0.25, 0.75])
    0.5
    """
    y_true, y_quantiles, levels = check_quantile_predictions(y_true, y_quantiles, quantiles)
    n_out = y_true.ndim - 1
    multioutput = check_multioutput(multioutput, n_out)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    scores = 2.0 * _pinball(y_true, y_quantiles, levels).mean(axis=-1)
    return aggregate(
        scores, sample_weight=sample_weight, multioutput=multioutput, n_output_dims=n_out
    )
