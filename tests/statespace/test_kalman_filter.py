"""Sequential Kalman filter: statsmodels reference, exact densities, batching, errors."""

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import solve_discrete_lyapunov as scipy_lyapunov
from scipy.stats import multivariate_normal
from statsmodels.tsa.statespace.mlemodel import MLEModel
from threadpoolctl import threadpool_limits

from skyield.statespace import _covariance as covariance_module
from skyield.statespace import _scan as scan_module
from skyield.statespace import (
    DIFFUSE_VARIANCE,
    FilterResult,
    kalman_filter,
    parallel_kalman_filter,
    simulate_state_space,
    solve_discrete_lyapunov,
    stationary_moments,
)
from skyield.statespace._kalman_filter import filter_moments
from skyield.statespace._model import build_model
from skyield.statespace._observations import whiten

# Diebold-Li (2006) maturities in months, lambda = 0.0609.
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
    """Dynamic Nelson-Siegel model with a VAR(1) state: 17 maturities, 3 factors."""
    x = 0.0609 * MATURITIES
    slope = (1 - np.exp(-x)) / x
    Z = np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])
    T = np.array([[0.99, 0.01, 0.0], [0.02, 0.95, 0.01], [0.0, 0.03, 0.90]])
    Q = np.array([[0.10, 0.02, 0.0], [0.02, 0.30, 0.05], [0.0, 0.05, 0.60]])
    H = np.diag(np.linspace(0.01, 0.05, 17) ** 2)
    c = np.array([0.05, -0.02, 0.01])
    d = np.linspace(-0.02, 0.02, 17)
    return {"Z": Z, "T": T, "H": H, "Q": Q, "c": c, "d": d}


@pytest.fixture(scope="module")
def dns():
    m = dns_model()
    a0 = np.linalg.solve(np.eye(3) - m["T"], m["c"])
    y, _ = simulate_state_space(n=500, a0=a0, P0=scipy_lyapunov(m["T"], m["Q"]), random_state=0, **m)
    y_missing = y.copy()
    rng = np.random.default_rng(1)
    y_missing[rng.random(y.shape) < 0.1] = np.nan
    y_missing[100] = np.nan
    y_missing[200:205, :15] = np.nan
    y_missing[-1, 3:] = np.nan
    return m, y, y_missing


def statsmodels_filter(y, m, init="stationary"):
    mod = MLEModel(y, k_states=m["T"].shape[0])
    mod.ssm["design"] = m["Z"]
    mod.ssm["obs_cov"] = m["H"]
    mod.ssm["obs_intercept"] = m["d"]
    mod.ssm["transition"] = m["T"]
    mod.ssm["selection"] = np.eye(m["T"].shape[0])
    mod.ssm["state_cov"] = m["Q"]
    mod.ssm["state_intercept"] = m["c"]
    if init == "stationary":
        mod.ssm.initialize_stationary()
    else:
        mod.ssm.initialize_approximate_diffuse(DIFFUSE_VARIANCE)
    # Without this statsmodels switches to a steady-state shortcut (differences ~4e-8).
    mod.ssm.tolerance = 0
    return mod.ssm.filter()


@pytest.mark.parametrize("missing", [False, True])
def test_matches_statsmodels_on_dns_model(dns, missing):
    m, y, y_missing = dns
    y = y_missing if missing else y
    ref = statsmodels_filter(y, m)
    res = kalman_filter(y, **m).to_numpy()
    np.testing.assert_allclose(res["loglike"], ref.llf, rtol=1e-8)
    np.testing.assert_allclose(res["loglike_t"], ref.llf_obs, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res["filtered_state"], ref.filtered_state.T, atol=1e-8)
    np.testing.assert_allclose(res["filtered_cov"], ref.filtered_state_cov.transpose(2, 0, 1), atol=1e-10)
    np.testing.assert_allclose(res["predicted_state"], ref.predicted_state.T, atol=1e-8)
    np.testing.assert_allclose(res["predicted_cov"], ref.predicted_state_cov.transpose(2, 0, 1), atol=1e-10)
    np.testing.assert_allclose(res["forecast"], ref.forecasts.T, atol=1e-8)
    np.testing.assert_allclose(res["forecast_error"], ref.forecasts_error.T, atol=1e-8)
    np.testing.assert_allclose(res["forecast_cov"], ref.forecasts_error_cov.transpose(2, 0, 1), atol=1e-10)
    if missing:
        assert res["loglike_t"][100] == 0.0
        assert np.isnan(res["forecast_error"][100]).all()


