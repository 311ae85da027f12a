"""Kalman smoother: statsmodels reference, boundary identities, batching, gradients."""

import numpy as np
import pytest
import torch
from statsmodels.tsa.statespace.mlemodel import MLEModel
from threadpoolctl import threadpool_limits

from skyield.statespace import (
    SmootherResult,
    kalman_filter,
    kalman_smoother,
    parallel_kalman_filter,
    simulate_state_space,
    smooth_filtered,
)

MATURITIES = np.array([3, 6, 9, 12, 15, 18, 21, 24, 30, 36, 48, 60, 72, 84, 96, 108, 120.0])


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny tensors: extra intra-op threads only wait for cores shared with other tests.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def dns_model():
    """Dynamic Nelson-Siegel model (lambda = 0.0609, maturities in months), VAR(1) state."""
    x = 0.0609 * MATURITIES
    slope = (1 - np.exp(-x)) / x
    Z = np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])
    T = np.array([[0.99, 0.01, 0.0], [0.02, 0.95, 0.01], [0.0, 0.03, 0.90]])
    Q = np.array([[0.10, 0.02, 0.0], [0.02, 0.30, 0.05], [0.0, 0.05, 0.60]])
    H = np.diag(np.linspace(0.01, 0.05, 17) ** 2)
    return {"Z": Z, "T": T, "H": H, "Q": Q, "c": np.array([0.05, -0.02, 0.01]), "d": np.full(17, 0.01)}


@pytest.fixture(scope="module")
def dns():
    m = dns_model()
    y, _ = simulate_state_space(n=500, a0=np.linalg.solve(np.eye(3) - m["T"], m["c"]), random_state=3, **m)
    y_missing = y.copy()
    y_missing[np.random.default_rng(4).random(y.shape) < 0.1] = np.nan
    y_missing[[10, 250, 499]] = np.nan
    return m, y, y_missing


@pytest.mark.parametrize("missing", [False, True])
def test_matches_statsmodels_smoother(dns, missing):
    m, y, y_missing = dns
    y = y_missing if missing else y
    mod = MLEModel(y, k_states=3)
    for name, key in [("design", "Z"), ("obs_cov", "H"), ("transition", "T"), ("state_cov", "Q"),
                      ("obs_intercept", "d"), ("state_intercept", "c")]:
        mod.ssm[name] = m[key]
    mod.ssm["selection"] = np.eye(3)
    mod.ssm.initialize_stationary()
    mod.ssm.tolerance = 0
    ref = mod.ssm.smooth()
    res = kalman_smoother(y, **m)
    assert isinstance(res, SmootherResult)
    out = res.to_numpy()
    np.testing.assert_allclose(out["smoothed_state"], ref.smoothed_state.T, atol=1e-8)
    np.testing.assert_allclose(out["smoothed_cov"], ref.smoothed_state_cov.transpose(2, 0, 1), atol=1e-10)


def test_last_smoothed_equals_last_filtered(dns):
    m, _, y_missing = dns
    res = kalman_smoother(y_missing[:80], **m)
    filt = res.filter_result
    np.testing.assert_allclose(res.smoothed_state[-1].numpy(), filt.filtered_state[-1].numpy(), atol=1e-12)
    np.testing.assert_allclose(res.smoothed_cov[-1].numpy(), filt.filtered_cov[-1].numpy(), atol=1e-12)
    # Smoothing uses more information: never a larger variance than filtering.
    gap = (filt.filtered_cov - res.smoothed_cov).numpy()
    assert (np.linalg.eigvalsh(gap) > -1e-12).all()


def test_singular_state_noise():
    # An AR(2) in companion form: Q is singular, so the predicted covariance is too.
    T = np.array([[0.5, 0.3], [1.0, 0.0]])
    Q = np.array([[1.0, 0.0], [0.0, 0.0]])
    Z = np.array([[1.0, 0.0]])
    H = np.array([[0.2]])
    y, _ = simulate_state_space(Z, T, H, Q, n=30, a0=np.zeros(2), random_state=0)
    res = kalman_smoother(y, Z, T, H, Q)
    # The second state is the lagged first state, exactly, also after smoothing.
    np.testing.assert_allclose(res.smoothed_state[1:, 1].numpy(), res.smoothed_state[:-1, 0].numpy(), atol=1e-10)
    assert torch.isfinite(res.smoothed_cov).all()


def test_batched_smoother_matches_single_runs(dns):
    m, y, y_missing = dns
    y2 = np.stack([y[:50], y_missing[:50]])
    T = np.stack([m["T"], 0.8 * m["T"]])
    batched = kalman_smoother(y2, **{**m, "T": T})
    for i in range(2):
        single = kalman_smoother(y2[i], **{**m, "T": T[i]})
        np.testing.assert_allclose(batched.smoothed_state[i].numpy(), single.smoothed_state.numpy(), atol=1e-10)
        np.testing.assert_allclose(batched.smoothed_cov[i].numpy(), single.smoothed_cov.numpy(), atol=1e-12)


def test_smooth_filtered_accepts_parallel_filter(dns):
    m, _, y_missing = dns
    a = kalman_smoother(y_missing[:100], **m)
    b = smooth_filtered(parallel_kalman_filter(y_missing[:100], **m))
    np.testing.assert_allclose(b.smoothed_state.numpy(), a.smoothed_state.numpy(), atol=1e-8)
    with pytest.raises(TypeError, match="result must be a FilterResult; got dict"):
        smooth_filtered({"filtered_state": 1})


def test_gradcheck_smoother():
    rng = np.random.default_rng(8)
    y = rng.normal(size=(5, 2))
    y[1, 1] = np.nan
    y[3] = np.nan
    Z = torch.tensor(rng.normal(size=(2, 2)), requires_grad=True)
    T = torch.tensor([[0.6, 0.2], [0.0, 0.4]], dtype=torch.float64, requires_grad=True)
    H = np.array([[0.4, 0.1], [0.1, 0.3]])

    def smoothed(Z, T):
        res = kalman_smoother(y, Z, T, H, np.eye(2))
        return res.smoothed_state, res.smoothed_cov[0]

    assert torch.autograd.gradcheck(smoothed, (Z, T))


def test_smoother_matches_filter_for_one_date(dns):
    m, y, _ = dns
    res = kalman_smoother(y[:1], **m)
    filt = kalman_filter(y[:1], **m)
    np.testing.assert_allclose(res.smoothed_state.numpy(), filt.filtered_state.numpy(), atol=1e-12)
