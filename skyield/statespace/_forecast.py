"""h-step-ahead Gaussian forecasts from filtered states."""

import numbers

import torch

from ._observations import matvec
from ._results import FilterResult, ForecastMoments


def forecast_moments(result, steps, origins="last"):
    """Means and covariances of the states and observations h = 1..steps dates ahead.

    From the filtered moments ``a_{t|t}``, ``P_{t|t}`` of a forecast origin ``t``::

        a_{t+h|t} = c + T a_{t+h-1|t}          P_{t+h|t} = T P_{t+h-1|t} T' + Q
        E[y_{t+h} | y_1..y_t] = d + Z a_{t+h|t}
        Var[y_{t+h} | y_1..y_t] = Z P_{t+h|t} Z' + H

    Parameters
    ----------
    result : FilterResult
        Output of :func:`kalman_filter` or :func:`parallel_kalman_filter`.
    steps : int
        Largest horizon (>= 1).
    origins : {"last", "all"}, default="last"
        ``"last"`` forecasts from the last date of the sample (the usual out-of-sample
        forecast); ``"all"`` from every date, e.g. for a rolling evaluation with frozen
        parameters, where the forecast from date t uses y_1..y_t only.

    Returns
    -------
    ForecastMoments
        ``state_mean`` (*batch, [n,] steps, k), ``state_cov`` (*batch, [n,] steps, k, k),
        ``obs_mean`` (*batch, [n,] steps, M) and ``obs_cov`` (*batch, [n,] steps, M, M);
        the axis of length n (forecast origin) is present only with ``origins="all"``.
        Entry ``h - 1`` of the steps axis is the forecast h dates ahead.

    References
    ----------
    Kauffmann, Takada, Terada and Stern (2022), "Learning Forecast-Efficient Yield Curve
    Factor Decompositions with Neural Networks", Econometrics 10(2), 15, section 4.2
    (``y_hat_{t+h} = H F^h beta_{t|t}``).

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import forecast_moments, kalman_filter
    >>> y = np.random.default_rng(0).normal(size=(40, 2))
    >>> res = kalman_filter(y, np.ones((2, 1)), [[0.9]], np.eye(2), [[0.3]])
    >>> fc = forecast_moments(res, steps=4)
    >>> fc.obs_mean.shape, fc.obs_cov.shape
    (torch.Size([4, 2]), torch.Size([4, 2, 2]))
    """
    if not isinstance(result, FilterResult):
        raise TypeError(f"result must be a FilterResult; got {type(result).__name__}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be an integer; got {type(steps).__name__}.")
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}.")
    if origins not in ("last", "all"):
        raise ValueError(f"origins must be 'last' or 'all'; got {origins!r}.")
    m = result.model
    if origins == "last":
        mean, cov = result.filtered_state[..., -1, :], result.filtered_cov[..., -1, :, :]
        T, Q, c, Z, H, d = m.T, m.Q, m.c, m.Z, m.H, m.d
    else:
        mean, cov = result.filtered_state, result.filtered_cov
        T, Q, Z, H = (x[..., None, :, :] for x in (m.T, m.Q, m.Z, m.H))
        c, d = m.c[..., None, :], m.d[..., None, :]
    state_mean, state_cov = [], []
    for _ in range(steps):
        mean = c + matvec(T, mean)
        cov = T @ cov @ T.mT + Q
        state_mean.append(mean)
        state_cov.append(cov)
    state_mean = torch.stack(state_mean, dim=-2)
    state_cov = torch.stack(state_cov, dim=-3)
    Zh, Hh, dh = Z[..., None, :, :], H[..., None, :, :], d[..., None, :]
    obs_mean = dh + matvec(Zh, state_mean)
    obs_cov = Zh @ state_cov @ Zh.mT + Hh
    return ForecastMoments(
        state_mean=state_mean, state_cov=state_cov, obs_mean=obs_mean, obs_cov=obs_cov
    )