def test_diffuse_start_matches_high_precision_reference(dns):
    # The covariance form (statsmodels) loses ~1e-8 of the state under a 1e6 prior
    # variance; a 50-digit computation of the same recursions is the reference here.
    m, y, _ = dns
    y = y[:6]
    mpmath.mp.dps = 50
    Z, T, H, Q = (mpmath.matrix(m[x].tolist()) for x in "ZTHQ")
    c, d = mpmath.matrix(m["c"].tolist()), mpmath.matrix(m["d"].tolist())
    a, P = mpmath.matrix(3, 1), mpmath.eye(3) * DIFFUSE_VARIANCE
    states, loglike = [], mpmath.mpf(0)
    for t in range(len(y)):
        v = mpmath.matrix(y[t].tolist()) - d - Z * a
        F = Z * P * Z.T + H
        Finv = mpmath.inverse(F)
        loglike += -0.5 * (17 * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.det(F)) + (v.T * Finv * v)[0])
        K = P * Z.T * Finv
        a, P = a + K * v, P - K * Z * P
        states.append([float(x) for x in a])
        a, P = c + T * a, T * P * T.T + Q
    res = kalman_filter(y, init="diffuse", **m)
    np.testing.assert_allclose(res.filtered_state.numpy(), np.array(states), atol=1e-10)
    np.testing.assert_allclose(float(res.loglike), float(loglike), rtol=1e-10)
    # statsmodels agrees to its own precision.
    ref = statsmodels_filter(y, m, init="diffuse")
    np.testing.assert_allclose(float(res.loglike), ref.llf, rtol=1e-7)


def test_diffuse_start_uses_documented_variance(dns):
    m, y, _ = dns
    res = kalman_filter(y[:3], init="diffuse", a0=[1.0, 2.0, 3.0], **m)
    np.testing.assert_array_equal(res.predicted_cov[0].numpy(), DIFFUSE_VARIANCE * np.eye(3))
    np.testing.assert_array_equal(res.predicted_state[0].numpy(), [1.0, 2.0, 3.0])
    assert res.model.init == "diffuse"


def test_stationary_start_solves_lyapunov_equation(dns):
    m, y, _ = dns
    res = kalman_filter(y[:3], **m)
    P0 = res.model.P0.numpy()
    np.testing.assert_allclose(P0, m["T"] @ P0 @ m["T"].T + m["Q"], atol=1e-12)
    np.testing.assert_allclose(P0, scipy_lyapunov(m["T"], m["Q"]), rtol=1e-10)
    np.testing.assert_allclose(res.model.a0.numpy(), np.linalg.solve(np.eye(3) - m["T"], m["c"]), rtol=1e-12)
    mean, cov = stationary_moments(m["T"], m["Q"], m["c"])
    np.testing.assert_allclose(cov.numpy(), P0, rtol=1e-14)
    np.testing.assert_allclose(mean.numpy(), res.model.a0.numpy(), rtol=1e-14)
    batched = solve_discrete_lyapunov(torch.tensor(np.stack([m["T"], 0.5 * m["T"]])), torch.tensor(m["Q"]))
    np.testing.assert_allclose(batched[1].numpy(), scipy_lyapunov(0.5 * m["T"], m["Q"]), rtol=1e-10)


