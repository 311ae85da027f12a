"""Tests of the simulators: the Monte Carlo factor processes and Nelson-Siegel curves.

Each test checks a defining property of a process against the values printed in the
paper (or stated in the docstrings), within sampling error on a long seeded sample.
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.tsa.arima_process import arma_acf
from statsmodels.tsa.stattools import acf

from skyield.datasets._dfm_processes import (
    dfm_error_logpdf,
    dfm_measurement_mean,
    dfm_process_spec,
    dfm_shock_logpdf,
    dfm_state_mean,
    make_dfm_process,
    spow,
)
from skyield.datasets._nelson_siegel_curves import make_nelson_siegel_curves

PROCESSES = [1, 2, 3, 4, 5, 6]


def reference_spow(z, gamma, c, eps=1e-4):
    """Footnote 9 of the paper, written out independently of the package."""
    z = np.asarray(z, dtype=float)
    return c * np.sign(z) * ((np.abs(z / c) + eps) ** gamma - eps**gamma)


def excess_kurtosis(values):
    return stats.kurtosis(values, fisher=True, bias=False)


@pytest.fixture(scope="module")
def long_samples():
    """One long sample per process, shared by the distribution tests."""
    return {p: make_dfm_process(p, 200_000, random_state=100 + p) for p in PROCESSES}


# --------------------------------------------------------------------------------------
# DFM processes: layout, reproducibility, burn-in, errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_shapes_and_fields(process):
    data = make_dfm_process(process, 37, random_state=0)
    assert data.observables.shape == (37, 5)
    assert data.factor.shape == (37,)
    assert data.state_shocks.shape == (37,)
    assert data.measurement_errors.shape == (37, 5)
    assert data.process == process
    assert data.params["process"] == process
    assert np.all(np.isfinite(data.observables)) and np.all(np.isfinite(data.factor))
    if process == 6:
        assert data.regimes.shape == (37,)
        assert np.issubdtype(data.regimes.dtype, np.integer)
        assert set(np.unique(data.regimes)) <= {0, 1}
    else:
        assert data.regimes is None


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_same_seed_identical_other_seed_different(process):
    first = make_dfm_process(process, 200, random_state=7)
    second = make_dfm_process(process, 200, random_state=7)
    other = make_dfm_process(process, 200, random_state=8)
    np.testing.assert_array_equal(first.observables, second.observables)
    np.testing.assert_array_equal(first.factor, second.factor)
    assert not np.array_equal(first.factor, other.factor)
    assert not np.array_equal(first.observables, other.observables)
    # A RandomState instance works as well and gives the same draws as its seed.
    third = make_dfm_process(process, 200, random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(first.observables, third.observables)


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_burn_in_is_discarded(process):
    full = make_dfm_process(process, 60, burn_in=0, random_state=3)
    kept = make_dfm_process(process, 45, burn_in=15, random_state=3)
    assert kept.factor.shape == (45,)
    np.testing.assert_array_equal(kept.factor, full.factor[15:])
    np.testing.assert_array_equal(kept.observables, full.observables[15:])
    # Without burn-in the state starts from x_0 = 0 (and zero lags), so x_1 = eps_1.
    assert full.factor[0] == pytest.approx(full.state_shocks[0], abs=1e-15)


def test_dfm_default_burn_in_is_1000():
    assert dfm_process_spec(1)["burn_in"] == 1000
    default = make_dfm_process(1, 20, random_state=5)
    explicit = make_dfm_process(1, 20, burn_in=1000, random_state=5)
    np.testing.assert_array_equal(default.factor, explicit.factor)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(process=0, n_samples=10), ValueError, "process must be one of"),
        (dict(process=7, n_samples=10), ValueError, "process must be one of"),
        (dict(process="1", n_samples=10), TypeError, "process must be an integer"),
        (dict(process=1.0, n_samples=10), TypeError, "process must be an integer"),
        (dict(process=True, n_samples=10), TypeError, "process must be an integer"),
        (dict(process=1, n_samples=0), ValueError, "n_samples must be >= 1"),
        (dict(process=1, n_samples=-5), ValueError, "n_samples must be >= 1"),
        (dict(process=1, n_samples=2.5), TypeError, "n_samples must be an integer"),
        (dict(process=1, n_samples=10, burn_in=-1), ValueError, "burn_in must be >= 0"),
    ],
)
def test_dfm_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_dfm_process(**kwargs)


def test_dfm_spec_bad_process_and_regime():
    with pytest.raises(ValueError, match="process must be one of"):
        dfm_process_spec(9)
    with pytest.raises(ValueError, match="regime must be in 0..0"):
        dfm_state_mean(dfm_process_spec(1), [[0.0]], regime=1)
    with pytest.raises(ValueError, match="x_lags must have shape"):
        dfm_state_mean(dfm_process_spec(5), [[0.0]])
    with pytest.raises(ValueError, match="pass y_lags"):
        dfm_measurement_mean(dfm_process_spec(5), 0.0)


# --------------------------------------------------------------------------------------
# The printed parameters and the equations
# --------------------------------------------------------------------------------------

# Footnotes 10-12 and the text of sections 3.4-3.5.
PRINTED = {
    1: dict(alpha=[0.96], mu_y=[0.11, 0.61, 0.70, -0.74, 0.65],
            beta=[1.01, 1.25, 0.60, 0.98, 0.91]),
    2: dict(alpha=[0.96], mu_y=[0.79, -0.47, -0.256, 0.146, 0.82],
            beta=[0.58, 1.56, 1.62, 1.23, 1.18], gamma=[0.55, 1.37, 0.57, 1.48, 0.61],
            c_y=0.77),
    3: dict(alpha=[0.96], mu_y=[0.79, -0.47, -0.26, 0.15, 0.82],
            beta=[0.58, 1.56, 1.62, 1.23, 1.18], phi=0.36, sigma_x=1.2, c_x=0.13),
    4: dict(alpha=[0.96], mu_y=[-0.46, -0.43, 0.24, 0.85, 0.10],
            beta=[1.41, 1.50, 1.60, 0.94, 0.51], gamma=[1.08, 0.67, 1.03, 1.02, 1.06],
            phi=0.8, sigma_x=0.65, c_x=1.0, c_y=15.0),
    5: dict(alpha=[0.74, 0.15, 0.074], ma=0.15, y_ar=[0.2, 0.05, 0.02], sigma_x=0.387,
            c_y=1.28, mu_y=[0.79, -0.47, -0.26, 0.15, 0.82],
            beta=[0.58, 1.56, 1.62, 1.23, 1.18], gamma=[0.68, 1.12, 0.70, 1.21, 0.75]),
    6: dict(sigma_x=0.51, c_x=2.24, c_y=1.83, phi=0.8,
            mu_y=[0.79, -0.47, -0.26, 0.15, 0.82], beta=[0.58, 1.56, 1.62, 1.23, 1.18],
            gamma=[0.57, 1.34, 0.59, 1.45, 0.62], regime_scale=(1.01, 0.98)),
}


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_spec_holds_printed_values(process):
    spec = dfm_process_spec(process)
    for name, value in PRINTED[process].items():
        np.testing.assert_allclose(spec[name], value, err_msg=name)
    assert spec["mu_x"] == 0.0 and spec["x0"] == 0.0 and spec["k"] == 5
    assert spec["spow_eps"] == 1e-4 and spec["df"] == 10
    # The simulation reports exactly the spec.
    params = make_dfm_process(process, 5, random_state=0).params
    assert params.keys() == spec.keys()
    for key in spec:
        np.testing.assert_array_equal(np.asarray(params[key], dtype=object),
                                      np.asarray(spec[key], dtype=object))


def test_dfm_spec_records_the_unstated_choices():
    for process in PROCESSES:
        assumptions = dfm_process_spec(process)["assumptions"]
        assert {"snr", "sigma_y", "corr_y"} <= assumptions.keys()
        assert all(isinstance(text, str) and text for text in assumptions.values())
    for process in (1, 2):
        assert "sigma_x" in dfm_process_spec(process)["assumptions"]
    assert {"alpha", "y_ar", "shock_dist"} <= dfm_process_spec(6)["assumptions"].keys()


def test_dfm_spec_is_a_fresh_copy():
    spec = dfm_process_spec(2)
    spec["beta"][:] = 0.0
    spec["cov_y"][:] = 0.0
    assert np.all(dfm_process_spec(2)["beta"] > 0)
    assert np.all(np.diag(dfm_process_spec(2)["cov_y"]) > 0)


def test_spow_matches_footnote_9():
    z = np.linspace(-5, 5, 41)
    for gamma, c in [(0.55, 0.77), (1.48, 15.0), (0.36, 0.13)]:
        np.testing.assert_allclose(spow(z, gamma, c), reference_spow(z, gamma, c))
        # Sign preserving and increasing.
        np.testing.assert_allclose(spow(-z, gamma, c), -spow(z, gamma, c))
        assert np.all(np.diff(spow(z, gamma, c)) > 0)
    # gamma = 1 is the identity; far from 0 it is the power law c (z / c) ** gamma.
    np.testing.assert_allclose(spow(z, 1.0, 2.0), z, atol=1e-12)
    assert spow(100.0, 0.5, 1.0) == pytest.approx(10.0, rel=1e-3)


def _recompute_state(process, data):
    """x_t minus the paper's state equation, written out with the printed values."""
    x = np.concatenate([np.zeros(3), data.factor])  # x_0 = x_{-1} = x_{-2} = 0
    shocks = np.concatenate([[0.0], data.state_shocks])
    n = data.factor.size
    x1, x2, x3 = x[2:-1], x[1:-2], x[:-3]
    if process in (1, 2):
        mean = 0.96 * x1
    elif process == 3:
        mean = 0.96 * reference_spow(x1, 0.36, 0.13)
    elif process == 4:
        mean = 0.96 * reference_spow(x1, 0.8, 1.0)
    elif process == 5:
        mean = 0.74 * x1 + 0.15 * x2 + 0.074 * x3 + 0.15 * shocks[:n]
    else:
        scale = np.where(data.regimes == 0, 1.01, 0.98)
        mean = (0.74 * scale * reference_spow(x1, 0.8 * scale, 2.24)
                + 0.15 * x2 + 0.074 * x3)
    return data.factor - mean


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_state_follows_the_printed_equation(process):
    data = make_dfm_process(process, 400, burn_in=0, random_state=11)
    np.testing.assert_allclose(_recompute_state(process, data), data.state_shocks,
                               atol=1e-12)


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_measurement_follows_the_printed_equation(process):
    data = make_dfm_process(process, 400, burn_in=0, random_state=12)
    spec = PRINTED[process]
    x = data.factor[:, None]
    scale = 1.0 if process != 6 else np.where(data.regimes == 0, 1.01, 0.98)[:, None]
    beta = np.asarray(spec["beta"]) * scale
    if process in (1, 3):
        signal = beta * x
    else:
        signal = beta * reference_spow(x, np.asarray(spec["gamma"]) * scale, spec["c_y"])
    y = np.vstack([np.zeros((3, 5)), data.observables])
    lags = 0.0
    if process in (5, 6):
        lags = 0.2 * y[2:-1] + 0.05 * y[1:-2] + 0.02 * y[:-3]
    errors = data.observables - np.asarray(spec["mu_y"]) - signal - lags
    np.testing.assert_allclose(errors, data.measurement_errors, atol=1e-10)


