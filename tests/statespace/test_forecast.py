"""h-step forecast moments: closed forms, filter identities and statsmodels."""

import numpy as np
import pytest
import torch
from statsmodels.tsa.statespace.mlemodel import MLEModel
from threadpoolctl import threadpool_limits

from skyield.statespace import ForecastMoments, forecast_moments, kalman_filter, simulate_state_space


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny tensors: extra intra-op threads only wait for cores shared with other tests.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def small_model():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(4, 2))
    T = np.array([[0.8, 0.1], [-0.2, 0.5]])
    Q = np.array([[0.5, 0.1], [0.1, 0.3]])
    H = 0.2 * np.eye(4) + 0.05
    return {"Z": Z, "T": T, "H": H, "Q": Q, "c": np.array([0.3, -0.1]), "d": np.arange(4.0)}


@pytest.fixture(scope="module")
def filtered():
    m = small_model()
    y, _ = simulate_state_space(n=60, a0=np.zeros(2), random_state=11, **m)
    y[[5, 6]] = np.nan
    y[59, 0] = np.nan
    return m, y, kalman_filter(y, **m)


def test_one_step_equals_filter_prediction(filtered):
    m, _, res = filtered
    fc = forecast_moments(res, steps=1)
    assert isinstance(fc, ForecastMoments)
    np.testing.assert_allclose(fc.state_mean[0].numpy(), res.predicted_state[-1].numpy(), rtol=1e-13)
    np.testing.assert_allclose(fc.state_cov[0].numpy(), res.predicted_cov[-1].numpy(), rtol=1e-13)
    np.testing.assert_allclose(fc.obs_mean[0].numpy(), m["d"] + m["Z"] @ res.predicted_state[-1].numpy(), rtol=1e-13)


def test_h_step_closed_form(filtered):
    m, _, res = filtered
    a, P = res.filtered_state[-1].numpy(), res.filtered_cov[-1].numpy()
    T, Q, c, Z, H = m["T"], m["Q"], m["c"], m["Z"], m["H"]
    fc = forecast_moments(res, steps=6).to_numpy()
    assert fc["obs_cov"].shape == (6, 4, 4)
    for h in range(1, 7):
        Th = np.linalg.matrix_power(T, h)
        powers = [np.linalg.matrix_power(T, j) for j in range(h)]
        mean = Th @ a + sum(p @ c for p in powers)
        cov = Th @ P @ Th.T + sum(p @ Q @ p.T for p in powers)
        np.testing.assert_allclose(fc["state_mean"][h - 1], mean, rtol=1e-12)
        np.testing.assert_allclose(fc["state_cov"][h - 1], cov, rtol=1e-12)
        np.testing.assert_allclose(fc["obs_cov"][h - 1], Z @ cov @ Z.T + H, rtol=1e-12)


def test_matches_statsmodels_predict(filtered):
    m, y, res = filtered
    mod = MLEModel(y, k_states=2)
    for name, key in [("design", "Z"), ("obs_cov", "H"), ("transition", "T"), ("state_cov", "Q"),
                      ("obs_intercept", "d"), ("state_intercept", "c")]:
        mod.ssm[name] = m[key]
    mod.ssm["selection"] = np.eye(2)
    mod.ssm.initialize_stationary()
    mod.ssm.tolerance = 0
    pred = mod.ssm.filter().predict(start=60, end=65)
    fc = forecast_moments(res, steps=5).to_numpy()
    np.testing.assert_allclose(fc["obs_mean"], pred.forecasts.T, atol=1e-10)
    np.testing.assert_allclose(fc["obs_cov"], pred.forecasts_error_cov.transpose(2, 0, 1), atol=1e-10)


def test_all_origins(filtered):
    _, _, res = filtered
    every = forecast_moments(res, steps=3, origins="all")
    assert every.obs_mean.shape == (60, 3, 4)
    assert every.state_cov.shape == (60, 3, 2, 2)
    last = forecast_moments(res, steps=3)
    np.testing.assert_allclose(every.obs_cov[-1].numpy(), last.obs_cov.numpy(), rtol=1e-14)
    # One step from origin t is the filter's prediction for date t + 1.
    np.testing.assert_allclose(every.state_mean[:, 0].numpy(), res.predicted_state[1:].numpy(), rtol=1e-12, atol=1e-14)


def test_batched_forecasts(filtered):
    m, y, _ = filtered
    T = np.stack([m["T"], 0.5 * m["T"]])
    res = kalman_filter(y, **{**m, "T": T})
    fc = forecast_moments(res, steps=2, origins="all")
    assert fc.obs_mean.shape == (2, 60, 2, 4)
    single = forecast_moments(kalman_filter(y, **{**m, "T": T[1]}), steps=2, origins="all")
    np.testing.assert_allclose(fc.obs_mean[1].numpy(), single.obs_mean.numpy(), rtol=1e-10)


def test_forecast_argument_errors(filtered):
    _, _, res = filtered
    with pytest.raises(ValueError, match="steps must be at least 1; got 0"):
        forecast_moments(res, steps=0)
    with pytest.raises(TypeError, match="steps must be an integer; got float"):
        forecast_moments(res, steps=2.0)
    with pytest.raises(ValueError, match="origins must be 'last' or 'all'; got 'first'"):
        forecast_moments(res, steps=2, origins="first")
    with pytest.raises(TypeError, match="result must be a FilterResult"):
        forecast_moments(np.zeros(3), steps=2)