def _joint_loglike(y, Z, T, H, Q, a0, P0, c, d):
    """Log-density of all observed entries from the joint Gaussian of the stacked sample."""
    n, k = y.shape[0], T.shape[0]
    means, covs = [a0], [P0]
    for _ in range(n - 1):
        means.append(c + T @ means[-1])
    # Cov(a_s, a_t) = T^(t-s) Var(a_s) for s <= t.
    for _ in range(n - 1):
        covs.append(T @ covs[-1] @ T.T + Q)
    state_cov = np.zeros((n * k, n * k))
    for s in range(n):
        for t in range(s, n):
            block = np.linalg.matrix_power(T, t - s) @ covs[s]
            state_cov[t * k:(t + 1) * k, s * k:(s + 1) * k] = block
            state_cov[s * k:(s + 1) * k, t * k:(t + 1) * k] = block.T
    big_Z = np.kron(np.eye(n), Z)
    mean = (d + np.array(means) @ Z.T).ravel()
    cov = big_Z @ state_cov @ big_Z.T + np.kron(np.eye(n), H)
    observed = ~np.isnan(y.ravel())
    if not observed.any():
        return 0.0
    return multivariate_normal(mean[observed], cov[np.ix_(observed, observed)]).logpdf(y.ravel()[observed])


def _random_model(rng, M, k):
    Z = rng.normal(size=(M, k))
    T = rng.normal(size=(k, k))
    T *= 0.9 / max(np.abs(np.linalg.eigvals(T)).max(), 1e-3)
    A = rng.normal(size=(k, k))
    B = rng.normal(size=(M, M))
    P0 = rng.normal(size=(k, k))
    return {
        "Z": Z, "T": T, "Q": A @ A.T + 0.1 * np.eye(k), "H": B @ B.T + 0.1 * np.eye(M),
        "c": rng.normal(size=k), "d": rng.normal(size=M),
        "a0": rng.normal(size=k), "P0": P0 @ P0.T + 0.1 * np.eye(k),
    }


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    M=st.integers(1, 4),
    k=st.integers(1, 3),
    missing_rate=st.sampled_from([0.0, 0.3, 0.7]),
)
def test_loglike_equals_joint_density_of_observed_values(seed, n, M, k, missing_rate):
    rng = np.random.default_rng(seed)
    m = _random_model(rng, M, k)
    y = rng.normal(size=(n, M))
    y[rng.random((n, M)) < missing_rate] = np.nan
    res = kalman_filter(y, init="known", **m)
    np.testing.assert_allclose(float(res.loglike), _joint_loglike(y, **m), rtol=1e-9, atol=1e-9)


def test_fully_missing_date_skips_the_update(dns):
    m, y, _ = dns
    y = y[:10].copy()
    y[4] = np.nan
    res = kalman_filter(y, **m)
    assert float(res.loglike_t[4]) == 0.0
    np.testing.assert_allclose(res.filtered_state[4].numpy(), res.predicted_state[4].numpy(), rtol=1e-14)
    np.testing.assert_allclose(res.filtered_cov[4].numpy(), res.predicted_cov[4].numpy(), rtol=1e-14)


def test_batched_parameters_and_observations_match_single_runs(dns):
    m, y, y_missing = dns
    y2 = np.stack([y[:60], y_missing[:60]])  # (2, 60, 17)
    scales = np.array([1.0, 0.9, 0.8])
    T = m["T"] * scales[:, None, None]  # (3, 3, 3)
    Q = m["Q"] * scales[:, None, None]
    other = {key: m[key] for key in ("Z", "H", "c", "d")}
    res = kalman_filter(y2[:, None], T=T, Q=Q, **other)  # batch (2, 1) x (3,) -> (2, 3)
    assert res.loglike.shape == (2, 3)
    assert res.filtered_cov.shape == (2, 3, 60, 3, 3)
    assert res.predicted_state.shape == (2, 3, 61, 3)
    for i in range(2):
        for j in range(3):
            single = kalman_filter(y2[i], T=T[j], Q=Q[j], **other)
            np.testing.assert_allclose(res.loglike[i, j].numpy(), single.loglike.numpy(), rtol=1e-10)
            np.testing.assert_allclose(res.filtered_state[i, j].numpy(), single.filtered_state.numpy(), atol=1e-12)
            np.testing.assert_allclose(res.forecast_cov[i, j].numpy(), single.forecast_cov.numpy(), atol=1e-12)


