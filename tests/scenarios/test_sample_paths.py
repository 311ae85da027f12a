"""Joint paths agree with each model's own marginal forecasts.

Tolerances come from the sampling error of an empirical quantile: with ``n`` paths the
``q`` quantile of a distribution with density ``f`` has standard error
``sqrt(q (1 - q) / n) / f(x_q)`` (the binomial standard error of the count below
``x_q``, turned into a value through the density). For a Gaussian of standard deviation
``s`` the density at its ``q`` quantile is ``phi(z_q) / s``. Each check allows 4.5
standard errors per cell, so that with a few dozen cells per test a false failure has a
probability below 1e-4 (the seeds are fixed anyway, so the tests are deterministic).
"""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression

from skyield.baselines import (
    DynamicNelsonSiegel,
    GaussianLinearStateSpace,
    KalmanFactorModel,
    RandomWalk,
)
from skyield.compose import PerFamily
from skyield.datasets import make_nelson_siegel_curves
from skyield.preprocessing import make_windows
from skyield.scenarios import GaussianCopula, ScenarioCube, fit_copula, sample_paths

LEVELS = np.array([0.05, 0.5, 0.95])
N_PATHS = 4000
MATURITIES = [0.25, 1.0, 2.0, 5.0, 10.0]


def _assert_quantiles_match(cube, expected, sd):
    """``expected`` and ``sd`` of shape (horizon, n_maturities, n_levels) / (horizon, n)."""
    got = np.stack([cube.quantile(q).to_numpy() for q in LEVELS], axis=-1)
    se = np.sqrt(LEVELS * (1 - LEVELS) / cube.n_paths) / norm.pdf(norm.ppf(LEVELS))
    tolerance = 4.5 * sd[..., None] * se
    assert np.all(np.abs(got - expected) <= tolerance), np.max(np.abs(got - expected) / tolerance)


def _gaussian_sd(model_quantiles):
    """Standard deviation implied by Gaussian 5% and 95% quantiles."""
    return (model_quantiles[..., -1] - model_quantiles[..., 0]) / (2 * norm.ppf(0.95))


@pytest.fixture(scope="module")
def factor_panel():
    rng = np.random.default_rng(0)
    n = 150
    factor = np.zeros(n)
    for i in range(1, n):
        factor[i] = 0.8 * factor[i - 1] + rng.normal()
    loadings = np.array([1.0, 0.7, 0.4])
    values = factor[:, None] * loadings + 0.3 * rng.normal(size=(n, 3))
    dates = pd.date_range("2010-01-31", periods=n, freq="ME")
    return pd.DataFrame(values, index=dates, columns=["1Y", "5Y", "10Y"])


@pytest.fixture(scope="module")
def kalman(factor_panel):
    return KalmanFactorModel(n_factors=1, maxiter=50).fit(factor_panel)


@pytest.fixture(scope="module")
def ns_curves():
    return make_nelson_siegel_curves(n_dates=200, maturities=MATURITIES, random_state=3).curves


@pytest.fixture(scope="module")
def dns_updated(ns_curves):
    """A DNS fitted on the first 150 curves, then moved to the last one by update."""
    return DynamicNelsonSiegel(dynamics="var").fit(ns_curves[:150]).update(ns_curves[150:])


@pytest.fixture(scope="module")
def random_walk():
    rng = np.random.default_rng(5)
    corr = np.array([[1.0, 0.9, 0.6], [0.9, 1.0, 0.8], [0.6, 0.8, 1.0]])
    steps = rng.multivariate_normal(np.zeros(3), corr, size=600) * np.array([0.1, 0.2, 0.3])
    w = make_windows(np.cumsum(steps, axis=0), window=4, horizons=[1])
    model = RandomWalk().fit(w.X, w.y)
    return model, w, fit_copula(model, w.X, w.y), corr


def _rms_change(model):
    """Root mean squared training change per (horizon, target): the Gaussian sd."""
    return np.sqrt(np.mean(model.residuals_ ** 2, axis=0))


