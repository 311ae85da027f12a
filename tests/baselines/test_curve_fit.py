"""Static Nelson-Siegel / Svensson fitting: known factors, decay rules, missing maturities."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline

from skyield.baselines import (
    NelsonSiegelCurve,
    decay_for_peak_curvature,
    fit_nelson_siegel,
    fit_svensson,
    nelson_siegel_loadings,
    svensson_loadings,
)
from skyield.baselines._curve_fit import _decay_grid

TAU = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0])


def _ns_by_hand(tau, decay):
    x = decay * np.asarray(tau, dtype=float)
    slope = (1 - np.exp(-x)) / x
    return np.column_stack([np.ones_like(x), slope, slope - np.exp(-x)])


def _factors(n, k, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(loc=[5.0, -2.0, 1.0, 0.5][:k], scale=1.0, size=(n, k))


def test_nelson_siegel_recovers_exact_factors():
    beta = _factors(40, 3, 0)
    curves = beta @ _ns_by_hand(TAU, 0.6).T
    fit = fit_nelson_siegel(curves, TAU, decay=0.6)
    np.testing.assert_allclose(fit.factors, beta, atol=1e-10)
    np.testing.assert_allclose(fit.residuals, 0.0, atol=1e-10)
    assert fit.decay == 0.6 and fit.factors.shape == (40, 3)


def test_nelson_siegel_recovers_factors_with_noise():
    beta = _factors(200, 3, 1)
    rng = np.random.default_rng(2)
    curves = beta @ _ns_by_hand(TAU, 0.6).T + rng.normal(scale=0.01, size=(200, TAU.size))
    fit = fit_nelson_siegel(curves, TAU, decay=0.6)
    design = _ns_by_hand(TAU, 0.6)
    standard_error = 0.01 * np.sqrt(np.diag(np.linalg.inv(design.T @ design)))
    # 600 estimates: none should stray beyond 4.5 standard errors.
    assert np.max(np.abs(fit.factors - beta) / standard_error) < 4.5
    assert np.std(fit.residuals) == pytest.approx(0.01 * np.sqrt(7 / 10), rel=0.1)


def test_svensson_recovers_exact_factors():
    beta = _factors(30, 4, 3)
    curves = beta @ svensson_loadings(TAU, 1.2, 0.15).T
    fit = fit_svensson(curves, TAU, 1.2, 0.15)
    np.testing.assert_allclose(fit.factors, beta, atol=1e-8)
    assert fit.decay == (1.2, 0.15)


def test_single_curve_and_dataframe_columns():
    labels = ["3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "20Y", "30Y"]
    curve = np.array([5.0, -1.0, 2.0]) @ _ns_by_hand(TAU, 0.5).T
    fit = fit_nelson_siegel(pd.DataFrame([curve], columns=labels), decay=0.5)
    np.testing.assert_allclose(fit.maturities, TAU)
    np.testing.assert_allclose(fit.factors, [[5.0, -1.0, 2.0]], atol=1e-10)
    one = fit_nelson_siegel(curve, TAU, decay=0.5)
    assert one.factors.shape == (3,) and one.residuals.shape == (TAU.size,)


def test_missing_maturities_are_skipped_per_curve():
    beta = _factors(3, 3, 4)
    rng = np.random.default_rng(5)
    curves = beta @ _ns_by_hand(TAU, 0.5).T + rng.normal(scale=0.05, size=(3, TAU.size))
    curves[1, [0, 4, 9]] = np.nan
    fit = fit_nelson_siegel(curves, TAU, decay=0.5)
    observed = ~np.isnan(curves[1])
    alone = fit_nelson_siegel(curves[1, observed], TAU[observed], decay=0.5)
    np.testing.assert_allclose(fit.factors[1], alone.factors, rtol=1e-12)
    np.testing.assert_allclose(fit.factors[[0, 2]],
                               fit_nelson_siegel(curves[[0, 2]], TAU, decay=0.5).factors)
    assert np.isnan(fit.residuals[1, [0, 4, 9]]).all()
    assert not np.isnan(fit.residuals[[0, 2]]).any()


def test_too_few_observed_maturities_is_an_error_naming_the_curve():
    curves = np.tile(np.arange(1.0, 11.0), (4, 1))
    curves[2, 2:] = np.nan
    with pytest.raises(ValueError, match="curve 2 has 2 observed maturities, fewer than the 3"):
        fit_nelson_siegel(curves, TAU, decay=0.5)
    frame = pd.DataFrame(curves, index=pd.date_range("2020-01-31", periods=4, freq="ME"),
                         columns=TAU)
    with pytest.raises(ValueError, match="2020-03-31"):
        fit_nelson_siegel(frame, decay=0.5)


def test_diebold_li_decay():
    fit = fit_nelson_siegel(np.ones((1, TAU.size)), TAU, decay="diebold-li")
    # 1.7933 / 30 months: 0.0598 per month (the paper rounds to 0.0609).
    assert fit.decay / 12 == pytest.approx(0.05978, abs=2e-5)
    assert fit.decay == pytest.approx(decay_for_peak_curvature(2.5))
    curvature = _ns_by_hand([2.4, 2.5, 2.6], fit.decay)[:, 2]
    assert curvature[1] > curvature[0] and curvature[1] > curvature[2]


def test_mean_maturity_rules_of_seed_001():
    curves = np.ones((1, TAU.size))
    # Average maturity of the grid: 78.75 / 10 = 7.875 years.
    assert fit_nelson_siegel(curves, TAU, decay="mean-maturity").decay == pytest.approx(1 / 7.875)
    # Quartiles of the grid (linear interpolation): 1.25 and 9.25 years.
    decay1, decay2 = fit_svensson(curves, TAU, "mean-maturity").decay
    assert decay1 == pytest.approx(1 / 1.25) and decay2 == pytest.approx(1 / 9.25)


def test_grid_search_finds_the_generating_decay():
    beta = _factors(50, 3, 6)
    curves = beta @ _ns_by_hand(TAU, 0.5).T
    decay = fit_nelson_siegel(curves, TAU, decay="grid").decay
    # Neighbouring grid decays differ by a factor (30 / 0.25) ** (1 / 99) = 1.049.
    assert abs(np.log(decay / 0.5)) < np.log(1.05)


def test_svensson_grid_search_finds_grid_decays_exactly():
    grid = _decay_grid(TAU, 40)
    first, second = grid[30], grid[8]
    beta = _factors(50, 4, 7)
    curves = beta @ svensson_loadings(TAU, first, second).T
    assert fit_svensson(curves, TAU, "grid").decay == pytest.approx((first, second))


@pytest.mark.parametrize("decay, message", [
    ("bogus", "decay must be one of"),
    (-1.0, "positive number"),
    ((0.5,), "pair"),
])
def test_bad_decay_is_rejected(decay, message):
    factors = "nss" if isinstance(decay, tuple) else "ns"
    with pytest.raises(ValueError, match=message):
        NelsonSiegelCurve(factors=factors, decay=decay, maturities=TAU).fit(np.ones((2, 10)))


def test_svensson_rule_and_second_decay_conflict():
    with pytest.raises(ValueError, match="decay2 must be None"):
        fit_svensson(np.ones((1, 10)), TAU, "grid", 0.3)
    with pytest.raises(ValueError, match="decay2 is needed"):
        fit_svensson(np.ones((1, 10)), TAU, 0.3)


def test_estimator_round_trip_and_loadings_at_any_maturity():
    beta = _factors(5, 3, 8)
    model = NelsonSiegelCurve(decay=0.7, maturities=TAU).fit(beta @ _ns_by_hand(TAU, 0.7).T)
    curves = model.inverse_transform(beta)
    np.testing.assert_allclose(model.transform(curves), beta, atol=1e-10)
    np.testing.assert_allclose(model.loadings([0.0, 100.0]),
                               [[1.0, 1.0, 0.0], np.r_[1.0, _ns_by_hand([100.0], 0.7)[0, 1:]]])
    np.testing.assert_allclose(model.loadings([3.3, 15.0]), _ns_by_hand([3.3, 15.0], 0.7))
    np.testing.assert_allclose(model.loadings(), nelson_siegel_loadings(TAU, 0.7))
    assert list(model.get_feature_names_out()) == ["level", "slope", "curvature"]


def test_estimator_missing_policy():
    curves = np.tile(np.linspace(1, 3, 10), (3, 1))
    curves[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NelsonSiegelCurve(maturities=TAU).fit(curves)
    factors = NelsonSiegelCurve(maturities=TAU, missing="allow").fit(curves).transform(curves)
    assert np.isfinite(factors).all()


def test_estimator_needs_maturities():
    with pytest.raises(ValueError, match="needs maturities"):
        NelsonSiegelCurve().fit(np.ones((3, 10)))
    with pytest.raises(ValueError, match="n_features=2"):
        NelsonSiegelCurve(maturities="uniform").fit(np.ones((3, 2)))


def test_pipeline_and_grid_search():
    rng = np.random.default_rng(9)
    beta = rng.normal(size=(60, 3))
    curves = beta @ _ns_by_hand(TAU, 0.5).T + rng.normal(scale=0.01, size=(60, 10))
    target = beta[:, 0] - beta[:, 1]
    pipe = Pipeline([("ns", NelsonSiegelCurve(maturities=TAU)), ("ridge", Ridge(alpha=1e-6))])
    search = GridSearchCV(pipe, {"ns__decay": [0.5, 2.0]}, cv=TimeSeriesSplit(n_splits=3))
    search.fit(curves, target)
    assert search.best_params_ == {"ns__decay": 0.5}
    assert search.score(curves, target) > 0.99


def test_get_test_params():
    for params in NelsonSiegelCurve.get_test_params():
        NelsonSiegelCurve(**params).fit(np.random.default_rng(0).normal(size=(10, 5)))