def test_batched_observations_with_scattered_missing_values(dns):
    # Many distinct missing patterns across the batch: the date-by-date path is taken.
    m, y, _ = dns
    rng = np.random.default_rng(5)
    y3 = np.stack([y[:40]] * 3)
    y3[rng.random(y3.shape) < 0.3] = np.nan
    res = kalman_filter(y3, **m)
    for i in range(3):
        single = kalman_filter(y3[i], **m)
        np.testing.assert_allclose(res.loglike[i].numpy(), single.loglike.numpy(), rtol=1e-10)
        np.testing.assert_allclose(res.filtered_state[i].numpy(), single.filtered_state.numpy(), atol=1e-12)


def test_returns_float64_tensors_for_numpy_and_torch_inputs(dns):
    m, y, _ = dns
    from_numpy = kalman_filter(y[:20], **m)
    from_torch = kalman_filter(torch.tensor(y[:20], dtype=torch.float32), **{k: torch.tensor(v) for k, v in m.items()})
    assert isinstance(from_numpy, FilterResult)
    assert from_numpy.loglike.dtype == torch.float64
    assert from_torch.filtered_state.dtype == torch.float64
    np.testing.assert_allclose(
        from_torch.loglike.numpy(),
        kalman_filter(y[:20].astype(np.float32).astype(np.float64), **m).loglike.numpy(),
        rtol=1e-12,
    )
    arrays = from_numpy.to_numpy()
    assert isinstance(arrays["forecast_cov"], np.ndarray)
    assert arrays["forecast_cov"].shape == (20, 17, 17)


def _tiny_inputs():
    rng = np.random.default_rng(3)
    m = _random_model(rng, 2, 2)
    y = rng.normal(size=(5, 2))
    y[1, 0] = np.nan
    y[3] = np.nan
    return y, {key: torch.tensor(v, requires_grad=True) for key, v in m.items()}


def test_gradcheck_all_parameters_known_start():
    y, p = _tiny_inputs()
    names = ["Z", "T", "H", "Q", "c", "d", "a0", "P0"]

    def loglike(Z, T, H, Q, c, d, a0, P0):
        sym = {"H": 0.5 * (H + H.mT), "Q": 0.5 * (Q + Q.mT), "P0": 0.5 * (P0 + P0.mT)}
        return kalman_filter(y, Z, T, sym["H"], sym["Q"], a0=a0, P0=sym["P0"], c=c, d=d, init="known").loglike

    assert torch.autograd.gradcheck(loglike, tuple(p[n] for n in names))


def test_gradcheck_stationary_start_and_states():
    y, p = _tiny_inputs()

    def outputs(Z, T, Q, c):
        res = kalman_filter(y, Z, T, p["H"].detach(), 0.5 * (Q + Q.mT), c=c)
        return res.loglike, res.filtered_state, res.predicted_cov

    assert torch.autograd.gradcheck(outputs, (p["Z"], p["T"], p["Q"], p["c"]))


def test_second_derivatives():
    # The recursion's hand-written reverse pass hands over to autograd for higher orders.
    y, p = _tiny_inputs()
    fixed = {key: p[key].detach() for key in ("Z", "H", "c", "d")}

    Q = p["Q"].detach()

    def loglike(T):
        return kalman_filter(y, T=T, Q=Q, **fixed).loglike

    assert torch.autograd.gradgradcheck(loglike, (p["T"],))
    hessian = torch.autograd.functional.hessian(loglike, p["T"])
    reference = torch.autograd.functional.hessian(
        lambda T: parallel_kalman_filter(y, T=T, Q=Q, **fixed).loglike, p["T"]
    )
    np.testing.assert_allclose(hessian.detach().numpy(), reference.detach().numpy(), rtol=1e-8, atol=1e-10)


