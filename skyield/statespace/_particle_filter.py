"""Auxiliary particle filter for nonlinear, non-Gaussian state space models.

The oracle of the dynamic-factor Monte Carlo (Snellman, section 3.1): filtering with the
true transition and measurement densities of a simulated process. The model is given by
three callables, vectorised over particles, so one filter serves any process::

    state_t ~ p(state_t | state_{t-1})         propagate(particles, t, rng)
    E[state_t | state_{t-1}]                   transition_mean(particles, t)
    log p(y_t | state_t)                       measurement_logpdf(y_t, particles, t)

A particle is a vector: lags, a previous shock or a regime indicator can be carried in
its columns when the process needs them. Each date runs the paper's seven steps:

1. look-ahead weights ``w_{t-1} p(y_t | x~_t)`` at the deterministic predictor
   ``x~_t = E[x_t | x_{t-1}]`` (Pitt and Shephard, 1999);
2. systematic resampling of the particles with those weights (Kitagawa, 1996);
3. propagation through the true transition;
4. weight correction by ``p(y_t | x_t) / p(y_t | x~_t)``;
5. adaptive resampling when the effective sample size ``1 / sum w^2`` falls below
   ``ess_threshold`` times the number of particles (Kong, Liu and Wong, 1994);
6. roughening of the resampled particles: Gaussian jitter with standard deviation
   ``roughening * range * n_particles ** (-1 / d)`` per roughened dimension (Gordon,
   Salmond and Smith, 1993);
7. the filtered estimate, the weighted mean of the particles. It is taken from the
   weighted particles of step 4, before steps 5-6: the same expectation, without the
   extra noise that resampling and roughening add.

Written with numpy rather than taken from a library: the ``particles`` package has
auxiliary particle filters, but it is not a skyield dependency and wants each model built
from its own distribution classes, which the skewed-t shocks, multivariate-t errors and
regime switches of the Monte Carlo processes would all need written for it; filterpy has
only the bootstrap filter. Here the simulator's vectorised log-densities plug in as they
are. The code is short and its known-answer test is the Kalman filter on a linear Gaussian
model.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp
from sklearn.utils import check_random_state

__all__ = ["ParticleFilterResult", "auxiliary_particle_filter", "systematic_resample"]


@dataclass(frozen=True)
class ParticleFilterResult:
    """Output of :func:`auxiliary_particle_filter`.

    Attributes
    ----------
    filtered_state : ndarray of shape (n_dates, state_dim)
        Weighted particle mean ``E[state_t | y_1..y_t]``.
    filtered_std : ndarray of shape (n_dates, state_dim)
        Weighted particle standard deviation of each state dimension.
    loglike : float
        Estimate of the log-likelihood ``log p(y_1..y_n)``.
    loglike_t : ndarray of shape (n_dates,)
        Contribution of each date (zero for a date without observations).
    ess : ndarray of shape (n_dates,)
        Effective sample size after the weight correction (step 4).
    resampled : ndarray of shape (n_dates,) of bool
        Whether the adaptive resampling of step 5 took place.
    """

    filtered_state: np.ndarray
    filtered_std: np.ndarray
    loglike: float
    loglike_t: np.ndarray
    ess: np.ndarray
    resampled: np.ndarray


def systematic_resample(weights, rng):
    """Indices of a systematic resample of particles with normalised ``weights``.

    Parameters
    ----------
    weights : ndarray of shape (n_particles,)
        Non-negative weights summing to one.
    rng : numpy.random.RandomState
        Source of the single uniform draw.

    Returns
    -------
    indices : ndarray of shape (n_particles,) of int

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.statespace import systematic_resample
    >>> systematic_resample(np.array([0.5, 0.0, 0.5, 0.0]), np.random.RandomState(0))
    array([0, 0, 2, 2])
    """
    n = weights.shape[0]
    positions = (rng.uniform() + np.arange(n)) / n
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0
    return np.minimum(np.searchsorted(cumulative, positions, side="right"), n - 1)


def _check_particles(particles, n_particles, state_dim, what):
    particles = np.asarray(particles, dtype=float)
    if particles.shape != (n_particles, state_dim):
        raise ValueError(
            f"{what} returned an array of shape {particles.shape}; expected "
            f"({n_particles}, {state_dim}), one row per particle"
        )
    return particles


def _check_loglik(values, n_particles, t, what):
    values = np.asarray(values, dtype=float)
    if values.shape != (n_particles,):
        raise ValueError(
            f"measurement_logpdf returned shape {values.shape} at date {t} ({what}); "
            f"expected ({n_particles},), one log-density per particle"
        )
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError(f"measurement_logpdf returned NaN or +inf at date {t} ({what})")
    return values


def _normalise(log_weights, t, step):
    total = logsumexp(log_weights)
    if not np.isfinite(total):
        raise ValueError(
            f"every particle has zero {step} weight at date {t}: the observation is "
            f"impossible under the model for all particles; use more particles or check "
            f"the densities"
        )
    return np.exp(log_weights - total), total


def auxiliary_particle_filter(Y, initial_particles, transition_mean, propagate,
                              measurement_logpdf, *, ess_threshold=0.5, roughening=0.2,
                              roughen=None, random_state=None):
    """Filter a state from observations with the auxiliary particle filter.

    Parameters
    ----------
    Y : array-like of shape (n_dates, n_series)
        Observations in time order. A row that is entirely NaN is a date without
        observations: the particles are propagated and not weighted.
    initial_particles : array-like of shape (n_particles, state_dim) or (n_particles,)
        Draws of the state *before* the first date (e.g. from its stationary
        distribution); the filter propagates them to the first date.
    transition_mean : callable
        ``transition_mean(particles, t) -> ndarray of shape (n_particles, state_dim)``,
        the deterministic predictor ``E[state_t | state_{t-1}]`` used for the look-ahead
        weights (step 1).
    propagate : callable
        ``propagate(particles, t, rng) -> ndarray of shape (n_particles, state_dim)``,
        a draw of ``state_t`` for each particle of ``state_{t-1}`` (step 3); ``rng`` is
        a :class:`numpy.random.RandomState`.
    measurement_logpdf : callable
        ``measurement_logpdf(y_t, particles, t) -> ndarray of shape (n_particles,)``, the
        log-density ``log p(y_t | state_t)`` (``-inf`` allowed). ``t`` is the row of
        ``Y``, so models with lagged observations can read ``Y`` themselves.
    ess_threshold : float, default=0.5
        Resample when the effective sample size drops below this share of the particles
        (step 5); 0 never resamples there, 1 always does.
    roughening : float, default=0.2
        Tuning constant ``K`` of the roughening jitter (step 6); 0 switches it off.
    roughen : array-like of bool of shape (state_dim,), default=None
        Which state dimensions are roughened; None roughens all. Leave discrete
        dimensions (regimes) out.
    random_state : int, RandomState instance or None, default=None
        Seed of the resampling, propagation and roughening draws.

    Returns
    -------
    result : ParticleFilterResult
        Filtered means and standard deviations, the log-likelihood estimate, the
        effective sample sizes and where resampling took place.

    Raises
    ------
    ValueError
        For inputs of the wrong shape, callables returning arrays of the wrong shape or
        NaN log-densities, or a date where every particle has zero weight.

    References
    ----------
    Snellman, "Nonlinear Dynamic Factor Analysis With a Transformer Network", section 3.1.
    Pitt, M. K. and Shephard, N. (1999). Filtering via simulation: auxiliary particle
    filters. JASA 94(446), 590-599.
    Kitagawa, G. (1996). Monte Carlo filter and smoother for non-Gaussian nonlinear state
    space models. JCGS 5(1), 1-25.
    Gordon, N., Salmond, D. and Smith, A. (1993). Novel approach to nonlinear/non-Gaussian
    Bayesian state estimation. IEE Proceedings F 140(2), 107-113.

    Examples
    --------
    A linear Gaussian AR(1) factor seen through two noisy series:

    >>> import numpy as np
    >>> from scipy import stats
    >>> from skyield.statespace import auxiliary_particle_filter
    >>> rng = np.random.RandomState(0)
    >>> x = np.zeros(100)
    >>> for t in range(1, 100):
    ...     x[t] = 0.9 * x[t - 1] + 0.5 * rng.normal()
    >>> Y = x[:, None] + 0.5 * rng.normal(size=(100, 2))
    >>> result = auxiliary_particle_filter(
    ...     Y, rng.normal(size=(500, 1)),
    ...     transition_mean=lambda p, t: 0.9 * p,
    ...     propagate=lambda p, t, r: 0.9 * p + 0.5 * r.normal(size=p.shape),
    ...     measurement_logpdf=lambda y, p, t: stats.norm.logpdf(y - p, scale=0.5).sum(1),
    ...     random_state=0)
    >>> result.filtered_state.shape
    (100, 1)
    >>> bool(np.corrcoef(result.filtered_state[:, 0], x)[0, 1] > 0.9)
    True
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or Y.shape[0] == 0:
        raise ValueError(f"Y must have shape (n_dates, n_series), got shape {Y.shape}")
    if np.any(np.isinf(Y)):
        row, col = np.argwhere(np.isinf(Y))[0]
        raise ValueError(f"Y contains an infinite value at row {row}, column {col}")
    particles = np.asarray(initial_particles, dtype=float)
    if particles.ndim == 1:
        particles = particles[:, None]
    if particles.ndim != 2 or particles.shape[0] < 2 or not np.all(np.isfinite(particles)):
        raise ValueError(
            f"initial_particles must be a finite array of shape (n_particles, state_dim) "
            f"with at least 2 particles, got shape {particles.shape}"
        )
    for name, value, low, high in (("ess_threshold", ess_threshold, 0.0, 1.0),
                                   ("roughening", roughening, 0.0, np.inf)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                not low <= value <= high:
            raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    n_particles, state_dim = particles.shape
    if roughen is None:
        roughen = np.ones(state_dim, dtype=bool)
    else:
        roughen = np.asarray(roughen, dtype=bool)
        if roughen.shape != (state_dim,):
            raise ValueError(
                f"roughen must be a boolean mask of shape ({state_dim},), one entry per "
                f"state dimension, got shape {roughen.shape}"
            )
    rng = check_random_state(random_state)
    jitter_scale = roughening * n_particles ** (-1.0 / max(int(roughen.sum()), 1))

    n_dates = Y.shape[0]
    filtered = np.empty((n_dates, state_dim))
    filtered_std = np.empty((n_dates, state_dim))
    loglike_t = np.zeros(n_dates)
    ess = np.empty(n_dates)
    resampled = np.zeros(n_dates, dtype=bool)
    weights = np.full(n_particles, 1.0 / n_particles)

    for t in range(n_dates):
        y_t = Y[t]
        if np.all(np.isnan(y_t)):
            particles = _check_particles(propagate(particles, t, rng), n_particles,
                                         state_dim, "propagate")
            with np.errstate(divide="ignore"):
                log_correction = np.log(weights)
        else:
            # Steps 1-2: look-ahead weights at the deterministic predictor, resample.
            predictor = _check_particles(transition_mean(particles, t), n_particles,
                                         state_dim, "transition_mean")
            look_ahead = _check_loglik(measurement_logpdf(y_t, predictor, t), n_particles,
                                       t, "look-ahead")
            with np.errstate(divide="ignore"):
                log_weights = np.log(weights)
            first_stage, first_total = _normalise(log_weights + look_ahead, t, "look-ahead")
            index = systematic_resample(first_stage, rng)
            # Step 3: propagate the selected particles through the true transition.
            particles = _check_particles(propagate(particles[index], t, rng), n_particles,
                                         state_dim, "propagate")
            # Step 4: correct by the likelihood ratio at the propagated particles.
            log_correction = _check_loglik(measurement_logpdf(y_t, particles, t),
                                           n_particles, t, "correction") - look_ahead[index]
        weights, correction_total = _normalise(log_correction, t, "corrected")
        if not np.all(np.isnan(y_t)):
            loglike_t[t] = first_total + correction_total - np.log(n_particles)
        # Step 7: the weighted mean (taken before steps 5-6 add resampling noise).
        mean = weights @ particles
        filtered[t] = mean
        filtered_std[t] = np.sqrt(np.maximum(weights @ (particles - mean) ** 2, 0.0))
        ess[t] = 1.0 / np.sum(weights**2)
        # Steps 5-6: adaptive resampling, then roughening of the resampled particles.
        if ess[t] < ess_threshold * n_particles:
            particles = particles[systematic_resample(weights, rng)]
            weights = np.full(n_particles, 1.0 / n_particles)
            resampled[t] = True
            if roughening > 0 and roughen.any():
                spread = np.ptp(particles[:, roughen], axis=0)
                particles[:, roughen] += rng.normal(size=(n_particles, int(roughen.sum()))) \
                    * (jitter_scale * spread)
    return ParticleFilterResult(
        filtered_state=filtered,
        filtered_std=filtered_std,
        loglike=float(loglike_t.sum()),
        loglike_t=loglike_t,
        ess=ess,
        resampled=resampled,
    )
