"""Point-forecast errors with a breakdown by forecast horizon and maturity.

scikit-learn's regression metrics accept only 1-D or 2-D targets and average
per-output RMSEs; yield-curve forecasts are (n, horizon, n_maturities) and
fixed-income tables report pooled errors per horizon and per maturity, hence
these small functions.
"""

import numpy as np

from ._validation import (
    aggregate,
    as_float_array,
    check_multioutput,
    check_same_shape,
    check_sample_weight,
)

__all__ = ["mean_absolute_error", "mean_squared_error", "root_mean_squared_error"]


def _errors(y_true, y_pred, sample_weight, multioutput):
    y_true = as_float_array(y_true, "y_true")
    y_pred = as_float_array(y_pred, "y_pred")
    check_same_shape(y_true, y_pred, "y_true", "y_pred")
    n_output_dims = y_true.ndim - 1
    multioutput = check_multioutput(multioutput, n_output_dims)
    sample_weight = check_sample_weight(sample_weight, y_true.shape[0])
    return y_pred - y_true, sample_weight, multioutput, n_output_dims


def mean_squared_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Mean squared error, pooled over samples (eq. 5.1 of Richman & Scognamiglio).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    y_pred : array-like of the same shape as ``y_true``
        Point forecasts.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        How the outputs (every axis after the first) are combined:

        - ``"uniform_average"``: one number, the mean over all outputs; with
          equal sample weights this is eq. 5.1, the mean over every sample,
          horizon and maturity;
        - ``"raw_values"``: one value per output, shape ``y_true.shape[1:]``,
          i.e. ``(n_maturities,)`` or ``(horizon, n_maturities)``;
        - ``"by_horizon"``: shape ``(horizon,)``, pooled over maturities
          (3-D ``y_true`` only);
        - ``"by_maturity"``: shape ``(n_maturities,)``, pooled over horizons;
        - array-like of non-negative weights broadcastable to
          ``y_true.shape[1:]`` (e.g. ``(n_maturities,)`` duration weights):
          their weighted average, one number.

    Returns
    -------
    loss : float or ndarray
        A float, or an ndarray of the shape described under ``multioutput``
        (a float for ``"raw_values"`` with 1-D ``y_true``).

    See Also
    --------
    root_mean_squared_error : The root of this loss, taken after pooling.

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, eq. 5.1.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import mean_squared_error
    >>> y_true = np.zeros((2, 3, 2))          # 2 origins, 3 horizons, 2 maturities
    >>> y_pred = np.ones((2, 3, 2)) * np.array([1.0, 2.0])
    >>> mean_squared_error(y_true, y_pred)
    2.5
    >>> mean_squared_error(y_true, y_pred, multioutput="by_maturity")
    array([1., 4.])
    """
    errors, weight, multioutput, n_out = _errors(y_true, y_pred, sample_weight, multioutput)
    return aggregate(errors**2, sample_weight=weight, multioutput=multioutput, n_output_dims=n_out)


def root_mean_squared_error(
    y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"
):
    """Root mean squared error, the root taken after pooling.

    Unlike :func:`sklearn.metrics.root_mean_squared_error`, which averages the
    per-output RMSEs, the square root is applied to the pooled mean squared
    error, so ``root_mean_squared_error(...) ** 2 == mean_squared_error(...)``
    for every ``multioutput`` option: the RMSE "by horizon" is the root of the
    mean squared error over all samples and maturities at that horizon, as
    reported in term-structure forecasting tables.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    y_pred : array-like of the same shape as ``y_true``
        Point forecasts.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`.

    Returns
    -------
    loss : float or ndarray
        A float, or an ndarray of shape ``y_true.shape[1:]`` (``"raw_values"``),
        ``(horizon,)`` (``"by_horizon"``) or ``(n_maturities,)``
        (``"by_maturity"``).

    References
    ----------
    .. [1] Diebold, F. X. and Li, C. (2006). Forecasting the term structure of
       government bond yields. Journal of Econometrics, 130(2), 337-364.

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.metrics import root_mean_squared_error
    >>> y_true = np.zeros((2, 2, 2))
    >>> y_pred = np.array([[[3.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 0.0]]])
    >>> root_mean_squared_error(y_true, y_pred, multioutput="by_horizon")
    array([2.12132034, 0.        ])
    """
    mse = mean_squared_error(
        y_true, y_pred, sample_weight=sample_weight, multioutput=multioutput
    )
    return float(np.sqrt(mse)) if isinstance(mse, float) else np.sqrt(mse)


def mean_absolute_error(y_true, y_pred, *, sample_weight=None, multioutput="uniform_average"):
    """Mean absolute error, pooled over samples (eq. 5.2 of Richman & Scognamiglio).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), (n_samples, n_maturities) or \
            (n_samples, horizon, n_maturities)
        Observed values.
    y_pred : array-like of the same shape as ``y_true``
        Point forecasts.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples (first axis).
    multioutput : {"uniform_average", "raw_values", "by_horizon", "by_maturity"} \
            or array-like, default="uniform_average"
        As in :func:`mean_squared_error`.

    Returns
    -------
    loss : float or ndarray
        A float, or an ndarray of shape ``y_true.shape[1:]`` (``"raw_values"``),
        ``(horizon,)`` (``"by_horizon"``) or ``(n_maturities,)``
        (``"by_maturity"``).

    References
    ----------
    .. [1] Richman, R. and Scognamiglio, S. (2024). Multiple yield curve modeling
       and forecasting using deep learning. ASTIN Bulletin, eq. 5.2.

    Examples
    --------
    >>> from skyield.metrics import mean_absolute_error
    >>> mean_absolute_error([[0.0, 0.0], [0.0, 0.0]], [[1.0, -3.0], [1.0, 1.0]],
    ...                     multioutput="raw_values")
    array([1., 2.])
    """
    errors, weight, multioutput, n_out = _errors(y_true, y_pred, sample_weight, multioutput)
    return aggregate(
        np.abs(errors), sample_weight=weight, multioutput=multioutput, n_output_dims=n_out
    )