def test_gradients_reach_batched_parameters_with_missing_values(dns):
    m, _, y_missing = dns
    T = torch.tensor(np.stack([m["T"], 0.9 * m["T"]]), requires_grad=True)
    Z = torch.tensor(m["Z"], requires_grad=True)
    res = kalman_filter(y_missing[:80], Z, T, m["H"], m["Q"], c=m["c"], d=m["d"])
    res.loglike.sum().backward()
    assert torch.isfinite(T.grad).all() and torch.isfinite(Z.grad).all()
    assert (T.grad[0] != T.grad[1]).any()


@pytest.mark.parametrize(
    ("name", "bad", "message"),
    [
        ("T", np.eye(2), r"T must have shape \(\.\.\., 3, 3\) with k=3 states taken from Z; got shape \(2, 2\)"),
        ("H", np.eye(16), r"H must have shape \(\.\.\., 17, 17\) with M=17 observed series"),
        ("Q", np.eye(3)[:2], r"Q must have shape \(\.\.\., 3, 3\)"),
        ("c", np.zeros(2), r"c must have shape \(\.\.\., 3\)"),
        ("d", np.zeros(3), r"d must have shape \(\.\.\., 17\)"),
    ],
)
def test_shape_errors_name_argument_and_expected_shape(dns, name, bad, message):
    m, y, _ = dns
    with pytest.raises(ValueError, match=message):
        kalman_filter(y[:5], **{**m, name: bad})


def test_observation_shape_errors(dns):
    m, y, _ = dns
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., n, 17\)"):
        kalman_filter(y[:5, :16], **m)
    with pytest.raises(ValueError, match=r"y must have shape \(\.\.\., n_dates, M\).*y\[:, None\]"):
        kalman_filter(y[:5, 0], **m)
    with pytest.raises(ValueError, match=r"a0 must have shape \(\.\.\., 3\)"):
        kalman_filter(y[:5], a0=np.zeros(4), P0=np.eye(3), init="known", **m)
    with pytest.raises(ValueError, match=r"do not broadcast together: y \(\), Z \(\), T \(4,\), H \(\), Q \(3,\)"):
        kalman_filter(y[:5], **{**m, "T": np.stack([m["T"]] * 4), "Q": np.stack([m["Q"]] * 3)})


def test_value_errors_are_explicit(dns):
    m, y, _ = dns
    bad_y = y[:5].copy()
    bad_y[2, 4] = np.inf
    with pytest.raises(ValueError, match=r"y contains infinite values \(first at index \(2, 4\)\)"):
        kalman_filter(bad_y, **m)
    with pytest.raises(ValueError, match=r"Z contains NaN or infinite values \(first at index \(1, 0\)\)"):
        Z = m["Z"].copy()
        Z[1, 0] = np.nan
        kalman_filter(y[:5], **{**m, "Z": Z})
    with pytest.raises(ValueError, match=r"init must be one of .*got 'exact'"):
        kalman_filter(y[:5], init="exact", **m)
    with pytest.raises(ValueError, match=r"init='known' needs both a0 and P0; P0 not given"):
        kalman_filter(y[:5], a0=np.zeros(3), init="known", **m)
    with pytest.raises(ValueError, match=r"a0 and P0 are computed .* init='stationary'"):
        kalman_filter(y[:5], a0=np.zeros(3), **m)
    with pytest.raises(ValueError, match=r"init='diffuse' sets P0"):
        kalman_filter(y[:5], P0=np.eye(3), init="diffuse", **m)
    with pytest.raises(ValueError, match=r"stable transition matrix T .* spectral radius 1\.01 \(first failure at batch index \(1,\)\)"):
        kalman_filter(y[:5], **{**m, "T": np.stack([m["T"], 1.01 * np.eye(3)])})
    with pytest.raises(ValueError, match=r"Z P Z' \+ H is singular at date index 0"):
        kalman_filter(y[:5], **{**m, "H": np.zeros((17, 17))})
    with pytest.raises(ValueError, match=r"H must be positive semi-definite"):
        kalman_filter(y[:5], **{**m, "H": -m["H"]})
    with pytest.raises(ValueError, match=r"Q must be symmetric"):
        kalman_filter(y[:5], **{**m, "Q": np.triu(m["Q"] + 0.1)})
    with pytest.raises(ValueError, match=r"Q must be positive semi-definite"):
        kalman_filter(y[:5], **{**m, "Q": -m["Q"]})
    with pytest.raises(TypeError, match=r"T must hold real numbers"):
        kalman_filter(y[:5], **{**m, "T": np.array([["a"] * 3] * 3)})
    with pytest.raises(ValueError, match=r"at least one date"):
        kalman_filter(y[:0], **m)


