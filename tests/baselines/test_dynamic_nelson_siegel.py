"""DynamicNelsonSiegel: parameter recovery, forecasts of following blocks, intervals, families."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.linalg import matrix_power
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from skyield.base import estimator_kind
from skyield.baselines import DynamicNelsonSiegel, nelson_siegel_loadings
from skyield.baselines._dns_statespace import (
    DNSLikelihood,
    SegmentedDNSModel,
    _positive_definite,
    _stationary_start,
    fit_two_step,
    kalman_filter,
)
from skyield.compose import PerFamily
from skyield.datasets import make_nelson_siegel_curves
from skyield.model_selection import ExpandingWindowSplit
from skyield.utils import UnitsWarning

TAU = [0.25, 1.0, 2.0, 5.0, 10.0, 30.0]
DECAY = 0.7308
TRANSITION = np.diag([0.8, 0.7, 0.5])
MEAN = np.array([6.0, -2.0, -0.5])
SHOCK_VAR = np.array([0.3, 0.4, 0.7]) ** 2
NOISE = 0.05


def _simulate(n_dates, seed, **kwargs):
    return make_nelson_siegel_curves(
        n_dates=n_dates, maturities=TAU, decay=DECAY, transition=TRANSITION,
        factor_mean=MEAN, noise_std=NOISE, random_state=seed, **kwargs)


@pytest.fixture(scope="module")
def panel():
    return _simulate(300, 11).curves


@pytest.fixture(scope="module")
def kalman_panel_model(panel):
    return DynamicNelsonSiegel(method="kalman", decay=DECAY).fit(panel)


def _statsmodels_params(model_class_args, params):
    model = SegmentedDNSModel(*model_class_args)
    return model, model.pack(params.mean, params.transition, params.state_cov,
                             params.measurement_var)


def _filtered_state(model, curves):
    """Factor estimate at the last row of ``curves`` (NaN rows: unobserved dates).

    Two-step: the OLS factors of the last curve. One-step: statsmodels' Kalman filter from
    the stationary distribution at the first row, with the model's parameters.
    """
    curves = np.asarray(curves, dtype=float)
    if model.method == "two-step":
        return np.linalg.lstsq(model.loadings_, curves[-1], rcond=None)[0]
    dynamics = model.dynamics
    state_cov = "diagonal" if dynamics == "ar" else "full"
    reference, vector = _statsmodels_params(
        (curves, model.loadings_, [], dynamics, state_cov), model.params_)
    reference.ssm.tolerance = 0
    return reference.filter(vector).filtered_state[:, -1] + model.mean_


def _closed_form(model, beta, h):
    """Mean curve ``h`` steps after the factor estimate ``beta``."""
    A, mu = model.transition_, model.mean_
    return model.loadings_ @ (mu + matrix_power(A, h) @ (beta - mu))


def _split_families(curves, n_train):
    """Training dates and the block of dates that follows, of a (family, date) panel."""
    dates = curves.index.get_level_values("date")
    cut = dates.unique().sort_values()[n_train]
    return curves[dates < cut], curves[dates >= cut]


def test_kalman_filter_and_smoother_match_statsmodels(panel):
    values = panel.to_numpy()[:80]
    params, _ = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    model, vector = _statsmodels_params((values, params.loadings, [], "var", "full"), params)
    model.ssm.tolerance = 0
    filtered = model.filter(vector)
    smoothed = model.smooth(vector)
    means, covs = kalman_filter(params, values[None])
    np.testing.assert_allclose(means[0], filtered.filtered_state.T + params.mean, atol=1e-10)
    np.testing.assert_allclose(covs, np.moveaxis(filtered.filtered_state_cov, 2, 0), atol=1e-10)
    smooth_means, _ = kalman_filter(params, values[None], smooth=True)
    np.testing.assert_allclose(smooth_means[0], smoothed.smoothed_state.T + params.mean,
                               atol=1e-10)


def test_segment_likelihood_is_the_sum_over_segments(panel):
    values = panel.to_numpy()[:90]
    params, _ = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    joint, vector = _statsmodels_params((values, params.loadings, [30, 31, 70], "var", "full"),
                                        params)
    total = 0.0
    for a, b in [(0, 30), (30, 31), (31, 70), (70, 90)]:
        part = SegmentedDNSModel(values[a:b], params.loadings, [], "var", "full")
        part.ssm.tolerance = 0
        total += part.loglike(vector)
    joint.ssm.tolerance = 0
    assert joint.loglike(vector) == pytest.approx(total, rel=1e-12)


@pytest.mark.parametrize("dynamics, state_cov, factor_mean", [
    ("var", "full", True), ("ar", "diagonal", True), ("var", "diagonal", True),
    ("ar", "full", True), ("var", "full", False), ("ar", "diagonal", False)])
def test_fast_likelihood_and_score_match_statsmodels(panel, dynamics, state_cov, factor_mean):
    values = panel.to_numpy()[:90]
    params, _ = fit_two_step([values], np.array(TAU), "ns", dynamics, DECAY, state_cov,
                             factor_mean=factor_mean)
    rng = np.random.default_rng(3)
    for starts in ([], [30, 31, 70]):
        model = SegmentedDNSModel(values, params.loadings, starts, dynamics, state_cov,
                                  factor_mean)
        model.ssm.tolerance = 0
        likelihood = DNSLikelihood(model)
        u = rng.normal(scale=0.5, size=len(model.param_names))
        if factor_mean:
            u[:3] += MEAN
        else:
            assert not any(name.startswith("mean") for name in model.param_names)
        # Measurement variances of 1e-14 and 9e-16: the maximum of smooth fitted curves
        # puts as many maturities as factors there.
        u[-2:] = [1e-7, 3e-8]
        constrained = model.transform_params(u)
        for ours, theirs in zip(model.unpack(likelihood.constrained(u)),
                                model.unpack(constrained)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
        value, score = likelihood.loglike_and_score(u)
        assert value == pytest.approx(model.loglike(constrained), rel=1e-11, abs=1e-9)
        assert likelihood.loglike(u) == value
        steps = 1e-5 * np.maximum(1.0, np.abs(u))
        numeric = np.array([
            (model.loglike(model.transform_params(u + h * e))
             - model.loglike(model.transform_params(u - h * e))) / (2 * h)
            for h, e in zip(steps, np.eye(u.size))])
        np.testing.assert_allclose(score, numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())


def test_one_step_reaches_the_statsmodels_maximum():
    curves = make_nelson_siegel_curves(
        n_dates=100, maturities=TAU, decay=DECAY, factor_mean=MEAN, noise_std=NOISE,
        transition=np.array([[0.8, 0.1, 0.0], [0.0, 0.7, 0.1], [0.0, 0.0, 0.5]]),
        random_state=23).curves
    model = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(curves)
    assert model.converged_
    values = curves.to_numpy()
    two_step, factors = fit_two_step([values], np.array(TAU), "ns", "var", DECAY, "full")
    reference = SegmentedDNSModel(values, two_step.loadings, [], "var", "full")
    start = reference.pack(factors[0].mean(axis=0), _stationary_start(two_step.transition, "var"),
                           _positive_definite(two_step.state_cov), two_step.measurement_var)
    # statsmodels' own maximisation (numerical gradients, L-BFGS) from the same start.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = reference.fit(start_params=start, method="lbfgs", maxiter=2000, disp=False,
                               cov_type="none")
    assert result.mle_retvals["converged"]
    assert model.log_likelihood_ >= result.llf - 1e-6
    # The reported value is statsmodels' log-likelihood at the estimates.
    estimates = reference.pack(model.mean_, model.transition_, model.state_cov_,
                               model.measurement_var_)
    reference.ssm.tolerance = 0
    assert reference.loglike(estimates) == pytest.approx(model.log_likelihood_, rel=1e-12)


def test_one_step_does_not_depend_on_the_units_of_the_yields():
    curves = _simulate(120, 13).curves
    percent = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(curves)
    with pytest.warns(UnitsWarning, match="look like decimals"):
        decimal = DynamicNelsonSiegel(method="kalman", dynamics="var", decay=DECAY).fit(
            curves / 100)
    assert percent.converged_ and decimal.converged_
    # Dividing the yields by 100 adds n_values * log(100) to the log-likelihood.
    shift = curves.size * np.log(100.0)
    assert decimal.log_likelihood_ == pytest.approx(percent.log_likelihood_ + shift, abs=1e-6)
    np.testing.assert_allclose(decimal.transition_, percent.transition_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(decimal.mean_ * 100, percent.mean_, rtol=1e-6)
    np.testing.assert_allclose(decimal.state_cov_ * 1e4, percent.state_cov_, rtol=1e-5,
                               atol=1e-9)
    np.testing.assert_allclose(decimal.measurement_var_ * 1e4, percent.measurement_var_,
                               rtol=1e-5, atol=1e-9)


def test_two_step_without_factor_mean_is_the_var_without_constant(panel):
    model = DynamicNelsonSiegel(decay=DECAY, dynamics="var", factor_mean=False).fit(panel)
    factors = model.factors_.to_numpy()
    coef, *_ = np.linalg.lstsq(factors[:-1], factors[1:], rcond=None)
    np.testing.assert_allclose(model.transition_, coef.T, rtol=1e-10)
    residuals = factors[1:] - factors[:-1] @ coef
    # Degrees of freedom: 3 regressors per equation, no constant.
    np.testing.assert_allclose(model.state_cov_,
                               residuals.T @ residuals / (len(residuals) - 3), rtol=1e-10)


def test_two_step_recovers_the_simulated_dynamics(panel):
    model = DynamicNelsonSiegel(decay=DECAY).fit(panel)
    # Standard errors at T=300: AR coefficients <= 0.05, means <= 0.09.
    np.testing.assert_allclose(np.diag(model.transition_), np.diag(TRANSITION), atol=0.12)
    assert np.count_nonzero(model.transition_ - np.diag(np.diag(model.transition_))) == 0
    np.testing.assert_allclose(model.mean_, MEAN, atol=0.35)
    np.testing.assert_allclose(np.diag(model.state_cov_), SHOCK_VAR, rtol=0.3)
    np.testing.assert_allclose(model.measurement_var_, NOISE**2, rtol=0.35)
    np.testing.assert_allclose(model.loadings_, nelson_siegel_loadings(TAU, DECAY))
    assert model.factors_.shape == (300, 3) and list(model.factors_.columns) == [
        "level", "slope", "curvature"]


def test_one_step_recovers_the_simulated_dynamics(panel, kalman_panel_model):
    model = kalman_panel_model
    assert model.converged_
    np.testing.assert_allclose(np.diag(model.transition_), np.diag(TRANSITION), atol=0.12)
    np.testing.assert_allclose(model.mean_, MEAN, atol=0.35)
    np.testing.assert_allclose(np.diag(model.state_cov_), SHOCK_VAR, rtol=0.3)
    # Short-end noise trades off against the slope dynamics: check the average level.
    assert np.mean(model.measurement_var_) == pytest.approx(NOISE**2, rel=0.25)
    # The maximum beats the two-step start on the same likelihood.
    two_step = DynamicNelsonSiegel(decay=DECAY).fit(panel).params_
    start_model, vector = _statsmodels_params(
        (panel.to_numpy(), two_step.loadings, [], "ar", "diagonal"), two_step)
    assert model.log_likelihood_ > start_model.loglike(vector)


def test_array_with_maturities_gives_the_dataframe_estimates(panel):
    short = panel.iloc[:120]
    for kwargs in ({"dynamics": "var"}, {"dynamics": "ar", "method": "kalman"}):
        on_frame = DynamicNelsonSiegel(decay=DECAY, **kwargs).fit(short)
        on_array = DynamicNelsonSiegel(decay=DECAY, maturities=TAU, **kwargs).fit(
            short.to_numpy())
        for name in ("transition_", "mean_", "state_cov_", "measurement_var_", "state_"):
            np.testing.assert_allclose(getattr(on_array, name), getattr(on_frame, name),
                                       rtol=1e-10, atol=1e-12)
        # Arrays carry no dates: a following array block is taken to follow directly.
        block = panel.iloc[120:130]
        np.testing.assert_allclose(on_array.predict(block.to_numpy(), horizon=2),
                                   on_frame.predict(block, horizon=2).to_numpy(), rtol=1e-10)


@pytest.mark.parametrize("method", ["two-step", "kalman"])
def test_forecast_and_predict_equal_the_closed_form(panel, method):
    train, test = panel.iloc[:200], panel.iloc[200:215]
    model = DynamicNelsonSiegel(method=method, dynamics="ar", decay=DECAY, maxiter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train)
    np.testing.assert_allclose(model.loadings_, nelson_siegel_loadings(TAU, DECAY))
    beta = _filtered_state(model, train)
    np.testing.assert_allclose(model.state_, beta, rtol=1e-9, atol=1e-10)
    assert (model.state_cov_at_last_ is None) == (method == "two-step")
    expected = np.array([_closed_form(model, beta, h) for h in (1, 2, 3, 4)])
    forecast = model.forecast(4)
    assert list(forecast.index) == list(test.index[:4]) and list(forecast.columns) == TAU
    np.testing.assert_allclose(forecast.to_numpy(), expected, rtol=1e-9)
    # predict(Y, horizon=4): rows 0..3 have their origin before the block, so they are
    # the forecasts 1..4 steps from the last date seen; row t >= 4 is forecast from the
    # block's row t - 4 with everything observed up to it.
    predicted = model.predict(test, horizon=4)
    assert predicted.index.equals(test.index) and list(predicted.columns) == TAU
    np.testing.assert_allclose(predicted.to_numpy()[:4], expected, rtol=1e-9)
    for t in (4, 9, 14):
        origin = _filtered_state(model, np.vstack([train, test.iloc[:t - 3]]))
        np.testing.assert_allclose(predicted.to_numpy()[t], _closed_form(model, origin, 4),
                                   rtol=1e-9)
    # The model does not move: predict freezes parameters and state.
    np.testing.assert_allclose(model.state_, beta, rtol=1e-9, atol=1e-10)
    assert model.last_date_ == train.index[-1]
    np.testing.assert_allclose(model.forecast(4).to_numpy(), expected, rtol=1e-9)


@pytest.mark.parametrize("method", ["two-step", "kalman"])
def test_predict_is_update_then_forecast_from_every_origin(panel, method):
    train, test = panel.iloc[:120], panel.iloc[120:132]
    model = DynamicNelsonSiegel(method=method, dynamics="var", decay=DECAY, maxiter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train)
    levels = [0.05, 0.5, 0.95]
    for h in (1, 3):
        mean = model.predict(test, horizon=h).to_numpy()
        quantiles = model.predict_quantiles(test, levels, horizon=h)
        interval = model.predict_interval(test, coverage=0.8, horizon=h)
        assert quantiles.shape == (12, 6, 3) and interval.shape == (12, 6, 2)
        for t in (h, 7, 11):
            moved = copy.deepcopy(model).update(test.iloc[:t - h + 1])
            np.testing.assert_allclose(mean[t], moved.forecast(h).to_numpy()[-1], rtol=1e-9)
            np.testing.assert_allclose(quantiles[t], moved.forecast(h, quantiles=levels)[-1],
                                       rtol=1e-9)
            np.testing.assert_allclose(interval[t], moved.forecast(h, coverage=0.8)[-1],
                                       rtol=1e-9)
        np.testing.assert_allclose(quantiles[..., 1], mean, rtol=1e-9)
        assert model.score(test, horizon=h) == pytest.approx(
            -np.mean((mean - test.to_numpy()) ** 2), rel=1e-12)
    # Farther horizons forecast worse on this persistent panel.
    assert model.score(test, horizon=6) < model.score(test, horizon=1)


@pytest.mark.parametrize("method", ["two-step", "kalman"])
def test_a_gap_after_the_training_span_is_read_from_the_dates(panel, method):
    train, block = panel.iloc[:100], panel.iloc[105:115]  # five unseen dates between
    model = DynamicNelsonSiegel(method=method, dynamics="ar", decay=DECAY, maxiter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train)
    predicted = model.predict(block).to_numpy()
    # Row 0: six steps from the last date seen.
    np.testing.assert_allclose(predicted[0], model.forecast(6).to_numpy()[5], rtol=1e-9)
    np.testing.assert_allclose(model.predict_interval(block, coverage=0.9)[0],
                               model.forecast(6, coverage=0.9)[5], rtol=1e-9)
    # Later rows: filtered across the unobserved dates (NaN rows for statsmodels).
    gap = np.full((5, len(TAU)), np.nan)
    for t in (1, 4, 9):
        origin = _filtered_state(model, np.vstack([train, gap, block.iloc[:t]]))
        np.testing.assert_allclose(predicted[t], _closed_form(model, origin, 1), rtol=1e-8)
    # Without the gap (the same values as if they followed directly) the forecasts differ.
    directly = block.set_axis(panel.index[100:110])
    assert not np.allclose(model.predict(directly).to_numpy()[0], predicted[0])
    assert model.score(block) == pytest.approx(-np.mean((predicted - block.to_numpy()) ** 2))


def test_blocks_must_follow_the_dates_seen(panel):
    model = DynamicNelsonSiegel(decay=DECAY).fit(panel.iloc[:100])
    with pytest.raises(ValueError, match="not after the last date seen .*overlapping"):
        model.predict(panel.iloc[95:110])
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.score(panel.iloc[99:110])
    # Monthly dates are on the grid by calendar month: a month end moved to the day before
    # (a holiday) is that month's date; a second date in a month is not.
    moved = panel.iloc[100:105].set_axis(panel.index[100:105] - pd.Timedelta(days=1))
    np.testing.assert_allclose(model.predict(moved).to_numpy(),
                               model.predict(panel.iloc[100:105]).to_numpy())
    twice = panel.iloc[100:102].set_axis([panel.index[100] - pd.Timedelta(days=10),
                                          panel.index[100]])
    with pytest.raises(ValueError, match="skips dates of frequency ME"):
        model.predict(twice)
    with pytest.raises(ValueError, match="1 monthly date is missing between .* \\(rows 1 and 2\\)"):
        model.predict_interval(panel.iloc[[100, 101, 103]])
    renamed = panel.iloc[100:105].set_axis([0.5, 1, 2, 5, 10, 30], axis=1)
    with pytest.raises(ValueError, match="fitted on \\[0.25, 1.0"):
        model.predict(renamed)
    # update: no overlap, no gap.
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.update(panel.iloc[99:102])
    with pytest.raises(ValueError, match="a gap"):
        model.update(panel.iloc[102:104])


def test_business_month_ends_moved_by_a_holiday_are_on_the_grid(panel):
    # Every training date is a business month end, so the frequency is BME; March 2018
    # ended on Good Friday, and its business-day data are dated 2018-03-29.
    train = panel.iloc[:98].set_axis(pd.date_range(end="2018-02-28", periods=98, freq="BME"))
    model = DynamicNelsonSiegel(decay=DECAY).fit(train)
    assert model.freq_.freqstr == "BME"
    block = panel.iloc[98:101].set_axis(pd.to_datetime(["2018-03-29", "2018-04-30",
                                                        "2018-05-31"]))
    on_grid = block.set_axis(pd.date_range("2018-03-01", periods=3, freq="BME"))
    np.testing.assert_allclose(model.predict(block).to_numpy(),
                               model.predict(on_grid).to_numpy())
    model.update(block)
    assert model.last_date_ == pd.Timestamp("2018-05-31")


def test_cross_validation_scores_blocks_after_a_gap(panel):
    data = panel.iloc[:160]
    cv = TimeSeriesSplit(n_splits=3, gap=4, test_size=20)
    scores = cross_validate(DynamicNelsonSiegel(decay=DECAY), data, cv=cv)["test_score"]
    values = data.to_numpy()
    for score, (train, test) in zip(scores, cv.split(data)):
        fitted = DynamicNelsonSiegel(decay=DECAY).fit(data.iloc[train])
        assert score == pytest.approx(fitted.score(data.iloc[test]), rel=1e-12)
        # The dates carry the gap: arrays (taken to follow directly) score otherwise.
        on_arrays = DynamicNelsonSiegel(decay=DECAY, maturities=TAU).fit(values[train])
        assert on_arrays.score(values[test]) != pytest.approx(score, rel=1e-9)


def test_pipeline_and_grid_search_on_a_panel(panel):
    data = panel.iloc[:150]
    pipe = Pipeline([("identity", FunctionTransformer()), ("dns", DynamicNelsonSiegel())])
    cv = TimeSeriesSplit(n_splits=3)
    search = GridSearchCV(pipe, {"dns__decay": ["diebold-li", "grid"]}, cv=cv).fit(data)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    for candidate, decay in enumerate(["diebold-li", "grid"]):
        manual = [DynamicNelsonSiegel(decay=decay).fit(data.iloc[train]).score(data.iloc[test])
                  for train, test in cv.split(data)]
        assert search.cv_results_["mean_test_score"][candidate] == pytest.approx(
            np.mean(manual), rel=1e-10)
    best = search.best_estimator_[-1]
    assert best.last_date_ == data.index[-1]  # refitted on the whole panel
    assert search.predict(panel.iloc[150:160]).shape == (10, 6)


def test_families_get_separate_parameters():
    data = _simulate(150, 3, n_families=["EUR", "USD"])
    train, test = _split_families(data.curves, 120)
    model = PerFamily(DynamicNelsonSiegel(decay=DECAY, dynamics="var")).fit(train)
    assert model.families_ == ["EUR", "USD"]
    predicted = model.predict(test)
    assert predicted.index.equals(test.index)
    interval = model.predict_interval(test, coverage=0.9, horizon=2)
    for family in ["EUR", "USD"]:
        alone = DynamicNelsonSiegel(decay=DECAY, dynamics="var").fit(train.xs(family))
        fitted = model.estimators_[family]
        assert fitted.transition_.shape == (3, 3)
        np.testing.assert_allclose(fitted.transition_, alone.transition_, rtol=1e-10)
        rows = np.asarray(test.index.get_level_values("family") == family)
        np.testing.assert_allclose(predicted.to_numpy()[rows],
                                   alone.predict(test.xs(family)).to_numpy(), rtol=1e-10)
        np.testing.assert_allclose(interval[rows],
                                   alone.predict_interval(test.xs(family), coverage=0.9,
                                                          horizon=2), rtol=1e-10)
    assert not np.allclose(model.estimators_["EUR"].transition_,
                           model.estimators_["USD"].transition_)
    assert model.score(test) == pytest.approx(
        -np.mean((predicted.to_numpy() - test.to_numpy()) ** 2))
    renamed = test.rename(index={"USD": "GBP"}, level="family")
    with pytest.raises(ValueError, match="family 'GBP', which was not seen in fit"):
        model.predict(renamed)
    # Forecasts of every family from its own last date.
    forecast = model.forecast(2)
    assert forecast.index.get_level_values(0).tolist() == ["EUR", "EUR", "USD", "USD"]
    np.testing.assert_allclose(forecast.to_numpy()[2:],
                               model.estimators_["USD"].forecast(2).to_numpy())
    bands = model.forecast(2, coverage=0.95)
    assert bands.shape == (4, 6, 2)
    np.testing.assert_allclose(bands[:2], model.estimators_["EUR"].forecast(2, coverage=0.95))


def test_a_panel_without_families_is_refused_by_a_family_model():
    data = _simulate(60, 3, n_families=["EUR", "USD"])
    train, test = _split_families(data.curves, 50)
    model = PerFamily(DynamicNelsonSiegel(decay=DECAY)).fit(train)
    for method in ("predict", "score", "update"):
        with pytest.raises(ValueError, match="must be indexed by \\(family, date\\)"):
            getattr(model, method)(test.xs("EUR"))


def test_forecast_index_keeps_the_name_of_the_dates():
    data = _simulate(60, 3, n_families=["EUR", "USD"])
    assert data.curves.index.names == ["family", "date"]
    alone = DynamicNelsonSiegel(decay=DECAY).fit(data.curves.xs("EUR"))
    assert alone.forecast(2).index.name == "date"
    model = PerFamily(DynamicNelsonSiegel(decay=DECAY)).fit(data.curves)
    assert model.forecast(2).index.names == ["family", "date"]


def test_families_with_their_own_spans_continue_from_their_own_last_date():
    curves = _simulate(100, 6, n_families=["A", "B"]).curves
    dates = curves.index.get_level_values("date")
    family = curves.index.get_level_values("family")
    last = dates.unique().sort_values()
    keep = (family == "A") & (dates <= last[79]) | (family == "B") & (dates <= last[89])
    model = PerFamily(DynamicNelsonSiegel(decay=DECAY)).fit(curves[keep])
    forecast = model.forecast(1)
    assert forecast.index.tolist() == [("A", last[80]), ("B", last[90])]
    # A block holds each family's own following dates; updates likewise.
    block = curves[(family == "A") & (dates > last[79]) & (dates <= last[84])
                   | (family == "B") & (dates > last[89])]
    predicted = model.predict(block)
    alone = DynamicNelsonSiegel(decay=DECAY).fit(curves.xs("B")[:90])
    np.testing.assert_allclose(predicted.xs("B").to_numpy(),
                               alone.predict(curves.xs("B")[90:]).to_numpy(), rtol=1e-10)
    model.update(block)
    assert model.estimators_["A"].last_date_ == last[84]
    assert model.estimators_["B"].last_date_ == last[99]
    with pytest.raises(ValueError, match="family 'A': .*not after the last date seen"):
        model.update(curves[(family == "A") & (dates == last[84])])


def test_grid_search_over_families_splits_by_date():
    curves = _simulate(120, 4, n_families=["A", "B"]).curves
    dates = curves.index.get_level_values("date")
    cv = ExpandingWindowSplit(n_splits=3, test_size=12)
    search = GridSearchCV(PerFamily(DynamicNelsonSiegel()),
                          {"estimator__dynamics": ["ar", "var"]}, cv=cv)
    search.fit(curves, groups=dates)
    assert search.best_estimator_.families_ == ["A", "B"]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    manual = []
    for train, test in cv.split(curves, groups=dates):
        fitted = PerFamily(DynamicNelsonSiegel(dynamics="var")).fit(curves.iloc[train])
        manual.append(fitted.score(curves.iloc[test]))
    assert search.cv_results_["mean_test_score"][1] == pytest.approx(np.mean(manual))


def test_predictive_intervals_cover_at_the_nominal_rate():
    curves = _simulate(1400, 5).curves
    train, test = curves.iloc[:600], curves.iloc[600:]
    model = DynamicNelsonSiegel(decay=DECAY).fit(train)
    widths = []
    for h in (1, 6):
        interval = model.predict_interval(test, coverage=0.95, horizon=h)
        y = test.to_numpy()[h:]  # rows from origins inside the block
        inside = (y >= interval[h:, :, 0]) & (y <= interval[h:, :, 1])
        assert 0.9 <= inside.mean() <= 0.99
        widths.append(np.mean(interval[..., 1] - interval[..., 0]))
        quantiles = model.predict_quantiles(test, [0.025, 0.5, 0.975], horizon=h)
        np.testing.assert_allclose(quantiles[..., [0, 2]], interval)
        np.testing.assert_allclose(quantiles[..., 1], model.predict(test, horizon=h).to_numpy())
    # The one-step horizon is the tighter one.
    assert widths[0] < widths[1]


def test_panel_forecast_update_and_transform():
    data = _simulate(100, 8)
    model = DynamicNelsonSiegel(decay=DECAY, dynamics="var").fit(data.curves.iloc[:90])
    forecast = model.forecast(3)
    assert list(forecast.index) == list(data.curves.index[90:93])
    assert list(forecast.columns) == TAU
    L, A, mu = model.loadings_, model.transition_, model.mean_
    beta = model.factors_.to_numpy()[-1]
    np.testing.assert_allclose(model.state_, beta)
    np.testing.assert_allclose(forecast.to_numpy()[2], L @ (mu + matrix_power(A, 3) @ (beta - mu)))
    model.update(data.curves.iloc[90:95])
    assert model.last_date_ == data.curves.index[94] and model.n_dates_seen_ == 95
    beta = np.linalg.lstsq(L, data.curves.to_numpy()[94], rcond=None)[0]
    updated = model.forecast(2)
    assert updated.index[0] == data.curves.index[95]
    np.testing.assert_allclose(updated.to_numpy()[0], L @ (mu + A @ (beta - mu)))
    np.testing.assert_allclose(model.transform(data.curves.iloc[:90]).to_numpy(),
                               model.factors_.to_numpy())
    with pytest.raises(ValueError, match="not after the last date seen"):
        model.update(data.curves.iloc[90:92])
    quantiles = model.forecast(2, quantiles=[0.1, 0.5, 0.9])
    assert quantiles.shape == (2, 6, 3)
    np.testing.assert_allclose(quantiles[..., 1], model.forecast(2).to_numpy())
    with pytest.raises(ValueError, match="strictly increasing"):
        model.forecast(2, quantiles=[0.9, 0.1])
    with pytest.raises(ValueError, match="pass quantiles or coverage, not both"):
        model.forecast(2, quantiles=[0.1, 0.9], coverage=0.8)
    with pytest.raises(ValueError, match="a gap"):
        model.update(data.curves.iloc[96:98])
    with pytest.raises(ValueError, match="dim 3"):
        model.predict(np.zeros((1, 2, 6)))
    with pytest.raises(ValueError, match="smooth=True needs method='kalman'"):
        model.transform(data.curves, smooth=True)


def test_panel_without_dates_forecasts_by_step():
    values = _simulate(60, 9).curves.to_numpy()
    model = DynamicNelsonSiegel(maturities=TAU).fit(values[:50])
    assert isinstance(model.factors_, np.ndarray)
    assert model.forecast(2).index.tolist() == [1, 2]
    assert model.last_date_ is None
    predicted = model.predict(values[50:])
    assert isinstance(predicted, np.ndarray) and predicted.shape == (10, 6)
    np.testing.assert_allclose(predicted[0], model.forecast(1).to_numpy()[0])
    model.update(values[50:55])
    assert model.n_dates_seen_ == 55
    np.testing.assert_allclose(model.forecast(1).to_numpy()[0], predicted[5])


def test_kalman_panel_transform_and_forecast_interval(panel, kalman_panel_model):
    model = kalman_panel_model
    filtered = model.transform(panel)
    np.testing.assert_allclose(filtered.to_numpy(), model.factors_.to_numpy())
    np.testing.assert_allclose(model.state_, filtered.to_numpy()[-1])
    smoothed = model.transform(panel, smooth=True)
    np.testing.assert_allclose(smoothed.to_numpy()[-1], filtered.to_numpy()[-1])
    assert not np.allclose(smoothed.to_numpy()[0], filtered.to_numpy()[0])
    interval = model.forecast(2, coverage=0.9)
    np.testing.assert_allclose(interval.mean(axis=-1), model.forecast(2).to_numpy())
    # The filtered state's uncertainty widens the interval beyond the shocks alone.
    params = model.params_
    L = params.loadings
    shocks_only = np.sqrt(L @ params.state_cov @ L.T).diagonal() ** 2 + params.measurement_var
    half_width = (interval[0, :, 1] - interval[0, :, 0]) / 2
    assert np.all(half_width > 1.6448536 * np.sqrt(shocks_only))
    # ... and exactly by the filtered state covariance at the last date.
    A, P = params.transition, model.state_cov_at_last_
    variance = np.einsum("ij,jk,ik->i", L, params.state_cov + A @ P @ A.T, L) \
        + params.measurement_var
    np.testing.assert_allclose(half_width, norm.ppf(0.95) * np.sqrt(variance), rtol=1e-9)


def test_windows_are_refused_and_panel_methods_always_exist(panel):
    model = DynamicNelsonSiegel(maturities=TAU)
    assert estimator_kind(model) == "sequence"
    assert estimator_kind(PerFamily(model)) == "sequence"
    assert hasattr(model, "transform")
    assert set(model.get_params()) == {"factors", "dynamics", "method", "decay", "maturities",
                                       "state_cov", "maxiter", "factor_mean", "warm_start"}
    with pytest.raises(ValueError, match="dim 3"):
        model.fit(np.zeros((5, 3, 6)))
    for gone in ("window", "horizons", "targets"):
        with pytest.raises(TypeError):
            DynamicNelsonSiegel(**{gone: 1})
    with pytest.raises(TypeError):
        DynamicNelsonSiegel("ns")  # keyword-only
    fitted = DynamicNelsonSiegel(decay=DECAY).fit(panel.iloc[:50])
    assert not hasattr(fitted, "mode_") and not hasattr(fitted, "families_")


def test_convergence_warning():
    curves = _simulate(60, 10).curves
    with pytest.warns(ConvergenceWarning, match="did not converge .* maxiter=1"):
        model = DynamicNelsonSiegel(method="kalman", maxiter=1).fit(curves)
    assert model.converged_ is False


def test_svensson_two_step():
    curves = _simulate(80, 12).curves
    model = DynamicNelsonSiegel(factors="nss", decay="mean-maturity", dynamics="var").fit(curves)
    assert model.loadings_.shape == (6, 4) and model.transition_.shape == (4, 4)
    # Quartiles of the six maturities: 1.25 and 8.75 years.
    np.testing.assert_allclose(model.decay_, (1 / 1.25, 1 / 8.75))
    assert list(model.factors_.columns)[-1] == "curvature2"
    assert model.forecast(2, quantiles=[0.25, 0.75]).shape == (2, 6, 2)


@pytest.mark.parametrize("kwargs, Y, message", [
    ({}, np.zeros((5, 6)), "needs maturities"),
    ({"maturities": "uniform"}, np.zeros((5, 2)), "at least 3 maturities.*n_features = 2"),
    ({"maturities": [1.0, 2.0, 3.0]}, np.zeros((5, 6)), "maturities has 3 entries"),
    ({"maturities": TAU, "dynamics": "arma"}, np.zeros((5, 6)),
     "DynamicNelsonSiegel: dynamics must be one of 'ar', 'var', got 'arma'"),
    ({"maturities": TAU, "decay": -1.0}, np.zeros((5, 6)), "decay must be one of"),
    ({"maturities": TAU, "maxiter": 0}, np.zeros((5, 6)), "maxiter must be an integer"),
    ({"maturities": "uniform"}, np.ones((1, 6)),
     "has 1 dates .* needs at least 3 consecutive dates"),
    ({"maturities": "uniform"}, np.r_[np.ones((4, 6)), np.full((1, 6), np.nan)],
     "missing \\(NaN\\)"),
])
def test_bad_input_raises(kwargs, Y, message):
    with pytest.raises(ValueError, match=message):
        DynamicNelsonSiegel(**kwargs).fit(Y)


def test_get_test_params():
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for params in DynamicNelsonSiegel.get_test_params():
            model = DynamicNelsonSiegel(**params).fit(rng.normal(size=(30, 4)))
            assert model.predict(rng.normal(size=(2, 4))).shape == (2, 4)
            assert model.forecast(2).shape == (2, 4)


def test_sample_paths_follow_the_forecast_distribution(panel):
    model = DynamicNelsonSiegel(decay=DECAY).fit(panel.iloc[:200])
    paths = model.sample_paths(4000, 3, random_state=0)
    assert paths.shape == (4000, 3, 6)
    np.testing.assert_array_equal(paths, model.sample_paths(4000, 3, random_state=0))
    mean, bands = model.forecast(3).to_numpy(), model.forecast(3, quantiles=[0.1, 0.9])
    std = (bands[..., 1] - bands[..., 0]) / (2 * norm.ppf(0.9))
    np.testing.assert_allclose(paths.mean(axis=0), mean, atol=4 * std.max() / np.sqrt(4000))
    np.testing.assert_allclose(paths.std(axis=0), std, rtol=0.08)


def test_curves_fitted_exactly_give_finite_zero_width_intervals():
    # Three maturities and three Nelson-Siegel factors: every curve is fitted exactly, the
    # measurement variance is zero and the forecast variance is zero up to rounding.
    rng = np.random.default_rng(3)
    curves = 2.0 + np.cumsum(rng.normal(scale=0.05, size=(80, 3)), axis=0)
    model = DynamicNelsonSiegel(maturities=[1.0, 5.0, 10.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(curves)
        bands = model.forecast(3, coverage=0.95)
    assert np.isfinite(bands).all() and (bands[..., 1] >= bands[..., 0]).all()
