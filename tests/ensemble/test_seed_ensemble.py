"""SeedEnsemble (its scikit-learn checks run in tests/test_common.py, from get_test_params)."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor

from skyield.datasets import make_nelson_siegel_curves
from skyield.ensemble import SeedEnsemble
from skyield.metrics import mpiw, picp
from skyield.models._yield_curve_attention import YieldCurveAttentionRegressor
from skyield.preprocessing import make_family_windows

TINY = dict(units=4, embedding_size=2, epochs=2, batch_size=16)


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
    first = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=2,
                         random_state=3).fit(X, y, families=families)
    second = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=2,
                          random_state=3).fit(X, y, families=families)
    assert torch.equal(torch.get_rng_state(), before)
    np.testing.assert_array_equal(first.seeds_, second.seeds_)
    np.testing.assert_array_equal(first.predict_interval(X, families=families),
                                  second.predict_interval(X, families=families))


def test_loky_backend_gives_the_sequential_members(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(**TINY)
    sequential = SeedEnsemble(base, n_estimators=2, random_state=0).fit(
        X, y, families=families)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        parallel = SeedEnsemble(base, n_estimators=2, random_state=0).fit(
            X, y, families=families)
    np.testing.assert_array_equal(parallel.predict_quantiles(X, families=families),
                                  sequential.predict_quantiles(X, families=families))


@pytest.mark.slow
def test_dask_backend_gives_the_sequential_members(panel):
    distributed = pytest.importorskip("distributed")
    X, y, families = panel
    base = YieldCurveAttentionRegressor(**TINY)
    sequential = SeedEnsemble(base, n_estimators=2, random_state=0).fit(
        X, y, families=families)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2,
                            dashboard_address=None):
        with joblib.parallel_config(backend="dask"):
            scattered = SeedEnsemble(base, n_estimators=2, random_state=0).fit(
                X, y, families=families)
    np.testing.assert_array_equal(scattered.predict(X, families=families),
                                  sequential.predict(X, families=families))


def test_deep_ensemble_mixture(panel):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(distribution="gaussian", **TINY)
    ensemble = SeedEnsemble(base, n_estimators=3, random_state=0).fit(X, y, families=families)
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
    quantiles = ensemble.predict_quantiles(X, families=families)   # (0.025, 0.5, 0.975)
    assert quantiles.shape == y.shape + (3,)
    np.testing.assert_allclose(quantiles[..., 1], mean)
    np.testing.assert_allclose(quantiles[..., [0, 2]], ensemble.predict_interval(
        X, 0.95, families=families))
    with pytest.raises(ValueError, match="strictly increasing"):
        ensemble.predict_quantiles(X, [0.9, 0.1], families=families)
    averaged = SeedEnsemble(base, n_estimators=3, combine="average", random_state=0).fit(
        X, y, families=families)
    assert not hasattr(averaged, "predict_std")


def test_quantile_members_have_no_std(panel):
    ensemble = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=2)
    assert not hasattr(ensemble, "predict_std")
    X, y, families = panel
    with pytest.raises(ValueError, match="combine='mixture' needs members with predict_std"):
        SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=2,
                     combine="mixture").fit(X, y)


def test_any_estimator_with_random_state(panel):
    X, y, _ = panel
    flat = X.reshape(len(X), -1)
    ridge = SeedEnsemble(Ridge(solver="sag", random_state=0, max_iter=5), n_estimators=2,
                         random_state=0).fit(flat, y)
    assert ridge.predict(flat).shape == y.shape
    assert not hasattr(ridge, "predict_interval")
    from sklearn.neighbors import KNeighborsRegressor
    with pytest.raises(ValueError, match="varies random_state"):
        SeedEnsemble(KNeighborsRegressor(), n_estimators=2).fit(flat, y)
    with pytest.raises(ValueError, match=r"SeedEnsemble: n_estimators must be an integer in "
                                         r"\[1, inf\), got 0"):
        SeedEnsemble(Ridge(), n_estimators=0).fit(flat, y)
    with pytest.raises(TypeError):
        SeedEnsemble(Ridge(), 2)      # n_estimators is keyword-only


def test_attention_is_the_mean_over_the_members(panel):
    X, y, families = panel
    ensemble = SeedEnsemble(YieldCurveAttentionRegressor(**TINY), n_estimators=3,
                            random_state=0).fit(X, y, families=families)
    attention = ensemble.get_attention(X, families=families)
    members = [m.get_attention(X, families=families) for m in ensemble.estimators_]
    assert attention.shape == members[0].shape == (len(X), 4, 4)
    np.testing.assert_allclose(attention, np.mean(members, axis=0))
    assert not np.allclose(members[0], members[1])      # the mean is not one member's
    assert np.all(attention >= 0)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-10)
    # Members without attention: the ensemble has none either.
    conv = SeedEnsemble(YieldCurveAttentionRegressor(extractor="conv", **TINY),
                        n_estimators=2)
    assert not hasattr(conv, "get_attention")
    assert not hasattr(SeedEnsemble(Ridge(), n_estimators=2), "get_attention")


def test_attention_of_lstm_attention_members():
    from skyield.models import LSTMAttentionRegressor
    from skyield.preprocessing import make_windows

    rng = np.random.RandomState(0)
    windows = make_windows(3.0 + 0.1 * rng.normal(size=(50, 3)).cumsum(axis=0), window=6,
                           horizons=2, targets=[0])
    base = LSTMAttentionRegressor(units=4, epochs=2, batch_size=16)
    ensemble = SeedEnsemble(base, n_estimators=2, random_state=0).fit(windows.X, windows.y)
    attention = ensemble.get_attention(windows.X)
    members = [m.get_attention(windows.X) for m in ensemble.estimators_]
    assert attention.shape == (windows.n_samples, 2, 6)
    np.testing.assert_allclose(attention, np.mean(members, axis=0))
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, rtol=1e-5)
    # The members' empirical quantiles, averaged; the default levels (0.025, 0.5, 0.975).
    quantiles = ensemble.predict_quantiles(windows.X)
    assert quantiles.shape == windows.y.shape + (3,)
    np.testing.assert_allclose(quantiles, np.mean(
        [m.predict_quantiles(windows.X) for m in ensemble.estimators_], axis=0))


@pytest.mark.parametrize("batched", [False, True])
def test_warm_start_refits_every_member_from_its_weights(panel, batched):
    X, y, families = panel
    base = YieldCurveAttentionRegressor(warm_start=False, **TINY)
    ensemble = SeedEnsemble(base, n_estimators=2, batched=batched, random_state=0)
    ensemble.fit(X, y, families=families)
    before = ensemble.predict(X, families=families)
    seeds = ensemble.seeds_.copy()
    # without a step size the warm members keep their weights
    ensemble.set_params(warm_start=True, estimator__lr=1e-12, estimator__epochs=1)
    ensemble.fit(X, y, families=families)
    np.testing.assert_allclose(ensemble.predict(X, families=families), before, atol=1e-6)
    np.testing.assert_array_equal(ensemble.seeds_, seeds)
    assert all(m.warm_start and m.epochs == 1 for m in ensemble.estimators_)
    # warm_start=False: new members, as a new ensemble's
    cold = SeedEnsemble(base, n_estimators=2, batched=batched, random_state=0)
    ensemble.set_params(warm_start=False, estimator=base).fit(X, y, families=families)
    np.testing.assert_array_equal(ensemble.predict(X, families=families),
                                  cold.fit(X, y, families=families).predict(X, families=families))
    with pytest.raises(ValueError, match="not n_estimators=3"):
        ensemble.set_params(warm_start=True, n_estimators=3).fit(X, y, families=families)


def test_warm_start_needs_members_with_the_parameter(panel):
    X, y, _ = panel
    flat = X.reshape(len(X), -1)
    ensemble = SeedEnsemble(DecisionTreeRegressor(max_depth=2), n_estimators=2,
                            random_state=0).fit(flat, y)
    with pytest.raises(ValueError, match="DecisionTreeRegressor has no warm_start"):
        ensemble.set_params(warm_start=True).fit(flat, y)


def test_members_without_families_pool_the_families(panel):
    # backtest passes families= to every ensemble; a member model that takes none is
    # fitted on the pooled windows, as backtest fits such a model alone.
    from skyield.models import LSTMRegressor

    X, y, families = panel
    member = LSTMRegressor(units=2, epochs=1, random_state=0)
    given = SeedEnsemble(member, n_estimators=2, random_state=0).fit(X, y, families=families)
    pooled = SeedEnsemble(member, n_estimators=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(given.predict(X, families=families), pooled.predict(X))
    np.testing.assert_array_equal(given.predict_interval(X, families=families),
                                  pooled.predict_interval(X))