def test_known_start_and_unstable_transition(dns):
    # A random walk level is fine with a known or diffuse start.
    m, y, _ = dns
    T = np.eye(3)
    res = kalman_filter(y[:50], **{**m, "T": T}, a0=np.zeros(3), P0=np.eye(3), init="known")
    assert torch.isfinite(res.loglike)
    np.testing.assert_allclose(res.predicted_cov[1].numpy(), res.filtered_cov[0].numpy() + m["Q"], rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(dns):
    m, _, y_missing = dns
    cpu = kalman_filter(y_missing, **m)
    gpu = kalman_filter(torch.tensor(y_missing, device="cuda"), **{k: torch.tensor(v, device="cuda") for k, v in m.items()})
    assert gpu.loglike.device.type == "cuda"
    np.testing.assert_allclose(gpu.loglike.cpu().numpy(), cpu.loglike.numpy(), rtol=1e-10)


def test_stationary_moments_errors():
    with pytest.raises(ValueError, match=r"Q must have shape \(\.\.\., 2, 2\) with k=2 states taken from T"):
        stationary_moments(0.5 * np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match=r"spectral radius 1\.2"):
        stationary_moments(1.2 * np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match=r"do not broadcast together: T \(2,\), Q \(3,\)"):
        stationary_moments(0.5 * np.stack([np.eye(2)] * 2), np.stack([np.eye(2)] * 3))


# --- Steady state and closed-form covariances -----------------------------------------


def exact_filter(y, Z, T, H, Q, a0=None, P0=None, c=None, d=None, init="stationary"):
    """The filter with the covariances of every date computed one by one."""
    return filter_moments(*build_model(y, Z, T, H, Q, a0, P0, c, d, init), tolerance=0.0)


def slow_model():
    """Nearly collinear loadings and persistent states: the covariances take about a
    hundred dates to settle, so the closed form around the steady state is used."""
    return {
        "Z": np.array([[1.0, 1.0], [1.0, 1.1], [1.0, 0.9]]),
        "T": np.array([[0.995, 0.001], [0.0, 0.99]]),
        "H": 0.01 * np.eye(3),
        "Q": np.array([[0.01, 0.002], [0.002, 0.01]]),
        "c": np.array([0.01, -0.02]),
    }


def count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def assert_same_result(res, ref, atol=1e-9):
    for name in FIELDS:
        a, b = getattr(res, name).detach().numpy(), getattr(ref, name).detach().numpy()
        if name.startswith("loglike"):
            np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=0.0, atol=atol, err_msg=name)


FIELDS = ["loglike", "loglike_t", "filtered_state", "filtered_cov", "predicted_state", "predicted_cov"]


# Few dates x members take their per-date matrices at once (one recursion), more go
# stretch by stretch: both ways, whichever the sample's size would choose.
BOTH_WAYS = pytest.mark.parametrize("direct_work", [0, 10**9], ids=["stretches", "at-once"])


