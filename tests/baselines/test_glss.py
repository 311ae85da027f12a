"""Tests of GaussianLinearStateSpace (free-loadings yield-curve state-space model)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning

from skyield._nelson_siegel import (
    decay_for_peak_curvature,
    extended_svensson_loadings,
    svensson_loadings,
)
from skyield.baselines._glss import GaussianLinearStateSpace, _Estimation, grid_search_decays

MATURITIES = [0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0]
N_TRAIN = 100


def simulate_curves(n_dates, decays=(0.7, 0.2), n_factors=4, seed=0):
    """Svensson curves (extended beyond 4 factors) with persistent factors plus noise.

    The factors revert around (4, -1, 0.5, 0.3, -0.4).
    """
    rng = np.random.default_rng(seed)
    centre = np.array([4.0, -1.0, 0.5, 0.3, -0.4])[:n_factors]
    factors = np.empty((n_dates, n_factors))
    factors[0] = centre
    for t in range(1, n_dates):
        factors[t] = centre + 0.95 * (factors[t - 1] - centre) + rng.normal(scale=0.1,
                                                                           size=n_factors)
    loadings = extended_svensson_loadings(MATURITIES, n_factors, decays)
    curves = factors @ loadings.T + rng.normal(scale=0.03, size=(n_dates, len(MATURITIES)))
    dates = pd.date_range("2010-01-01", periods=n_dates, freq="W-FRI")
    return pd.DataFrame(curves, index=dates, columns=MATURITIES)


@pytest.fixture(scope="module")
def curves():
    return simulate_curves(130)


@pytest.fixture(scope="module")
def fitted(curves):
    return GaussianLinearStateSpace(n_factors=4, decays=(0.7, 0.2)).fit(curves.iloc[:N_TRAIN])


def test_initial_loadings_are_svensson_and_likelihood_rises(fitted):
    start = svensson_loadings(MATURITIES, 0.7, 0.2)
    np.testing.assert_array_equal(fitted.initial_loadings_, start)
    np.testing.assert_array_equal(fitted.maturities_, MATURITIES)
    assert fitted.decays_ == (0.7, 0.2)
    assert fitted.log_likelihood_ > fitted.initial_log_likelihood_
    assert fitted.converged_
    # Identification: k (k + 1) / 2 loadings held at their Svensson values.
    assert fitted.fixed_loadings_.sum() == 10
    np.testing.assert_array_equal(fitted.loadings_[fitted.fixed_loadings_],
                                  start[fitted.fixed_loadings_])
    assert not np.allclose(fitted.loadings_, start)


def test_diagonal_transition_and_three_factors(curves):
    model = GaussianLinearStateSpace(n_factors=3, transition="diagonal", decays=0.7)
    model.fit(curves.iloc[:N_TRAIN])
    np.testing.assert_array_equal(model.initial_loadings_,
                                  svensson_loadings(MATURITIES, 0.7, 1.0)[:, :3])
    assert model.fixed_loadings_.sum() == 3
    assert np.count_nonzero(model.transition_ - np.diag(np.diag(model.transition_))) == 0
    assert model.log_likelihood_ >= model.initial_log_likelihood_
    assert model.transform(curves).shape == (130, 3)


def test_grid_search_finds_the_generating_decay():
    tau = np.asarray(MATURITIES)
    grid = np.geomspace(decay_for_peak_curvature(10.0), decay_for_peak_curvature(0.25), 25)
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(40, 3)) + [4.0, -1.0, 0.5]
    exact = factors @ svensson_loadings(tau, grid[9], 1.0)[:, :3].T
    assert grid_search_decays(exact, tau, 3) == (grid[9],)
    svensson = factors @ svensson_loadings(tau, grid[15], grid[4])[:, :3].T \
        + np.outer(rng.normal(size=40), svensson_loadings(tau, grid[15], grid[4])[:, 3])
    assert grid_search_decays(svensson, tau, 4) == (grid[15], grid[4])
    model = GaussianLinearStateSpace(n_factors=3, maxiter=2, em_iter=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(pd.DataFrame(exact + 0.01 * rng.normal(size=exact.shape), columns=tau))
    assert model.decays_ == (grid[9],)


def test_score_matches_numerical_derivative(curves, fitted):
    values = curves.iloc[:40].to_numpy()
    model = fitted._state_space_model(values)
    estimation = _Estimation(model, values, fitted.fixed_loadings_, floor=1e-10)
    params = np.array(fitted.results_.params)
    params[-8:] *= 1.3  # away from the optimum, where the score is not ~0
    _, gradient = estimation.score(params)
    for j in [0, 5, 17, 33, 40, 47, 50, 55]:
        step = 1e-6 * max(1.0, abs(params[j]))
        up, down = params.copy(), params.copy()
        up[j] += step
        down[j] -= step
        numerical = (model.loglike(up) - model.loglike(down)) / (2 * step)
        np.testing.assert_allclose(gradient[j], numerical, rtol=1e-4, atol=1e-3)


def test_em_steps_never_lower_the_likelihood(curves, fitted):
    values = curves.iloc[:N_TRAIN].to_numpy()
    model = fitted._state_space_model(values)
    estimation = _Estimation(model, values, fitted.fixed_loadings_, floor=1e-10)
    params = fitted._two_step_start(model, values, 1e-10)
    history = []
    for _ in range(8):
        llf, params = estimation.em_step(params)
        history.append(llf)
    assert np.all(np.diff(history) >= -1e-8)
    np.testing.assert_array_equal(
        model.split(params)[0][fitted.fixed_loadings_],
        fitted.initial_loadings_[fitted.fixed_loadings_],
    )


def test_forecast_matches_closed_form_after_update(curves):
    model = GaussianLinearStateSpace(n_factors=4, decays=(0.7, 0.2)).fit(curves.iloc[:N_TRAIN])
    model.update(curves.iloc[N_TRAIN:115])
    # Filtering the concatenated panel from the same initial state gives the same end
    # state as fitting then updating.
    last_state = model.transform(curves.iloc[:115])[-1]
    steps = 5
    forecast = model.forecast(steps)
    expected = np.array([
        model.loadings_ @ np.linalg.matrix_power(model.transition_, h) @ last_state
        for h in range(1, steps + 1)
    ])
    np.testing.assert_allclose(forecast.to_numpy(), expected, atol=1e-8)
    assert (forecast.index == curves.index[115:120]).all()
    assert list(forecast.columns) == MATURITIES

    quantiles = model.forecast(steps, quantiles=[0.05, 0.5, 0.95])
    assert quantiles.shape == (steps, len(MATURITIES), 3)
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    np.testing.assert_allclose(quantiles[..., 1], expected, atol=1e-8)
    # The one-step spread is the measurement plus state uncertainty: H P_{T+1|T} H' + Q.
    state_cov = model.state_results_.predicted_state_cov[:, :, -1]
    one_step_std = np.sqrt(np.diag(model.loadings_ @ state_cov @ model.loadings_.T
                                   + model.error_cov_))
    np.testing.assert_allclose(quantiles[0, :, 2] - quantiles[0, :, 1],
                               norm.ppf(0.95) * one_step_std, rtol=1e-8)
    interval = model.forecast(steps, coverage=0.9)
    np.testing.assert_allclose(interval, quantiles[..., [0, 2]], atol=1e-10)

    paths = model.sample_paths(5, steps, random_state=3)
    assert paths.shape == (5, steps, len(MATURITIES))


def test_predict_forecasts_the_following_block(curves, fitted):
    block = curves.iloc[N_TRAIN:]
    # Filtered factors of the whole panel from the initial state: those of training then
    # of the block, with the parameters frozen.
    factors = fitted.transform(curves)
    H, A = fitted.loadings_, fitted.transition_
    predictions = fitted.predict(block)
    assert predictions.index.equals(block.index)
    expected = factors[N_TRAIN - 1:-1] @ A.T @ H.T
    np.testing.assert_allclose(predictions.to_numpy(), expected, atol=1e-8)
    np.testing.assert_allclose(predictions.to_numpy()[0], fitted.forecast(1).to_numpy()[0],
                               atol=1e-10)
    errors = block.to_numpy() - predictions.to_numpy()
    assert np.sqrt(np.mean(errors ** 2)) < 0.2
    assert fitted.score(block) == pytest.approx(-np.mean(errors ** 2))
    # Two dates ahead: from the factors two rows earlier.
    two = fitted.predict(block, horizon=2).to_numpy()
    np.testing.assert_allclose(two[2:], factors[N_TRAIN:-2] @ (A @ A).T @ H.T, atol=1e-8)
    np.testing.assert_allclose(two[:2], fitted.forecast(2).to_numpy(), atol=1e-10)
    assert fitted.score(block, horizon=2) < fitted.score(block)
    interval = fitted.predict_interval(block, coverage=0.9)
    np.testing.assert_allclose(interval.mean(axis=-1), expected, atol=1e-8)
    # A gap of unseen dates before the block is read from its dates.
    later = curves.iloc[N_TRAIN + 3:]
    np.testing.assert_allclose(fitted.predict(later).to_numpy()[0],
                               fitted.forecast(4).to_numpy()[3], atol=1e-10)
    assert fitted.last_date_ == curves.index[N_TRAIN - 1]


def test_array_input_needs_maturities(curves):
    values = curves.iloc[:N_TRAIN].to_numpy()
    with pytest.raises(ValueError, match="this model needs maturities"):
        GaussianLinearStateSpace(n_factors=3).fit(values)
    model = GaussianLinearStateSpace(n_factors=3, maturities=MATURITIES, decays=0.7)
    model.fit(values)
    np.testing.assert_array_equal(model.maturities_, MATURITIES)
    assert list(model.forecast(2).index) == [1, 2]


def test_input_errors(curves, fitted):
    with pytest.raises(ValueError, match=r"8 maturities \(n_features = 8\) but n_factors=9"):
        GaussianLinearStateSpace(n_factors=9).fit(curves)
    with pytest.raises(ValueError, match="takes two decays"):
        GaussianLinearStateSpace(n_factors=4, decays=0.7).fit(curves)
    with pytest.raises(ValueError, match="GaussianLinearStateSpace: transition must be one of"):
        GaussianLinearStateSpace(transition="var").fit(curves)
    with pytest.raises(ValueError, match=r"3 maturities \(n_features = 3\)"):
        GaussianLinearStateSpace(n_factors=4).fit(curves.iloc[:, :3])
    with pytest.raises(ValueError, match="at least 10 consecutive dates"):
        GaussianLinearStateSpace().fit(curves.iloc[:8])
    with pytest.raises(ValueError, match="overlapping dates"):
        fitted.update(curves.iloc[N_TRAIN - 1:N_TRAIN + 2])
    other_grid = curves.rename(columns={10.0: 12.0})
    with pytest.raises(ValueError, match="column 7 is 12.0 but the model was fitted with 10.0"):
        fitted.transform(other_grid)
    with pytest.raises(ValueError, match="column 0 is 10.0 but the model was fitted with 0.25"):
        fitted.transform(curves[MATURITIES[::-1]])



def test_extended_svensson_loadings_extend_svensson():
    tau = np.asarray(MATURITIES)
    np.testing.assert_array_equal(extended_svensson_loadings(tau, 4, (0.7, 0.2)),
                                  svensson_loadings(tau, 0.7, 0.2))
    np.testing.assert_array_equal(extended_svensson_loadings(tau, 3, (0.7, 0.2)),
                                  svensson_loadings(tau, 0.7, 0.2)[:, :3])
    five = extended_svensson_loadings(tau, 5, (0.7, 0.2))
    assert five.shape == (len(MATURITIES), 5)
    assert np.linalg.matrix_rank(five) == 5
    # The fifth column is the Nelson-Siegel slope at decay2, which is 1 at maturity 0.
    assert extended_svensson_loadings([0.0], 5, (0.7, 0.2))[0, 4] == 1.0
    assert np.linalg.matrix_rank(extended_svensson_loadings(tau, 7, (0.7, 0.2))) == 7
    with pytest.raises(ValueError, match="decays must be a pair"):
        extended_svensson_loadings(tau, 5, (0.7,))
    with pytest.raises(ValueError, match="n_factors must be a positive integer"):
        extended_svensson_loadings(tau, 0, (0.7, 0.2))


@pytest.fixture(scope="module")
def five_factor_curves():
    return simulate_curves(130, n_factors=5)


@pytest.fixture(scope="module")
def five_factor_fits(five_factor_curves):
    train = five_factor_curves.iloc[:N_TRAIN]
    return {k: GaussianLinearStateSpace(n_factors=k, decays=(0.7, 0.2)).fit(train)
            for k in (4, 5)}


def test_five_factors_start_extended_svensson_and_fit(five_factor_curves, five_factor_fits):
    model = five_factor_fits[5]
    start = extended_svensson_loadings(MATURITIES, 5, (0.7, 0.2))
    np.testing.assert_array_equal(model.initial_loadings_, start)
    assert model.loadings_.shape == (len(MATURITIES), 5)
    assert model.transition_.shape == (5, 5)
    assert np.isfinite(model.log_likelihood_)
    assert model.log_likelihood_ >= model.initial_log_likelihood_
    # Identification: 5 * 6 / 2 loadings held at their start values, on 5 distinct rows.
    assert model.fixed_loadings_.sum() == 15
    assert np.count_nonzero(model.fixed_loadings_.any(axis=1)) == 5
    np.testing.assert_array_equal(model.loadings_[model.fixed_loadings_],
                                  start[model.fixed_loadings_])
    forecast = model.forecast(4)
    assert forecast.shape == (4, len(MATURITIES))
    assert (forecast.index == five_factor_curves.index[N_TRAIN:N_TRAIN + 4]).all()
    assert np.isfinite(forecast.to_numpy()).all()
    assert model.transform(five_factor_curves).shape == (130, 5)


def test_five_factors_fit_a_five_factor_panel_better_than_four(five_factor_fits):
    # The 4-factor model is nested in the 5-factor one (up to the diffuse prior of the
    # extra factor and the variance floor), and the panel has a fifth factor.
    four, five = five_factor_fits[4], five_factor_fits[5]
    assert np.isfinite(four.log_likelihood_) and np.isfinite(five.log_likelihood_)
    assert five.log_likelihood_ > four.log_likelihood_


def test_five_factor_grid_search_finds_the_generating_pair():
    tau = np.asarray(MATURITIES)
    grid = np.geomspace(decay_for_peak_curvature(10.0), decay_for_peak_curvature(0.25), 25)
    factors = np.random.default_rng(2).normal(size=(40, 5)) + [4.0, -1.0, 0.5, 0.3, -0.4]
    exact = factors @ extended_svensson_loadings(tau, 5, (grid[15], grid[4])).T
    assert grid_search_decays(exact, tau, 5) == (grid[15], grid[4])


@pytest.mark.parametrize("decays", [0.7, (0.7, 0.2, 0.1)])
def test_five_factors_take_two_decays(five_factor_curves, decays):
    message = r"n_factors=5 takes two decays \(decay1, decay2\), got decays="
    with pytest.raises(ValueError, match=message):
        GaussianLinearStateSpace(n_factors=5, decays=decays).fit(five_factor_curves)