@pytest.mark.parametrize("process", PROCESSES)
def test_dfm_filter_functions_reproduce_the_simulation(process):
    """dfm_state_mean / dfm_measurement_mean are the transition the simulator uses."""
    data = make_dfm_process(process, 300, burn_in=0, random_state=13)
    params = data.params
    p = params["alpha"].size
    x = np.concatenate([np.zeros(p), data.factor])
    x_lags = np.stack([x[p - lag:x.size - lag] for lag in range(1, p + 1)], axis=-1)
    shock_lag = np.concatenate([[0.0], data.state_shocks[:-1]])
    regime = 0 if data.regimes is None else data.regimes
    state_mean = dfm_state_mean(params, x_lags, shock_lag=shock_lag, regime=regime)
    np.testing.assert_allclose(data.factor - state_mean, data.state_shocks, atol=1e-12)
    y = np.vstack([np.zeros((3, 5)), data.observables])
    y_lags = np.stack([y[3 - lag:y.shape[0] - lag] for lag in (1, 2, 3)], axis=1)
    measurement_mean = dfm_measurement_mean(params, data.factor, y_lags=y_lags,
                                            regime=regime)
    np.testing.assert_allclose(data.observables - measurement_mean,
                               data.measurement_errors, atol=1e-10)


# --------------------------------------------------------------------------------------
# Distributions of the shocks and errors
# --------------------------------------------------------------------------------------