def test_kalman_factor_paths_match_forecast_quantiles(kalman, factor_panel):
    cube = sample_paths(kalman, N_PATHS, 3, random_state=0)
    expected = kalman.forecast(3, quantiles=LEVELS)
    _assert_quantiles_match(cube, expected, _gaussian_sd(expected))
    assert cube.dates.equals(pd.date_range("2022-07-31", periods=3, freq="ME"))
    assert cube.maturities.tolist() == ["1Y", "5Y", "10Y"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_glss_paths_match_forecast_quantiles(ns_curves):
    # A tiny fit that may stop early: the paths must match whatever was fitted.
    model = GaussianLinearStateSpace(n_factors=2, maxiter=20, em_iter=2).fit(ns_curves[:120])
    cube = sample_paths(model, N_PATHS, 2, random_state=1)
    expected = model.forecast(2, quantiles=LEVELS)
    _assert_quantiles_match(cube, expected, _gaussian_sd(expected))
    assert cube.shape == (N_PATHS, 2, len(MATURITIES))


def test_dns_paths_after_update_match_forecast_quantiles(dns_updated, ns_curves):
    # The paths start from the factors of the last curve seen (here brought by update).
    model = dns_updated
    cube = sample_paths(model, N_PATHS, 3, random_state=2)
    expected = model.forecast(3, quantiles=LEVELS)  # (3, n_maturities, 3)
    _assert_quantiles_match(cube, expected, _gaussian_sd(expected))
    assert cube.maturities.tolist() == MATURITIES
    assert cube.dates.equals(model.forecast(3).index)
    assert cube.dates[0] > ns_curves.index[-1]


def test_dns_panel_paths_match_forecast_quantiles(ns_curves):
    model = DynamicNelsonSiegel(dynamics="var").fit(ns_curves)
    cube = sample_paths(model, N_PATHS, 4, random_state=3)
    expected = model.forecast(4, quantiles=LEVELS)
    _assert_quantiles_match(cube, expected, _gaussian_sd(expected))
    assert cube.dates.equals(model.forecast(4).index)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_one_step_dns_paths_draw_the_filtered_state(ns_curves):
    # The one-step model's last state is uncertain: the paths draw it, as the forecast
    # quantiles count its covariance.
    model = DynamicNelsonSiegel(method="kalman", maxiter=30).fit(ns_curves[:120])
    assert model.state_cov_at_last_ is not None
    cube = sample_paths(model, N_PATHS, 2, random_state=7)
    expected = model.forecast(2, quantiles=LEVELS)
    _assert_quantiles_match(cube, expected, _gaussian_sd(expected))


def test_dns_paths_move_maturities_together(dns_updated):
    """Joint, not marginal: the factor structure makes nearby maturities co-move."""
    cube = sample_paths(dns_updated, N_PATHS, 1, random_state=4)
    corr = np.corrcoef(cube.values[:, 0].T)
    assert corr[-1, -2] > 0.5  # 5 and 10 years share level and slope


def test_random_walk_copula_paths(random_walk):
    model, w, copula, corr = random_walk
    assert np.allclose(copula.correlation, corr, atol=0.1)
    origin = w.X[-1]
    cube = sample_paths(model, N_PATHS, 3, X=origin, copula=copula, random_state=5)
    # One step: the model's own quantiles.
    one_step = model.predict_quantiles(origin[None], LEVELS)[0]
    first = ScenarioCube(cube.values[:, :1])
    _assert_quantiles_match(first, one_step, _gaussian_sd(one_step))
    # h steps of a random walk with Gaussian steps of sd s: Gaussian, sd s sqrt(h).
    s = _rms_change(model)[0]
    h = np.arange(1, 4)[:, None]
    expected = origin[-1][:, None] + (s * np.sqrt(h))[..., None] * norm.ppf(LEVELS)
    _assert_quantiles_match(cube, expected, s * np.sqrt(h))
    # The cross-maturity dependence is the copula's.
    assert np.allclose(np.corrcoef(cube.values[:, 0].T), copula.correlation, atol=0.05)


def test_mixture_over_members(random_walk):
    model, w, copula, _ = random_walk
    wide = RandomWalk().fit(w.X, w.X[:, -1:, :] + 3 * (w.y - w.X[:, -1:, :]))

    class Members(BaseEstimator):
        estimators_ = [model, wide]

        def fit(self, X, y):
            return self

        def __sklearn_is_fitted__(self):
            return True

    cube = sample_paths(Members(), N_PATHS, 1, X=w.X[-1], copula=copula, random_state=6)
    # An equal mixture of N(0, s^2) and N(0, 9 s^2) has variance 5 s^2.
    variance = cube.values[:, 0].var(axis=0)
    assert np.allclose(variance, 5 * _rms_change(model)[0] ** 2, rtol=0.1)


@pytest.mark.parametrize("kind", ["sequence", "dns", "copula"])
def test_reproducible_with_random_state(kind, kalman, dns_updated, random_walk):
    if kind == "sequence":
        model, kwargs = kalman, {}
    elif kind == "dns":
        model, kwargs = dns_updated, {}
    else:
        model, kwargs = random_walk[0], {"X": random_walk[1].X[-1], "copula": random_walk[2]}
    a = sample_paths(model, 50, 2, random_state=11, **kwargs)
    b = sample_paths(model, 50, 2, random_state=11, **kwargs)
    c = sample_paths(model, 50, 2, random_state=12, **kwargs)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))


