"""Tests of the neural network augmented state space model (NNSS)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.exceptions import ConvergenceWarning

from skyield.datasets import make_nelson_siegel_curves
from skyield.models._neural_state_space import NeuralStateSpaceModel
from skyield.models._nnss_objective import (
    Priors,
    log_posterior,
    log_prior_state_var,
    log_prior_transition,
    log_prior_weights,
)
from skyield.models._nnss_start import start_loadings, two_step_start
from skyield.nn._neural_loadings import NeuralLoadings
from skyield.statespace import kalman_filter

MATURITIES = [0.25, 1.0, 2.0, 5.0, 10.0]
TINY = {"n_factors": 3, "hidden_layers": (8, 8), "maxiter": 15, "pretrain_maxiter": 30,
        "random_state": 0}

def _fit(Y, **params):
    settings = {**TINY, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return NeuralStateSpaceModel(**settings).fit(Y)


@pytest.fixture(scope="module")
def curves():
    return make_nelson_siegel_curves(n_dates=60, maturities=MATURITIES, random_state=0).curves


@pytest.fixture(scope="module")
def fitted(curves):
    return _fit(curves.iloc[:48])


@pytest.fixture(scope="module")
def curves_with_gaps(curves):
    Y = curves.copy()
    rng = np.random.default_rng(1)
    holes = rng.random(Y.shape) < 0.1
    Y = Y.mask(holes)
    Y.iloc[7] = np.nan
    return Y


def _naive_loglike(Y, H, F, P, Q, initial_var):
    """Kalman filter on the observed sub-vector of each date, textbook form (numpy)."""
    k = F.shape[0]
    mean, cov = np.zeros(k), initial_var * np.eye(k)
    total = 0.0
    for y in np.asarray(Y, dtype=float):
        seen = ~np.isnan(y)
        if seen.any():
            Z = H[seen]
            S = Z @ cov @ Z.T + np.diag(Q[seen])
            total += stats.multivariate_normal.logpdf(y[seen], Z @ mean, S)
            gain = np.linalg.solve(S, Z @ cov).T
            mean = mean + gain @ (y[seen] - Z @ mean)
            cov = cov - gain @ Z @ cov
        mean, cov = F @ mean, F @ cov @ F.T + np.diag(P)
    return total


def _matrices(model):
    return (model.loadings_, model.transition_, np.diag(model.state_cov_),
            model.measurement_var_, model.initial_state_var_)


# --------------------------------------------------------------------- likelihood
def test_loglike_matches_kalman_filter_and_statsmodels(fitted, curves):
    from statsmodels.tsa.statespace.mlemodel import MLEModel

    H, F, P, Q, v = _matrices(fitted)
    Y = curves.iloc[:48].to_numpy()
    k = F.shape[0]
    assert v == pytest.approx(10 * np.mean(Y**2))
    ours = fitted.log_likelihood(curves.iloc[:48])
    reference = float(kalman_filter(Y, H, F, np.diag(Q), np.diag(P), a0=np.zeros(k),
                                    P0=v * np.eye(k), init="known").loglike)
    assert ours == pytest.approx(reference, rel=1e-12)
    assert fitted.log_likelihood_ == pytest.approx(ours, rel=1e-10)

    model = MLEModel(Y, k_states=k)
    model.ssm["design"] = H
    model.ssm["obs_cov"] = np.diag(Q)
    model.ssm["transition"] = F
    model.ssm["selection"] = np.eye(k)
    model.ssm["state_cov"] = np.diag(P)
    model.ssm.initialize_known(np.zeros(k), v * np.eye(k))
    model.ssm.tolerance = 0
    # The information-form update of skyield.statespace keeps about 8 significant digits
    # on this fitted model (a 40-digit reference agrees with statsmodels to 1e-11).
    assert ours == pytest.approx(float(model.ssm.loglike()), rel=1e-7)
    assert ours == pytest.approx(_naive_loglike(Y, H, F, P, Q, v), rel=1e-7)


def test_log_priors_match_scipy():
    rng = np.random.default_rng(0)
    k = 4
    F = np.eye(k) + 0.1 * rng.normal(size=(k, k))
    P = rng.uniform(0.01, 0.5, size=k)
    lam, gamma, a, b = 0.5, 0.9, 0.1, 0.001
    expected_f = sum(
        stats.norm.logpdf(F[i, j], loc=float(i == j),
                          scale=lam if i == j else lam * gamma * np.sqrt(P[i] / P[j]))
        for i in range(k) for j in range(k)
    )
    got_f = float(log_prior_transition(torch.tensor(F), torch.tensor(P), lam, gamma))
    assert got_f == pytest.approx(expected_f, rel=1e-12)
    expected_p = stats.invgamma.logpdf(P, a, scale=b).sum()
    got_p = float(log_prior_state_var(torch.tensor(P), a, b))
    assert got_p == pytest.approx(expected_p, rel=1e-12)
    weights = [torch.tensor(rng.normal(size=(3, 2))), torch.tensor(rng.normal(size=5))]
    expected_w = sum(stats.norm.logpdf(w.numpy(), scale=np.sqrt(0.05)).sum() for w in weights)
    assert float(log_prior_weights(weights, 0.05)) == pytest.approx(expected_w, rel=1e-12)


def test_missing_values_are_skipped_by_the_filter(curves_with_gaps):
    model = _fit(curves_with_gaps)
    H, F, P, Q, v = _matrices(model)
    assert v == pytest.approx(10 * np.nanmean(curves_with_gaps.to_numpy() ** 2))
    expected = _naive_loglike(curves_with_gaps, H, F, P, Q, v)
    # As in the test above, the information-form update keeps about 8 significant digits
    # on a fitted model with this near-diffuse start: over five draws of the gaps its
    # log-likelihood differed from statsmodels' (tolerance 0) by 2e-10 to 8e-9 relative.
    assert model.log_likelihood(curves_with_gaps) == pytest.approx(expected, rel=1e-7)
    assert model.log_likelihood_ == pytest.approx(expected, rel=1e-7)
    factors = model.filtered_factors_
    assert np.isfinite(factors.to_numpy()).all()
    # A date with no observation is a pure prediction from the date before.
    np.testing.assert_allclose(factors.iloc[7], F @ factors.iloc[6].to_numpy(), rtol=1e-10)


def _objective_and_gradient(Y, filter):
    tau = torch.tensor(MATURITIES, dtype=torch.float64)
    torch.manual_seed(0)
    module = NeuralLoadings(3, (8, 8), maturity_scale=10.0).double()
    with torch.no_grad():
        # Larger weights give loadings that differ across maturities: a well-conditioned
        # design, so that round-off does not hide a disagreement of the two filters.
        for p in module.parameters():
            p.mul_(4.0)
    F = torch.tensor([[0.98, 0.01, 0.0], [0.02, 0.9, 0.05], [0.0, -0.03, 0.8]],
                     dtype=torch.float64, requires_grad=True)
    log_p = torch.tensor([-3.0, -2.0, -1.0], dtype=torch.float64, requires_grad=True)
    log_q = torch.full((5,), -4.0, dtype=torch.float64, requires_grad=True)
    weights = list(module.parameters())
    priors = Priors(a=0.1, b=0.001, lam=0.5, gamma=0.9, weight_var=0.05)
    value, _ = log_posterior(torch.tensor(Y), module(tau), weights, F, log_p.exp(),
                             log_q.exp(), priors, 100.0, filter)
    params = weights + [F, log_p, log_q]
    grads = torch.autograd.grad(value, params)
    return value.item(), torch.cat([g.reshape(-1) for g in grads]).numpy()


def test_sequential_and_parallel_filters_agree(curves_with_gaps):
    Y = curves_with_gaps.to_numpy()
    value_seq, grad_seq = _objective_and_gradient(Y, "sequential")
    value_par, grad_par = _objective_and_gradient(Y, "parallel")
    assert abs(value_seq - value_par) < 1e-8 * max(1.0, abs(value_seq))
    # Agreement to 1e-8 relative to the size of the gradient.
    assert np.abs(grad_par - grad_seq).max() < 1e-8 * np.abs(grad_seq).max()


# --------------------------------------------------------------------- estimation
def test_map_under_dominating_transition_priors_is_their_mode(curves):
    mode, a = 0.3, 1e6
    model = _fit(curves, prior_lambda=1e-4, prior_a=a, prior_b=mode * (a + 1))
    np.testing.assert_allclose(model.transition_, np.eye(model.n_factors), atol=1e-4)
    np.testing.assert_allclose(np.diag(model.state_cov_), mode, rtol=1e-4)


def test_map_under_a_dominating_weight_prior_is_its_mode(curves):
    model = _fit(curves, prior_weight_var=1e-8, maxiter=40)
    weights = torch.cat([p.reshape(-1) for p in model.module_.parameters()])
    assert float(weights.abs().max()) < 1e-3
    # Zero weights: every free loading is sigmoid(0) = 0.5.
    np.testing.assert_allclose(model.loadings_[:, 1:], 0.5, atol=1e-3)


def test_fit_improves_on_the_start_values(fitted):
    model = fitted
    assert model.history_[-1] < model.history_[0]
    assert model.n_iter_ >= 1
    assert np.isfinite(model.log_posterior_)


def test_start_values_are_two_step_svensson(curves):
    tau = np.asarray(MATURITIES)
    start = two_step_start(curves.to_numpy(), tau, 4, (1.5, 0.3))
    from skyield.baselines import svensson_loadings

    np.testing.assert_allclose(start["loadings"], svensson_loadings(tau, 1.5, 0.3))
    assert start["transition"].shape == (4, 4)
    assert (start["state_var"] > 0).all() and (start["measurement_var"] > 0).all()
    # OLS VAR(1) without intercept on the two-step factors.
    factors = start["factors"]
    coef, *_ = np.linalg.lstsq(factors[:-1], factors[1:], rcond=None)
    np.testing.assert_allclose(start["transition"], coef.T, rtol=1e-10)
    # Under the seed's weak priors the VAR barely moves; under tight ones it is the mode.
    weak = two_step_start(curves.to_numpy(), tau, 3, (1.5, 0.3),
                          Priors(a=0.1, b=0.001, lam=0.5, gamma=0.9, weight_var=0.05))
    ols = two_step_start(curves.to_numpy(), tau, 3, (1.5, 0.3))
    np.testing.assert_allclose(weak["transition"], ols["transition"], atol=0.05)
    tight = two_step_start(curves.to_numpy(), tau, 4, (1.5, 0.3),
                           Priors(a=1e8, b=2e7, lam=1e-6, gamma=0.5, weight_var=0.05))
    np.testing.assert_allclose(tight["transition"], np.eye(4), atol=1e-6)
    np.testing.assert_allclose(tight["state_var"], 2e7 / (1e8 + 1), rtol=1e-4)
    five = start_loadings(tau, 5, (1.5, 0.3))
    assert np.linalg.matrix_rank(five) == 5


def test_pretraining_reproduces_the_start_loadings(fitted):
    assert fitted.start_["pretrain_mse"] < 1e-3


def test_same_seed_same_fit(curves, fitted):
    first = fitted
    second = _fit(curves.iloc[:48])
    assert np.array_equal(first.loadings_, second.loadings_)
    assert np.array_equal(first.transition_, second.transition_)
    assert np.array_equal(first.history_, second.history_)
    third = _fit(curves.iloc[:48], maxiter=2, random_state=1)
    assert not np.array_equal(first.loadings_, third.loadings_)


def test_fit_leaves_the_global_torch_generator_alone(curves):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit(curves.iloc[:48], maxiter=2)
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------- loadings
def test_first_loading_is_one_and_loadings_are_smooth(fitted):
    h = 1e-3
    grid = np.arange(0.0, 15.0, h)
    loadings = fitted.loadings(grid)
    assert np.array_equal(loadings[:, 0], np.ones(grid.size))
    assert loadings.min() >= 0.0 and loadings.max() <= 1.0
    second = np.abs(np.diff(loadings[:, 1:], n=2, axis=0)) / h**2
    assert second.max() < 50.0
    np.testing.assert_allclose(fitted.loadings(), fitted.loadings_)


# --------------------------------------------------------------------- filtering
def test_transform_of_the_training_panel_gives_the_filtered_factors(fitted, curves):
    factors = fitted.transform(curves.iloc[:48])
    assert isinstance(factors, pd.DataFrame)
    pd.testing.assert_frame_equal(factors, fitted.filtered_factors_)
    smoothed = fitted.transform(curves.iloc[:48], smooth=True)
    assert smoothed.shape == factors.shape
    # The smoothed and filtered states coincide at the last date.
    np.testing.assert_allclose(smoothed.iloc[-1], factors.iloc[-1], rtol=1e-8)
    array_out = fitted.transform(curves.iloc[:48].to_numpy())
    np.testing.assert_allclose(array_out, factors.to_numpy())


def test_update_filters_on_without_reestimating(fitted, curves):
    model = pickle.loads(pickle.dumps(fitted))
    params = (model.transition_.copy(), model.loadings_.copy())
    model.update(curves.iloc[48:54]).update(curves.iloc[54:])
    assert np.array_equal(model.transition_, params[0])
    assert np.array_equal(model.loadings_, params[1])
    full = model.transform(curves)
    np.testing.assert_allclose(model.filter_state_["mean"], full.iloc[-1], rtol=1e-8,
                               atol=1e-10)
    assert model.last_date_ == curves.index[-1] and model.n_dates_seen_ == len(curves)
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.update(curves.iloc[50:52])


def test_update_skips_missing_values(fitted, curves):
    model = pickle.loads(pickle.dumps(fitted))
    new = curves.iloc[48:51].copy()
    new.iloc[1] = np.nan
    new.iloc[2, 0] = np.nan
    model.update(new)
    reference = pickle.loads(pickle.dumps(fitted))
    reference.update(new.iloc[:1])
    # A date without observations is a pure prediction.
    F = fitted.transition_
    reference.update(new.iloc[1:2])
    np.testing.assert_allclose(reference.filter_state_["mean"],
                               F @ pickle.loads(pickle.dumps(fitted)).update(
                                   new.iloc[:1]).filter_state_["mean"], rtol=1e-12)
    reference.update(new.iloc[2:])
    np.testing.assert_allclose(model.filter_state_["mean"], reference.filter_state_["mean"],
                               rtol=1e-10)


# --------------------------------------------------------------------- forecasting
def test_forecast_is_h_f_power_beta(fitted):
    steps = 5
    forecast = fitted.forecast(steps)
    assert forecast.shape == (steps, len(MATURITIES))
    assert list(forecast.columns) == list(fitted.columns_)
    assert isinstance(forecast.index, pd.DatetimeIndex)
    F, state = fitted.transition_, fitted.filter_state_["mean"]
    for h in range(1, steps + 1):
        expected = fitted.loadings_ @ np.linalg.matrix_power(F, h) @ state
        np.testing.assert_allclose(forecast.iloc[h - 1], expected, rtol=1e-10)


def test_forecast_at_unobserved_maturities(fitted):
    new = [0.5, 3.0, 20.0]
    forecast = fitted.forecast(4, maturities=new)
    assert list(forecast.columns) == new
    F, state = fitted.transition_, fitted.filter_state_["mean"]
    expected = fitted.loadings(new) @ np.linalg.matrix_power(F, 4) @ state
    np.testing.assert_allclose(forecast.iloc[3], expected, rtol=1e-10)
    # At a fitted maturity the two routes agree.
    same = fitted.forecast(3, maturities=[2.0])
    np.testing.assert_allclose(same[2.0], fitted.forecast(3)[2.0], rtol=1e-12)
    interval = fitted.forecast(2, coverage=0.9, maturities=new)
    assert interval.shape == (2, 3, 2)
    mean = fitted.forecast(2, maturities=new).to_numpy()
    assert np.all(interval[..., 0] < mean) and np.all(mean < interval[..., 1])
    quantiles = fitted.forecast(2, quantiles=[0.05, 0.5, 0.95], maturities=new)
    np.testing.assert_allclose(quantiles[..., [0, 2]], interval, rtol=1e-12)
    np.testing.assert_allclose(quantiles[..., 1], mean, rtol=1e-12)
    # Measurement variance at a new maturity: interpolated in logs between neighbours.
    q = fitted._measurement_var_at(np.array([3.0]))
    low, high = np.log(fitted.measurement_var_[[2, 3]])
    assert np.log(q[0]) == pytest.approx(low + (high - low) / 3)


def test_predictive_quantiles_and_intervals(fitted):
    mean = fitted.forecast(4).to_numpy()
    q = fitted.forecast(4, quantiles=(0.1, 0.5, 0.9))
    assert q.shape == (4, len(MATURITIES), 3)
    np.testing.assert_allclose(q[..., 1], mean)
    assert (q[..., 0] < mean).all() and (mean < q[..., 2]).all()
    # Uncertainty grows with the horizon.
    assert (np.diff(q[..., 2] - q[..., 0], axis=0) > 0).all()
    interval = fitted.forecast(4, coverage=0.8)
    assert interval.shape == (4, len(MATURITIES), 2)
    np.testing.assert_allclose(interval, q[..., [0, 2]])
    # The Gaussian quantiles of the forecast moments; the default coverage is 0.95.
    mean_, sd = fitted._forecast_moments(4)
    np.testing.assert_allclose(q[..., 2], mean_ + stats.norm.ppf(0.9) * sd, rtol=1e-12)
    assert not hasattr(fitted, "forecast_quantiles")
    assert not hasattr(fitted, "forecast_interval")
    with pytest.raises(ValueError, match="pass quantiles or coverage, not both"):
        fitted.forecast(2, quantiles=[0.5], coverage=0.9)
    with pytest.raises(ValueError, match="strictly increasing"):
        fitted.forecast(2, quantiles=[0.9, 0.1])
    with pytest.raises(ValueError, match="coverage"):
        fitted.forecast(2, coverage=1.5)
    with pytest.raises(ValueError, match=r"steps must be an integer in \[1, inf\)"):
        fitted.forecast(0)


def test_sample_paths_match_the_forecast_moments(fitted):
    paths = fitted.sample_paths(4000, 3, random_state=0)
    assert paths.shape == (4000, 3, len(MATURITIES))
    assert np.array_equal(paths, fitted.sample_paths(4000, 3, random_state=0))
    mean = fitted.forecast(3).to_numpy()
    _, sd = fitted._forecast_moments(3)
    np.testing.assert_allclose(paths.mean(axis=0), mean, atol=4 * sd.max() / np.sqrt(4000))
    np.testing.assert_allclose(paths.std(axis=0), sd, rtol=0.08)
    assert fitted.sample_paths(5, 2, random_state=0, maturities=[20.0]).shape == (5, 2, 1)


def test_predict_forecasts_a_following_block(fitted, curves):
    block = curves.iloc[48:54]
    prediction = fitted.predict(block)
    assert isinstance(prediction, pd.DataFrame) and prediction.index.equals(block.index)
    # Row 0 from the last date seen; row t after filtering the block's first t dates.
    np.testing.assert_allclose(prediction.iloc[0], fitted.forecast(1).iloc[0], rtol=1e-12)
    moved = pickle.loads(pickle.dumps(fitted)).update(block.iloc[:3])
    np.testing.assert_allclose(prediction.iloc[3], moved.forecast(1).iloc[0], rtol=1e-10)
    # Two dates ahead: row 4 is forecast from the origin after row 2.
    two = fitted.predict(block, horizon=2)
    origin = pickle.loads(pickle.dumps(fitted)).update(block.iloc[:3])
    np.testing.assert_allclose(two.iloc[4], origin.forecast(2).iloc[1], rtol=1e-10)
    # The parameters and the state do not move.
    assert fitted.last_date_ == curves.index[47]
    # After a gap of two unobserved dates the first row is three dates ahead.
    later = fitted.predict(curves.iloc[50:54])
    np.testing.assert_allclose(later.iloc[0], fitted.forecast(3).iloc[2], rtol=1e-10)
    bounds = fitted.predict_interval(block, coverage=0.9)
    assert bounds.shape == (6, len(MATURITIES), 2)
    assert np.all(bounds[..., 0] < prediction.to_numpy())
    assert fitted.predict_quantiles(block, [0.1, 0.5, 0.9]).shape == (6, len(MATURITIES), 3)
    score = fitted.score(block)
    assert score == pytest.approx(-np.mean((prediction.to_numpy() - block.to_numpy()) ** 2))
    with pytest.raises(ValueError, match="not after the last date seen"):
        fitted.predict(curves.iloc[40:50])


def test_maxiter_caps_the_optimiser_and_pretrain_maxiter_the_pretraining(curves):
    with pytest.warns(ConvergenceWarning, match=r"\(maxiter=3\).*increase maxiter"):
        model = NeuralStateSpaceModel(**{**TINY, "maxiter": 3}).fit(curves.iloc[:48])
    assert 1 <= model.n_iter_ <= 3
    adam = _fit(curves.iloc[:48], optimizer="adam", maxiter=4)
    assert adam.n_iter_ == 4
    short = _fit(curves.iloc[:48], maxiter=1, pretrain_maxiter=1)
    longer = _fit(curves.iloc[:48], maxiter=1, pretrain_maxiter=30)
    assert longer.start_["pretrain_mse"] < short.start_["pretrain_mse"]
    params = NeuralStateSpaceModel().get_params()
    assert params["maxiter"] == 500 and params["pretrain_maxiter"] == 500
    assert "epochs" not in params and "pretrain_epochs" not in params


# --------------------------------------------------------------------- input checks
def test_bad_input_is_named(curves):
    Y = curves.iloc[:30]
    with pytest.raises(ValueError, match="at least 4 maturities"):
        NeuralStateSpaceModel(n_factors=4).fit(Y.iloc[:, :3])
    with pytest.raises(ValueError, match="needs maturities"):
        NeuralStateSpaceModel(**TINY).fit(Y.to_numpy())
    empty = Y.copy()
    empty[5.0] = np.nan
    with pytest.raises(ValueError, match="column 5.0 has no observed value"):
        NeuralStateSpaceModel(**TINY).fit(empty)
    with pytest.raises(ValueError, match="sorted"):
        NeuralStateSpaceModel(**TINY).fit(Y.iloc[::-1])
    with pytest.raises(ValueError, match="infinit"):
        NeuralStateSpaceModel(**TINY).fit(Y.replace(Y.iloc[3, 2], np.inf))


@pytest.mark.parametrize("params, match", [
    ({"n_factors": 0}, "n_factors"),
    ({"hidden_layers": (8, -1)}, "hidden_layers"),
    ({"prior_gamma": 1.0}, "prior_gamma"),
    ({"prior_b": 0.0}, "prior_b"),
    ({"filter": "fast"}, "filter"),
    ({"optimizer": "sgd"}, "optimizer"),
    ({"start_decay": (1.0, 1.0)}, "start_decay"),
    ({"maxiter": 0}, r"maxiter must be an integer in \[1, inf\), got 0"),
    ({"pretrain_maxiter": 0}, r"pretrain_maxiter must be an integer in \[1, inf\)"),
    ({"lr": -1.0}, "lr must be None or"),
])
def test_bad_parameters(curves, params, match):
    with pytest.raises(ValueError, match=match):
        NeuralStateSpaceModel(**{**TINY, **params}).fit(curves)


def test_other_maturities_are_rejected(fitted, curves):
    other = curves.iloc[48:].rename(columns={10.0: 7.0})
    with pytest.raises(ValueError, match="maturities"):
        fitted.transform(other)
    with pytest.raises(ValueError, match="maturities"):
        fitted.transform(curves.iloc[48:, :4])
    with pytest.raises(ValueError, match="features"):
        fitted.transform(curves.iloc[48:, :4].to_numpy())


def test_adam_and_parallel_filter_run(curves):
    model = _fit(curves.iloc[:48], optimizer="adam", filter="parallel", maxiter=10)
    assert model.n_iter_ <= 10
    assert model.history_[-1] < model.history_[0]
    assert np.isfinite(model.log_likelihood_)


# --------------------------------------------------------------------- devices
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_is_kept_on_the_cpu(curves):
    cpu = _fit(curves.iloc[:48], maxiter=10)
    gpu = _fit(curves.iloc[:48], maxiter=10, device="cuda")
    assert next(gpu.module_.parameters()).device.type == "cpu"
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(restored.forecast(3).to_numpy(), gpu.forecast(3).to_numpy())
    np.testing.assert_allclose(gpu.start_["loadings"], cpu.start_["loadings"])
    np.testing.assert_allclose(gpu.loadings_, cpu.loadings_, atol=1e-3)