def test_process1_is_gaussian_ar1_with_persistence_096(long_samples):
    data = long_samples[1]
    x = data.factor
    design = np.column_stack([np.ones(x.size - 1), x[:-1]])
    coef, *_ = np.linalg.lstsq(design, x[1:], rcond=None)
    resid = x[1:] - design @ coef
    sigma2 = resid.var(ddof=2)
    se = np.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1])
    assert abs(coef[1] - 0.96) < 4 * se
    assert abs(coef[0]) < 0.01
    assert np.sqrt(sigma2) == pytest.approx(data.params["sigma_x"], rel=0.01)
    # Gaussian innovations: no skew, kurtosis 3.
    assert abs(stats.skew(resid)) < 4 * math.sqrt(6 / resid.size)
    assert abs(excess_kurtosis(resid)) < 4 * math.sqrt(24 / resid.size)


def test_process1_measurements_recover_loadings(long_samples):
    data = long_samples[1]
    design = np.column_stack([np.ones(data.factor.size), data.factor])
    coef, *_ = np.linalg.lstsq(design, data.observables, rcond=None)
    np.testing.assert_allclose(coef[1], PRINTED[1]["beta"], atol=0.02)
    np.testing.assert_allclose(coef[0], PRINTED[1]["mu_y"], atol=0.03)


