import numpy as np
import pytest
from scipy import stats

from skyield.datasets import (
    dfm_error_logpdf,
    dfm_measurement_mean,
    dfm_state_mean,
    make_dfm_process,
)
from skyield.statespace import kalman_filter
from skyield.statespace._particle_filter import (
    auxiliary_particle_filter,
    systematic_resample,
)

PHI, SIGMA_X = 0.9, 0.5
LOADINGS = np.array([1.0, 0.6, -0.8])
NOISE = np.array([0.6, 0.4, 0.7])


@pytest.fixture(scope="module")
def linear_gaussian():
    rng = np.random.RandomState(0)
    n = 300
    x = np.zeros(n)
    x[0] = rng.normal(scale=SIGMA_X / np.sqrt(1 - PHI**2))
    for t in range(1, n):
        x[t] = PHI * x[t - 1] + SIGMA_X * rng.normal()
    Y = 0.2 + x[:, None] * LOADINGS + NOISE * rng.normal(size=(n, 3))
    kalman = kalman_filter(Y, LOADINGS[:, None], [[PHI]], np.diag(NOISE**2),
                           [[SIGMA_X**2]], d=np.full(3, 0.2)).to_numpy()
    return x, Y, kalman


def _linear_filter(Y, n_particles, random_state, **kwargs):
    rng = np.random.RandomState(123)
    initial = rng.normal(scale=SIGMA_X / np.sqrt(1 - PHI**2), size=(n_particles, 1))
    return auxiliary_particle_filter(
        Y, initial,
        transition_mean=lambda p, t: PHI * p,
        propagate=lambda p, t, r: PHI * p + SIGMA_X * r.normal(size=p.shape),
        measurement_logpdf=lambda y, p, t: stats.norm.logpdf(
            y - 0.2 - p * LOADINGS, scale=NOISE).sum(axis=1),
        random_state=random_state, **kwargs)


def test_approaches_the_kalman_filter(linear_gaussian):
    _, Y, kalman = linear_gaussian
    result = _linear_filter(Y, 4000, 0, roughening=0.0)
    particle = result.filtered_state[:, 0]
    exact = kalman["filtered_state"][:, 0]
    assert np.corrcoef(particle, exact)[0, 1] > 0.999
    assert np.sqrt(np.mean((particle - exact) ** 2)) < 0.03 * np.std(exact)
    # The filtered spread and the likelihood estimate agree with the exact ones too.
    relative = result.filtered_std[:, 0] / np.sqrt(kalman["filtered_cov"][:, 0, 0]) - 1
    assert np.median(np.abs(relative)) < 0.05
    assert result.loglike == pytest.approx(float(kalman["loglike"]), abs=2.0)


def test_roughening_keeps_it_close(linear_gaussian):
    _, Y, kalman = linear_gaussian
    result = _linear_filter(Y, 2000, 1, roughening=0.2, ess_threshold=0.9)
    assert result.resampled.any()
    assert np.corrcoef(result.filtered_state[:, 0], kalman["filtered_state"][:, 0])[0, 1] \
        > 0.99


def test_reproducible_and_seed_dependent(linear_gaussian):
    _, Y, _ = linear_gaussian
    a = _linear_filter(Y[:50], 300, 7)
    b = _linear_filter(Y[:50], 300, 7)
    c = _linear_filter(Y[:50], 300, 8)
    np.testing.assert_array_equal(a.filtered_state, b.filtered_state)
    assert not np.array_equal(a.filtered_state, c.filtered_state)


def test_missing_dates_propagate_without_weighting(linear_gaussian):
    _, Y, _ = linear_gaussian
    Y = Y[:40].copy()
    Y[10] = np.nan
    result = _linear_filter(Y, 300, 0)
    assert np.all(np.isfinite(result.filtered_state))
    assert result.loglike_t[10] == 0.0


def test_systematic_resample_counts():
    rng = np.random.RandomState(0)
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    counts = np.bincount(systematic_resample(np.repeat(weights, 25) / 25, rng) // 25,
                         minlength=4)
    np.testing.assert_array_equal(counts, [10, 20, 30, 40])


def test_bad_callables_are_reported():
    Y = np.zeros((5, 1))
    with pytest.raises(ValueError, match="propagate returned an array of shape"):
        auxiliary_particle_filter(Y, np.zeros((10, 1)), lambda p, t: p,
                                  lambda p, t, r: p[:5], lambda y, p, t: np.zeros(len(p)))
    with pytest.raises(ValueError, match="measurement_logpdf returned shape"):
        auxiliary_particle_filter(Y, np.zeros((10, 1)), lambda p, t: p,
                                  lambda p, t, r: p, lambda y, p, t: np.zeros(3))
    with pytest.raises(ValueError, match="zero look-ahead weight at date 0"):
        auxiliary_particle_filter(Y, np.zeros((10, 1)), lambda p, t: p, lambda p, t, r: p,
                                  lambda y, p, t: np.full(len(p), -np.inf))
    with pytest.raises(ValueError, match="roughen must be a boolean mask"):
        auxiliary_particle_filter(Y, np.zeros((10, 2)), lambda p, t: p, lambda p, t, r: p,
                                  lambda y, p, t: np.zeros(len(p)), roughen=[True])
    with pytest.raises(ValueError, match="ess_threshold"):
        auxiliary_particle_filter(Y, np.zeros((10, 1)), lambda p, t: p, lambda p, t, r: p,
                                  lambda y, p, t: np.zeros(len(p)), ess_threshold=2.0)


def test_oracle_beats_the_cross_sectional_mean_on_a_nonlinear_process():
    """With the true densities of process 2 (spow measurements, t errors)."""
    data = make_dfm_process(2, 400, random_state=0)
    params = data.params
    rng = np.random.RandomState(0)
    initial = rng.normal(size=(1000, 1))  # the state has unit stationary variance

    result = auxiliary_particle_filter(
        data.observables, initial,
        transition_mean=lambda p, t: dfm_state_mean(params, p)[:, None],
        propagate=lambda p, t, r: dfm_state_mean(params, p)[:, None]
        + params["sigma_x"] * r.normal(size=p.shape),
        measurement_logpdf=lambda y, p, t: dfm_error_logpdf(
            params, y - dfm_measurement_mean(params, p[:, 0])),
        roughen=[True], random_state=0)
    oracle = result.filtered_state[:, 0]
    mean = data.observables.mean(axis=1)
    r_oracle = np.corrcoef(oracle, data.factor)[0, 1]
    r_mean = abs(np.corrcoef(mean, data.factor)[0, 1])
    assert r_oracle > 0.85 and r_oracle > r_mean + 0.05
