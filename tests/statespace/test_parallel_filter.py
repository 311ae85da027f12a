"""Parallel-scan filter: agreement with the sequential filter, batching, gradients."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from skyield.statespace import kalman_filter, parallel_kalman_filter, simulate_state_space

MATURITIES = np.array([3, 6, 9, 12, 15, 18, 21, 24, 30, 36, 48, 60, 72, 84, 96, 108, 120.0])
FIELDS = ["loglike", "loglike_t", "filtered_state", "filtered_cov", "predicted_state", "predicted_cov"]


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
    return {"Z": Z, "T": T, "H": H, "Q": Q, "c": np.array([0.05, -0.02, 0.01]), "d": np.zeros(17)}


@pytest.fixture(scope="module")
def dns():
    m = dns_model()
    a0 = np.linalg.solve(np.eye(3) - m["T"], m["c"])
    y, _ = simulate_state_space(n=500, a0=a0, random_state=1, **m)
    y_missing = y.copy()
    y_missing[np.random.default_rng(2).random(y.shape) < 0.1] = np.nan
    y_missing[[0, 37, 38, 499]] = np.nan
    return m, y, y_missing


def assert_same(seq, par, rtol=1e-8, atol=1e-8):
    for name in FIELDS:
        a, b = getattr(seq, name).detach().numpy(), getattr(par, name).detach().numpy()
        if name.startswith("loglike"):
            np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_allclose(b, a, rtol=0, atol=atol, err_msg=name)


@pytest.mark.parametrize("init", ["stationary", "diffuse"])
@pytest.mark.parametrize("missing", [False, True])
def test_parallel_equals_sequential_on_dns_model(dns, init, missing):
    m, y, y_missing = dns
    y = y_missing if missing else y
    assert_same(kalman_filter(y, init=init, **m), parallel_kalman_filter(y, init=init, **m))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 13])
def test_scan_handles_every_length(dns, n):
    # Odd and even lengths exercise both branches of the odd/even recursion.
    m, _, y_missing = dns
    seq = kalman_filter(y_missing[30:30 + n], **m)
    par = parallel_kalman_filter(y_missing[30:30 + n], **m)
    assert par.filtered_state.shape == (n, 3)
    assert_same(seq, par, rtol=1e-10, atol=1e-10)


def test_parallel_batched_parameters_and_missing_values(dns):
    m, y, y_missing = dns
    scales = np.linspace(0.7, 1.0, 4)
    T = m["T"] * scales[:, None, None]
    H = m["H"] * (1 + scales)[:, None, None]
    y2 = np.stack([y[:120], y_missing[:120]])[:, None]  # (2, 1, 120, 17)
    args = dict(Z=m["Z"], T=T, H=H, Q=m["Q"], c=m["c"], d=m["d"])
    seq = kalman_filter(y2, **args)
    par = parallel_kalman_filter(y2, **args)
    assert par.loglike.shape == (2, 4)
    assert_same(seq, par)
    single = parallel_kalman_filter(y_missing[:120], **{**args, "T": T[2], "H": H[2]})
    np.testing.assert_allclose(par.loglike[1, 2].numpy(), single.loglike.numpy(), rtol=1e-10)


def test_known_start(dns):
    m, _, y_missing = dns
    start = {"a0": np.array([5.0, -1.0, 0.5]), "P0": np.diag([1.0, 2.0, 3.0])}
    assert_same(
        kalman_filter(y_missing[:64], init="known", **start, **m),
        parallel_kalman_filter(y_missing[:64], init="known", **start, **m),
    )


def test_gradcheck_parallel_filter():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(6, 2))
    y[2, 1] = np.nan
    y[4] = np.nan
    Z = torch.tensor(rng.normal(size=(2, 2)), requires_grad=True)
    T = torch.tensor([[0.5, 0.1], [-0.2, 0.3]], dtype=torch.float64, requires_grad=True)
    Q = torch.tensor([[1.0, 0.2], [0.2, 0.5]], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.1, -0.3], dtype=torch.float64, requires_grad=True)
    H = torch.tensor([[0.5, 0.1], [0.1, 0.4]], dtype=torch.float64)

    def outputs(Z, T, Q, c):
        res = parallel_kalman_filter(y, Z, T, H, 0.5 * (Q + Q.mT), c=c)
        return res.loglike, res.filtered_state[-1], res.filtered_cov[-2]

    assert torch.autograd.gradcheck(outputs, (Z, T, Q, c))


def test_gradients_equal_sequential(dns):
    m, _, y_missing = dns
    grads = []
    for filt in (kalman_filter, parallel_kalman_filter):
        Z = torch.tensor(m["Z"], requires_grad=True)
        T = torch.tensor(m["T"], requires_grad=True)
        filt(y_missing[:100], Z, T, m["H"], m["Q"], c=m["c"]).loglike.backward()
        grads.append((Z.grad.numpy(), T.grad.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-7)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-7)


def test_parallel_validates_like_sequential(dns):
    m, y, _ = dns
    with pytest.raises(ValueError, match=r"Z must have shape \(\.\.\., M, k\)"):
        parallel_kalman_filter(y[:5], **{**m, "Z": np.ones(17)})
    with pytest.raises(ValueError, match=r"T must have shape \(\.\.\., 3, 3\)"):
        parallel_kalman_filter(y[:5], **{**m, "T": np.eye(4)})