@pytest.mark.parametrize("process", [3, 4])
def test_t10_state_shocks(process, long_samples):
    shocks = long_samples[process].state_shocks
    sigma_x = PRINTED[process]["sigma_x"]
    assert abs(shocks.mean()) < 4 * sigma_x / math.sqrt(shocks.size)
    assert shocks.std() == pytest.approx(sigma_x, rel=0.015)
    # Excess kurtosis of t(10) is 6 / (10 - 4) = 1.
    assert excess_kurtosis(shocks) == pytest.approx(1.0, abs=0.35)
    scaled = shocks / (sigma_x * math.sqrt(8 / 10))
    assert stats.kstest(scaled, stats.t(10).cdf).pvalue > 1e-3


@pytest.mark.parametrize("process, t_errors", [(1, False), (2, True), (3, False),
                                               (4, True), (5, True)])
def test_measurement_error_tails(process, t_errors, long_samples):
    errors = long_samples[process].measurement_errors
    kurt = np.array([excess_kurtosis(errors[:, i]) for i in range(5)])
    if t_errors:
        np.testing.assert_allclose(kurt, 1.0, atol=0.35)
    else:
        np.testing.assert_allclose(kurt, 0.0, atol=4 * math.sqrt(24 / errors.shape[0]))


def _skew_t_reference(df=10.0, slant=-2.0):
    """Density, mean, sd and skewness of Azzalini's skew-t by numerical integration."""

    def density(z):
        arg = slant * z * np.sqrt((df + 1) / (df + z * z))
        return 2 * stats.t.pdf(z, df) * stats.t.cdf(arg, df + 1)

    def moment(power, centre=0.0):
        return integrate.quad(lambda z: (z - centre) ** power * density(z),
                              -np.inf, np.inf)[0]

    mean = moment(1)
    sd = math.sqrt(moment(2, mean))
    return density, mean, sd, moment(3, mean) / sd**3


def test_process5_skewed_t_shocks(long_samples):
    shocks = long_samples[5].state_shocks
    sigma_x = 0.387
    density, mean, sd, skewness = _skew_t_reference()
    assert skewness < -0.5
    assert abs(shocks.mean()) < 4 * sigma_x / math.sqrt(shocks.size)
    assert shocks.std() == pytest.approx(sigma_x, rel=0.015)
    assert stats.skew(shocks) == pytest.approx(skewness, abs=0.08)
    # Distribution check against the Azzalini density (standardised as documented).
    grid = np.linspace(-15, 8, 20_001)
    cdf = integrate.cumulative_trapezoid(density(grid), grid, initial=0.0)
    standard = mean + sd * shocks / sigma_x
    assert stats.kstest(standard, lambda v: np.interp(v, grid, cdf)).pvalue > 1e-3