def test_dated_window_gives_dated_horizons(random_walk):
    model, w, copula, _ = random_walk
    window = pd.DataFrame(w.X[-1], index=pd.date_range("2020-01-03", periods=4, freq="W-FRI"))
    cube = sample_paths(model, 10, 2, X=window, copula=copula, random_state=0)
    assert cube.dates.tolist() == [pd.Timestamp("2020-01-31"), pd.Timestamp("2020-02-07")]


def test_clear_errors(kalman, dns_updated, random_walk):
    model, w, copula, _ = random_walk
    with pytest.raises(TypeError, match="no sample_paths method.*no predict_quantiles"):
        sample_paths(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), 5, 1)
    with pytest.raises(ValueError, match="copula=fit_copula"):
        sample_paths(model, 5, 1, X=w.X[-1])
    with pytest.raises(ValueError, match="pass X, the last window"):
        sample_paths(model, 5, 1, copula=copula)
    with pytest.raises(ValueError, match="single window"):
        sample_paths(model, 5, 1, X=w.X[-2:], copula=copula)
    with pytest.raises(ValueError, match="joins 2 series"):
        sample_paths(model, 5, 1, X=w.X[-1], copula=GaussianCopula(np.eye(2)))
    with pytest.raises(ValueError, match="pass X=None"):
        sample_paths(kalman, 5, 1, X=w.X[-1])
    with pytest.raises(ValueError, match="n_paths must be an integer in \\[1, inf\\)"):
        sample_paths(kalman, 0, 1)
    with pytest.raises(ValueError, match="horizon must be an integer in \\[1, inf\\)"):
        sample_paths(kalman, 5, 1.5)
    with pytest.raises(ValueError, match="DynamicNelsonSiegel is a sequence model.*pass X=None"):
        sample_paths(dns_updated, 5, 1, X=np.zeros((2, len(MATURITIES))))
    with pytest.raises(ValueError, match="was fitted on 3"):
        sample_paths(model, 5, 1, X=w.X[-1][:, :2], copula=copula)


def test_dns_of_several_families_is_refused():
    curves = make_nelson_siegel_curves(n_dates=60, maturities=MATURITIES, random_state=4,
                                       n_families=["a", "b"]).curves
    two = PerFamily(DynamicNelsonSiegel()).fit(curves)
    with pytest.raises(NotImplementedError, match="PerFamily does not simulate paths"):
        sample_paths(two, 5, 1)
    # One family at a time does.
    cube = sample_paths(two.estimators_["a"], 5, 1, random_state=0)
    assert cube.shape == (5, 1, len(MATURITIES))
