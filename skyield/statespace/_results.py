"""Result containers of the filters, the smoother and the forecasts.

Shape contract (as in pyro's ``contrib.forecast``): time is the axis just left of the
model dimensions, every batch dimension lies to its left. ``batch`` below is the
broadcast batch shape of the parameters and the observations.
"""

from dataclasses import dataclass, fields
from functools import cached_property

import torch

from ._model import StateSpaceModel
from ._observations import matvec


def _to_numpy(obj, names):
    return {name: getattr(obj, name).detach().cpu().numpy() for name in names}


@dataclass(frozen=True, eq=False)
class FilterResult:
    """Output of :func:`kalman_filter` and :func:`parallel_kalman_filter`.

    All arrays are float64 torch tensors on the device of the inputs, connected to the
    autograd graph of the inputs; :meth:`to_numpy` returns detached numpy copies.

    Attributes
    ----------
    loglike : Tensor of shape (*batch,)
        Log-likelihood of the observed values (missing entries skipped).
    loglike_t : Tensor of shape (*batch, n)
        Contribution of each date; zero for a fully missing date.
    filtered_state : Tensor of shape (*batch, n, k)
        ``E[a_t | y_1..y_t]``.
    filtered_cov : Tensor of shape (*batch, n, k, k)
        ``Var[a_t | y_1..y_t]``.
    predicted_state : Tensor of shape (*batch, n + 1, k)
        ``E[a_t | y_1..y_{t-1}]`` for ``t = 1..n+1``: entry 0 is ``a0`` and entry ``n`` the
        one-step forecast beyond the sample.
    predicted_cov : Tensor of shape (*batch, n + 1, k, k)
        ``Var[a_t | y_1..y_{t-1}]``, aligned with ``predicted_state``.
    model : StateSpaceModel
        The validated model (with the resolved ``a0``, ``P0``).
    y : Tensor of shape (*batch_y, n, M)
        The observations, NaN where missing.
    """

    loglike: torch.Tensor
    loglike_t: torch.Tensor
    filtered_state: torch.Tensor
    filtered_cov: torch.Tensor
    predicted_state: torch.Tensor
    predicted_cov: torch.Tensor
    model: StateSpaceModel
    y: torch.Tensor

    @cached_property
    def forecast(self):
        """Tensor of shape (*batch, n, M): ``E[y_t | y_1..y_{t-1}] = d + Z a_{t|t-1}``.

        Given for every entry, observed or not.
        """
        m = self.model
        return m.d[..., None, :] + matvec(m.Z[..., None, :, :], self.predicted_state[..., :-1, :])

    @cached_property
    def forecast_error(self):
        """Tensor of shape (*batch, n, M): ``y_t - forecast``, NaN where ``y_t`` is missing."""
        return self.y - self.forecast

    @cached_property
    def forecast_cov(self):
        """Tensor of shape (*batch, n, M, M): ``Z P_{t|t-1} Z' + H`` (all entries)."""
        m = self.model
        Z = m.Z[..., None, :, :]
        return Z @ self.predicted_cov[..., :-1, :, :] @ Z.mT + m.H[..., None, :, :]

    def to_numpy(self):
        """Detached numpy copies of all arrays, forecasts included.

        Returns
        -------
        dict of str to ndarray
            Keys ``loglike``, ``loglike_t``, ``filtered_state``, ``filtered_cov``,
            ``predicted_state``, ``predicted_cov``, ``forecast``, ``forecast_error`` and
            ``forecast_cov``, with the shapes documented on the class.
        """
        names = [f.name for f in fields(self) if f.name not in ("model", "y")]
        return _to_numpy(self, names + ["forecast", "forecast_error", "forecast_cov"])


@dataclass(frozen=True, eq=False)
class SmootherResult:
    """Output of :func:`kalman_smoother`.

    Attributes
    ----------
    smoothed_state : Tensor of shape (*batch, n, k)
        ``E[a_t | y_1..y_n]``.
    smoothed_cov : Tensor of shape (*batch, n, k, k)
        ``Var[a_t | y_1..y_n]``.
    filter_result : FilterResult
        The filter pass the smoother ran on.
    """

    smoothed_state: torch.Tensor
    smoothed_cov: torch.Tensor
    filter_result: FilterResult

    def to_numpy(self):
        """Detached numpy copies of ``smoothed_state`` and ``smoothed_cov`` (a dict)."""
        return _to_numpy(self, ["smoothed_state", "smoothed_cov"])


@dataclass(frozen=True, eq=False)
class ForecastMoments:
    """Output of :func:`forecast_moments`: h-step-ahead Gaussian moments, h = 1..steps.

    With ``origins="last"`` the arrays have shape (*batch, steps, ...); with
    ``origins="all"`` one more axis, (*batch, n, steps, ...), indexes the forecast origin.

    Attributes
    ----------
    state_mean : Tensor of shape (*batch, [n,] steps, k)
    state_cov : Tensor of shape (*batch, [n,] steps, k, k)
    obs_mean : Tensor of shape (*batch, [n,] steps, M)
    obs_cov : Tensor of shape (*batch, [n,] steps, M, M)
    """

    state_mean: torch.Tensor
    state_cov: torch.Tensor
    obs_mean: torch.Tensor
    obs_cov: torch.Tensor

    def to_numpy(self):
        """Detached numpy copies of the four arrays (a dict keyed by field name)."""
        return _to_numpy(self, [f.name for f in fields(self)])
