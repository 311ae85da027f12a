"""State space filtering and smoothing.

Kalman filtering and smoothing for the time-invariant linear Gaussian model::

    y_t = d + Z a_t + eps_t,        eps_t ~ N(0, H)
    a_t = c + T a_{t-1} + eta_t,    eta_t ~ N(0, Q),        a_1 ~ N(a0, P0)

as pure functions on float64 PyTorch tensors, batched over parameter sets and
observations, NaN-aware and differentiable; and an auxiliary particle filter (numpy) for
nonlinear, non-Gaussian models. Estimators (dynamic Nelson-Siegel, the neural state space
model, factor models) own their parameterisations and call these functions.
"""

from ._forecast import forecast_moments
from ._kalman_filter import kalman_filter
from ._model import DIFFUSE_VARIANCE, StateSpaceModel, solve_discrete_lyapunov, stationary_moments
from ._parallel import parallel_kalman_filter
from ._particle_filter import ParticleFilterResult, auxiliary_particle_filter, systematic_resample
from ._results import FilterResult, ForecastMoments, SmootherResult
from ._simulate import simulate_state_space
from ._smoother import kalman_smoother, smooth_filtered

__all__ = [
    "DIFFUSE_VARIANCE",
    "FilterResult",
    "ForecastMoments",
    "ParticleFilterResult",
    "SmootherResult",
    "StateSpaceModel",
    "auxiliary_particle_filter",
    "forecast_moments",
    "kalman_filter",
    "kalman_smoother",
    "parallel_kalman_filter",
    "simulate_state_space",
    "smooth_filtered",
    "solve_discrete_lyapunov",
    "stationary_moments",
    "systematic_resample",
]
