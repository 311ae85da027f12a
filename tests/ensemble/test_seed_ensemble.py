"""SeedEnsemble (its scikit-learn checks run in tests/test_common.py, from get_test_params)."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

from skyield.datasets import make_nelson_siegel_curves
from skyield.ensemble import SeedEnsemble
from skyield.metrics import mpiw, picp
from skyield.models._yield_curve_attention import YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows

TINY = dict(units=4, embedding_size=2, epochs=2, batch_size=16)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def panel():
    data = make_nelson_siegel_curves(n_dates=50, maturities=[1, 3, 5, 10],
                                     n_families=["EUR", "USD"], random_state=0)
    windows = make_family_windows(data.curves, window=4, horizons=1)
    return windows.X, windows.y.reshape(windows.n_samples, -1), windows.families


def test_averaging_ensemble_and_the_mpiw_identity(panel):
    X, y, families = panel
    ensemble = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=3,
                            random_state=0).fit(X, y, families=families)
    assert ensemble.combine_ == "average" and len(ensemble.estimators_) == 3
    assert len(set(ensemble.seeds_)) == 3
    members = ensemble.estimators_
    np.testing.assert_allclose(
        ensemble.predict(X, families=families),
        np.mean([m.predict(X, families=families) for m in members], axis=0))
    bounds = ensemble.predict_interval(X, 0.95, families=families)
    member_bounds = [m.predict_interval(X, 0.95, families=families) for m in members]
    np.testing.assert_allclose(bounds, np.mean(member_bounds, axis=0))
    # Appendix A.2: the ensemble's MPIW is the average of the members' MPIW ...
    np.testing.assert_allclose(
        mpiw(bounds[..., 0], bounds[..., 1]),
        np.mean([mpiw(b[..., 0], b[..., 1]) for b in member_bounds]), rtol=1e-12)
    # ... while PICP has no such identity (it is not linear in the bounds).
    assert 0.0 <= picp(y, bounds[..., 0], bounds[..., 1]) <= 1.0
    quantiles = ensemble.predict_quantiles(X, [0.025, 0.25, 0.5, 0.75, 0.975],
                                           families=families)
    assert np.all(np.diff(quantiles, axis=-1) >= 0)


def test_same_seed_same_members_and_caller_generator_untouched(panel):
    X, y, families = panel
    torch.manual_seed(5)
    before = torch.get_rng_state()
    first = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), 2, random_state=3).fit(
        X, y, families=families)
    second = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), 2, random_state=3).fit(
        X, y, families=families)
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(first.seeds_, second.seeds_)
    np.testing.assert_array_equal(first.predict_interval(X, families=families),
                                  second.predict_interval(X, families=families))


def test_loky_backend_gives_the_sequential_members(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(**TINY)
    sequential = SeedEnsemble(base, 2, random_state=0).fit(X, y, families=families)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        parallel = SeedEnsemble(base, 2, random_state=0).fit(X, y, families=families)
    np.testing.assert_array_equal(parallel.predict_quantiles(X, families=families),
                                  sequential.predict_quantiles(X, families=families))


@pytest.mark.slow
def test_dask_backend_gives_the_sequential_members(panel):
    distributed = pytest.importorskip("distributed")
    X, y, families = panel
    base = YieldCurveAttentionRegressor(**TINY)
    sequential = SeedEnsemble(base, 2, random_state=0).fit(X, y, families=families)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None):
        with joblib.parallel_config(backend="dask"):
            scattered = SeedEnsemble(base, 2, random_state=0).fit(X, y, families=families)
    np.testing.assert_array_equal(scattered.predict(X, families=families),
                                  sequential.predict(X, families=families))


def test_deep_ensemble_mixture(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(distribution="gaussian", **TINY)
    ensemble = SeedEnsemble(base, 3, random_state=0).fit(X, y, families=families)
    assert ensemble.combine_ == "mixture"
    means = np.stack([m.predict(X, families=families) for m in ensemble.estimators_])
    stds = np.stack([m.predict_std(X, families=families) for m in ensemble.estimators_])
    mean = means.mean(0)
    variance = (stds ** 2 + means ** 2).mean(0) - mean ** 2
    np.testing.assert_allclose(ensemble.predict(X, families=families), mean)
    np.testing.assert_allclose(ensemble.predict_std(X, families=families), np.sqrt(variance))
    # the mixture is at least as wide as the average member (law of total variance)
    assert np.all(variance >= (stds ** 2).mean(0) - 1e-12)
    bounds = ensemble.predict_interval(X, 0.9, families=families)
    np.testing.assert_allclose(bounds[..., 1], mean + 1.6448536269514722 * np.sqrt(variance))
    quantiles = ensemble.predict_quantiles(X, families=families)   # members' levels
    assert quantiles.shape == y.shape + (2,)
    averaged = SeedEnsemble(base, 3, combine="average", random_state=0).fit(
        X, y, families=families)
    assert not hasattr(averaged, "predict_std")


def test_quantile_members_have_no_std(panel):
    ensemble = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), 2)
    assert not hasattr(ensemble, "predict_std")
    X, y, families = panel
    with pytest.raises(ValueError, match="combine='mixture' needs members with predict_std"):
        SeedEnsemble(YieldCurveAttentionRegressor(**TINY), 2, combine="mixture").fit(X, y)


def test_any_estimator_with_random_state(panel):
    X, y, _ = panel
    flat = X.reshape(len(X), -1)
    ridge = SeedEnsemble(Ridge(solver="sag", random_state=0, max_iter=5), 2,
                         random_state=0).fit(flat, y)
    assert ridge.predict(flat).shape == y.shape
    assert not hasattr(ridge, "predict_interval")
    from sklearn.neighbors import KNeighborsRegressor
    with pytest.raises(ValueError, match="varies random_state"):
        SeedEnsemble(KNeighborsRegressor(), 2).fit(flat, y)
    with pytest.raises(ValueError, match="n_estimators must be"):
        SeedEnsemble(Ridge(), 0).fit(flat, y)