@BOTH_WAYS
@pytest.mark.parametrize("missing", [False, True])
def test_steady_state_matches_date_by_date_covariances_on_dns_model(dns, missing, direct_work, monkeypatch):
    monkeypatch.setattr(scan_module, "_DIRECT_WORK", direct_work)
    m, y, y_missing = dns
    y = y_missing if missing else y
    assert_same_result(kalman_filter(y, **m), exact_filter(y, **m))


@BOTH_WAYS
def test_closed_form_transient_matches_date_by_date_covariances(monkeypatch, direct_work):
    monkeypatch.setattr(scan_module, "_DIRECT_WORK", direct_work)
    m = slow_model()
    y, _ = simulate_state_space(n=400, a0=np.zeros(2), random_state=3, **m)
    # Missing stretches: a series gone for 120 dates, a fully missing date, scattered NaNs.
    y[150:270, 2] = np.nan
    y[300] = np.nan
    y[np.random.default_rng(4).random(y.shape) < 0.01] = np.nan
    calls = count_calls(monkeypatch, covariance_module, "_steady_state")
    res = kalman_filter(y, **m)
    assert calls, "the closed form around the steady state was not exercised"
    assert_same_result(res, exact_filter(y, **m))


def test_steady_state_solves_the_riccati_equation():
    m = slow_model()
    T, Q = torch.tensor(m["T"])[None], torch.tensor(m["Q"])[None]
    Zs = torch.tensor(m["Z"]) / 0.1
    lam = (Zs.T @ Zs)[None]
    P_filt, Abar, _, P = covariance_module._steady_state(T, Q, lam, 1e-12)
    eye = torch.eye(2, dtype=torch.float64)
    update = torch.linalg.solve(eye + P @ lam, P)
    np.testing.assert_allclose(P_filt.numpy(), update.numpy(), rtol=1e-12)
    np.testing.assert_allclose((T @ update @ T.mT + Q).numpy(), P.numpy(), rtol=1e-12)
    assert torch.linalg.eigvals(Abar).abs().max() < 1.0


def test_steady_state_reached_early_on_complete_data(dns):
    m, y, _ = dns
    model, y_t = build_model(y, m["Z"], m["T"], m["H"], m["Q"], None, None, m["c"], m["d"], "stationary")
    w = whiten(model, y_t)
    cov = covariance_module.covariance_pass(model.P0[None], model.T[None], model.Q[None],
                                            w.patterns, w.pattern_index)
    assert cov.filtered.shape[1] < 20
    assert cov.steady == [(cov.filtered.shape[1] - 1, 500)]


def test_long_sample_with_slow_convergence_matches_date_by_date():
    m = slow_model()
    y, _ = simulate_state_space(n=3000, a0=np.zeros(2), random_state=5, **m)
    res, ref = kalman_filter(y, **m), exact_filter(y, **m)
    np.testing.assert_allclose(float(res.loglike), float(ref.loglike), rtol=1e-11)
    np.testing.assert_allclose(res.filtered_state.numpy(), ref.filtered_state.numpy(), atol=1e-9)


@BOTH_WAYS
def test_gradients_through_closed_form_match_date_by_date(monkeypatch, direct_work):
    monkeypatch.setattr(scan_module, "_DIRECT_WORK", direct_work)
    m = slow_model()
    y, _ = simulate_state_space(n=250, a0=np.zeros(2), random_state=6, **m)
    grads = []
    for filt in (kalman_filter, exact_filter):
        leaves = {key: torch.tensor(v, requires_grad=True) for key, v in m.items()}
        sym = {**leaves, "H": 0.5 * (leaves["H"] + leaves["H"].mT), "Q": 0.5 * (leaves["Q"] + leaves["Q"].mT)}
        filt(y, **sym).loglike.backward()
        grads.append({key: v.grad.numpy() for key, v in leaves.items()})
    for key in m:
        np.testing.assert_allclose(grads[0][key], grads[1][key], rtol=1e-7, atol=1e-9, err_msg=key)