def test_process5_is_arma31_with_printed_coefficients():
    data = make_dfm_process(5, 100_000, random_state=3)
    ar = [1.0, -0.74, -0.15, -0.074]
    expected = arma_acf(ar, [1.0, 0.15], lags=13)
    np.testing.assert_allclose(acf(data.factor, nlags=12, fft=True), expected, atol=0.02)
    # With the true innovations known, OLS of x_t on its three lags and eps_{t-1}
    # recovers the AR and MA coefficients.
    x, eps = data.factor, data.state_shocks
    design = np.column_stack([x[2:-1], x[1:-2], x[:-3], eps[2:-1]])
    coef, *_ = np.linalg.lstsq(design, x[3:], rcond=None)
    resid = x[3:] - design @ coef
    se = np.sqrt(np.diag(resid.var() * np.linalg.inv(design.T @ design)))
    assert np.all(np.abs(coef - [0.74, 0.15, 0.074, 0.15]) < 4 * se)
    # The stated AR polynomial is stationary.
    assert np.all(np.abs(np.roots(ar[::-1])) > 1)


def test_process6_switches_at_stated_rates(long_samples):
    regimes = long_samples[6].regimes
    previous, current = regimes[:-1], regimes[1:]
    from_zero, from_one = previous == 0, previous == 1
    p01 = np.mean(current[from_zero] == 1)
    p10 = np.mean(current[from_one] == 0)
    assert abs(p01 - 0.03) < 4 * math.sqrt(0.03 * 0.97 / from_zero.sum())
    assert abs(p10 - 0.01) < 4 * math.sqrt(0.01 * 0.99 / from_one.sum())
    # Stationary share of regime 1 is 0.03 / (0.03 + 0.01) = 0.75.
    assert np.mean(regimes == 1) == pytest.approx(0.75, abs=0.05)


def test_process6_regime_distributions(long_samples):
    data = long_samples[6]
    shocks0 = data.state_shocks[data.regimes == 0]
    shocks1 = data.state_shocks[data.regimes == 1]
    _, _, _, skewness = _skew_t_reference()
    # Regime 0: Gaussian shocks and errors; regime 1: skewed t shocks, t(10) errors.
    assert abs(stats.skew(shocks0)) < 4 * math.sqrt(6 / shocks0.size)
    assert abs(excess_kurtosis(shocks0)) < 4 * math.sqrt(24 / shocks0.size)
    assert stats.skew(shocks1) == pytest.approx(skewness, abs=0.1)
    for sample in (shocks0, shocks1):
        assert sample.std() == pytest.approx(0.51, rel=0.02)
    errors0 = data.measurement_errors[data.regimes == 0]
    errors1 = data.measurement_errors[data.regimes == 1]
    assert abs(excess_kurtosis(errors0[:, 0])) < 4 * math.sqrt(24 / errors0.shape[0])
    assert excess_kurtosis(errors1[:, 0]) == pytest.approx(1.0, abs=0.4)


# --------------------------------------------------------------------------------------
# Measurement error covariance, eq. (42), and signal-to-noise
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("process", PROCESSES)
def test_eq42_correlation_construction(process):
    spec = dfm_process_spec(process)
    corr = spec["corr_y"]
    off = corr[~np.eye(5, dtype=bool)]
    np.testing.assert_array_equal(np.diag(corr), np.ones(5))
    np.testing.assert_array_equal(corr, corr.T)
    assert off.mean() == pytest.approx(0.3, abs=1e-12)
    assert np.all(np.abs(off - 0.3) <= 0.15 + 1e-12)
    assert np.linalg.eigvalsh(corr).min() > 0
    sd = spec["sigma_y"]
    np.testing.assert_allclose(spec["cov_y"], np.diag(sd) @ corr @ np.diag(sd))
    # Each process has its own random R.
    others = [dfm_process_spec(p)["corr_y"] for p in PROCESSES if p != process]
    assert all(not np.allclose(corr, other) for other in others)


def _signal(data):
    params = data.params
    scale = 1.0 if data.regimes is None else np.asarray(params["regime_scale"])[
        data.regimes][:, None]
    x = data.factor[:, None]
    if params["gamma"] is None:
        return params["beta"] * scale * x
    return params["beta"] * scale * reference_spow(x, params["gamma"] * scale,
                                                    params["c_y"])


