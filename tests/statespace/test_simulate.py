"""Simulation of the state space model: reproducibility, exact cases, moments, errors."""

import numpy as np
import pytest
import torch
from scipy.linalg import solve_discrete_lyapunov
from threadpoolctl import threadpool_limits

from skyield.statespace import simulate_state_space

Z = np.array([[1.0, 0.0], [1.0, 0.5], [1.0, 1.0]])
T = np.array([[0.9, 0.05], [0.0, 0.7]])
Q = np.array([[0.2, 0.05], [0.05, 0.1]])
H = 0.01 * np.eye(3)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny tensors: extra intra-op threads only wait for cores shared with other tests.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def test_same_seed_gives_identical_draws():
    a = simulate_state_space(Z, T, H, Q, n=50, a0=np.zeros(2), P0=np.eye(2), random_state=7)
    b = simulate_state_space(Z, T, H, Q, n=50, a0=np.zeros(2), P0=np.eye(2), random_state=np.random.RandomState(7))
    c = simulate_state_space(Z, T, H, Q, n=50, a0=np.zeros(2), P0=np.eye(2), random_state=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == (50, 3) and a[1].shape == (50, 2)


def test_noise_free_paths_are_exact():
    a0 = np.array([1.0, -2.0])
    c = np.array([0.1, 0.2])
    d = np.array([0.5, 0.0, -0.5])
    y, states = simulate_state_space(Z, T, np.zeros((3, 3)), np.zeros((2, 2)), n=6, a0=a0, c=c, d=d, random_state=0)
    expected = [a0]
    for _ in range(5):
        expected.append(c + T @ expected[-1])
    np.testing.assert_allclose(states, np.array(expected), rtol=1e-15)
    np.testing.assert_allclose(y, d + states @ Z.T, rtol=1e-15)


def test_stationary_moments_are_reproduced():
    n = 20000
    _, states = simulate_state_space(Z, T, H, Q, n=n, a0=np.zeros(2), c=np.array([0.1, 0.3]), random_state=1)
    mean = np.linalg.solve(np.eye(2) - T, [0.1, 0.3])
    cov = solve_discrete_lyapunov(T, Q)
    # Effective sample size is reduced by the persistence (rho = 0.9): allow 5 std errors.
    se = np.sqrt(np.diag(cov) / n * (1 + 0.9) / (1 - 0.9))
    assert (np.abs(states[100:].mean(0) - mean) < 5 * se).all()
    np.testing.assert_allclose(np.cov(states[100:].T), cov, rtol=0.1)


def test_simulation_errors():
    with pytest.raises(ValueError, match=r"T must have shape \(2, 2\); got shape \(3, 3\)"):
        simulate_state_space(Z, np.eye(3), H, Q, n=5, a0=np.zeros(2))
    with pytest.raises(ValueError, match=r"a0 must have shape \(2,\); got shape \(3,\)"):
        simulate_state_space(Z, T, H, Q, n=5, a0=np.zeros(3))
    with pytest.raises(ValueError, match=r"Q must be positive semi-definite"):
        simulate_state_space(Z, T, H, -Q, n=5, a0=np.zeros(2))
    with pytest.raises(ValueError, match=r"H must be symmetric"):
        simulate_state_space(Z, T, np.triu(np.ones((3, 3))), Q, n=5, a0=np.zeros(2))
    with pytest.raises(ValueError, match=r"n must be at least 1; got 0"):
        simulate_state_space(Z, T, H, Q, n=0, a0=np.zeros(2))
    with pytest.raises(TypeError, match=r"n must be an integer; got float"):
        simulate_state_space(Z, T, H, Q, n=5.0, a0=np.zeros(2))
    with pytest.raises(ValueError, match=r"c contains NaN or infinite values"):
        simulate_state_space(Z, T, H, Q, n=5, a0=np.zeros(2), c=np.array([np.nan, 0.0]))