def test_gradcheck_and_hessian_through_steady_state(monkeypatch):
    m = slow_model()
    y, _ = simulate_state_space(n=40, a0=np.zeros(2), random_state=7, **m)
    calls = count_calls(monkeypatch, covariance_module, "_steady_state")
    fixed = {key: torch.tensor(m[key]) for key in ("Z", "H", "c")}

    def loglike(T, Q):
        return kalman_filter(y, T=T, Q=0.5 * (Q + Q.mT), **fixed).loglike

    T, Q = torch.tensor(m["T"], requires_grad=True), torch.tensor(m["Q"], requires_grad=True)
    assert torch.autograd.gradcheck(loglike, (T, Q))
    assert calls
    hessian = torch.autograd.functional.hessian(lambda T: loglike(T, Q.detach()), T.detach())
    reference = torch.autograd.functional.hessian(
        lambda T: exact_filter(y, T=T, Q=Q.detach(), **fixed).loglike, T.detach()
    )
    np.testing.assert_allclose(hessian.numpy(), reference.numpy(), rtol=1e-7, atol=1e-8)


def test_batched_parameter_sets_converging_at_different_speeds_match_single_runs():
    m = slow_model()
    y, _ = simulate_state_space(n=300, a0=np.zeros(2), random_state=8, **m)
    T = np.stack([m["T"], 0.5 * m["T"], 0.9 * m["T"]])
    res = kalman_filter(y, **{**m, "T": T})
    for i in range(3):
        single = exact_filter(y, **{**m, "T": T[i]})
        np.testing.assert_allclose(res.loglike[i].numpy(), single.loglike.numpy(), rtol=1e-11)
        np.testing.assert_allclose(res.filtered_cov[i].numpy(), single.filtered_cov.numpy(), atol=1e-12)


# --- Singular measurement covariance (covariance form) ---------------------------------


def test_singular_measurement_covariance_matches_statsmodels(dns):
    # Three maturities observed without error, the rest with noise; missing values too.
    m, _, y_missing = dns
    H = m["H"].copy()
    H[[0, 8, 16], :] = 0.0
    H[:, [0, 8, 16]] = 0.0
    model = {**m, "H": H}
    ref = statsmodels_filter(y_missing[:120], model)
    res = kalman_filter(y_missing[:120], **model).to_numpy()
    np.testing.assert_allclose(res["loglike"], ref.llf, rtol=1e-9)
    np.testing.assert_allclose(res["loglike_t"], ref.llf_obs, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(res["filtered_state"], ref.filtered_state.T, atol=1e-8)
    np.testing.assert_allclose(res["predicted_cov"], ref.predicted_state_cov.transpose(2, 0, 1), atol=1e-10)


def test_singular_measurement_covariance_batched_and_differentiable():
    rng = np.random.default_rng(9)
    m = _random_model(rng, 2, 2)
    H = np.stack([np.zeros((2, 2)), np.diag([0.0, 0.5])])
    y = rng.normal(size=(6, 2))
    y[2, 0] = np.nan
    res = kalman_filter(y, init="known", **{**m, "H": H})
    for i in range(2):
        single = kalman_filter(y, init="known", **{**m, "H": H[i]})
        np.testing.assert_allclose(res.loglike[i].numpy(), single.loglike.numpy(), rtol=1e-12)
    np.testing.assert_allclose(float(res.loglike[1]), _joint_loglike(y, **{**m, "H": H[1]}), rtol=1e-9)

    def loglike(T, Q):
        return kalman_filter(y, m["Z"], T, H[1], 0.5 * (Q + Q.mT), a0=m["a0"], P0=m["P0"],
                             init="known").loglike

    assert torch.autograd.gradcheck(loglike, (torch.tensor(m["T"], requires_grad=True),
                                              torch.tensor(m["Q"], requires_grad=True)))


def test_singular_update_before_the_steady_state_is_reported():
    # Not reachable through kalman_filter (Q and P0 are checked); a covariance that is not
    # positive semi-definite makes I + P Lam singular.
    one = torch.ones(1, 1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="singular system"):
        covariance_module._steps(-one, 0.5 * one, one, one, 3)