@pytest.mark.parametrize("process", PROCESSES)
def test_measurement_errors_have_eq42_covariance_and_uniform_snr(process, long_samples):
    data = long_samples[process]
    params = data.params
    errors = data.measurement_errors
    np.testing.assert_allclose(np.corrcoef(errors.T), params["corr_y"], atol=0.02)
    np.testing.assert_allclose(errors.std(axis=0), params["sigma_y"], rtol=0.02)
    snr = _signal(data).var(axis=0) / errors.var(axis=0)
    # The same signal-to-noise ratio for every variable (persistent state: 10%).
    np.testing.assert_allclose(snr, params["snr"], rtol=0.1)
    assert snr.max() / snr.min() < 1.1


# "Mean(y)" column of the paper's Tables 6, 8 and 10, which the noise levels target.
PAPER_MEAN_R2 = {1: 0.66, 2: 0.63, 3: 0.87, 4: 0.89, 5: 0.90, 6: 0.92}


@pytest.mark.parametrize("process", PROCESSES)
def test_cross_sectional_mean_explains_factor_as_in_paper(process, long_samples):
    data = long_samples[process]
    r2 = np.corrcoef(data.factor, data.observables.mean(axis=1))[0, 1] ** 2
    assert r2 == pytest.approx(PAPER_MEAN_R2[process], abs=0.03)


# --------------------------------------------------------------------------------------
# Densities for particle filters
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("process, regime", [(1, 0), (3, 0), (5, 0), (6, 0), (6, 1)])
def test_shock_logpdf_is_a_density_with_stated_moments(process, regime):
    spec = dfm_process_spec(process)

    def pdf(e):
        return float(np.exp(dfm_shock_logpdf(spec, e, regime=regime)))

    total = integrate.quad(pdf, -np.inf, np.inf)[0]
    mean = integrate.quad(lambda e: e * pdf(e), -np.inf, np.inf)[0]
    var = integrate.quad(lambda e: e * e * pdf(e), -np.inf, np.inf)[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    assert mean == pytest.approx(0.0, abs=1e-6)
    assert var == pytest.approx(spec["sigma_x"] ** 2, rel=1e-5)


def test_error_logpdf_matches_gaussian_and_t_formulas():
    spec = dfm_process_spec(6)
    cov = spec["cov_y"]
    u = np.array([[0.1, -0.2, 0.3, 0.0, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]])
    _, logdet = np.linalg.slogdet(cov)
    quad = np.einsum("ni,ij,nj->n", u, np.linalg.inv(cov), u)
    gauss = -0.5 * (5 * math.log(2 * math.pi) + logdet + quad)
    np.testing.assert_allclose(dfm_error_logpdf(spec, u, regime=0), gauss)
    # Multivariate t(10) with covariance cov: shape cov * 8 / 10.
    nu, k = 10.0, 5
    shape_logdet = logdet + k * math.log(8 / 10)
    shape_quad = quad * 10 / 8
    t = (math.lgamma((nu + k) / 2) - math.lgamma(nu / 2) - k / 2 * math.log(nu * math.pi)
         - 0.5 * shape_logdet - (nu + k) / 2 * np.log1p(shape_quad / nu))
    np.testing.assert_allclose(dfm_error_logpdf(spec, u, regime=[1, 1]), t)
    mixed = dfm_error_logpdf(spec, u, regime=np.array([0, 1]))
    np.testing.assert_allclose(mixed, [gauss[0], t[1]])


# --------------------------------------------------------------------------------------
# Nelson-Siegel curves
# --------------------------------------------------------------------------------------


def ns_loadings(tau, decay):
    x = decay * np.asarray(tau, dtype=float)
    slope = (1 - np.exp(-x)) / x
    return np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])


def test_ns_single_family_layout():
    data = make_nelson_siegel_curves(n_dates=30, maturities=[0.5, 2, 10],
                                     random_state=0)
    assert data.curves.shape == (30, 3)
    assert isinstance(data.curves.index, pd.DatetimeIndex)
    assert data.curves.index.name == "date"
    assert data.curves.index[0] == pd.Timestamp("2000-01-31")
    assert data.curves.index[1] == pd.Timestamp("2000-02-29")
    assert data.curves.columns.tolist() == [0.5, 2.0, 10.0]
    assert data.curves.columns.dtype == float
    assert data.factors.columns.tolist() == ["level", "slope", "curvature"]
    assert data.factors.index.equals(data.curves.index)
    assert data.noise_free.index.equals(data.curves.index)
    assert data.noise_free.columns.equals(data.curves.columns)


def test_ns_maturity_labels_become_years():
    data = make_nelson_siegel_curves(n_dates=5, maturities=["3M", "1Y", "10Y"],
                                     random_state=0)
    assert data.curves.columns.tolist() == [0.25, 1.0, 10.0]
    np.testing.assert_allclose(data.params["maturities"], [0.25, 1.0, 10.0])


def test_ns_noise_free_is_loadings_times_factors_exactly():
    tau = [0.25, 1, 3, 7, 30]
    data = make_nelson_siegel_curves(n_dates=50, maturities=tau, decay=0.5,
                                     n_families=2, random_state=1)
    expected = data.factors.to_numpy() @ ns_loadings(tau, 0.5).T
    np.testing.assert_allclose(data.noise_free.to_numpy(), expected, rtol=1e-13,
                               atol=1e-13)
    np.testing.assert_allclose(data.params["loadings"], ns_loadings(tau, 0.5))


def test_ns_noise_std_recovered():
    data = make_nelson_siegel_curves(n_dates=2000, noise_std=0.07, random_state=2)
    noise = (data.curves - data.noise_free).to_numpy()
    assert noise.std() == pytest.approx(0.07, rel=0.03)
    assert abs(noise.mean()) < 4 * 0.07 / math.sqrt(noise.size)
    per_maturity = np.linspace(0.02, 0.2, 10)
    data = make_nelson_siegel_curves(n_dates=3000, noise_std=per_maturity,
                                     random_state=3)
    noise = (data.curves - data.noise_free).to_numpy()
    np.testing.assert_allclose(noise.std(axis=0), per_maturity, rtol=0.06)
    exact = make_nelson_siegel_curves(n_dates=10, noise_std=0.0, random_state=3)
    pd.testing.assert_frame_equal(exact.curves, exact.noise_free)


def test_ns_var1_recovered_by_ols():
    transition = np.array([[0.95, 0.03, 0.0], [0.0, 0.9, 0.05], [0.02, 0.0, 0.8]])
    mean = np.array([4.0, -1.5, 0.5])
    shock_cov = np.array([[0.09, 0.02, 0.0], [0.02, 0.16, -0.03], [0.0, -0.03, 0.36]])
    data = make_nelson_siegel_curves(n_dates=20_000, transition=transition,
                                     factor_mean=mean, factor_cov=shock_cov,
                                     random_state=4)
    f = data.factors.to_numpy()
    design = np.column_stack([np.ones(f.shape[0] - 1), f[:-1]])
    coef, *_ = np.linalg.lstsq(design, f[1:], rcond=None)
    resid = f[1:] - design @ coef
    inv = np.linalg.inv(design.T @ design)
    for j in range(3):
        se = np.sqrt(np.diag(inv)[1:] * resid[:, j].var())
        assert np.all(np.abs(coef[1:, j] - transition[j]) < 4 * se)
    np.testing.assert_allclose(np.cov(resid.T), shock_cov, atol=0.02)
    implied_mean = np.linalg.solve(np.eye(3) - coef[1:].T, coef[0])
    np.testing.assert_allclose(implied_mean, mean, atol=0.25)


def test_ns_starts_from_stationary_distribution():
    # One date for many uncorrelated families: draws of the stationary distribution.
    transition = np.diag([0.98, 0.9, 0.7])
    shock_cov = np.diag([0.1, 0.2, 0.3])
    data = make_nelson_siegel_curves(n_dates=1, n_families=4000, transition=transition,
                                     factor_cov=shock_cov, family_correlation=0.0,
                                     random_state=5)
    stationary = np.diag(np.diag(shock_cov) / (1 - np.diag(transition) ** 2))
    np.testing.assert_allclose(data.params["stationary_cov"], stationary)
    sample = np.cov(data.factors.to_numpy().T)
    np.testing.assert_allclose(np.diag(sample), np.diag(stationary), rtol=0.1)


def test_ns_multiindex_layout():
    names = ["EUR", "USD", "GBP"]
    data = make_nelson_siegel_curves(n_dates=12, maturities=[1, 5], n_families=names,
                                     random_state=6)
    index = data.curves.index
    assert isinstance(index, pd.MultiIndex)
    assert list(index.names) == ["family", "date"]
    assert list(index.get_level_values("family").unique()) == names
    assert data.curves.shape == (36, 2)
    eur = data.curves.loc["EUR"]
    assert eur.shape == (12, 2)
    assert eur.index.equals(pd.date_range("2000-01-31", periods=12, freq="ME"))
    assert data.factors.index.equals(index)
    assert data.params["families"] == names
    default_names = make_nelson_siegel_curves(n_dates=3, n_families=2, random_state=0)
    assert list(default_names.curves.index.get_level_values("family").unique()) == [
        "family_1", "family_2"]


@pytest.mark.parametrize("rho", [0.5, 0.0, -0.4])
def test_ns_family_correlation_of_shocks(rho):
    data = make_nelson_siegel_curves(n_dates=5000, n_families=3, family_correlation=rho,
                                     random_state=7)
    params = data.params
    shocks = []
    for family in params["families"]:
        f = data.factors.loc[family].to_numpy() - params["mean"]
        shocks.append(f[1:] - f[:-1] @ params["transition"].T)
    for j in range(3):
        corr = np.corrcoef([s[:, j] for s in shocks])
        off = corr[~np.eye(3, dtype=bool)]
        np.testing.assert_allclose(off, rho, atol=0.05)
    # Within a family the shocks have the stated covariance.
    np.testing.assert_allclose(np.cov(shocks[0].T), params["shock_cov"], atol=0.05)


def test_ns_per_family_means():
    means = np.array([[5.0, -1.0, 0.0], [1.0, 2.0, -1.0]])
    data = make_nelson_siegel_curves(n_dates=3000, n_families=["a", "b"],
                                     factor_mean=means, transition=np.diag([0.5] * 3),
                                     random_state=8)
    for family, mean in zip(["a", "b"], means):
        np.testing.assert_allclose(data.factors.loc[family].mean().to_numpy(), mean,
                                   atol=0.1)


def test_ns_reproducible():
    first = make_nelson_siegel_curves(n_dates=40, n_families=2, random_state=9)
    second = make_nelson_siegel_curves(n_dates=40, n_families=2, random_state=9)
    other = make_nelson_siegel_curves(n_dates=40, n_families=2, random_state=10)
    pd.testing.assert_frame_equal(first.curves, second.curves)
    pd.testing.assert_frame_equal(first.factors, second.factors)
    assert not np.array_equal(first.curves.to_numpy(), other.curves.to_numpy())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_dates=0), ValueError, "n_dates must be >= 1"),
        (dict(n_dates=2.5), TypeError, "n_dates must be an integer"),
        (dict(maturities=[2, 1]), ValueError, "not sorted"),
        (dict(maturities=[1, 1]), ValueError, "duplicated"),
        (dict(maturities=[-1, 1]), ValueError, "non-negative"),
        (dict(maturities=["3X"]), ValueError, "unknown maturity unit"),
        (dict(maturities=[]), ValueError, "at least one maturity"),
        (dict(maturities=[[1, 2]]), ValueError, "one-dimensional"),
        (dict(n_families=0), ValueError, "n_families must be >= 1"),
        (dict(n_families=["a", "a"]), ValueError, "unique"),
        (dict(n_families="EUR"), TypeError, "list of family names"),
        (dict(decay=-1.0), ValueError, "decay must be a positive"),
        (dict(transition=np.eye(3)), ValueError, "stationary"),
        (dict(transition=np.eye(2)), ValueError, r"transition must have shape \(3, 3\)"),
        (dict(factor_mean=[1.0, 2.0]), ValueError, "factor_mean must be finite"),
        (dict(factor_cov=np.diag([1.0, -1.0, 1.0])), ValueError, "positive semi-definite"),
        (dict(factor_cov=[[1, 0.5, 0], [0, 1, 0], [0, 0, 1]]), ValueError, "symmetric"),
        (dict(n_families=3, family_correlation=-0.6), ValueError, "family_correlation"),
        (dict(family_correlation=1.5), ValueError, "family_correlation"),
        (dict(noise_std=-0.1), ValueError, "noise_std must be finite and non-negative"),
        (dict(noise_std=[0.1, 0.2]), ValueError, r"noise_std must be a number or have"),
        (dict(freq="not-a-freq"), ValueError, "cannot build dates"),
    ],
)
def test_ns_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_nelson_siegel_curves(**kwargs)
